"""The one face -> ROI pipeline: landmarks (B, 68, 2) -> the usability rule -> aligned 200x200 faces ->
ROI crops (B, R, 3, n, n). ``prepare``, ``predict`` and ``show-rois`` all call these, so a face that one
of them keeps, every other keeps too, cut in the same place.

>>> faces = align_usable(images, points, "bp4d")          # points: (B, 68, 2) in image pixels
>>> faces.reasons                                           # per input face: "" (kept) or why not
>>> rois = crop_rois(faces, "bp4d", roi_size=25)           # (K, R, 3, 25, 25) uint8, K kept faces
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from augcn_pyg.core.aus import Protocol, get_protocol
from augcn_pyg.face.align import align_faces, similarity_transforms, template_for
from augcn_pyg.face.rois import extract_rois, usable_faces
from augcn_pyg.landmarks.layout import STABLE_POINTS

#: side of the aligned face (the paper's 200 x 200)
ALIGNED_SIZE = 200
#: the least extent (px, the smaller of width and height) of the alignment points of a usable face
MIN_FACE_EXTENT = 4.0


def unusable_reasons(points: np.ndarray, transforms: np.ndarray, protocol: str | Protocol) -> list[str]:
    """Per face of (B, 68, 2) ``points`` with their (B, 2, 3) ``transforms``: "" if it can be aligned and
    cut, else why not (points the ROIs need are not finite; points all on one spot)."""
    protocol = get_protocol(protocol)
    points = np.asarray(points, dtype=np.float32)
    usable = usable_faces(points, protocol)  # the ROI points finite, and enough alignment points
    stable = points[:, STABLE_POINTS]  # (B, 49, 2); NaN where a layout lacks a point
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN faces: caught by `usable`
        extent = np.nanmin(np.nanmax(stable, axis=1) - np.nanmin(stable, axis=1), axis=1)  # (B,) px
    # Points (nearly) on one spot fit a meaningless transform: demand a face of some extent.
    solid = np.isfinite(transforms).all(axis=(1, 2)) & (extent >= MIN_FACE_EXTENT)
    return np.where(~usable, "landmarks with NaN or infinite values",
                    np.where(~solid, "degenerate landmarks (all on one spot)", "")).tolist()


def face_transforms(points: np.ndarray) -> np.ndarray:
    """(B, 68, 2) landmarks -> (B, 2, 3) similarity transforms into the aligned frame (NaN where none fits)."""
    return similarity_transforms(points, template_for(ALIGNED_SIZE))


@dataclass
class AlignedFaces:
    """The usable faces of a batch, aligned: ``aligned`` (K, S, S, 3) uint8 and ``points`` (K, 68, 2) in the
    aligned frame (None when K = 0); ``kept`` the K indices into the input; ``reasons`` one per input face
    ("" for a kept one)."""
    aligned: np.ndarray | None
    points: np.ndarray | None
    kept: list[int]
    reasons: list[str]


def align_usable(images, points: np.ndarray, protocol: str | Protocol, workers: int | None = None) -> AlignedFaces:
    """Check and align a batch: ``images`` a list of (H, W, 3) uint8 (one per face; the same image may repeat)
    and ``points`` (B, 68, 2) in their pixels."""
    points = np.asarray(points, dtype=np.float32)
    if len(points) == 0:
        return AlignedFaces(None, None, [], [])
    transforms = face_transforms(points)  # (B, 2, 3)
    reasons = unusable_reasons(points, transforms, protocol)
    kept = [i for i, why in enumerate(reasons) if not why]
    if not kept:
        return AlignedFaces(None, None, [], reasons)
    aligned, aligned_points = align_faces([images[i] for i in kept], points[kept], ALIGNED_SIZE,
                                          transforms=transforms[kept], workers=workers)
    return AlignedFaces(aligned, aligned_points, kept, reasons)


def crop_rois(aligned: np.ndarray, aligned_points: np.ndarray, protocol: str | Protocol, roi_size: int) -> torch.Tensor:
    """(K, S, S, 3) aligned faces and their (K, 68, 2) landmarks -> (K, R, 3, n, n) uint8 ROI crops."""
    return extract_rois(aligned, aligned_points, protocol, size=roi_size)
