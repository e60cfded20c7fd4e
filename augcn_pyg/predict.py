"""Predict AUs on an image, a folder of images or a video: detect -> 68 landmarks -> align -> ROIs ->
model, streaming.

Frames are decoded one at a time (:mod:`augcn_pyg.media`); each frame's faces are found by a landmark
backend, aligned at once into the canonical 200x200 frame and kept as aligned faces only (the decoded
frame is dropped), so what a batch holds does not grow with the input. Every ``batch_size`` frames the
batch's faces are cut into ROIs in one call and scored by the model in one call, and the batch's rows are
appended to the output and flushed (:mod:`augcn_pyg.predict_output`). Every frame gets its row, a frame
without a usable face one row with ``success = 0``.

The per-face steps are the ones ``prepare`` uses (:func:`~augcn_pyg.align.similarity_transforms`, its
usability check, :func:`~augcn_pyg.align.align_faces`, :func:`~augcn_pyg.rois.extract_rois`), so a
face predicted here is cut exactly as the faces the model was trained on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import InputError


@dataclass
class FaceResult:
    """One face of a frame: ``box`` (4,) x0, y0, x1, y1; ``landmarks`` (68, 2) in frame pixels;
    ``probabilities`` (C,) or None when the face could not be aligned and cut."""

    face_id: int
    confidence: float
    box: np.ndarray
    landmarks: np.ndarray | None
    probabilities: np.ndarray | None = None


@dataclass
class FrameResult:
    number: int  # 1-based, OpenFace's frame
    timestamp: float | None  # seconds (videos), None for images
    name: str | None  # the image file's name (images), None for video frames
    faces: list[FaceResult] = field(default_factory=list)  # empty: no face found


@dataclass
class PredictSummary:
    out: Path
    frames: int  # frames written in all (resumed ones included)
    faces: int  # faces scored in this call
    no_face: int  # frames of this call without a scored face
    resumed_frames: int
    seconds: float
    detections: int | None = None  # whole-frame detections when tracking


    def line(self) -> str:
        done = self.frames - self.resumed_frames
        text = (f"wrote {self.frames} frames to {self.out}: {self.faces} faces scored, {self.no_face} frames "
                f"without a face")
        if self.resumed_frames:
            text += f" (resumed after {self.resumed_frames} frames)"
        if self.detections is not None:
            text += f"; tracked, {self.detections} whole-frame detections"
        return text + f"; {done / max(self.seconds, 1e-9):.1f} frames/s"


def _largest(faces: list) -> list:
    return [max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))] if faces else []


class FaceAligner:
    """A frame's faces -> their aligned 200x200 images and landmarks (prepare's steps, per frame).

    ``detector``: a landmark backend, or a :class:`~augcn_pyg.landmarks.tracking.FaceTracker`."""

    def __init__(self, detector, protocol, largest_face: bool = False):
        self.detector, self.protocol, self.largest_face = detector, protocol, largest_face

    def __call__(self, image: np.ndarray) -> tuple[list[FaceResult], np.ndarray, np.ndarray, list[int]]:
        """(faces, aligned (K, S, S, 3) uint8, aligned landmarks (K, 68, 2), indices of the K usable faces)."""
        from .align import align_faces, similarity_transforms, template_for
        from .data.prepare import ALIGNED_SIZE, _unusable

        found = self.detector.detect(image)  # best score first (tracked faces: in their tracks' order)
        if self.largest_face:
            found = _largest(found)
        faces = [FaceResult(i, f.score, f.box, f.landmarks) for i, f in enumerate(found)]
        if not faces:
            return faces, None, None, []
        points = np.stack([f.landmarks for f in faces])  # (F, 68, 2)
        transforms = similarity_transforms(points, template_for(ALIGNED_SIZE))  # (F, 2, 3)
        usable = [i for i, why in enumerate(_unusable(points, transforms, self.protocol)) if not why]
        if not usable:
            return faces, None, None, []
        aligned, aligned_points = align_faces([image] * len(usable), points[usable], ALIGNED_SIZE,
                                              transforms=transforms[usable], workers=1)
        return faces, aligned, aligned_points, usable


class BatchScorer:
    """Collects frames' aligned faces; :meth:`score` cuts all their ROIs and runs the model once."""

    def __init__(self, model):
        self.model = model
        self.frames: list[FrameResult] = []
        self._aligned: list[np.ndarray] = []
        self._points: list[np.ndarray] = []
        self._owners: list[FaceResult] = []

    def add(self, frame: FrameResult, aligned, points, usable: list[int]) -> None:
        self.frames.append(frame)
        if usable:
            self._aligned.append(aligned)
            self._points.append(points)
            self._owners += [frame.faces[i] for i in usable]

    def score(self) -> list[FrameResult]:
        """The collected frames with their faces' probabilities; empties the batch."""
        from .rois import extract_rois

        if self._owners:
            m = self.model
            rois = extract_rois(np.concatenate(self._aligned), np.concatenate(self._points), m.protocol,
                                size=m.roi_size)  # (K, R, 3, n, n)
            probs = m(rois.numpy())  # (K, C)
            for face, p in zip(self._owners, probs):
                face.probabilities = np.asarray(p, dtype=np.float32)
        frames = self.frames
        self.frames, self._aligned, self._points, self._owners = [], [], [], []
        return frames


def _file_identity(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def fingerprint(source, model_path: Path, options: dict) -> dict:
    return {"input": str(Path(source.path).resolve()), "input_kind": source.kind, "input_frames": source.count,
            "model": _file_identity(model_path), **options}


def predict(input_path: str | Path, out: str | Path, checkpoint: str | Path | None = None,
            onnx: str | Path | None = None, *, landmarks: str = "dlib", backend_options: dict | None = None,
            largest_face: bool = False, landmarks_out: bool = False, output_format: str = "csv",
            batch_size: int = 32, track: bool | None = None, redetect_every: int = 0, resume: bool = False,
            overwrite: bool = False,
            progress: Callable[[int], None] | None = None, on_start: Callable[[int, int], None] | None = None
            ) -> PredictSummary:
    """Predict the AUs of every frame of ``input_path`` into ``out`` (see the module docstring).

    The model is a run folder (``checkpoint``) or an exported ONNX file (``onnx``). ``track``: follow faces
    from frame to frame (:mod:`augcn_pyg.landmarks.tracking`); None = on for videos when the backend can.
    ``progress(n)`` is called after each batch with its frame count; ``on_start(total, done)`` once before
    the first frame.
    """
    import time

    from .inference import load_inference
    from .landmarks import get_backend
    from .media import open_media
    from .predict_output import OUTPUT_FORMATS, StreamWriter

    if batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {batch_size}")
    if output_format not in OUTPUT_FORMATS:
        raise InputError(f"unknown output format {output_format!r}; choose from {sorted(OUTPUT_FORMATS)}")
    out = Path(out)
    if not out.parent.is_dir():  # checked before any slow loading
        raise InputError(f"the output's folder does not exist: {out.parent}")
    source = open_media(input_path)
    model = load_inference(checkpoint, onnx)
    model_file = Path(onnx) if onnx is not None else _model_file(Path(checkpoint))
    backend = get_backend(landmarks, all_faces=True, **(backend_options or {}))
    fmt = OUTPUT_FORMATS[output_format](model.aus, landmarks_out, model.threshold)
    if track is None:
        track = source.kind == "video" and hasattr(backend, "detect_near")
    options = {"landmarks": landmarks, "largest_face": largest_face, "landmarks_out": landmarks_out,
               "format": output_format, "batch_size": batch_size, "track": bool(track),
               "redetect_every": redetect_every if track else 0,
               "detector_options": {k: str(v) for k, v in sorted((backend_options or {}).items())}}
    writer = StreamWriter(out, fmt, fingerprint(source, model_file, options), resume=resume, overwrite=overwrite)
    tracker = None
    if track:
        from .landmarks.tracking import FaceTracker

        tracker = FaceTracker(backend, redetect_every, select=_largest if largest_face else None)
        tracker.restore((writer.state or {}).get("tracker"))  # the tracks at the end of the last written batch
    aligner = FaceAligner(tracker or backend, model.protocol, largest_face)
    batch = BatchScorer(model)
    resumed = writer.frames_done
    faces = no_face = 0
    if on_start is not None:
        on_start(source.count, resumed)
    t0 = time.perf_counter()

    def flush() -> None:
        nonlocal faces, no_face
        frames = batch.score()
        scored = sum(f.probabilities is not None for fr in frames for f in fr.faces)
        faces += scored
        no_face += sum(not any(f.probabilities is not None for f in fr.faces) for fr in frames)
        writer.write(frames, {"tracker": tracker.state()} if tracker is not None else None)
        if progress is not None:
            progress(len(frames))

    try:
        try:
            for media in source.frames(skip=resumed):
                found, aligned, points, usable = aligner(media.image)
                batch.add(FrameResult(media.number, media.timestamp, media.name, found), aligned, points, usable)
                if len(batch.frames) >= batch_size:
                    flush()
        except InputError:
            flush()  # the frames decoded before the bad one are kept
            raise
        flush()
        writer.finish()
    finally:
        writer.close()
    return PredictSummary(out, writer.frames_done, faces, no_face, resumed, time.perf_counter() - t0,
                          tracker.detections if tracker is not None else None)


def _model_file(run: Path) -> Path:
    from . import runs

    return run / runs.MODEL if run.is_dir() else run
