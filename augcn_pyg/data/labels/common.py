"""What every label format shares: :class:`LabelSet` (the readers' result), AU column names
(:func:`parse_au_name`), the unknown codes, and the parsing helpers that turn a numeric text file into
(N, C) 1/0/NaN labels in a protocol's AU order.
"""
from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from augcn_pyg.core.aus import PROTOCOLS, Protocol
from augcn_pyg.core.errors import InputError

#: codes that mean "not coded / unknown" in 0/1 label files (besides NaN and empty cells)
UNKNOWN_CODES = (9.0, -1.0)

_AU_NAME = re.compile(r"^\s*(?:AU)?\s*0*(\d+)\s*$", re.IGNORECASE)


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


def read_header(path: Path, delimiter: str = ",") -> list[str]:
    """The first non-empty row of a delimited text file, cells stripped; an empty file raises."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.reader(fh, delimiter=delimiter):
            if any(cell.strip() for cell in row):
                return [cell.strip() for cell in row]
    raise InputError(f"label file is empty (no header row): {path}")


def read_numeric(path: Path, ncols: int | None = None, delimiter: str | None = ",", skiprows: int = 1,
                 usecols: list[int] | None = None) -> np.ndarray:
    """(N, K) float64 of a numeric text table; empty cells become NaN; text that is not a number raises.
    With ``usecols`` only those columns are read (others may hold text) and ``ncols`` is not checked.

    ``np.loadtxt`` (C parser) as integers first (label files are integers, and integer parsing is ~8x
    faster than float parsing), then as floats, then a slower exact fallback for files with empty cells.
    """
    arr = None
    for dtype in (np.int64, np.float64):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data" for a header-only file
                arr = np.loadtxt(path, delimiter=delimiter, skiprows=skiprows, dtype=dtype, ndmin=2,
                                 encoding="utf-8-sig", comments=None, usecols=usecols).astype(np.float64)
            break
        except ValueError:
            continue
    if arr is None:
        arr = _read_numeric_slow(path, delimiter, skiprows, usecols)
    if arr.size == 0:
        return np.zeros((0, len(usecols) if usecols is not None else ncols or 0))
    if ncols is not None and usecols is None and arr.shape[1] != ncols:
        # a trailing delimiter gives one extra empty column: drop it if it is empty everywhere
        if arr.shape[1] == ncols + 1 and np.isnan(arr[:, -1]).all():
            arr = arr[:, :-1]
        else:
            raise InputError(f"rows have {arr.shape[1]} fields but the header names {ncols} columns: {path}")
    return arr


def _read_numeric_slow(path: Path, delimiter: str | None, skiprows: int, usecols: list[int] | None = None) -> np.ndarray:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        lines = fh.read().splitlines()[skiprows:]
    rows = [ln.split(delimiter) for ln in lines if ln.strip()]
    if not rows:
        return np.zeros((0, 0))
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise InputError(f"row {i + skiprows + 1} has {len(row)} fields, expected {width}: {path}")
    cells = np.asarray(rows, dtype=str)
    return _to_float(cells if usecols is None else cells[:, usecols], path)


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


def binary_labels(values: np.ndarray, path: Path, names: list[str] | None = None) -> np.ndarray:
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


def to_protocol(file_aus: list[int], labels: np.ndarray, protocol: Protocol, path: Path) -> tuple[np.ndarray, set[int]]:
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


def frame_numbers(values: np.ndarray, path: Path, what: str = "frame") -> np.ndarray:
    """Float frame numbers -> int64; non-integers or NaN raise."""
    if np.isnan(values).any() or (values != np.round(values)).any():
        raise InputError(f"{what} numbers must be integers: {path}")
    return values.astype(np.int64)


def row_numbers(n: int) -> np.ndarray:
    """(n,) int64 1, 2, ..., n: the frame numbers of a label file without a frame column. 1-based, as
    OpenFace and the ``folder`` reader number frames, so row k labels the k-th image or video frame."""
    return np.arange(1, n + 1, dtype=np.int64)


def strings(value: str, n: int) -> np.ndarray:
    """(n,) str array of ``value`` repeated: a subject or video column of one file."""
    return np.full(n, value, dtype=f"<U{max(len(value), 1)}")
