"""Tables whose header names their AU columns: OpenFace 2 CSVs (``AUxx_c``), plain CSVs (parsed by
pyarrow) and ``.npy`` arrays (AU sidecar or structured fields)."""
from __future__ import annotations

import csv
import itertools
import json
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
    row_numbers,
    strings,
    to_protocol,
)

_OPENFACE_AU = re.compile(r"^\s*AU0*(\d+)_c\s*$", re.IGNORECASE)
_META_ALIASES = {
    "subject": ("subject", "subject_id", "participant"),
    "video": ("video", "task", "sequence", "video_id"),
    "frame": ("frame", "frame_id", "frame_number", "frame_index"),
}


# --------------------------------------------------------------------------------------------------
# OpenFace 2


def is_openface(header: list[str]) -> bool:
    """The header has an OpenFace 2 occurrence column (``AUxx_c``)."""
    return any(_OPENFACE_AU.match(h) for h in header)


def read_openface_table(path: Path) -> tuple[list[str], np.ndarray]:
    """OpenFace 2 CSV -> (the header of the columns read, (N, K) float64 of them): ``frame``, ``success`` and
    the ``AUxx_c`` columns, so text columns (a ``note`` of augcn-pyg's predict output) do not matter."""
    header = read_header(path)
    keep = [k for k, h in enumerate(header) if h.lower() in ("frame", "success") or _OPENFACE_AU.match(h)]
    return [header[k] for k in keep], read_numeric(path, usecols=keep)


def read_openface(path: Path, protocol: Protocol, intensity_threshold: int = 2) -> LabelSet:
    """OpenFace 2 CSV (``AUxx_c`` occurrence columns); ``success == 0`` rows become unknown."""
    header, data = read_openface_table(path)
    lower = [h.lower() for h in header]
    au_cols = [(k, int(m.group(1))) for k, h in enumerate(header) if (m := _OPENFACE_AU.match(h))]
    if not au_cols:
        raise InputError(f"no AUxx_c columns in OpenFace CSV: {path}")
    if len(data) == 0:
        raise InputError(f"no labelled frames found: {path}")
    labels = binary_labels(data[:, [k for k, _ in au_cols]], path, [header[k] for k, _ in au_cols])
    labels, ignored = to_protocol([au for _, au in au_cols], labels, protocol, path)
    notes = []
    if "success" in lower:
        failed = data[:, lower.index("success")] == 0
        labels[failed] = np.nan
        if failed.any():
            notes.append(f"{int(failed.sum())} of {len(labels)} rows with success == 0 set to unknown: {path}")
    n = len(labels)
    frame = frame_numbers(data[:, lower.index("frame")], path) if "frame" in lower else row_numbers(n)
    return LabelSet(tuple(protocol.aus), labels, strings(path.stem, n), strings(path.stem, n), frame,
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
    header = read_header(path)
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
    labels = binary_labels(values, path, [header[k] for k, _ in au_cols])
    labels, ignored = to_protocol([au for _, au in au_cols], labels, protocol, path)
    n = len(labels)
    subject = np.char.strip(cols[meta["subject"]]) if meta["subject"] is not None else strings("unknown", n)
    video = np.char.strip(cols[meta["video"]]) if meta["video"] is not None else subject.copy()
    if meta["frame"] is not None:
        frame = frame_numbers(_numbers(cols[meta["frame"]], path, header[meta["frame"]]), path)
        _check_unique_keys(subject, video, frame, path)
    else:
        frame = row_numbers(n)
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
    labels = binary_labels(values, path, [f"AU{a}" for a in aus])
    labels, ignored = to_protocol(aus, labels, protocol, path)
    n = len(labels)
    subject = np.asarray(meta["subject"]).astype(str) if "subject" in meta else strings("unknown", n)
    video = np.asarray(meta["video"]).astype(str) if "video" in meta else subject.copy()
    if "frame" in meta:
        try:
            frame = frame_numbers(np.asarray(meta["frame"]).astype(np.float64), path)
        except ValueError as exc:  # a text field that is not a number
            raise InputError(f"frame numbers must be integers ({exc}): {path}") from None
    else:
        frame = row_numbers(n)
    return LabelSet(tuple(protocol.aus), labels, subject, video, frame, f"npy:{path}", tuple(sorted(ignored)))
