"""0–5 AU intensities, where a dataset codes them, keyed by (subject, video, frame).

Three sources (``docs/datasets.md`` §"Intensities"):

* **SynthAU** ``AUIntensity/{video}.csv``: ``frame`` then ``AU01..AU26``, the true continuous
  intensities (``augcn_pyg/data/synthau/writer.py``). A BP4D-layout video is ``{subject}_{task}``, a
  DISFA-layout video is the subject. Preferred when present (DISFA-layout SynthAU also writes floored
  integer ``ActionUnit_Labels``).
* **DISFA** ``ActionUnit_Labels/SNxxx/SNxxx_au{N}.txt``: the label files are intensity files already.
* **BP4D, FERA 2015 intensity release** ``AUCoding/AU_INT/AU{nn}/{subject}_{task}_AU{nn}.csv``: one file
  per AU and video for AUs 6, 10, 12, 14 and 17, header-less ``frame,intensity`` lines, 9 = unknown.

Unknown values (BP4D's 9, AUs a dataset does not code, frames without a line) are NaN.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from augcn_pyg.core.aus import Protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.labels.common import frame_numbers, parse_au_name, read_header, read_numeric
from augcn_pyg.data.labels.native import disfa_label_folder, read_disfa_subject

#: key -> (C,) float32 intensities in the protocol's AU order, NaN unknown
Intensities = dict[tuple[str, str, int], np.ndarray]

_BP4D_INT_FILE = re.compile(r"^(.+?)_(.+)_AU0*(\d+)\.csv$", re.IGNORECASE)
#: BP4D's code for "not coded" in the intensity release (as in AU_OCC)
BP4D_UNKNOWN = 9


def _put(out: Intensities, key: tuple[str, str, int], column: int, value: float, num_aus: int) -> None:
    row = out.get(key)
    if row is None:
        row = out[key] = np.full(num_aus, np.nan, np.float32)
    row[column] = value


def read_synthau_intensity(root: Path, protocol: Protocol) -> Intensities | None:
    """``root/AUIntensity/*.csv`` (SynthAU's true intensities), or None when the folder is absent."""
    folder = root / "AUIntensity"
    if not folder.is_dir():
        return None
    out: Intensities = {}
    for f in sorted(folder.glob("*.csv")):
        header = read_header(f)
        aus = [parse_au_name(h) for h in header]
        data = read_numeric(f, skiprows=1)
        frames = frame_numbers(data[:, header.index("frame")], f)
        subject, _, task = f.stem.partition("_")
        video = task or subject  # BP4D layout: {subject}_{task}; DISFA layout: the subject is the video
        for c, au in enumerate(protocol.aus):
            if au not in aus:
                continue
            values = np.clip(data[:, aus.index(au)], 0, 5)
            for frame, v in zip(frames.tolist(), values.tolist()):
                _put(out, (subject, video, frame), c, v, protocol.num_aus)
    return out


def read_disfa_intensity(root: Path, protocol: Protocol) -> Intensities | None:
    """DISFA's ``ActionUnit_Labels`` (the dataset root or the folder), or None when absent."""
    folder = disfa_label_folder(root) if root.is_dir() else None
    if folder is None:
        return None
    out: Intensities = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not any(sub.glob("*.txt")):
            continue
        frames, by_au = read_disfa_subject(sub)
        for c, au in enumerate(protocol.aus):
            if au in by_au:
                for frame, v in zip(frames.tolist(), by_au[au].tolist()):
                    _put(out, (sub.name, sub.name, frame), c, float(v), protocol.num_aus)
    return out


def bp4d_intensity_folder(root: Path) -> Path | None:
    """The FERA 2015 ``AU_INT`` folder (holding ``AU{nn}/`` folders) under a BP4D root, or None."""
    for cand in (root / "AUCoding" / "AU_INT", root / "AU_INT", root):
        if cand.is_dir() and any(p.is_dir() and parse_au_name(p.name) for p in cand.glob("AU*")):
            return cand
    return None


def read_bp4d_intensity(root: Path, protocol: Protocol) -> Intensities | None:
    """BP4D's FERA 2015 intensity release (``AU_INT/AU{nn}/{subject}_{task}_AU{nn}.csv``), or None."""
    folder = bp4d_intensity_folder(root) if root.is_dir() else None
    if folder is None:
        return None
    out: Intensities = {}
    for au_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        au = parse_au_name(au_dir.name)
        if au is None or au not in protocol.aus:
            continue
        c = protocol.aus.index(au)
        for f in sorted(au_dir.glob("*.csv")):
            m = _BP4D_INT_FILE.match(f.name)
            if not m:
                continue
            first = read_header(f)
            data = read_numeric(f, delimiter=",", skiprows=0 if _numeric(first[0]) else 1)
            if data.size == 0:
                continue
            if data.shape[1] < 2:
                raise InputError(f"BP4D intensity lines must be 'frame,intensity': {f}")
            frames, values = frame_numbers(data[:, 0], f), data[:, 1].astype(np.float64)
            unknown = np.isnan(values) | (values == BP4D_UNKNOWN)
            bad = ~unknown & ((values < 0) | (values > 5) | (values != np.round(values)))
            if bad.any():
                i = int(np.argmax(bad))
                raise InputError(f"intensity {values[i]:g} at frame {frames[i]} is not 0-5 or 9: {f}")
            values[unknown] = np.nan
            for frame, v in zip(frames.tolist(), values.tolist()):
                _put(out, (m.group(1), m.group(2), frame), c, v, protocol.num_aus)
    return out


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_intensities(dataset: str, root: str | Path, protocol: Protocol) -> Intensities | None:
    """The intensities of a dataset root, or None when it codes none (SynthAU's truth first)."""
    root = Path(root)
    found = read_synthau_intensity(root, protocol)
    if found is None and dataset.lower() == "disfa":
        found = read_disfa_intensity(root, protocol)
    if found is None and dataset.lower() == "bp4d":
        found = read_bp4d_intensity(root, protocol)
    return found or None


def intensity_rows(intensities: Intensities, keys, num_aus: int) -> np.ndarray:
    """(N, C) float32 for (subject, video, frame) keys; NaN rows for frames without intensities."""
    missing = np.full(num_aus, np.nan, np.float32)
    return np.stack([intensities.get((str(s), str(v), int(f)), missing) for s, v, f in keys]).astype(np.float32)
