"""Prepare: dataset frames -> landmarks -> aligned faces -> ROI crops -> an :class:`ROIStore`.

The frames are cut into chunks of ``batch_size``; worker processes (or this process when
``workers=1``) turn a chunk into ROIs, and the parent writes the chunks' rows in frame order, compactly
(skipped frames take no row). After each chunk the ROI file is flushed and only then is a checkpoint
``.prepare/chunk-000123.json`` written (atomically), naming the frames that chunk stored and skipped. A
run killed at any moment therefore resumes from the first chunk without a checkpoint and rewrites the
same bytes; ``store.json`` is written only at the very end, so an unfinished directory never opens as a
store. Frames that fail (unreadable image, no face found, NaN or degenerate landmarks) are listed in
``skipped.csv`` with the reason.

With ``track`` (the default for BP4D and DISFA with dlib: their frames of one video are consecutive) a
:class:`~augcn_pyg.landmarks.tracking.FaceTracker` follows the face from frame to frame instead of
searching every whole frame. A track never crosses a chunk or a video: each chunk starts each of its
videos with a whole-frame detection, so a chunk's result depends on its frames alone, and resume and
any worker count still give the same bytes.

What can be checked before any work (options, the landmark backend, the output directory) is checked
before anything is created, and a run that stores no face leaves nothing behind. Ctrl-C stops the
workers quietly (they ignore SIGINT; the parent stops them) and raises :class:`PrepareInterrupted`,
which says how far the run got: running it again resumes.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from tqdm.auto import tqdm

from augcn_pyg.core.aus import PROTOCOLS, Protocol, get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import write_json_atomic, write_text_atomic
from augcn_pyg.core.workers import die_with_parent
from augcn_pyg.data.labels.intensity import intensity_rows, read_intensities
from augcn_pyg.data.prepare_chunks import init_worker, process_chunk
from augcn_pyg.data.readers import NATIVE_DATASETS, read_dataset, release_videos
from augcn_pyg.data.store import COLUMNS, OPTIONAL_COLUMNS, PROGRESS_DIR, ROIS_FILE, STORE_JSON, ROIStoreWriter
from augcn_pyg.data.synthau.occlusion import has_occlusion, read_cover
from augcn_pyg.face.rois import check_roi_size
from augcn_pyg.landmarks import LANDMARK_BACKENDS, resolve_backend

SKIPPED_CSV = "skipped.csv"
#: Test hook: "K" kills this process (SIGKILL) right after chunk K's checkpoint, "K:before" after chunk
#: K's rows are written but before its checkpoint, "K:interrupt" sends SIGINT to the workers and then to
#: this process after chunk K's checkpoint (what Ctrl-C in a terminal does). Used by tests/data/test_prepare.py to prove resume.
KILL_HOOK = "AUGCN_PYG_PREPARE_KILL_AFTER_CHUNK"
#: datasets whose readers list the frames of one video consecutively: tracking is on by default for them
VIDEO_DATASETS = NATIVE_DATASETS


@dataclass
class PrepareSummary:
    out: Path
    frames: int
    stored: int
    skipped: int
    resumed_chunks: int
    notes: tuple[str, ...] = ()

    def line(self) -> str:
        text = f"prepared {self.stored} of {self.frames} frames into {self.out}"
        if self.skipped:
            text += f"; {self.skipped} skipped, reasons in {self.out / SKIPPED_CSV}"
        if self.resumed_chunks:
            text += f" (resumed after {self.resumed_chunks} finished chunks)"
        return text


class PrepareInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a prepare; :meth:`line` says how far it got and how to go on."""

    def __init__(self, out: Path, chunks_done: int, chunks: int):
        super().__init__(out, chunks_done, chunks)
        self.out, self.chunks_done, self.chunks = out, chunks_done, chunks

    def line(self) -> str:
        if not self.chunks_done:
            return (f"interrupted before the first chunk was finished; nothing was kept in {self.out}. Run the "
                    f"same command again to start it")
        return (f"interrupted: {self.chunks_done} of {self.chunks} chunks are finished in {self.out}. Run the same "
                f"command again to resume from there (the result is the same as one uninterrupted run)")


# --- the parent: chunks, checkpoints, the store -----------------------------------------------------

def _chunk_file(progress: Path, chunk: int) -> Path:
    return progress / f"chunk-{chunk:06d}.json"


def _fingerprint(frames: list, dataset: str, root: Path, protocol: Protocol, roi_size: int, batch_size: int,
                 landmarks: str, backend_options: dict | None = None, track: bool = False) -> dict:
    digest = hashlib.sha1()
    detects = False
    for f in frames:
        digest.update(f"{f.subject}\0{f.video}\0{f.frame}\0{_source(f)}\n".encode())
        if f.landmarks is not None:  # a resume must not mix shipped landmarks from two sources
            digest.update(np.ascontiguousarray(f.landmarks, dtype=np.float32).tobytes())
        detects = detects or f.landmarks is None
    # ... nor landmarks of two detectors: where the backend finds its models matters when it is used
    # (tracked landmarks differ a little from whole-frame ones: a resume must not mix those either)
    detector = ({"backend_options": {k: str(v) for k, v in sorted((backend_options or {}).items())},
                 "INSIGHTFACE_HOME": os.environ.get("INSIGHTFACE_HOME"), "track": bool(track)} if detects else None)
    return {"dataset": dataset, "root": str(root), "protocol": protocol.name, "roi_size": roi_size,
            "batch_size": batch_size, "landmarks": landmarks, "detector": detector, "frames": len(frames),
            "frames_sha1": digest.hexdigest()}


def _source(frame) -> str:
    """The frame's media as an absolute path (``video#index`` for a video frame): the store may be read
    from another working directory than the one prepare ran in."""
    if frame.image is not None:
        return os.path.abspath(frame.image)
    return f"{os.path.abspath(frame.video_path)}#{frame.video_index}"


def _finished_chunks(progress: Path, num_chunks: int) -> list[dict]:
    """The checkpoints of chunks 0..k-1 that exist (a gap ends the list: later ones are redone).

    A checkpoint that does not read back (a power cut can leave a renamed file empty) is a gap too.
    """
    done = []
    for chunk in range(num_chunks):
        try:
            record = json.loads(_chunk_file(progress, chunk).read_text())
        except (OSError, ValueError):
            break
        if not (isinstance(record, dict) and isinstance(record.get("stored"), list)
                and isinstance(record.get("skipped"), list)):
            break
        done.append(record)
    return done


def _clear_store(out: Path) -> None:
    for name in (STORE_JSON, ROIS_FILE, SKIPPED_CSV, *(f"{c}.npy" for c in COLUMNS + OPTIONAL_COLUMNS)):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / PROGRESS_DIR, ignore_errors=True)


def _kill_hook(chunk: int, moment: str) -> None:
    spec = os.environ.get(KILL_HOOK)
    if not spec:
        return
    k, _, when = spec.partition(":")
    if int(k) != chunk:
        return
    if (when or "after") == moment:
        os.kill(os.getpid(), signal.SIGKILL)
    elif when == "interrupt" and moment == "after":
        # Ctrl-C signals the whole process group: the workers first, given a second to meet it before this
        # process stops them (a race a busy parent loses too), then this process, in its main thread. (A
        # signal to the group may land on a helper thread of the pool, and CPython may then take it only
        # after the run has ended: the hook must not depend on that.)
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGINT)
        time.sleep(1.0)
        signal.raise_signal(signal.SIGINT)


def _write_skipped(out: Path, frames: list, skipped: list[tuple[int, str]], reader_skipped: Iterable = ()) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["subject", "video", "frame", "source", "reason"])
    for s in reader_skipped:  # labelled frames the reader found no media for
        writer.writerow([s.subject, s.video, s.frame, "", s.reason])
    for pos, reason in skipped:
        f = frames[pos]
        writer.writerow([f.subject, f.video, f.frame, _source(f), reason])
    write_text_atomic(out / SKIPPED_CSV, buf.getvalue())


def _results(tasks: Iterable, workers: int, init_args: tuple):
    if workers <= 1:  # in this process: leave the caller's thread settings alone

        init_worker(*init_args, limit_threads=False)
        try:
            for task in tasks:
                yield process_chunk(task)
        finally:
            release_videos()  # the last video stays open for in-order reads until here
        return
    # spawn: torch/OpenMP/dlib state is not fork-safe; each worker imports afresh and builds its backend once.
    # (A script that calls prepare with workers > 1 needs the usual `if __name__ == "__main__":` guard.)
    ctx = multiprocessing.get_context("spawn")
    # Children start with SIGINT ignored (inherited through exec, before their imports) and keep it
    # ignored in init_worker: a Ctrl-C then interrupts the parent only, which terminates the pool.
    # (signal handlers can only be set from the main thread; elsewhere init_worker's alone must do)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        # the workers end with this process, even when it is killed outright
        pool = ctx.Pool(workers, initializer=die_with_parent, initargs=(init_worker, *init_args))
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    with pool:
        yield from pool.imap(process_chunk, tasks)


def _reason_kind(reason: str) -> str:
    """A skip reason without its details (paths, sizes, frame numbers): what the summary counts."""
    return re.sub(r"\d+", "N", re.split(r"[:(]", reason, maxsplit=1)[0].strip())


def _nothing_prepared(where, total: int, skipped: list[tuple[int, str]], reader_skipped: list) -> str:
    """The one line for a run that stored no face: what went wrong, counted, with one full example."""
    reasons = [r for _, r in skipped] + [s.reason for s in reader_skipped]
    kinds = Counter(_reason_kind(r) for r in reasons)
    example = f"e.g. {reasons[0]}" if reasons else ""
    if set(kinds) == {"unreadable image"}:
        return f"{where}: nothing prepared: none of the {total} frames could be read as an image ({example})"
    counted = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    return f"{where}: nothing prepared: none of the {total} frames gave a usable face ({counted}; {example})"


def _resolve_track(track: bool | None, dataset: str, backend: str | None) -> bool:
    """Whether to track: None = for :data:`VIDEO_DATASETS` when ``backend`` (None: nothing to detect) can."""
    can = backend is not None and hasattr(LANDMARK_BACKENDS[backend], "detect_near")
    if track is None:
        return can and dataset.lower() in VIDEO_DATASETS
    if track and backend is not None and not can:
        raise InputError(f"the {backend!r} landmark backend cannot track faces (only dlib can); use --no-track")
    return bool(track) and can


def _new_dirs(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first (what mkdir will create)."""
    new = []
    while not path.exists() and path != path.parent:
        new.append(path)
        path = path.parent
    return new


def _remove_new(out: Path, created: list[Path]) -> None:
    """Undo a run that kept nothing: its files, and the directories it created if they are empty."""
    _clear_store(out)
    for folder in created:  # deepest first
        try:
            folder.rmdir()
        except OSError:  # not empty (the user put something there meanwhile): leave it
            break


def prepare_frames(frames: list, out: str | os.PathLike, protocol: str | Protocol, *, landmarks: str = "auto",
                   workers: int = 1, batch_size: int = 256, roi_size: int = 25, overwrite: bool = False,
                   progress: bool = True, backend_options: dict | None = None, dataset: str = "frames",
                   root: str | os.PathLike = "", on_note: Callable[[str], None] | None = None,
                   track: bool | None = None) -> PrepareSummary:
    """Write the ROI store of ``frames`` (readers' ``Frame`` objects) into ``out``; resumable (see module doc).

    When ``frames`` is a readers ``FrameList``, its ``skipped`` frames (labelled but without media) are
    listed in ``skipped.csv`` too and its ``notes`` come back in the summary; ``on_note`` is called with
    each note before the work starts (the command prints them there). ``landmarks="auto"`` is resolved to
    the backend that will run, and that name is what ``store.json`` records. ``track``: follow the face
    from frame to frame within each video of a chunk (see the module docstring); None = on for
    :data:`VIDEO_DATASETS` when the backend can track (dlib). Ctrl-C raises :class:`PrepareInterrupted`.
    """
    reader_skipped = list(getattr(frames, "skipped", ()))
    notes = tuple(getattr(frames, "notes", ()))
    protocol = get_protocol(protocol)
    out = Path(out)
    if batch_size < 1 or workers < 1:
        raise InputError(f"batch size and workers must be >= 1 (got {batch_size}, {workers})")
    check_roi_size(roi_size)
    if not frames:
        why = (f" ({len(reader_skipped)} labelled frames without media, e.g. {reader_skipped[0].reason})"
               if reader_skipped else "")
        raise InputError(f"{root or dataset}: no frames to prepare{why}")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    # the backend is checked (name, model root, installed) before anything is created; "auto" becomes a name
    detects = any(f.landmarks is None for f in frames)
    backend = resolve_backend(landmarks, **(backend_options or {})) if detects else None
    track = _resolve_track(track, dataset, backend)
    for note in notes if on_note else ():
        on_note(note)
    created = _new_dirs(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a parent that is a file, no permission
        raise InputError(f"{out}: cannot create the output directory ({exc.strerror or exc})") from None
    progress_dir = out / PROGRESS_DIR
    if overwrite:
        _clear_store(out)
    elif (out / STORE_JSON).exists() and not progress_dir.exists():
        raise InputError(f"{out}: already holds a complete ROI store; pass --overwrite to prepare it again")

    fingerprint = _fingerprint(frames, dataset, Path(root).resolve() if root else Path(""), protocol, roi_size,
                               batch_size, backend or landmarks, backend_options, track)
    run_file = progress_dir / "run.json"
    if run_file.exists():
        try:
            previous = json.loads(run_file.read_text())
        except (OSError, ValueError):
            raise InputError(f"{out}: the unfinished prepare's {PROGRESS_DIR}/run.json is unreadable; pass "
                             f"--overwrite to start again") from None
        if not isinstance(previous, dict):
            previous = {}
        if previous != fingerprint:
            changed = sorted(k for k in fingerprint if previous.get(k) != fingerprint[k])
            raise InputError(f"{out}: holds an unfinished prepare of different input (differs in "
                             f"{', '.join(changed)}); pass --overwrite to start again or choose another output "
                             f"directory")
    elif out.exists() and any(out.iterdir()):
        if not (out / ROIS_FILE).exists():
            raise InputError(f"{out}: the output directory is not empty and holds no ROI store")
        _clear_store(out)  # the remains of a run killed before its first checkpoint
    num_chunks = -(-len(frames) // batch_size)
    done: list[dict] = []
    row = 0
    try:
        progress_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_file, fingerprint)
        done = _finished_chunks(progress_dir, num_chunks)
        resumed = len(done)
        row = sum(len(c["stored"]) for c in done)
        num_skipped = sum(len(c["skipped"]) for c in done)
        writer = ROIStoreWriter(out, protocol, roi_size, capacity=len(frames), resume=bool(done))
        tasks = ((k, [(p, frames[p]) for p in range(k * batch_size, min((k + 1) * batch_size, len(frames)))])
                 for k in range(len(done), num_chunks))

        bar = tqdm(total=len(frames), initial=min(len(done) * batch_size, len(frames)), unit="frame",
                   desc="prepare", disable=not progress)
        with bar:
            init_args = (protocol.name, roi_size, backend or landmarks, backend_options or {}, track)
            for chunk, stored, rois, skipped, detections in _results(tasks, workers, init_args):
                if stored:
                    writer.write(row, rois)
                writer.flush()
                _kill_hook(chunk, "before")
                record = {"stored": stored, "skipped": skipped, "detections": detections}
                write_json_atomic(_chunk_file(progress_dir, chunk), record, indent=None)
                done.append(record)
                row += len(stored)
                num_skipped += len(skipped)
                _kill_hook(chunk, "after")
                bar.update(len(stored) + len(skipped))
                bar.set_postfix(skipped=num_skipped, refresh=False)
        if row == 0:
            skipped = [(int(p), reason) for c in done for p, reason in c["skipped"]]
            raise InputError(_nothing_prepared(root or dataset, len(frames) + len(reader_skipped), skipped,
                                               reader_skipped))
    except KeyboardInterrupt:
        if not done:  # nothing to resume from: leave nothing
            _remove_new(out, created)
        raise PrepareInterrupted(out, len(done), num_chunks) from None
    except BaseException:
        if row == 0:  # no face stored (a failing backend, nothing decodable, ...): leave nothing
            _remove_new(out, created)
        raise

    stored = np.array([p for c in done for p in c["stored"]], dtype=np.int64)
    skipped = [(int(p), reason) for c in done for p, reason in c["skipped"]]
    _write_skipped(out, frames, skipped, reader_skipped)
    kept = [frames[p] for p in stored]
    created_info = {"dataset": dataset, "root": fingerprint["root"], "landmarks": backend,
                    "shipped_landmarks": sum(f.landmarks is not None for f in kept),
                    "frames": len(frames) + len(reader_skipped), "skipped": len(skipped) + len(reader_skipped)}
    if backend is not None:  # how the landmarks were found: tracked or not, and the whole-frame searches run
        created_info |= {"track": track, "detections": sum(int(c.get("detections", 0)) for c in done)}
    if backend is not None and (backend_options or {}).get("model_root"):
        created_info["model_root"] = os.path.abspath(Path(backend_options["model_root"]).expanduser())
    writer.finalize(
        len(kept),
        labels=np.stack([np.asarray(f.labels, dtype=np.float32) for f in kept]),
        subject=[str(f.subject) for f in kept],
        video=[str(f.video) for f in kept],
        frame=[int(f.frame) for f in kept],
        source=[_source(f) for f in kept],
        info=created_info,
        intensities=(np.stack([_intensity_row(f, protocol) for f in kept])
                     if kept and any(f.intensity is not None for f in kept) else None),
        occlusion=(read_cover(root, protocol, [f.subject for f in kept], [f.video for f in kept],
                              [f.frame for f in kept])
                   if root and has_occlusion(root) else None),  # SynthAU's Occlusion/ manifest (docs/synthau.md)
    )
    shutil.rmtree(progress_dir, ignore_errors=True)
    return PrepareSummary(out, len(frames) + len(reader_skipped), len(kept), len(skipped) + len(reader_skipped),
                          resumed_chunks=resumed, notes=notes)


def _intensity_row(frame, protocol) -> np.ndarray:
    if frame.intensity is None:
        return np.full(protocol.num_aus, np.nan, np.float32)
    return np.asarray(frame.intensity, dtype=np.float32)


def prepare(dataset: str, root: str | os.PathLike, out: str | os.PathLike, protocol: str | None = None, *,
            landmarks: str = "auto", workers: int = 1, batch_size: int = 256, roi_size: int = 25,
            overwrite: bool = False, progress: bool = True, backend_options: dict | None = None,
            on_note: Callable[[str], None] | None = None, track: bool | None = None,
            **reader_options) -> PrepareSummary:
    """Read ``dataset`` (a name of :data:`~augcn_pyg.data.readers.DATASET_READERS`) at ``root`` and write its ROI store to ``out``.

    ``protocol`` defaults to the dataset's own for BP4D and DISFA; it is required for the others.
    """
    check_roi_size(roi_size)  # before reading the dataset, which can take a while
    if protocol is None:
        if dataset.lower() not in NATIVE_DATASETS:
            raise InputError(f"{root}: --protocol is needed for dataset {dataset!r} "
                             f"({' or '.join(PROTOCOLS)} AU order)")
        protocol = dataset.lower()
    protocol = get_protocol(protocol)
    frames = read_dataset(dataset, root, protocol, **reader_options)
    intensities = read_intensities(dataset, root, protocol)
    if intensities is not None:  # the store carries them (docs/datasets.md, "Intensities")
        for frame, row in zip(frames, intensity_rows(intensities, ((f.subject, f.video, f.frame) for f in frames),
                                                     protocol.num_aus)):
            frame.intensity = row
    if frames.ignored_aus:  # the store keeps the protocol's AUs only: say which labels were left out
        frames.notes.append(f"label AUs {', '.join(f'AU{a}' for a in frames.ignored_aus)} are not scored by "
                            f"protocol {protocol.name!r} and are not stored: {root}")
    return prepare_frames(frames, out, protocol, landmarks=landmarks, workers=workers, batch_size=batch_size,
                          roi_size=roi_size, overwrite=overwrite, progress=progress, backend_options=backend_options,
                          dataset=dataset, root=root, on_note=on_note, track=track)
