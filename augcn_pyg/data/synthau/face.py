"""The parametric face: a canonical 68-point mean shape and the identities (subjects) drawn around it.

Canonical frame: eye centres at (-0.5, 0) and (+0.5, 0), so one unit is the inter-ocular distance
(IOD); y grows downwards; the subject's right side (iBUG 0-8, 17-21, 36-41...) is at negative x, as it
appears on the image's left.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _jaw(width=1.0, top=0.02, chin=1.78, squareness=2.6) -> np.ndarray:
    """17 jaw points from the right ear (0) over the chin (8) to the left ear (16), evenly spaced along
    a superellipse (as iBUG annotators space them)."""
    theta = np.linspace(-0.06 * np.pi, 1.06 * np.pi, 801)
    c, s = np.cos(theta), np.sin(theta)
    e = 2.0 / squareness
    height = (chin - top) / (1 + abs(np.sin(-0.06 * np.pi)) ** e)
    yc = chin - height
    curve = np.stack([-width * np.sign(c) * np.abs(c) ** e, yc + height * np.sign(s) * np.abs(s) ** e], 1)
    arc = np.r_[0, np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))]
    at = np.linspace(0, arc[-1], 17)
    return np.stack([np.interp(at, arc, curve[:, 0]), np.interp(at, arc, curve[:, 1])], 1)


def _mirror(points):
    return [(-x, y) for x, y in points]


_RIGHT_BROW = [(-0.92, -0.24), (-0.78, -0.35), (-0.58, -0.40), (-0.38, -0.39), (-0.18, -0.33)]
_RIGHT_EYE = [(-0.76, 0.02), (-0.61, -0.075), (-0.40, -0.075), (-0.24, 0.02), (-0.40, 0.065),
              (-0.61, 0.065)]
_NOSE = [(0, -0.02), (0, 0.2), (0, 0.42), (0, 0.63), (-0.21, 0.73), (-0.11, 0.77), (0, 0.79), (0.11, 0.77),
         (0.21, 0.73)]
_MOUTH_OUTER = [(-0.40, 1.10), (-0.26, 1.025), (-0.10, 0.985), (0, 1.0), (0.10, 0.985), (0.26, 1.025),
                (0.40, 1.10), (0.26, 1.205), (0.12, 1.25), (0, 1.26), (-0.12, 1.25), (-0.26, 1.205)]
_MOUTH_INNER = [(-0.35, 1.10), (-0.12, 1.085), (0, 1.09), (0.12, 1.085), (0.35, 1.10), (0.12, 1.105),
                (0, 1.11), (-0.12, 1.105)]

#: (68, 2) float64 canonical mean shape (iBUG order).
MEAN_SHAPE = np.concatenate([
    _jaw(),
    np.array(_RIGHT_BROW), np.array(_mirror(_RIGHT_BROW[::-1])),
    np.array(_NOSE),
    np.array(_RIGHT_EYE),
    np.array(_mirror([_RIGHT_EYE[i] for i in (3, 2, 1, 0, 5, 4)])),
    np.array(_MOUTH_OUTER), np.array(_MOUTH_INNER),
])

SKIN_LIGHT, SKIN_DARK = np.array([238, 200, 172]), np.array([92, 58, 40])
HAIR = np.array([[25, 20, 18], [60, 40, 28], [105, 70, 40], [170, 130, 80], [125, 55, 30], [150, 145, 140]])
IRIS = np.array([[70, 45, 25], [95, 65, 35], [60, 95, 140], [75, 110, 70], [110, 90, 50]])


@dataclass(frozen=True)
class Identity:
    """One subject: shape (canonical landmarks) and appearance."""

    shape: np.ndarray  # (68, 2) neutral landmarks in IOD units
    skin: tuple[int, int, int]
    lips: tuple[int, int, int]
    hair: tuple[int, int, int]
    iris: tuple[int, int, int]
    background: tuple[int, int, int]
    clothes: tuple[int, int, int]
    brow_thickness: float  # IOD
    hair_fringe: float  # y of the hairline (IOD, negative = above the eyes)
    long_hair: bool
    texture_seed: int


def sample_identity(rng: np.random.Generator) -> Identity:
    u = rng.uniform
    shape = MEAN_SHAPE.copy()
    jaw = _jaw(width=u(0.9, 1.08), chin=u(1.66, 1.88), squareness=u(2.2, 3.2))
    shape[0:17] = jaw
    shape[17:27, 1] += u(-0.05, 0.04)  # brow height
    eye = u(0.88, 1.15)
    for lo in (36, 42):
        c = shape[lo:lo + 6].mean(0)
        shape[lo:lo + 6] = c + (shape[lo:lo + 6] - c) * [eye, eye * u(0.9, 1.1)]
    nose_len, nose_w = u(0.9, 1.1), u(0.85, 1.2)
    shape[27:36, 1] = -0.02 + (shape[27:36, 1] + 0.02) * nose_len
    shape[31:36, 0] *= nose_w
    mouth_w, mouth_y, lip = u(0.88, 1.12), u(-0.04, 0.06), u(0.75, 1.35)
    m = shape[48:68]
    centre_y = 1.10
    m[:, 0] *= mouth_w
    m[:, 1] = centre_y + (m[:, 1] - centre_y) * np.where(np.arange(20) < 12, lip, 1.0)
    m[:, 1] += mouth_y
    t = u(0, 1)  # skin tone: light .. dark
    skin = (SKIN_LIGHT * (1 - t) + SKIN_DARK * t) * u(0.95, 1.05, 3)
    lips = skin * [0.85, 0.62, 0.62] + np.array([30, 0, 5])
    grey = u(40, 200)
    return Identity(
        shape=shape,
        skin=tuple(int(v) for v in np.clip(skin, 0, 255)),
        lips=tuple(int(v) for v in np.clip(lips, 0, 255)),
        hair=tuple(int(v) for v in HAIR[rng.integers(len(HAIR))] * u(0.85, 1.15)),
        iris=tuple(int(v) for v in IRIS[rng.integers(len(IRIS))]),
        background=tuple(int(v) for v in np.clip(grey + u(-30, 30, 3), 0, 255)),
        clothes=tuple(int(v) for v in u(30, 200, 3)),
        brow_thickness=u(0.05, 0.1),
        hair_fringe=u(-1.05, -0.8),
        long_hair=bool(rng.random() < 0.5),
        texture_seed=int(rng.integers(2**31)),
    )
