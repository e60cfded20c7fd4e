"""The per-chunk work of ``prepare``, run in its worker processes (or in the parent with one worker):
a chunk's frames -> landmarks (shipped, detected or tracked) -> the one face pipeline -> ROI crops.

:func:`init_worker` sets a process up once (protocol, ROI size, landmark backend, tracking);
:func:`process_chunk` turns ``(chunk, [(frame position, Frame), ...])`` into the chunk's ROIs and the
frames it skipped, with the reason for each. :mod:`augcn_pyg.data.prepare` is the parent: chunks,
checkpoints, the store.
"""
from __future__ import annotations

import signal

import numpy as np
import torch

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.readers import load_image
from augcn_pyg.face.pipeline import align_usable, crop_rois
from augcn_pyg.landmarks import get_backend
from augcn_pyg.landmarks.layout import to_68
from augcn_pyg.landmarks.tracking import FaceTracker

_WORKER: dict = {}


def init_worker(protocol: str, roi_size: int, landmarks: str, backend_options: dict, track: bool = False,
                 limit_threads: bool = True) -> None:
    """Set this process up for :func:`process_chunk` (a pool's initializer; ``limit_threads`` off in the parent)."""
    if limit_threads:  # in a worker process: the parallelism is the processes, one thread each
        import cv2

        # Ctrl-C reaches the whole process group: the parent alone handles it (and stops the workers)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
    _WORKER.update(protocol=protocol, roi_size=roi_size, landmarks=landmarks, backend_options=backend_options,
                   track=track, backend=None)


def _backend():
    # Built on the first frame without shipped landmarks, then kept for the worker's life.
    if _WORKER["backend"] is None:
        _WORKER["backend"] = get_backend(_WORKER["landmarks"], **_WORKER["backend_options"])
    return _WORKER["backend"]


class _ChunkDetector:
    """The detector of one chunk's frames: the backend itself, or with tracking a fresh
    :class:`FaceTracker` for each video the chunk reaches (frames of two videos never share a track)."""

    def __init__(self, track: bool):
        self.track, self.video, self.tracker = track, None, None
        self.detections = 0  # whole-frame detections run in this chunk

    def detect(self, frame, image) -> list:
        if not self.track:
            self.detections += 1
            return _backend().detect(image)

        video = (frame.subject, frame.video)
        if video != self.video:
            if self.tracker is not None:
                self.detections += self.tracker.detections
            self.video, self.tracker = video, FaceTracker(_backend())
        return self.tracker.detect(image)

    def finish(self) -> int:
        """The chunk's whole-frame detections."""
        return self.detections + (self.tracker.detections if self.tracker is not None else 0)


def _face_landmarks(frame, image, detector: _ChunkDetector) -> tuple[np.ndarray | None, str]:
    """(68, 2) float32 landmarks of the frame's face (shipped, else the best detected face), or None and why."""
    if frame.landmarks is not None:
        try:
            return to_68(np.asarray(frame.landmarks, dtype=np.float32)), ""
        except ValueError as exc:
            return None, f"unusable landmarks: {exc}"
    faces = detector.detect(frame, image)
    if not faces:
        return None, "no face found"
    return np.asarray(max(faces, key=lambda f: f.score).landmarks, dtype=np.float32), ""


def _centre_inside(points: np.ndarray, shape: tuple) -> bool:
    """The mean of the finite (68, 2) points lies inside an image of ``shape`` (H, W, ...); True when
    no point is finite (the NaN check reports those)."""
    finite = points[np.isfinite(points).all(axis=1)]
    if len(finite) == 0:
        return True
    x, y = finite.mean(axis=0)
    return bool(0 <= x < shape[1] and 0 <= y < shape[0])


def _unreadable(exc: Exception) -> str:
    text = str(exc)
    # load_image's own messages already begin with the category; others get it
    return text if text.startswith("unreadable image") else f"unreadable image: {text}"


def chunk_landmarks(items: list) -> tuple[list, list, list[int], list[tuple[int, str]], int]:
    """``(images, (68, 2) landmarks, kept positions, [(skipped position, reason)], whole-frame detections)``
    of ``[(frame position, Frame), ...]``: what :func:`process_chunk` aligns (in a worker, or after
    ``init_worker``)."""
    detector = _ChunkDetector(_WORKER.get("track", False))
    images, points, kept, skipped = [], [], [], []
    for pos, frame in items:
        try:
            image = load_image(frame)
        except (InputError, OSError, ValueError) as exc:
            skipped.append((pos, _unreadable(exc)))
            continue
        lm, why = _face_landmarks(frame, image, detector)
        if lm is None:
            skipped.append((pos, why))
            continue
        if frame.landmarks is not None and not _centre_inside(lm, image.shape):
            # shipped points of another image size (e.g. frames resized or cropped after the landmarks
            # were made) would cut every ROI in the wrong place
            skipped.append((pos, f"shipped landmarks outside the {image.shape[1]}x{image.shape[0]} image"))
            continue
        images.append(image)
        points.append(lm)
        kept.append(pos)
    return images, points, kept, skipped, detector.finish()


def process_chunk(task: tuple[int, list]) -> tuple[int, list[int], np.ndarray | None, list[tuple[int, str]], int]:
    """Turn ``(chunk, [(frame position, Frame), ...])`` into ``(chunk, stored positions, ROIs (B, R, 3, n, n)
    uint8, [(skipped position, reason)], whole-frame detections)``."""
    chunk, items = task
    protocol = get_protocol(_WORKER["protocol"])
    images, points, kept, skipped, detections = chunk_landmarks(items)
    faces = align_usable(images, np.stack(points) if kept else np.zeros((0, 68, 2), np.float32), protocol)
    skipped += [(pos, why) for pos, why in zip(kept, faces.reasons) if why]
    kept = [kept[i] for i in faces.kept]
    if not kept:
        return chunk, [], None, sorted(skipped), detections
    rois = crop_rois(faces.aligned, faces.points, protocol, _WORKER["roi_size"])  # (B, R, 3, n, n)
    return chunk, kept, np.ascontiguousarray(rois.numpy(), dtype=np.uint8), sorted(skipped), detections
