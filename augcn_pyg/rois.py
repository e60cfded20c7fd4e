"""AU centres from landmarks, batched n x n ROI crops, the global ROI and the horizontal flip.

The ROI rules are data in :mod:`augcn_pyg.aus` (``Protocol.rois``): a ROI's anchor is the mean of its
landmarks, moved vertically by ``offset * ruler`` with ``ruler = |x39 - x42|`` (inner eye corners).

Crops are whole pixels of the aligned face, never resampled: an n x n crop starts at the centre minus
(n - 1) / 2, rounded to a pixel. Rounding goes half-way *towards the vertical midline* (x = (S - n) / 2 for
the crop's start), so a crop and its mirror image are cut at mirrored pixels and a flipped face's ROIs
are exactly the mirror images of the original's partner ROIs (only a start lying exactly on that midline
with S - n odd, e.g. S = 200 and n = 25, cannot be mirrored: it rounds left). Border handling: crops that
reach past the aligned image are filled with zeros (black, like the border of ``align_faces``), so every
crop stays n x n; centres beyond the image are clamped so a crop never starts more than n pixels outside.
The global ROI is the whole aligned face resized to n x n by area averaging (``adaptive_avg_pool2d``:
for 200 -> 25, the mean of each 8 x 8 block), rounded to uint8.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from .aus import Protocol, get_protocol
from .landmarks.layout import FLIP_68

RULER_POINTS = (39, 42)


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


def au_centres(landmarks, protocol: str | Protocol = "bp4d"):
    """(B, R-1, 2) AU centres (x, y) of the non-global ROIs, in the protocol's ROI order.

    ``landmarks``: (B, 68, 2) (or (68, 2)) numpy array or tensor; the result has the same type (float32).
    Only :func:`needed_points` are read, so NaN elsewhere (e.g. the jaw of a 49-point set) is harmless.
    """
    pairs, offsets, _ = _roi_rules(get_protocol(protocol))
    is_tensor = torch.is_tensor(landmarks)
    lm = landmarks.float() if is_tensor else np.asarray(landmarks, dtype=np.float32)
    single = lm.ndim == 2
    lm = lm[None] if single else lm
    if not is_tensor:
        lm = torch.from_numpy(lm)
    ruler = (lm[:, RULER_POINTS[0], 0] - lm[:, RULER_POINTS[1], 0]).abs()  # (B,)
    centres = lm[:, torch.from_numpy(pairs)].mean(2)  # (B, K, 2)
    centres[..., 1] += torch.from_numpy(offsets) * ruler[:, None]
    centres = centres[0] if single else centres
    return centres if is_tensor else centres.numpy()


def crop_starts(centres: torch.Tensor, image_size: int, size: int) -> torch.Tensor:
    """(B, K, 2) long (x0, y0) top-left pixels of the size x size crops around ``centres`` (B, K, 2)."""
    start = centres.double() - (size - 1) / 2  # (B, K, 2) real start
    sx, sy = start[..., 0], start[..., 1]
    mid = (image_size - size) / 2  # where a start is its own mirror image
    x0 = torch.where(sx < mid, torch.floor(sx + 0.5), torch.ceil(sx - 0.5))  # half-way towards the midline
    y0 = torch.floor(sy + 0.5)
    out = torch.stack([x0, y0], -1).clamp(-size, image_size)  # a crop may start at most n pixels outside
    return out.long()


def _as_uint8_tensor(aligned) -> torch.Tensor:
    t = aligned if torch.is_tensor(aligned) else torch.from_numpy(np.ascontiguousarray(aligned))
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[-1] != 3 or t.shape[1] != t.shape[2]:
        raise ValueError(f"aligned faces must be (B, S, S, 3) uint8, got {tuple(t.shape)} {t.dtype}")
    return t


def extract_rois(aligned, aligned_landmarks, protocol: str | Protocol = "bp4d", size: int = 25) -> torch.Tensor:
    """(B, R, 3, size, size) uint8 ROIs of aligned faces, in the protocol's ROI order (global ROI last).

    ``aligned``: (B, S, S, 3) uint8 array or tensor (RGB); ``aligned_landmarks``: (B, 68, 2) in its pixels.
    One gather for all faces and ROIs: the image is zero-padded by ``size`` on each side and indexed with
    (B, K, size, size) row and column grids.
    """
    protocol = get_protocol(protocol)
    images = _as_uint8_tensor(aligned)
    batch, side = images.shape[0], images.shape[1]
    centres = au_centres(torch.as_tensor(np.asarray(aligned_landmarks, dtype=np.float32))
                         if not torch.is_tensor(aligned_landmarks) else aligned_landmarks, protocol)  # (B, K, 2)
    if len(centres) != batch:
        raise ValueError(f"{batch} faces but {len(centres)} landmark sets")
    bad = torch.nonzero(~torch.isfinite(centres).all(-1).all(-1)).flatten()
    if bad.numel():
        raise ValueError(f"faces {bad.tolist()} have NaN landmarks among the points the ROIs need "
                         f"{needed_points(protocol).tolist()}")
    starts = crop_starts(centres, side, size) + size  # (B, K, 2) in padded pixels
    padded = F.pad(images.permute(0, 3, 1, 2), (size, size, size, size))  # (B, 3, S+2n, S+2n)
    steps = torch.arange(size)
    rows = (starts[..., 1, None] + steps)[:, :, None, :, None]  # (B, K, 1, n, 1)
    cols = (starts[..., 0, None] + steps)[:, :, None, None, :]  # (B, K, 1, 1, n)
    chans = torch.arange(3)[None, None, :, None, None]  # (1, 1, 3, 1, 1)
    faces = torch.arange(batch)[:, None, None, None, None]  # (B, 1, 1, 1, 1)
    crops = padded[faces, chans, rows, cols]  # (B, K, 3, n, n)

    _, _, roi_index = _roi_rules(protocol)
    out = torch.empty((batch, protocol.num_rois, 3, size, size), dtype=torch.uint8)
    out[:, torch.from_numpy(roi_index)] = crops
    out[:, protocol.global_index] = global_roi(images, size)
    return out


def global_roi(images: torch.Tensor, size: int = 25) -> torch.Tensor:
    """(B, 3, size, size) uint8: whole (B, S, S, 3) uint8 faces resized by area averaging, rounded."""
    chw = images.permute(0, 3, 1, 2)
    side = chw.shape[-1]
    if side % size == 0:  # integer factor: exact block means in integers (200 -> 25: 8 x 8 blocks)
        k = side // size
        sums = chw.reshape(chw.shape[0], 3, size, k, size, k).sum((3, 5), dtype=torch.int32)
        return ((sums + k * k // 2) // (k * k)).to(torch.uint8)
    return F.adaptive_avg_pool2d(chw.float(), size).round_().to(torch.uint8)


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
