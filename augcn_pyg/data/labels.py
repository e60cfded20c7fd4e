"""AU label readers: native dataset label files -> one (N, C) label matrix in a protocol's AU order.

Every reader returns a :class:`LabelSet`: ``labels`` (N, C) float32 with 1 = present, 0 = absent and
NaN = unknown (BP4D's code 9, an empty cell, ``-1``, an OpenFace row where tracking failed), plus the
subject, video and frame of each row. Columns are matched to the protocol by AU number, never by
position (except for the ME-GraphAU list files, which have no header and are defined by the protocol's
order): AUs the file has but the protocol does not score go to ``ignored_aus``; AUs the protocol scores
but the file lacks are an :class:`~augcn_pyg.errors.InputError` naming them and the file.

Formats (``LABEL_FORMATS``, chosen by name or by :func:`detect_label_format`):

``bp4d``      ``AUCoding/AU_OCC/{Subject}_{Task}.csv``: header row, first column the frame number, then
              one column per AU number; 0/1, 9 = unknown. A folder (``AU_OCC``, ``AUCoding`` or the
              dataset root) or one CSV.
``disfa``     ``ActionUnit_Labels/SNxxx/SNxxx_au{N}.txt``: ``frame,intensity`` lines (0-5); present =
              intensity >= ``intensity_threshold`` (2 by default, the field's convention).
``list``      ME-GraphAU ``*_label_fold*.txt``: space-separated 0/1 rows in the protocol's AU order;
              subject/video/frame from the sibling ``*_img_path_fold*.txt`` when present.
``openface``  OpenFace 2 CSV: ``AUxx_c`` columns; rows with ``success == 0`` are unknown.
``csv``       a plain CSV with AU columns (``AU1``, ``AU01``, ``1``) and optional ``subject``, ``video``,
              ``frame`` columns; 1/0, unknown as empty, NaN, -1 or 9.
``npy``       a 2-D array (``allow_pickle=False``) with its AU columns in ``<stem>.aus.txt`` /
              ``<stem>.aus.json`` (or the protocol's order when the width matches), or a structured
              array whose field names are AUs.

A file without frame numbers (no ``frame`` column or field, a list file without its image list) numbers
its rows 1, 2, ..., as OpenFace and the ``folder`` dataset reader number frames.

Parsing is vectorised: ``np.loadtxt`` per file for the numeric formats (fast enough for BP4D's ~146k rows),
pyarrow's CSV reader for plain CSVs (which may be one file of millions of rows).
"""
from __future__ import annotations

import csv
import itertools
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..aus import PROTOCOLS, Protocol, get_protocol
from ..errors import InputError

#: codes that mean "not coded / unknown" in 0/1 label files (besides NaN and empty cells)
UNKNOWN_CODES = (9.0, -1.0)

_AU_NAME = re.compile(r"^\s*(?:AU)?\s*0*(\d+)\s*$", re.IGNORECASE)
_OPENFACE_AU = re.compile(r"^\s*AU0*(\d+)_c\s*$", re.IGNORECASE)
_DISFA_FILE = re.compile(r"_au0*(\d+)\.txt$", re.IGNORECASE)
_META_ALIASES = {
    "subject": ("subject", "subject_id", "participant"),
    "video": ("video", "task", "sequence", "video_id"),
    "frame": ("frame", "frame_id", "frame_number", "frame_index"),
}


@dataclass
class LabelSet:
    """Labels of N frames in a protocol's AU order.

    ``labels`` (N, C) float32: 1 present, 0 absent, NaN unknown. ``subject``, ``video`` (N,) str arrays,
    ``frame`` (N,) int64. ``ignored_aus``: AUs present in the files but not scored by the protocol.
    ``notes``: human-readable remarks a CLI may print (e.g. rows made unknown).
    """

    aus: tuple[int, ...]
    labels: np.ndarray
    subject: np.ndarray
    video: np.ndarray
    frame: np.ndarray
    source: str
    ignored_aus: tuple[int, ...] = ()
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def known(self) -> np.ndarray:
        """(N, C) bool: the label is known (not NaN)."""
        return ~np.isnan(self.labels)

    def select(self, rows: np.ndarray) -> "LabelSet":
        """The rows picked by a bool mask or an index array (e.g. one fold's subjects)."""
        return LabelSet(self.aus, self.labels[rows], self.subject[rows], self.video[rows], self.frame[rows],
                        self.source, self.ignored_aus, list(self.notes))


# --------------------------------------------------------------------------------------------------
# shared parsing helpers


def parse_au_name(name: str) -> int | None:
    """AU number of a column name: ``"AU1"``, ``"AU01"``, ``"au 1"``, ``"1"`` -> 1; anything else None."""
    m = _AU_NAME.match(name)
    if not m:
        return None
    au = int(m.group(1))
    return au if au > 0 else None


def _read_header(path: Path, delimiter: str = ",") -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.reader(fh, delimiter=delimiter):
            if any(cell.strip() for cell in row):
                return [cell.strip() for cell in row]
    raise InputError(f"label file is empty (no header row): {path}")


def _read_numeric(path: Path, ncols: int | None = None, delimiter: str | None = ",", skiprows: int = 1) -> np.ndarray:
    """(N, K) float64 of a numeric text table; empty cells become NaN; text that is not a number raises.

    ``np.loadtxt`` (C parser) as integers first (label files are integers, and integer parsing is ~8x
    faster than float parsing), then as floats, then a slower exact fallback for files with empty cells.
    """
    arr = None
    for dtype in (np.int64, np.float64):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data" for a header-only file
                arr = np.loadtxt(path, delimiter=delimiter, skiprows=skiprows, dtype=dtype, ndmin=2,
                                 encoding="utf-8-sig", comments=None).astype(np.float64)
            break
        except ValueError:
            continue
    if arr is None:
        arr = _read_numeric_slow(path, delimiter, skiprows)
    if arr.size == 0:
        return np.zeros((0, ncols or 0))
    if ncols is not None and arr.shape[1] != ncols:
        # a trailing delimiter gives one extra empty column: drop it if it is empty everywhere
        if arr.shape[1] == ncols + 1 and np.isnan(arr[:, -1]).all():
            arr = arr[:, :-1]
        else:
            raise InputError(f"rows have {arr.shape[1]} fields but the header names {ncols} columns: {path}")
    return arr


def _read_numeric_slow(path: Path, delimiter: str | None, skiprows: int) -> np.ndarray:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        lines = fh.read().splitlines()[skiprows:]
    rows = [ln.split(delimiter) for ln in lines if ln.strip()]
    if not rows:
        return np.zeros((0, 0))
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise InputError(f"row {i + skiprows + 1} has {len(row)} fields, expected {width}: {path}")
    return _to_float(np.asarray(rows, dtype=str), path)


def _to_float(cells: np.ndarray, path: Path) -> np.ndarray:
    """String cells -> float64; empty / NA cells -> NaN; other text raises naming the cell."""
    cells = np.char.strip(cells.astype(str))
    cells = np.where(np.isin(np.char.lower(cells), ["", "na", "nan", "none", "null"]), "nan", cells)
    try:
        return cells.astype(np.float64)
    except ValueError:
        flat = cells.ravel()
        for i, cell in enumerate(flat):
            try:
                float(cell)
            except ValueError:
                r, c = np.unravel_index(i, cells.shape)
                raise InputError(f"cell {str(cell)!r} (data row {r + 1}, column {c + 1}) is not a number: {path}") from None
        raise


def _binary_labels(values: np.ndarray, path: Path, names: list[str] | None = None) -> np.ndarray:
    """0/1 with unknown codes (NaN, 9, -1) -> float32 1/0/NaN; any other value raises naming the file."""
    unknown = np.isnan(values)
    for code in UNKNOWN_CODES:  # one comparison per code: np.isin sorts, several times slower here
        unknown |= values == code
    bad = ~(unknown | (values == 0) | (values == 1))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        col = names[c] if names else f"column {c + 1}"
        raise InputError(f"label {values[r, c]:g} in data row {r + 1}, {col} is not 0/1 "
                         f"(unknown may be written 9, -1, NaN or empty): {path}")
    return np.where(unknown, np.float32(np.nan), values.astype(np.float32, copy=False))


def _to_protocol(file_aus: list[int], labels: np.ndarray, protocol: Protocol, path: Path) -> tuple[np.ndarray, set[int]]:
    """(N, K) columns named by ``file_aus`` -> ((N, C) in the protocol's order, AUs ignored)."""
    index: dict[int, int] = {}
    for k, au in enumerate(file_aus):
        if au in index:
            raise InputError(f"AU{au} has two label columns: {path}")
        index[au] = k
    missing = [au for au in protocol.aus if au not in index]
    if missing:
        fits = [name for name, other in PROTOCOLS.items() if other is not protocol and set(other.aus) <= set(index)]
        hint = f"; the columns fit protocol {fits[0]!r}" if fits else ""
        raise InputError(f"no label column for AU {', '.join(map(str, missing))} "
                         f"(protocol {protocol.name!r} scores AUs {list(protocol.aus)}{hint}): {path}")
    cols = [index[au] for au in protocol.aus]
    return labels[:, cols], set(file_aus) - set(protocol.aus)


def _frames(values: np.ndarray, path: Path, what: str = "frame") -> np.ndarray:
    """Float frame numbers -> int64; non-integers or NaN raise."""
    if np.isnan(values).any() or (values != np.round(values)).any():
        raise InputError(f"{what} numbers must be integers: {path}")
    return values.astype(np.int64)


def _check_unique(frames: np.ndarray, path: Path) -> None:
    uniq, counts = np.unique(frames, return_counts=True)
    if (counts > 1).any():
        raise InputError(f"frame {uniq[counts > 1][0]} appears {counts[counts > 1][0]} times: {path}")


def _row_numbers(n: int) -> np.ndarray:
    """(n,) int64 1, 2, ..., n: the frame numbers of a label file without a frame column. 1-based, as
    OpenFace and the ``folder`` reader number frames, so row k labels the k-th image or video frame."""
    return np.arange(1, n + 1, dtype=np.int64)


def _strings(value: str, n: int) -> np.ndarray:
    return np.full(n, value, dtype=f"<U{max(len(value), 1)}")


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
    as well as ``1``); any other folder needs BP4D-shaped headers (:func:`_is_bp4d_csv`).
    """
    for cand in (path / "AUCoding" / "AU_OCC", path / "AU_OCC", path):
        files = sorted(cand.glob("*_*.csv"))[:3] if cand.is_dir() else []
        if files and (cand.name == "AU_OCC" or any(_is_bp4d_csv(f) for f in files)):
            return cand
    return None


def _is_bp4d_csv(path: Path) -> bool:
    """BP4D shape: every header cell a bare number (first = frame column, may be empty)."""
    try:
        header = _read_header(path)
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
    header = _read_header(path)
    data = _read_numeric(path, ncols=len(header))  # (N, K+1)
    aus_cols = [(k, parse_au_name(h)) for k, h in enumerate(header) if k > 0]
    aus_cols = [(k, au) for k, au in aus_cols if au is not None]
    cols = [k for k, _ in aus_cols]
    aus = [au for _, au in aus_cols]
    labels = _binary_labels(data[:, cols], path, [f"AU{a}" for a in aus])
    coded = ~np.isnan(labels).all(axis=0) if len(labels) else np.ones(len(aus), dtype=bool)
    frames = _frames(data[:, 0], path)
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
        mapped, ign = _to_protocol([aus[i] for i in keep], labels[:, keep], protocol, f)
        ignored |= ign
        subject, video = _subject_video(f.stem)
        n = len(frames)
        parts.append(LabelSet((), mapped, _strings(subject, n), _strings(video, n), frames, ""))
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
        data = _read_numeric(f, delimiter=",", skiprows=0)
        if data.size == 0:
            raise InputError(f"DISFA label file has no lines: {f}")
        if data.shape[1] != 2:
            raise InputError(f"DISFA label lines must be 'frame,intensity' (found {data.shape[1]} fields): {f}")
        frames = _frames(data[:, 0], f)
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
        mapped, ign = _to_protocol(aus, present, protocol, sub)
        ignored |= ign
        n = len(frames)
        parts.append(LabelSet((), mapped, _strings(sub.name, n), _strings(sub.name, n), frames, ""))
    return _concat(parts, protocol, f"disfa:{path} (intensity >= {intensity_threshold})", ignored, path)


# --------------------------------------------------------------------------------------------------
# ME-GraphAU list files


def list_image_file(label_file: Path) -> Path:
    """``BP4D_train_label_fold1.txt`` -> ``BP4D_train_img_path_fold1.txt`` (its sibling image list)."""
    return label_file.with_name(label_file.name.replace("label", "img_path", 1))


def read_image_list(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig") as fh:
        return [ln.strip() for ln in fh if ln.strip()]


def image_path_keys(paths: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative image paths -> (subject, video, frame): ``F001/T1/2440.jpg`` -> F001, T1, 2440;
    ``SN001/12.png`` -> SN001, SN001, 12. Frames that are not numbers get their 1-based row number."""
    n = len(paths)
    subject, video = np.empty(n, dtype=object), np.empty(n, dtype=object)
    frame = _row_numbers(n)
    for i, p in enumerate(paths):
        parts = Path(p.replace("\\", "/")).parts
        subject[i] = parts[0] if len(parts) > 1 else "unknown"
        video[i] = parts[1] if len(parts) > 2 else subject[i]
        stem = Path(parts[-1]).stem
        if stem.isdigit():
            frame[i] = int(stem)
    return subject.astype(str), video.astype(str), frame


def read_list(path: Path, protocol: Protocol, intensity_threshold: int = 2) -> LabelSet:
    """ME-GraphAU ``*_label_fold*.txt``: rows of C space-separated 0/1 in the protocol's AU order."""
    if path.is_dir():
        raise InputError(f"list format needs a *_label_fold*.txt file, not a folder: {path}")
    data = _read_numeric(path, delimiter=None, skiprows=0)
    if data.size == 0:
        raise InputError(f"no labelled frames found: {path}")
    if data.shape[1] != protocol.num_aus:
        raise InputError(f"label rows have {data.shape[1]} columns but protocol {protocol.name!r} scores "
                         f"{protocol.num_aus} AUs {list(protocol.aus)}: {path}")
    labels = _binary_labels(data, path, [f"AU{a}" for a in protocol.aus])
    n = len(labels)
    img_file = list_image_file(path)
    if img_file != path and img_file.is_file():
        paths = read_image_list(img_file)
        if len(paths) != n:
            raise InputError(f"{img_file.name} lists {len(paths)} images but the label file has {n} rows: {path}")
        subject, video, frame = image_path_keys(paths)
    else:
        subject, video, frame = _strings("unknown", n), _strings("unknown", n), _row_numbers(n)
    return LabelSet(tuple(protocol.aus), labels, subject, video, frame, f"list:{path}")


# --------------------------------------------------------------------------------------------------
# OpenFace 2


def _is_openface(header: list[str]) -> bool:
    return any(_OPENFACE_AU.match(h) for h in header)


def read_openface_table(path: Path) -> tuple[list[str], np.ndarray]:
    """OpenFace 2 CSV -> (stripped header, (N, K) float64 of every column)."""
    header = _read_header(path)
    return header, _read_numeric(path, ncols=len(header))


def read_openface(path: Path, protocol: Protocol, intensity_threshold: int = 2) -> LabelSet:
    """OpenFace 2 CSV (``AUxx_c`` occurrence columns); ``success == 0`` rows become unknown."""
    header, data = read_openface_table(path)
    lower = [h.lower() for h in header]
    au_cols = [(k, int(m.group(1))) for k, h in enumerate(header) if (m := _OPENFACE_AU.match(h))]
    if not au_cols:
        raise InputError(f"no AUxx_c columns in OpenFace CSV: {path}")
    if len(data) == 0:
        raise InputError(f"no labelled frames found: {path}")
    labels = _binary_labels(data[:, [k for k, _ in au_cols]], path, [header[k] for k, _ in au_cols])
    labels, ignored = _to_protocol([au for _, au in au_cols], labels, protocol, path)
    notes = []
    if "success" in lower:
        failed = data[:, lower.index("success")] == 0
        labels[failed] = np.nan
        if failed.any():
            notes.append(f"{int(failed.sum())} of {len(labels)} rows with success == 0 set to unknown: {path}")
    n = len(labels)
    frame = _frames(data[:, lower.index("frame")], path) if "frame" in lower else _row_numbers(n)
    return LabelSet(tuple(protocol.aus), labels, _strings(path.stem, n), _strings(path.stem, n), frame,
                    f"openface:{path}", tuple(sorted(ignored)), notes)


# --------------------------------------------------------------------------------------------------
# plain CSV


def _meta_column(lower: list[str], key: str) -> int | None:
    for alias in _META_ALIASES[key]:
        if alias in lower:
            return lower.index(alias)
    return None


#: cells a plain CSV may use for an unknown label (besides the codes 9 and -1); any case, spaces around
_NA_CELLS = ("", "na", "nan", "none", "null")


def _first_rows(path: Path) -> tuple[list[str], list[str] | None, int]:
    """(header cells stripped, first data row or None, physical lines up to and including the header)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header, skip = None, 0
        for row in reader:
            if any(c.strip() for c in row):
                if header is None:
                    header, skip = [c.strip() for c in row], reader.line_num
                else:
                    return header, row, skip
    if header is None:
        raise InputError(f"label file is empty (no header row): {path}")
    return header, None, skip


def _bad_width_row(path: Path, skip: int, width: int, header_width: int) -> InputError:
    """The error for the first data row whose width differs (a slow scan, run only once parsing failed)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = (r for r in itertools.islice(csv.reader(fh), skip, None) if any(c.strip() for c in r))
        for i, r in enumerate(rows):
            if len(r) != width:
                return InputError(f"data row {i + 1} has {len(r)} fields but the header names {header_width}: {path}")
    return InputError(f"rows do not all have {width} fields: {path}")


def _read_columns(path: Path, header: list[str], columns: dict[int, bool]) -> dict[int, np.ndarray]:
    """{column index: (N,) values} of a plain CSV, parsed by pyarrow's multi-threaded C++ reader.

    ``columns`` maps a column to True when it is text (kept as str, e.g. subject ``01``), False when it
    should be a number: float64 with NaN for empty / NA cells; when some cell is not a number, the number
    columns come back as str cells for :func:`_numbers` to check one by one. Every data row must have the header's width; one more,
    empty, field on every row (a trailing comma) is allowed.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header_width = len(header)
    _, first, skip = _first_rows(path)
    if first is None:
        return {}
    width = len(first)
    trailing = width == header_width + 1 and not first[-1].strip()
    if width != header_width and not trailing:
        raise InputError(f"data row 1 has {width} fields but the header names {header_width}: {path}")
    names = [f"c{k}" for k in range(width)]
    wanted = {**columns, **({header_width: True} if trailing else {})}
    null_cells = sorted({v for na in _NA_CELLS for v in (na, na.upper(), na.capitalize())})

    def read(number_type):
        # numbers typed up front (float64: 0/1/9/-1 and frame numbers exactly): ~30% faster than inferred
        return pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(skip_rows=skip, column_names=names),
            convert_options=pacsv.ConvertOptions(
                include_columns=[names[k] for k in wanted], null_values=null_cells, strings_can_be_null=False,
                column_types={names[k]: pa.string() if text else number_type for k, text in wanted.items()}))

    try:
        try:
            table = read(pa.float64())
        except pa.ArrowInvalid as exc:
            if "conversion error" not in str(exc):
                raise
            table = read(pa.string())  # a cell that is not a number: _numbers names it
    except pa.ArrowInvalid as exc:  # a row of another width, or text pyarrow cannot split
        if "columns" in str(exc):
            raise _bad_width_row(path, skip, width, header_width) from None
        raise InputError(f"cannot parse the CSV ({exc}): {path}") from None
    out = {}
    for k, text in wanted.items():
        col = table.column(names[k])
        out[k] = _arrow_floats(col) if pa.types.is_floating(col.type) else np.asarray(col.to_pylist(), dtype=str)
    if trailing:
        extra = out.pop(header_width)
        if (np.char.str_len(np.char.strip(extra)) > 0).any():
            raise InputError(f"rows have {width} fields but the header names {header_width}: {path}")
    return out


def _arrow_floats(column) -> np.ndarray:
    """(N,) float64 of a pyarrow float64 column, nulls -> NaN, read from its buffers: pyarrow's own
    ``to_numpy`` of a column with nulls imports pandas, which alone costs more than the parse."""
    parts = []
    for chunk in column.chunks:
        validity, data = chunk.buffers()
        values = np.frombuffer(data, dtype=np.float64, count=chunk.offset + len(chunk))[chunk.offset:]
        if validity is not None and chunk.null_count:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            values = np.where(bits[chunk.offset:chunk.offset + len(chunk)].view(bool), values, np.nan)
        parts.append(values)  # read-only when it is a view of the buffer: callers copy
    return np.concatenate(parts) if parts else np.zeros(0)


def _numbers(values: np.ndarray, path: Path, name: str) -> np.ndarray:
    """(N,) float64 of a column from :func:`_read_columns`; text cells are checked one by one."""
    if values.dtype.kind == "f":
        return values
    cells = np.char.lower(np.char.strip(values))
    cells = np.where(np.isin(cells, _NA_CELLS), "nan", cells)
    try:
        return cells.astype(np.float64)
    except ValueError:
        for i, cell in enumerate(values.tolist()):
            try:
                float("nan" if cell.strip().lower() in _NA_CELLS else cell)
            except ValueError:
                raise InputError(f"cell {cell!r} (data row {i + 1}, column {name}) is not a number: {path}") from None
        raise


def _check_unique_keys(subject: np.ndarray, video: np.ndarray, frame: np.ndarray, path: Path) -> None:
    """Each (subject, video, frame) once: a repeated row would be counted twice by every statistic."""
    key = frame.astype(np.int64)
    for ids in (subject, video):  # fold each id column into one int64 key (codes x range of the rest)
        if len(ids) and not (ids == ids[0]).all():
            _, codes = np.unique(ids, return_inverse=True)
            key = codes.astype(np.int64) * (int(key.max()) - int(key.min()) + 1) + (key - key.min())
    order = np.argsort(key, kind="stable")
    same = key[order][1:] == key[order][:-1]
    if same.any():
        first = order[int(np.argmax(same))]  # a row whose key repeats
        times = int((key == key[first]).sum())
        s, v = str(subject[first]), str(video[first])
        where = f" of subject {s!r}, video {v!r}" if (s, v) != ("unknown", "unknown") else ""
        raise InputError(f"frame {frame[first]}{where} appears {times} times: {path}")


def read_csv(path: Path, protocol: Protocol, intensity_threshold: int = 2) -> LabelSet:
    """Plain CSV: AU columns (``AU1``/``AU01``/``1``), optional ``subject``/``video``/``frame`` columns.

    Parsed by pyarrow (1,000,000 rows x 12 AUs in about a second here; benchmarks/dataset_readers.py).
    A (subject, video, frame) that repeats is an error; a trailing comma on every row is allowed.
    """
    header = _read_header(path)
    lower = [h.lower() for h in header]
    au_cols = [(k, au) for k, h in enumerate(header) if (au := parse_au_name(h)) is not None]
    if not au_cols:
        raise InputError(f"no AU columns (AU1, AU01, 1, ...) in the CSV header: {path}")
    meta = {key: _meta_column(lower, key) for key in _META_ALIASES}
    wanted = {k: False for k, _ in au_cols}
    wanted |= {k: key != "frame" for key, k in meta.items() if k is not None}
    cols = _read_columns(path, header, wanted)
    if not cols or len(cols[au_cols[0][0]]) == 0:
        raise InputError(f"no labelled frames found: {path}")
    # (N, K) float32 (0/1/9/-1 exactly, half float64's memory traffic), filled column by column
    values = np.empty((len(au_cols), len(cols[au_cols[0][0]])), dtype=np.float32).T
    for j, (k, _) in enumerate(au_cols):
        values[:, j] = _numbers(cols[k], path, header[k])
    labels = _binary_labels(values, path, [header[k] for k, _ in au_cols])
    labels, ignored = _to_protocol([au for _, au in au_cols], labels, protocol, path)
    n = len(labels)
    subject = np.char.strip(cols[meta["subject"]]) if meta["subject"] is not None else _strings("unknown", n)
    video = np.char.strip(cols[meta["video"]]) if meta["video"] is not None else subject.copy()
    if meta["frame"] is not None:
        frame = _frames(_numbers(cols[meta["frame"]], path, header[meta["frame"]]), path)
        _check_unique_keys(subject, video, frame, path)
    else:
        frame = _row_numbers(n)
    return LabelSet(tuple(protocol.aus), labels, subject.astype(str), video.astype(str), frame, f"csv:{path}",
                    tuple(sorted(ignored)))


# --------------------------------------------------------------------------------------------------
# NPY


def _npy_sidecar_aus(path: Path) -> list[int] | None:
    txt, js = path.with_suffix(".aus.txt"), path.with_suffix(".aus.json")
    if txt.is_file():
        names = txt.read_text(encoding="utf-8-sig").replace(",", " ").split()
        side = txt
    elif js.is_file():
        try:
            obj = json.loads(js.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise InputError(f"AU sidecar is not valid JSON ({exc.msg}): {js}") from None
        names = obj.get("aus") if isinstance(obj, dict) else obj
        if not isinstance(names, list):
            raise InputError(f"AU sidecar must be a list of AUs or {{\"aus\": [...]}}: {js}")
        side = js
    else:
        return None
    aus = [parse_au_name(str(n)) for n in names]
    if None in aus or not aus:
        raise InputError(f"AU sidecar names must be AU numbers (AU1, 1, ...): {side}")
    return aus


def read_npy(path: Path, protocol: Protocol, intensity_threshold: int = 2) -> LabelSet:
    """(N, K) .npy with an AU sidecar (or the protocol's order when K = C), or a structured array."""
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"not a plain .npy array (object arrays are refused): {path} ({exc})") from None
    meta: dict[str, np.ndarray] = {}
    if arr.dtype.names:  # structured array: field names are the header
        names = list(arr.dtype.names)
        au_fields = [(n, au) for n in names if (au := parse_au_name(n)) is not None]
        if not au_fields:
            raise InputError(f"no AU fields (AU1, 1, ...) in the structured array: {path}")
        values = np.stack([arr[n].astype(np.float64) for n, _ in au_fields], axis=1)
        aus = [au for _, au in au_fields]
        for key in _META_ALIASES:
            for n in names:
                if n.lower() in _META_ALIASES[key]:
                    meta[key] = arr[n]
    else:
        if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise InputError(f"label array must be 2-D numeric (got shape {arr.shape}, dtype {arr.dtype}): {path}")
        values = arr.astype(np.float64)
        aus = _npy_sidecar_aus(path)
        if aus is None:
            if values.shape[1] != protocol.num_aus:
                raise InputError(f"array has {values.shape[1]} columns, protocol {protocol.name!r} scores "
                                 f"{protocol.num_aus} AUs; add {path.with_suffix('.aus.txt').name} naming the "
                                 f"columns: {path}")
            aus = list(protocol.aus)
        elif len(aus) != values.shape[1]:
            raise InputError(f"sidecar names {len(aus)} AUs but the array has {values.shape[1]} columns: {path}")
    if len(values) == 0:
        raise InputError(f"no labelled frames found: {path}")
    labels = _binary_labels(values, path, [f"AU{a}" for a in aus])
    labels, ignored = _to_protocol(aus, labels, protocol, path)
    n = len(labels)
    subject = np.asarray(meta["subject"]).astype(str) if "subject" in meta else _strings("unknown", n)
    video = np.asarray(meta["video"]).astype(str) if "video" in meta else subject.copy()
    if "frame" in meta:
        try:
            frame = _frames(np.asarray(meta["frame"]).astype(np.float64), path)
        except ValueError as exc:  # a text field that is not a number
            raise InputError(f"frame numbers must be integers ({exc}): {path}") from None
    else:
        frame = _row_numbers(n)
    return LabelSet(tuple(protocol.aus), labels, subject, video, frame, f"npy:{path}", tuple(sorted(ignored)))


# --------------------------------------------------------------------------------------------------
# registry, detection, entry point

#: format name -> reader ``(path, protocol, intensity_threshold) -> LabelSet``
LABEL_FORMATS: dict[str, Callable[[Path, Protocol, int], LabelSet]] = {
    "bp4d": read_bp4d,
    "disfa": read_disfa,
    "list": read_list,
    "openface": read_openface,
    "csv": read_csv,
    "npy": read_npy,
}

#: the protocol a native label format implies (the other formats need one named)
FORMAT_PROTOCOLS: dict[str, str] = {"bp4d": "bp4d", "disfa": "disfa"}


def detect_label_format(path: str | Path) -> str:
    """The :data:`LABEL_FORMATS` name for ``path``, from its layout, name and header."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"label path does not exist: {path}")
    if path.is_dir():
        if bp4d_label_folder(path) is not None:
            return "bp4d"
        if disfa_label_folder(path) is not None:
            return "disfa"
        raise InputError(f"cannot tell the label format of this folder (expected a BP4D AU_OCC folder or a "
                         f"DISFA ActionUnit_Labels folder); pass a format, one of {sorted(LABEL_FORMATS)}: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return "npy"
    if suffix == ".txt" and "label" in path.name.lower() and "fold" in path.name.lower():
        return "list"
    if suffix == ".csv":
        try:
            header = _read_header(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read label file ({exc}): {path}") from None
        if _is_openface(header):
            return "openface"
        if _is_bp4d_csv(path):
            return "bp4d"
        return "csv"
    raise InputError(f"cannot tell the label format from the file name; pass a format, one of "
                     f"{sorted(LABEL_FORMATS)}: {path}")


def read_labels(path: str | Path, protocol: str | Protocol, format: str | None = None,
                intensity_threshold: int = 2) -> LabelSet:
    """Read AU labels from ``path`` into the protocol's AU order (see the module docstring for formats).

    Raises :class:`InputError` (message naming the path) on a missing or unreadable path, an unknown
    format, columns that do not fit the protocol, bad values or an empty label set.
    """
    path = Path(path)
    try:
        proto = get_protocol(protocol)
    except ValueError as exc:
        raise InputError(f"{exc} (labels: {path})") from None
    if not path.exists():
        raise InputError(f"label path does not exist: {path}")
    name = detect_label_format(path) if format is None else format.lower()
    reader = LABEL_FORMATS.get(name)
    if reader is None:
        raise InputError(f"unknown label format {format!r}; choose from {sorted(LABEL_FORMATS)}: {path}")
    try:
        result = reader(path, proto, intensity_threshold)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read labels ({getattr(exc, 'strerror', None) or exc}): "
                         f"{getattr(exc, 'filename', None) or path}") from None
    if len(result) == 0:
        raise InputError(f"no labelled frames found: {path}")
    return result
