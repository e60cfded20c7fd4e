"""Landmarks that come with the data: OpenFace 2 CSV, DISFA ``.mat`` (66 points), ``.npy`` arrays.

Every reader returns (N, 68, 2) float32 in the iBUG-68 layout (:func:`to_68` lifts 66/49-point sets);
rows that the source marks as failed are NaN, so later stages report them instead of using them.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.registry import Registry
from augcn_pyg.landmarks.layout import LAYOUTS, to_68


def read_openface_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(frames (N,) int64, landmarks (N, 68, 2) float32)`` from an OpenFace 2 CSV.

    Reads the ``frame`` and ``x_0..x_67``, ``y_0..y_67`` columns (older versions write ``" x_0"`` with a
    leading space). Rows with ``success == 0`` become NaN: OpenFace still writes numbers there.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: a CSV re-saved by Excel starts with a BOM
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the OpenFace CSV {path}: {exc}") from None
    if not rows:
        raise InputError(f"the OpenFace CSV {path} is empty")
    header = [name.strip() for name in rows[0]]
    column = {name: i for i, name in enumerate(header)}
    wanted = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    missing = [name for name in wanted if name not in column]
    if missing:
        raise InputError(f"{path} is not an OpenFace 2 landmark CSV: missing columns {missing[:3]}...")
    body = [r for r in rows[1:] if r]
    try:
        values = np.array([[float(r[column[n]]) for n in wanted] for r in body], dtype=np.float32)
        frames = (np.array([int(float(r[column["frame"]])) for r in body], dtype=np.int64)
                  if "frame" in column else np.arange(1, len(body) + 1, dtype=np.int64))
        success = (np.array([float(r[column["success"]]) for r in body]) > 0
                   if "success" in column else np.ones(len(body), dtype=bool))
    except (ValueError, IndexError) as exc:
        raise InputError(f"bad number in the OpenFace CSV {path}: {exc}") from None
    values = values.reshape(len(body), 2, 68).transpose(0, 2, 1).copy()  # (N, 68, 2)
    values[~success] = np.nan
    return frames, values


def read_disfa_mat(path: str | Path) -> np.ndarray:
    """(1, 68, 2) float32 from one DISFA ``Landmark_Points`` ``.mat`` file (variable ``pts``, 66 x 2;
    a (N, P, 2) ``pts`` gives (N, 68, 2))."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    try:
        mat = loadmat(path, variable_names=["pts"])  # skip the other variables: about 2x faster
    except (OSError, ValueError, NotImplementedError, TypeError, MatReadError) as exc:  # MatReadError: truncated
        raise InputError(f"cannot read the .mat file {path}: {exc}") from None
    if "pts" not in mat:
        raise InputError(f"{path} has no 'pts' variable (DISFA landmark files do)")
    try:
        points = np.asarray(mat["pts"], dtype=np.float32)
    except (TypeError, ValueError):  # a cell array or struct, not a matrix of numbers
        raise InputError(f"{path}: 'pts' is not a numeric matrix") from None
    return _lift(points, path)


def read_npy(path: str | Path) -> np.ndarray:
    """(N, 68, 2) float32 from a ``.npy`` array of shape (P, 2) or (N, P, 2), P in {68, 66, 49}."""
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the landmark array {path}: {exc}") from None
    if not isinstance(array, np.ndarray):  # np.load opens an .npz archive whatever the suffix
        raise InputError(f"{path} is an .npz archive, not a .npy array of landmarks")
    if array.dtype.kind not in "iuf":
        raise InputError(f"{path}: landmarks must be numbers, got an array of dtype {array.dtype}")
    return _lift(array, path)


def _lift(points: np.ndarray, path: Path) -> np.ndarray:
    """(P, 2) or (N, P, 2) points -> (N, 68, 2) float32 (N = 1 for a single set)."""
    if points.ndim not in (2, 3) or points.shape[-1] != 2 or points.shape[-2] not in LAYOUTS:
        raise InputError(f"{path}: landmarks must be (P, 2) or (N, P, 2) with P in {sorted(LAYOUTS)}, "
                         f"got shape {points.shape}")
    points = to_68(points)
    return points[None] if points.ndim == 2 else points


#: file suffix -> reader returning (N, 68, 2) float32
LANDMARK_FILE_READERS: Registry[Callable[[Path], np.ndarray]] = Registry("landmark file type", lowercase=True)
LANDMARK_FILE_READERS.register(".csv", lambda p: read_openface_csv(p)[1])
LANDMARK_FILE_READERS.register(".mat", read_disfa_mat)
LANDMARK_FILE_READERS.register(".npy", read_npy)


def read_landmarks_file(path: str | Path) -> np.ndarray:
    """(N, 68, 2) float32 from an OpenFace CSV, a DISFA ``.mat`` or a ``.npy``, chosen by suffix."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"landmark file not found: {path}")
    reader = LANDMARK_FILE_READERS.lookup(path.suffix, where=str(path))
    return reader(path)
