"""What each AU does to the face, as data: landmark displacements and appearance cues per intensity step.

Units: the canonical face has its eye centres at (-0.5, 0) and (+0.5, 0), so one unit is the
inter-ocular distance (IOD, between eye centres); y grows downwards (towards the chin). A displacement
``(dx, dy)`` is applied per intensity step (intensity 0..5), so AU12 at intensity 4 moves the lip corners
by ``4 * (0.028, -0.026)`` IOD. ``dx`` is *outwards* (away from the midline): each entry names the
landmarks of the subject's right side (image left, iBUG indices 0-8, 17-21, 36-41, 31-32, 48-51, 55-62,
65-67) and is mirrored onto the partner landmark (``FLIP_68``); midline landmarks (8, 27-30, 33, 51, 57,
62, 66) move vertically only.

``CUES`` are appearance changes drawn by the renderer, with an opacity per intensity step (capped at 1).
"""
from __future__ import annotations

import numpy as np

from augcn_pyg.data.synthau.face import MEAN_SHAPE
from augcn_pyg.landmarks.layout import FLIP_68  # iBUG-68 mirror permutation, shared with rois.flip_faces

MIDLINE = frozenset(i for i in range(68) if FLIP_68[i] == i)

#: AU -> list of (landmarks, dx outwards, dy) per intensity step, in IOD.
DISPLACEMENTS: dict[int, list[tuple[tuple[int, ...], float, float]]] = {
    1: [((21,), 0.0, -0.032), ((20,), 0.0, -0.026), ((19,), 0.0, -0.012)],
    2: [((17,), 0.0, -0.030), ((18,), 0.0, -0.030), ((19,), 0.0, -0.018), ((37,), 0.0, -0.004)],
    4: [((21,), -0.014, 0.022), ((20,), -0.010, 0.020), ((19,), -0.004, 0.014), ((18,), 0.0, 0.006),
        ((37, 38), 0.0, 0.006)],
    6: [((40, 41), 0.0, -0.010), ((36,), 0.0, -0.004), ((1, 2), 0.004, -0.004), ((48,), 0.0, -0.004)],
    7: [((37, 38), 0.0, 0.010), ((40, 41), 0.0, -0.010), ((39,), 0.0, -0.002)],
    9: [((31,), 0.006, -0.016), ((32,), 0.0, -0.014), ((33,), 0.0, -0.010), ((30,), 0.0, -0.006),
        ((21,), -0.006, 0.012), ((20,), 0.0, 0.006), ((50, 51), 0.0, -0.010), ((61, 62), 0.0, -0.008)],
    10: [((50,), 0.0, -0.026), ((51,), 0.0, -0.030), ((49,), 0.0, -0.018), ((61,), 0.0, -0.030),
         ((62,), 0.0, -0.032), ((31, 32), 0.0, -0.006), ((33,), 0.0, -0.004)],
    12: [((48, 60), 0.028, -0.026), ((49,), 0.012, -0.014), ((59,), 0.014, -0.014), ((61, 67), 0.006, -0.006),
         ((40, 41), 0.0, -0.004), ((3, 4), 0.004, -0.004)],
    14: [((48, 60), 0.012, 0.0), ((49, 59), 0.004, 0.0)],
    15: [((48, 60), 0.004, 0.030), ((59,), 0.0, 0.012), ((49,), 0.0, 0.010), ((67,), 0.0, 0.008)],
    17: [((57,), 0.0, -0.018), ((56, 58), 0.0, -0.016), ((66,), 0.0, -0.010), ((65, 67), 0.0, -0.008),
         ((8,), 0.0, -0.012), ((7,), 0.0, -0.010), ((6,), 0.0, -0.006), ((48,), 0.0, 0.006)],
    23: [((48, 60), -0.016, 0.0), ((49, 59), -0.008, 0.0), ((50, 51), 0.0, 0.006), ((55, 56, 57), 0.0, -0.006)],
    24: [((51,), 0.0, 0.010), ((50,), 0.0, 0.008), ((57,), 0.0, -0.010), ((56,), 0.0, -0.008),
         ((48, 60), -0.006, 0.002), ((61, 62), 0.0, 0.004), ((66, 67), 0.0, -0.004)],
    25: [((66,), 0.0, 0.034), ((65, 67), 0.0, 0.030), ((57,), 0.0, 0.028), ((56, 58), 0.0, 0.026),
         ((55, 59), 0.0, 0.016), ((61, 62), 0.0, -0.006)],
    26: [((66,), 0.0, 0.050), ((65, 67), 0.0, 0.046), ((55, 56, 57, 58, 59), 0.0, 0.048), ((8,), 0.0, 0.050),
         ((7,), 0.0, 0.046), ((6,), 0.0, 0.036), ((5,), 0.0, 0.022), ((4,), 0.0, 0.010), ((60,), 0.0, 0.004)],
}

#: AU -> {cue: opacity per intensity step}. Cues: forehead lines (central / lateral), glabella furrows,
#: crow's feet, cheek bulge shading, nasolabial folds, nose wrinkles, dimples, chin texture, lip press.
CUES: dict[int, dict[str, float]] = {
    1: {"forehead_central": 0.22},
    2: {"forehead_lateral": 0.22},
    4: {"glabella": 0.25},
    6: {"crows_feet": 0.22, "cheek_bulge": 0.18},
    7: {"lid_tension": 0.18},
    9: {"nose_wrinkle": 0.25, "nasolabial": 0.08},
    10: {"nasolabial": 0.18},
    12: {"nasolabial": 0.16, "cheek_bulge": 0.08},
    14: {"dimple": 0.25},
    15: {"mentolabial": 0.12},
    17: {"chin_texture": 0.24, "mentolabial": 0.14},
    23: {"lip_press": 0.12},
    24: {"lip_press": 0.2},
    25: {},
    26: {},
}


def _expand() -> dict[int, np.ndarray]:
    """AU -> (68, 2) displacement per intensity step, mirrored to both sides."""
    out = {}
    for au, rows in DISPLACEMENTS.items():
        d = np.zeros((68, 2))
        for idx, dx, dy in rows:
            for i in idx:
                if i in MIDLINE:
                    d[i] = (0.0, dy)
                    continue
                j = int(FLIP_68[i])
                d[i] = (dx * np.sign(MEAN_SHAPE[i, 0]), dy)  # outwards = away from x = 0
                d[j] = (dx * np.sign(MEAN_SHAPE[j, 0]), dy)
        out[au] = d
    return out


DISPLACEMENT_FIELDS: dict[int, np.ndarray] = _expand()


def displace(landmarks: np.ndarray, intensities: dict[int, float]) -> np.ndarray:
    """(68, 2) canonical landmarks moved by the AUs at the given intensities (0..5)."""
    out = np.array(landmarks, dtype=np.float64, copy=True)
    for au, v in intensities.items():
        if v > 0 and au in DISPLACEMENT_FIELDS:
            out += v * DISPLACEMENT_FIELDS[au]
    return out


def cue_strengths(intensities: dict[int, float]) -> dict[str, float]:
    """Cue -> opacity in [0, 1] summed over the active AUs."""
    out: dict[str, float] = {}
    for au, v in intensities.items():
        for cue, k in CUES.get(au, {}).items():
            out[cue] = min(1.0, out.get(cue, 0.0) + k * v)
    return out
