"""Native label files of the datasets named after a protocol: BP4D's ``AU_OCC`` CSVs and DISFA's
``ActionUnit_Labels`` intensity files."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from augcn_pyg.core.aus import Protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.labels.common import (
    LabelSet,
    binary_labels,
    frame_numbers,
    parse_au_name,
    read_header,
    read_numeric,
    strings,
    to_protocol,
)

_DISFA_FILE = re.compile(r"_au0*(\d+)\.txt$", re.IGNORECASE)


def _check_unique(frames: np.ndarray, path: Path) -> None:
    uniq, counts = np.unique(frames, return_counts=True)
    if (counts > 1).any():
        raise InputError(f"frame {uniq[counts > 1][0]} appears {counts[counts > 1][0]} times: {path}")


def _concat(parts: list[LabelSet], protocol: Protocol, source: str, ignored: set[int], path: Path) -> LabelSet:
    if not parts or sum(len(p) for p in parts) == 0:
        raise InputError(f"no labelled frames found: {path}")
    notes = [n for p in parts for n in p.notes]
    return LabelSet(
        aus=tuple(protocol.aus),
        labels=np.concatenate([p.labels for p in parts]).astype(np.float32),
        subject=np.concatenate([p.subject for p in parts]).astype(str),
        video=np.concatenate([p.video for p in parts]).astype(str),
        frame=np.concatenate([p.frame for p in parts]).astype(np.int64),
        source=source,
        ignored_aus=tuple(sorted(ignored)),
        notes=notes,
    )


# --------------------------------------------------------------------------------------------------
# BP4D


def bp4d_label_folder(path: Path) -> Path | None:
    """The ``AU_OCC`` folder for a dataset root, ``AUCoding`` or ``AU_OCC`` path (None if not found).

    A folder named ``AU_OCC`` with ``*_*.csv`` files is taken as it is (its headers may name AUs ``AU1``
    as well as ``1``); any other folder needs BP4D-shaped headers (:func:`is_bp4d_csv`).
    """
    for cand in (path / "AUCoding" / "AU_OCC", path / "AU_OCC", path):
        files = sorted(cand.glob("*_*.csv"))[:3] if cand.is_dir() else []
        if files and (cand.name == "AU_OCC" or any(is_bp4d_csv(f) for f in files)):
            return cand
    return None


def is_bp4d_csv(path: Path) -> bool:
    """BP4D shape: every header cell a bare number (first = frame column, may be empty)."""
    try:
        header = read_header(path)
    except (InputError, OSError, UnicodeDecodeError):
        return False
    return len(header) >= 2 and all(c.isdigit() for c in header[1:]) and (header[0] == "" or header[0].isdigit()
                                                                           or header[0].lower() == "frame")


def read_bp4d_file(path: Path) -> tuple[np.ndarray, list[int], np.ndarray, np.ndarray]:
    """One ``{Subject}_{Task}.csv`` -> (frames (N,) int64, AU numbers (K,), labels (N, K) float32 1/0/NaN,
    coded (K,) bool: the column has at least one known label).

    Non-AU columns (e.g. a named occlusion column) are dropped. AU columns coded 9 everywhere (the
    file's placeholders for AUs never coded) are flagged in ``coded`` so callers need not report them.
    """
    header = read_header(path)
    data = read_numeric(path, ncols=len(header))  # (N, K+1)
    aus_cols = [(k, parse_au_name(h)) for k, h in enumerate(header) if k > 0]
    aus_cols = [(k, au) for k, au in aus_cols if au is not None]
    cols = [k for k, _ in aus_cols]
    aus = [au for _, au in aus_cols]
    labels = binary_labels(data[:, cols], path, [f"AU{a}" for a in aus])
    coded = ~np.isnan(labels).all(axis=0) if len(labels) else np.ones(len(aus), dtype=bool)
    frames = frame_numbers(data[:, 0], path)
    _check_unique(frames, path)
    return frames, aus, labels, coded


def _subject_video(stem: str) -> tuple[str, str]:
    subject, _, video = stem.partition("_")
    return subject, video or stem


def read_bp4d(path: Path, protocol: Protocol, intensity_threshold: int = 2) -> LabelSet:
    """BP4D ``AU_OCC`` folder (or the dataset root / ``AUCoding``) or a single ``{Subject}_{Task}.csv``."""
    if path.is_dir():
        folder = bp4d_label_folder(path) or path
        files = sorted(folder.glob("*.csv"))
        if not files:
            raise InputError(f"no BP4D label CSVs ({{Subject}}_{{Task}}.csv) in folder: {path}")
    else:
        files = [path]
    parts, ignored = [], set()
    for f in files:
        frames, aus, labels, coded = read_bp4d_file(f)
        keep = [i for i, au in enumerate(aus) if coded[i] or au in protocol.aus]
        mapped, ign = to_protocol([aus[i] for i in keep], labels[:, keep], protocol, f)
        ignored |= ign
        subject, video = _subject_video(f.stem)
        n = len(frames)
        parts.append(LabelSet((), mapped, strings(subject, n), strings(video, n), frames, ""))
    return _concat(parts, protocol, f"bp4d:{path}", ignored, path)


# --------------------------------------------------------------------------------------------------
# DISFA


def disfa_label_folder(path: Path) -> Path | None:
    """The ``ActionUnit_Labels`` folder for a dataset root or the folder itself (None if not found)."""
    for cand in (path / "ActionUnit_Labels", path):
        if cand.is_dir() and any(cand.glob("SN*/SN*_[aA][uU]*.txt")):
            return cand
    return None


def read_disfa_subject(folder: Path) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """``SNxxx/`` -> (frames (N,) int64 sorted, {AU: intensities (N,) int}). Frames must agree across AUs."""
    frames_ref: np.ndarray | None = None
    ref_file: Path | None = None
    intensities: dict[int, np.ndarray] = {}
    for f in sorted(folder.glob("*.txt")):
        m = _DISFA_FILE.search(f.name)
        if not m:
            continue
        data = read_numeric(f, delimiter=",", skiprows=0)
        if data.size == 0:
            raise InputError(f"DISFA label file has no lines: {f}")
        if data.shape[1] != 2:
            raise InputError(f"DISFA label lines must be 'frame,intensity' (found {data.shape[1]} fields): {f}")
        frames = frame_numbers(data[:, 0], f)
        _check_unique(frames, f)
        order = np.argsort(frames, kind="stable")
        frames, values = frames[order], data[order, 1]
        bad = np.isnan(values) | (values != np.round(values)) | (values < 0) | (values > 5)
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"intensity {values[i]:g} at frame {frames[i]} is not an integer 0-5: {f}")
        if frames_ref is None:
            frames_ref, ref_file = frames, f
        elif len(frames) != len(frames_ref) or (frames != frames_ref).any():
            only = np.setxor1d(frames, frames_ref)
            raise InputError(f"frames differ from {ref_file.name} ({len(frames)} vs {len(frames_ref)} lines; "
                             f"e.g. frame {only[0] if len(only) else '?'}): {f}")
        au = int(m.group(1))
        if au in intensities:
            raise InputError(f"two label files for AU{au} in {folder}: {f}")
        intensities[au] = values.astype(np.int64)
    if frames_ref is None:
        raise InputError(f"no SNxxx_au<N>.txt label files in subject folder: {folder}")
    return frames_ref, intensities


def read_disfa(path: Path, protocol: Protocol, intensity_threshold: int = 2) -> LabelSet:
    """DISFA ``ActionUnit_Labels`` folder (or the dataset root); present = intensity >= threshold."""
    if not 1 <= intensity_threshold <= 5:
        raise InputError(f"intensity threshold must be 1-5 (got {intensity_threshold}): {path}")
    folder = disfa_label_folder(path) if path.is_dir() else None
    if folder is None:
        raise InputError(f"no DISFA label folders (SNxxx/SNxxx_au<N>.txt) found: {path}")
    parts, ignored = [], set()
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not any(_DISFA_FILE.search(f.name) for f in sub.glob("*.txt")):
            continue
        frames, intensities = read_disfa_subject(sub)
        aus = sorted(intensities)
        values = np.stack([intensities[a] for a in aus], axis=1)  # (N, K)
        present = (values >= intensity_threshold).astype(np.float32)
        mapped, ign = to_protocol(aus, present, protocol, sub)
        ignored |= ign
        n = len(frames)
        parts.append(LabelSet((), mapped, strings(sub.name, n), strings(sub.name, n), frames, ""))
    return _concat(parts, protocol, f"disfa:{path} (intensity >= {intensity_threshold})", ignored, path)
