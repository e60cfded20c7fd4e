"""AU label readers: native dataset label files -> one (N, C) label matrix in a protocol's AU order.

Every reader returns a :class:`LabelSet`: ``labels`` (N, C) float32 with 1 = present, 0 = absent and
NaN = unknown (BP4D's code 9, an empty cell, ``-1``, an OpenFace row where tracking failed), plus the
subject, video and frame of each row. Columns are matched to the protocol by AU number, never by
position (except for the ME-GraphAU list files, which have no header and are defined by the protocol's
order): AUs the file has but the protocol does not score go to ``ignored_aus``; AUs the protocol scores
but the file lacks are an :class:`~augcn_pyg.core.errors.InputError` naming them and the file.

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

Modules: :mod:`.common` (:class:`LabelSet`, AU names, shared parsing), :mod:`.native` (``bp4d``,
``disfa``), :mod:`.lists` (``list``), :mod:`.tables` (``openface``, ``csv``, ``npy``); this package holds
the registry, :func:`detect_label_format` and :func:`read_labels`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from augcn_pyg.core.aus import PROTOCOLS, Protocol, get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.core.registry import Registry
from augcn_pyg.data.labels.common import UNKNOWN_CODES, LabelSet, parse_au_name, read_header
from augcn_pyg.data.labels.lists import image_path_keys, list_image_file, read_image_list, read_list
from augcn_pyg.data.labels.native import (
    bp4d_label_folder,
    disfa_label_folder,
    is_bp4d_csv,
    read_bp4d,
    read_bp4d_file,
    read_disfa,
    read_disfa_subject,
)
from augcn_pyg.data.labels.tables import is_openface, read_csv, read_npy, read_openface, read_openface_table

__all__ = [
    "LABEL_FORMATS", "FORMAT_PROTOCOLS", "detect_label_format", "read_labels", "LabelSet", "UNKNOWN_CODES",
    "parse_au_name", "bp4d_label_folder", "disfa_label_folder", "read_bp4d_file", "read_disfa_subject",
    "list_image_file", "read_image_list", "image_path_keys", "read_openface_table", "read_bp4d", "read_disfa",
    "read_list", "read_openface", "read_csv", "read_npy",
]


# --------------------------------------------------------------------------------------------------
# registry, detection, entry point

#: format name -> reader ``(path, protocol, intensity_threshold) -> LabelSet``
LABEL_FORMATS: Registry[Callable[[Path, Protocol, int], LabelSet]] = Registry("label format", lowercase=True)
for _name, _reader in (("bp4d", read_bp4d), ("disfa", read_disfa), ("list", read_list), ("openface", read_openface),
                       ("csv", read_csv), ("npy", read_npy)):
    LABEL_FORMATS.register(_name, _reader)

#: the protocol a native label format implies (the other formats need one named): the formats named after a protocol
FORMAT_PROTOCOLS: dict[str, str] = {name: name for name in LABEL_FORMATS if name in PROTOCOLS}


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
            header = read_header(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read label file ({exc}): {path}") from None
        if is_openface(header):
            return "openface"
        if is_bp4d_csv(path):
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
    reader = LABEL_FORMATS.lookup(name, where=str(path))
    try:
        result = reader(path, proto, intensity_threshold)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read labels ({getattr(exc, 'strerror', None) or exc}): "
                         f"{getattr(exc, 'filename', None) or path}") from None
    if len(result) == 0:
        raise InputError(f"no labelled frames found: {path}")
    return result
