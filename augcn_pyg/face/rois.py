"""AU centres from landmarks, batched n x n ROI crops, the global ROI and the horizontal flip.

The ROI rules are data in :mod:`augcn_pyg.core.aus` (``Protocol.rois``): a ROI's anchor is the mean of its
landmarks, moved vertically by ``offset * ruler`` with ``ruler = |x39 - x42|`` (inner eye corners).

Crops are whole pixels of the aligned face, never resampled: an n x n crop starts at the centre minus
(n - 1) / 2, rounded to a pixel. Rounding goes half-way *towards the vertical midline* (x = (S - n) / 2 for
the crop's start), so a crop and its mirror image are cut at mirrored pixels and a flipped face's ROIs
are exactly the mirror images of the original's partner ROIs (only a start lying exactly on that midline
with S - n odd, e.g. S = 200 and n = 25, cannot be mirrored: it rounds left). Border handling: crops that
reach past the aligned image are filled with zeros (black, like the border of ``align_faces``), so every
crop stays n x n; centres beyond the image are clamped so a crop never starts more than n pixels outside.
The global ROI is the whole aligned face resized to n x n by area averaging (``cv2.INTER_AREA``: for
200 -> 25, the rounded mean of each 8 x 8 block).
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from augcn_pyg.core.aus import Protocol, get_protocol
from augcn_pyg.core.chunks import run_chunked
from augcn_pyg.core.errors import InputError
from augcn_pyg.landmarks.layout import FLIP_68, STABLE_POINTS

RULER_POINTS = (39, 42)
#: the ROI sides (pixels) that the commands accept, on the 200-px aligned face: from 5 (smaller crops hold
#: hardly any texture) to 100, half the face (a larger "region" covers most of the face and is no longer
#: local to its AU; the paper's is 25). One rule for `--roi-size` of `prepare` and `show-rois`.
ROI_SIZE_RANGE = (5, 100)


def check_roi_size(size: int) -> int:
    """``size`` if it lies in :data:`ROI_SIZE_RANGE`, else an :class:`InputError` naming the range."""
    low, high = ROI_SIZE_RANGE
    if not (isinstance(size, (int, np.integer)) and low <= size <= high):
        raise InputError(f"ROI size must be a whole number of pixels from {low} to {high} (the aligned face is "
                         f"200 px), got {size!r}")
    return int(size)


@functools.lru_cache(maxsize=None)
def _roi_rules(protocol: Protocol) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per non-global ROI: landmark pairs (K, 2) (a single landmark repeated), offsets (K,), ROI indices (K,)."""
    rois = [(i, r) for i, r in enumerate(protocol.rois) if not r.is_global]
    pairs = np.array([(r.landmarks * 2)[:2] for _, r in rois], dtype=np.int64)
    offsets = np.array([r.offset for _, r in rois], dtype=np.float32)
    return pairs, offsets, np.array([i for i, _ in rois], dtype=np.int64)


def needed_points(protocol: str | Protocol) -> np.ndarray:
    """The iBUG-68 indices that the protocol's ROI centres use (its rules plus the ruler's 39, 42)."""
    pairs, _, _ = _roi_rules(get_protocol(protocol))
    return np.unique(np.concatenate([pairs.ravel(), RULER_POINTS]))


def usable_faces(landmarks, protocol: str | Protocol = "bp4d") -> np.ndarray:
    """(B,) bool: faces whose (B, 68, 2) landmarks can be aligned and cut (every point the protocol's ROIs
    need is finite, and so are at least 2 alignment points). Lets a pipeline report the others as skipped
    before it calls :func:`~augcn_pyg.face.align.align_faces` / :func:`extract_rois` on the rest."""
    lm = np.asarray(landmarks.detach().cpu() if torch.is_tensor(landmarks) else landmarks, dtype=np.float32)
    finite = np.isfinite(lm).all(-1)  # (B, 68)
    return finite[:, needed_points(protocol)].all(1) & (finite[:, STABLE_POINTS].sum(1) >= 2)


def au_centres(landmarks, protocol: str | Protocol = "bp4d"):
    """(B, R-1, 2) AU centres (x, y) of the non-global ROIs, in the protocol's ROI order.

    ``landmarks``: (B, 68, 2) (or (68, 2)) numpy array or tensor; the result has the same type (float32).
    Only :func:`needed_points` are read, so NaN elsewhere (e.g. the jaw of a 49-point set) is harmless.
    """
    pairs, offsets, _ = _roi_rules(get_protocol(protocol))
    is_tensor = torch.is_tensor(landmarks)
    # numpy: these arrays are tiny, and tiny torch ops pay thread start-up costs on a busy CPU
    lm = landmarks.detach().cpu().float().numpy() if is_tensor else np.asarray(landmarks, dtype=np.float32)
    single = lm.ndim == 2
    lm = lm[None] if single else lm
    ruler = np.abs(lm[:, RULER_POINTS[0], 0] - lm[:, RULER_POINTS[1], 0])  # (B,)
    centres = lm[:, pairs].mean(2)  # (B, K, 2)
    centres[..., 1] += offsets * ruler[:, None]
    centres = centres[0] if single else centres
    return torch.from_numpy(centres) if is_tensor else centres


def crop_starts(centres: np.ndarray, image_size: int, size: int) -> np.ndarray:
    """(B, K, 2) int64 (x0, y0) top-left pixels of the size x size crops around ``centres`` (B, K, 2)."""
    start = np.asarray(centres, dtype=np.float64) - (size - 1) / 2  # (B, K, 2) real start
    sx, sy = start[..., 0], start[..., 1]
    mid = (image_size - size) / 2  # where a start is its own mirror image
    x0 = np.where(sx < mid, np.floor(sx + 0.5), np.ceil(sx - 0.5))  # half-way towards the midline
    y0 = np.floor(sy + 0.5)
    out = np.stack([x0, y0], -1).clip(-size, image_size)  # a crop may start at most n pixels outside
    return out.astype(np.int64)


def _as_uint8_tensor(aligned) -> torch.Tensor:
    t = aligned if torch.is_tensor(aligned) else torch.from_numpy(np.ascontiguousarray(aligned))
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] != 3 or t.shape[1] != t.shape[2]:
        raise ValueError(f"aligned faces must be (B, S, S, 3) uint8, got {tuple(t.shape)} {t.dtype}")
    return t


def extract_rois(aligned, aligned_landmarks, protocol: str | Protocol = "bp4d", size: int = 25,
                 workers: int | None = None) -> torch.Tensor:
    """(B, R, 3, size, size) uint8 ROIs of aligned faces, in the protocol's ROI order (global ROI last).

    ``aligned``: (B, S, S, 3) uint8 array or tensor (RGB); ``aligned_landmarks``: (B, 68, 2) in its pixels.
    All crops of all faces come from one gather on a strided view of the image's n x n windows; crops
    that reach past the border (rare: the template keeps every ROI inside) are cut again, in one more
    gather, from zero-padded copies of just those faces. The global ROI is made by :func:`global_roi`.
    """
    protocol = get_protocol(protocol)
    images = _as_uint8_tensor(aligned)
    batch, side = images.shape[0], images.shape[1]
    if size > side:
        raise ValueError(f"ROI size {size} is larger than the aligned faces ({side} px)")
    lm = aligned_landmarks.detach().cpu().numpy() if torch.is_tensor(aligned_landmarks) else aligned_landmarks
    lm = np.asarray(lm, dtype=np.float32)
    if lm.shape != (batch, 68, 2):
        raise ValueError(f"{batch} faces need landmarks (B, 68, 2), got {lm.shape}")
    centres = au_centres(lm, protocol)  # (B, K, 2)
    bad = np.flatnonzero(~np.isfinite(centres).all(axis=(1, 2)))
    if bad.size:
        raise ValueError(f"faces {bad.tolist()} have NaN landmarks among the points the ROIs need "
                         f"{needed_points(protocol).tolist()}")
    starts = crop_starts(centres, side, size)  # (B, K, 2) (x0, y0)
    array = np.ascontiguousarray(images.numpy())
    _, _, roi_index = _roi_rules(protocol)
    out = np.empty((batch, protocol.num_rois, 3, size, size), dtype=np.uint8)
    crops = _gather_crops(array, starts.clip(0, side - size), size)  # (B, K, n, n, 3)

    outside = ((starts < 0) | (starts > side - size)).any(-1)  # (B, K) crops that reach past the border
    if outside.any():
        faces = np.flatnonzero(outside.any(1))
        padded = np.pad(array[faces], ((0, 0), (size, size), (size, size), (0, 0)))  # zeros outside
        redo = _gather_crops(padded, starts[faces] + size, size)
        crops[faces] = np.where(outside[faces][:, :, None, None, None], redo, crops[faces])
    # (B, K, n, n, 3) -> (B, K, 3, n, n), written straight into the output (numpy: no thread start-up)
    out[:, roi_index] = crops.transpose(0, 1, 4, 2, 3)
    out[:, protocol.global_index] = _global_roi(array, size, workers).transpose(0, 3, 1, 2)
    return torch.from_numpy(out)


def _gather_crops(images: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """(B, K, n, n, 3) crops of C-contiguous (B, P, P, 3) uint8 images at in-range (B, K, 2) (x0, y0) starts.

    One fancy index on a strided view of every n x n window (numpy copies each window as a block, about
    5x faster than torch's element-wise advanced indexing here).
    """
    batch, side = images.shape[0], images.shape[1]
    span = side - size + 1
    s_b, s_y, s_x, s_c = images.strides
    windows = np.lib.stride_tricks.as_strided(images, (batch, span, span, size, size, 3),
                                              (s_b, s_y, s_x, s_y, s_x, s_c), writeable=False)
    return windows[np.arange(batch)[:, None], starts[..., 1], starts[..., 0]]


def global_roi(images, size: int = 25, workers: int | None = None) -> torch.Tensor:
    """(B, 3, size, size) uint8: whole (B, S, S, 3) uint8 faces resized by area averaging.

    ``cv2.resize(INTER_AREA)`` per face in a few threads: for an integer factor (200 -> 25) it is the exact
    rounded mean of each 8 x 8 block, so it commutes with the horizontal flip.
    """
    array = images.numpy() if torch.is_tensor(images) else images
    return torch.from_numpy(_global_roi(np.ascontiguousarray(array), size, workers)).permute(0, 3, 1, 2)


def _global_roi(array: np.ndarray, size: int, workers: int | None) -> np.ndarray:
    import cv2

    small = np.empty((len(array), size, size, 3), dtype=np.uint8)  # (B, n, n, 3)

    def resize(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            cv2.resize(array[i], (size, size), dst=small[i], interpolation=cv2.INTER_AREA)

    run_chunked(resize, len(array), workers)
    return small


def flip_faces(aligned, aligned_landmarks):
    """Horizontally flip aligned faces and their landmarks.

    Returns ``(flipped (B, S, S, 3) uint8, flipped_landmarks (B, 68, 2) float32)``, same types as given.
    Pixel column j becomes S - 1 - j, so a landmark's x becomes S - 1 - x (pixel centres at integers); the
    points are then renumbered with :data:`FLIP_68` so that point 36 is again the image-left eye corner.
    :func:`extract_rois` of the flipped face gives ROI r = the mirror image of the original's ROI
    ``protocol.mirror_permutation()[r]`` (the same AU region, on the other side of the face).
    """
    is_tensor = torch.is_tensor(aligned)
    side = aligned.shape[2]
    flipped = aligned.flip(2) if is_tensor else np.ascontiguousarray(np.asarray(aligned)[:, :, ::-1])
    lm = aligned_landmarks.clone().float() if torch.is_tensor(aligned_landmarks) \
        else np.array(aligned_landmarks, dtype=np.float32)
    lm[..., 0] = side - 1 - lm[..., 0]
    lm = lm[:, torch.from_numpy(FLIP_68)] if torch.is_tensor(lm) else lm[:, FLIP_68]
    return flipped, lm
