"""The on-disk ROI store: every face's R crops as one uint8 memory-mapped array plus a metadata table.

Layout of a store directory (``docs/prepare-and-loading.md`` has the picture)::

    store.json    format, version, protocol, AU order, ROI names, n, R, C, count, creation info
                  -- written LAST and atomically: a directory without it is not a store
    rois.u8       raw uint8, C-order (N, R, 3, n, n): row i = face i's crops, RGB, channel-first
    labels.npy    (N, C) float32, 1 present / 0 absent / NaN unknown, the protocol's AU order
    subject.npy   (N,) str      video.npy (N,) str      frame.npy (N,) int64
    source.npy    (N,) str      image path, or "video#index" for a frame decoded from a video
    intensity.npy (N, C) float32 0–5 intensities, NaN unknown -- optional: only when the dataset codes
                  intensities (store.json ``"intensity": true``); stores without it read as before
    occlusion.npy (N, R) float32 fraction of each ROI an occluder covers (SynthAU's ``Occlusion/`` manifest)
                  -- optional (store.json ``"occlusion": true``); stores without it read as before
    skipped.csv   frames that prepare could not use, with the reason (only written by prepare)

Every metadata column is opened with ``mmap_mode="r"`` and ROI rows are read with ``os.pread``, so
opening a store and iterating over it keeps the process's memory independent of N.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from augcn_pyg._version import __version__
from augcn_pyg.core.aus import Protocol, get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import atomic_path, write_json_atomic

FORMAT = "augcn-pyg-roi-store"
#: Bump when the layout changes; readers refuse other versions with a "re-run prepare" message.
FORMAT_VERSION = 1

STORE_JSON = "store.json"
ROIS_FILE = "rois.u8"
#: where an unfinished prepare keeps its checkpoints (augcn_pyg.data.prepare)
PROGRESS_DIR = ".prepare"
COLUMNS = ("labels", "subject", "video", "frame", "source")
#: columns only some stores have (``store.json`` says which): 0–5 intensities
OPTIONAL_COLUMNS = ("intensity",)


def roi_table(protocol: Protocol) -> list[list]:
    """[name, landmarks, offset] per ROI: what the crops of a store were cut by (checked on opening)."""
    return [[r.name, list(r.landmarks), r.offset] for r in protocol.rois]


def row_shape(protocol: Protocol, roi_size: int) -> tuple[int, int, int, int]:
    """(R, 3, n, n): one face's crops."""
    return (protocol.num_rois, 3, roi_size, roi_size)


class ROIStoreWriter:
    """Writes the ROI rows of a store into a preallocated (sparse) file, then the metadata, then
    ``store.json``.

    ``capacity`` rows are allocated up front with ``truncate`` (no disk blocks until written);
    :meth:`finalize` cuts the file to the rows actually used. Opening an existing ``rois.u8`` with
    ``resume=True`` keeps its bytes, which is how an interrupted prepare carries on.
    """

    def __init__(self, path: str | os.PathLike, protocol: str | Protocol, roi_size: int = 25,
                 capacity: int = 0, resume: bool = False):
        self.path = Path(path)
        self.protocol = get_protocol(protocol)
        self.roi_size = int(roi_size)
        self.capacity = int(capacity)
        self.row_shape = row_shape(self.protocol, self.roi_size)
        self.row_bytes = int(np.prod(self.row_shape))
        self.path.mkdir(parents=True, exist_ok=True)
        # A store being (re)written must stop reading as valid at once.
        (self.path / STORE_JSON).unlink(missing_ok=True)
        rois_path = self.path / ROIS_FILE
        with open(rois_path, "r+b" if resume and rois_path.exists() else "wb") as fh:
            fh.truncate(max(self.capacity, 1) * self.row_bytes)
        self._rois = np.memmap(rois_path, dtype=np.uint8, mode="r+", shape=(max(self.capacity, 1), *self.row_shape))

    @property
    def rois(self) -> np.memmap:
        """(capacity, R, 3, n, n) uint8, writable."""
        return self._rois

    def write(self, row: int, rois) -> None:
        """Put ``rois`` (B, R, 3, n, n) uint8 at rows ``row .. row+B``."""
        rois = np.asarray(rois)
        if rois.shape[1:] != self.row_shape or rois.dtype != np.uint8:
            raise ValueError(f"ROIs must be uint8 {('B', *self.row_shape)}, got {rois.dtype} {rois.shape}")
        if row + len(rois) > self.capacity:
            raise ValueError(f"rows {row}..{row + len(rois)} exceed the capacity {self.capacity}")
        self._rois[row:row + len(rois)] = rois

    def flush(self) -> None:
        """Push written rows to the file (before a checkpoint says they are there)."""
        self._rois.flush()

    def finalize(self, count: int, labels, subject, video, frame, source=None, info: dict | None = None,
                 intensities=None, occlusion=None) -> "ROIStore":
        """Cut ``rois.u8`` to ``count`` rows, write the metadata columns, then ``store.json``.

        ``intensities`` (count, C) 0–5 with NaN unknown, or None (a presence-only dataset)."""
        labels = np.asarray(labels, dtype=np.float32)
        columns = {
            "labels": labels,
            "subject": np.asarray(subject, dtype=str),
            "video": np.asarray(video, dtype=str),
            "frame": np.asarray(frame, dtype=np.int64),
            "source": np.asarray(source if source is not None else [""] * count, dtype=str),
        }
        if labels.shape != (count, self.protocol.num_aus):
            raise ValueError(f"labels must be ({count}, {self.protocol.num_aus}), got {labels.shape}")
        if intensities is not None:
            intensities = np.asarray(intensities, dtype=np.float32)
            if intensities.shape != labels.shape:
                raise ValueError(f"intensities must be {labels.shape}, got {intensities.shape}")
            known = intensities[~np.isnan(intensities)]
            if known.size and (known.min() < 0 or known.max() > 5):
                raise ValueError("intensities must lie in 0–5 (NaN for unknown)")
            columns["intensity"] = intensities
        if occlusion is not None:  # (count, R) covered fractions, SynthAU with occluders
            occlusion = np.asarray(occlusion, dtype=np.float32)
            if occlusion.shape != (count, self.protocol.num_rois):
                raise ValueError(f"occlusion must be ({count}, {self.protocol.num_rois}), got {occlusion.shape}")
            columns["occlusion"] = occlusion
        for name, col in columns.items():
            if len(col) != count:
                raise ValueError(f"column {name!r} has {len(col)} rows, the store {count}")
        self.flush()
        del self._rois
        os.truncate(self.path / ROIS_FILE, count * self.row_bytes)
        for name, col in columns.items():
            with atomic_path(self.path / f"{name}.npy") as tmp:
                np.save(tmp, col)
        p = self.protocol
        write_json_atomic(self.path / STORE_JSON, {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "complete": True,
            "protocol": p.name,
            "aus": list(p.aus),
            "rois": p.roi_names,
            "roi_table": roi_table(p),
            "roi_size": self.roi_size,
            "num_rois": p.num_rois,
            "num_aus": p.num_aus,
            "count": int(count),
            "dtype": "uint8",
            "layout": "(N, R, 3, n, n) C-order, RGB",
            "intensity": intensities is not None,
            "occlusion": occlusion is not None,
            "created": {"augcn_pyg": __version__, **(info or {})},
        })
        return ROIStore(self.path)


def write_store(path: str | os.PathLike, protocol: str | Protocol, rois, labels, subject, video, frame,
                source=None, info: dict | None = None, chunk: int = 4096, intensities=None,
                occlusion=None) -> "ROIStore":
    """Write a whole store from in-memory arrays (tests, benchmarks, synthetic data).

    ``rois`` (N, R, 3, n, n) uint8, or any object whose slices ``rois[a:b]`` give such arrays (written in
    chunks of ``chunk`` rows, so a generator-backed source never needs N rows in memory).
    """
    n = len(labels)
    roi_size = int(rois.shape[-1])
    writer = ROIStoreWriter(path, protocol, roi_size, capacity=n)
    for start in range(0, n, chunk):
        writer.write(start, rois[start:start + chunk])
    return writer.finalize(n, labels, subject, video, frame, source, info, intensities=intensities,
                           occlusion=occlusion)


class ROIStore:
    """Read side of a complete store. Arrays are memory-mapped read-only; nothing is loaded up front.

    ``rois`` (N, R, 3, n, n) uint8 memmap · ``labels`` (N, C) float32 NaN unknown · ``mask`` (N, C) bool
    (label known) · ``subject``/``video`` (N,) str · ``frame`` (N,) int64 · ``source`` (N,) str.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.meta = _read_store_json(self.path)
        self.protocol = get_protocol(self.meta["protocol"])
        self.roi_size = int(self.meta["roi_size"])
        self.count = int(self.meta["count"])
        self.row_shape = row_shape(self.protocol, self.roi_size)
        self.row_bytes = int(np.prod(self.row_shape))
        if (tuple(self.meta["aus"]) != self.protocol.aus or list(self.meta["rois"]) != self.protocol.roi_names
                or self.meta.get("roi_table") != json.loads(json.dumps(roi_table(self.protocol)))):
            raise InputError(f"{self.path}: the AU order or ROI table in {STORE_JSON} differs from protocol "
                             f"{self.protocol.name!r} of this version of augcn-pyg (written by an older version?); "
                             f"re-run prepare")
        rois_path = self.path / ROIS_FILE
        size = rois_path.stat().st_size if rois_path.exists() else -1
        if size != self.count * self.row_bytes:
            raise InputError(f"{rois_path}: {size} bytes where {STORE_JSON} promises {self.count} faces of "
                             f"{self.row_bytes} bytes; the store is damaged, re-run prepare")
        self._columns: dict[str, np.ndarray] = {}
        self._rois: np.memmap | None = None
        self._fd: int | None = None
        self._fd_pid: int | None = None
        if self.labels.shape != (self.count, self.protocol.num_aus):
            raise InputError(f"{self.path / 'labels.npy'}: shape {self.labels.shape}, expected "
                             f"({self.count}, {self.protocol.num_aus}); the store is damaged, re-run prepare")

    # --- arrays ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.count

    @property
    def rois(self) -> np.ndarray:
        """(N, R, 3, n, n) uint8, read-only memmap."""
        if self._rois is None:
            if self.count == 0:
                self._rois = np.zeros((0, *self.row_shape), np.uint8)
            else:
                self._rois = np.memmap(self.path / ROIS_FILE, dtype=np.uint8, mode="r",
                                       shape=(self.count, *self.row_shape))
        return self._rois

    def _column(self, name: str) -> np.ndarray:
        if name not in self._columns:
            file = self.path / f"{name}.npy"
            try:
                col = np.load(file, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise InputError(f"{file}: cannot read the store column ({exc}); re-run prepare") from None
            if len(col) != self.count:
                raise InputError(f"{file}: {len(col)} rows where {STORE_JSON} says {self.count}; re-run prepare")
            self._columns[name] = col
        return self._columns[name]

    @property
    def labels(self) -> np.ndarray:
        """(N, C) float32: 1 present, 0 absent, NaN unknown."""
        return self._column("labels")

    @property
    def mask(self) -> np.ndarray:
        """(N, C) bool: True where the label is known."""
        return ~np.isnan(self.labels)

    @property
    def has_intensity(self) -> bool:
        """Whether the store carries 0–5 intensities (older stores and presence-only datasets do not)."""
        return bool(self.meta.get("intensity", False))

    @property
    def intensities(self) -> np.ndarray | None:
        """(N, C) float32 0–5 intensities, NaN unknown; None when the store has none."""
        return self._column("intensity") if self.has_intensity else None

    @property
    def occlusion(self) -> np.ndarray | None:
        """(N, R) float32: the fraction of each ROI an occluder covers (SynthAU); None when the store has none."""
        return self._column("occlusion") if self.meta.get("occlusion", False) else None

    @property
    def subject(self) -> np.ndarray:
        return self._column("subject")

    @property
    def video(self) -> np.ndarray:
        return self._column("video")

    @property
    def frame(self) -> np.ndarray:
        return self._column("frame")

    @property
    def source(self) -> np.ndarray:
        return self._column("source")

    @property
    def subjects(self) -> list[str]:
        """The distinct subjects, sorted."""
        return sorted(np.unique(self.subject).tolist())

    def indices_for_subjects(self, subjects: Sequence[str]) -> np.ndarray:
        """(M,) int64 rows whose subject is in ``subjects``, ascending."""
        return np.flatnonzero(np.isin(self.subject, np.asarray(list(subjects), dtype=str))).astype(np.int64)

    # --- reading rows ------------------------------------------------------------------------------
    def _file(self) -> int:
        # One descriptor per process: a forked DataLoader worker must not share the parent's offset state.
        if self._fd is None or self._fd_pid != os.getpid():
            self._fd = os.open(self.path / ROIS_FILE, os.O_RDONLY)
            self._fd_pid = os.getpid()
        return self._fd

    def read_rows(self, indices, swapped=None) -> np.ndarray:
        """(B, R, 3, n, n) uint8 copy of the rows ``indices`` (any order, repeats allowed).

        Rows are read in ascending file order with ``os.preadv`` straight into the output: unlike fancy
        indexing of the memmap, this leaves no file pages mapped in the process, so its memory does not
        grow as an epoch walks through the store.

        ``swapped`` (B,) bool: those faces are read with every ROI's left/right partner in its place
        (``out[i, r] = row[perm[r]]``, perm = ``protocol.mirror_permutation()``), which is the ROI half of a
        horizontal flip; the crops themselves are not mirrored. The permutation costs nothing extra: it is
        the order of the read's buffers.
        """
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = np.empty((len(indices), *self.row_shape), np.uint8)
        if len(indices) == 0:
            return out
        if indices.min() < 0 or indices.max() >= self.count:
            raise IndexError(f"row index out of range for a store of {self.count} faces")
        swapped = np.zeros(len(indices), bool) if swapped is None else np.asarray(swapped, bool).reshape(-1)
        if len(swapped) != len(indices):
            raise ValueError(f"swapped has {len(swapped)} flags for {len(indices)} rows")
        # Ascending file order; each row goes straight to its place in `out`. A run of unswapped rows that
        # is consecutive both in the file and in `out` (an unshuffled batch) is one read.
        order = np.argsort(indices, kind="stable")  # (B,) positions in `out`, by file row
        rows, swap = indices[order], swapped[order]
        split = (np.diff(rows) != 1) | (np.diff(order) != 1) | swap[1:] | swap[:-1]  # a swapped row reads alone
        breaks = np.flatnonzero(split) + 1
        starts = np.concatenate([[0], breaks]).tolist()
        ends = np.concatenate([breaks, [len(rows)]]).tolist()
        view = memoryview(out.reshape(-1))
        fd, size = self._file(), self.row_bytes
        slots = self._swapped_slots()  # (R,) byte offset in a row where each file ROI lands when swapped
        rows, order, swap = rows.tolist(), order.tolist(), swap.tolist()
        for a, b in zip(starts, ends):
            dest = order[a] * size
            if swap[a]:  # one row, its ROIs in partner order
                roi = size // len(slots)
                _pread_full(fd, [view[dest + s:dest + s + roi] for s in slots], rows[a] * size)
            else:
                _pread_full(fd, [view[dest:dest + (b - a) * size]], rows[a] * size)
        return out

    def _swapped_slots(self) -> list[int]:
        """Where file ROI k of a swapped row goes: the byte offset of slot r with perm[r] = k."""
        perm = self.protocol.mirror_permutation()  # (R,) out[r] = row[perm[r]]
        return (np.argsort(perm) * (self.row_bytes // len(perm))).tolist()

    def close(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_fd=None, _fd_pid=None, _rois=None, _columns={})
        return state

    def __del__(self):
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __repr__(self) -> str:
        return (f"ROIStore({str(self.path)!r}, protocol={self.protocol.name!r}, faces={self.count}, "
                f"rois={self.protocol.num_rois}x3x{self.roi_size}x{self.roi_size})")


def _pread_full(fd: int, buffers: list[memoryview], offset: int) -> None:
    """Fill ``buffers`` in order with the file's bytes from ``offset``: one ``preadv``, continued if short."""
    buffers = [b for b in buffers if len(b)]
    while buffers:
        n = os.preadv(fd, buffers, offset)
        if n <= 0:
            raise OSError(f"unexpected end of the ROI file at byte {offset}")
        offset += n
        while buffers and n >= len(buffers[0]):  # short reads are rare (signals, huge runs): carry on
            n -= len(buffers[0])
            buffers.pop(0)
        if buffers and n:
            buffers[0] = buffers[0][n:]


def _read_store_json(path: Path) -> dict:
    file = path / STORE_JSON
    if not path.is_dir():
        raise InputError(f"{path}: no such ROI store directory")
    if not file.exists():
        unfinished = (path / PROGRESS_DIR).exists()
        hint = " (an unfinished prepare: re-run the same command to resume it)" if unfinished else ""
        raise InputError(f"{path}: not a complete ROI store, {STORE_JSON} is missing{hint}")
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{file}: unreadable store description ({exc}); re-run prepare") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputError(f"{file}: not an augcn-pyg ROI store description")
    version = meta.get("version")
    if not isinstance(version, int) or version < FORMAT_VERSION:
        raise InputError(f"{path}: ROI store written by an older version of augcn-pyg (format {version}, this "
                         f"version reads {FORMAT_VERSION}); re-run prepare")
    if version > FORMAT_VERSION:
        raise InputError(f"{path}: ROI store written by a newer version of augcn-pyg (format {version}, this "
                         f"version reads {FORMAT_VERSION}); upgrade augcn-pyg")
    if meta.get("complete") is not True:
        raise InputError(f"{path}: the ROI store is not complete; re-run prepare")
    missing = [k for k in ("protocol", "aus", "rois", "roi_size", "count") if k not in meta]
    if missing:
        raise InputError(f"{file}: the store description lacks {', '.join(missing)}; re-run prepare")
    try:
        get_protocol(meta["protocol"])
    except ValueError as exc:
        raise InputError(f"{file}: {exc}") from None
    return meta
