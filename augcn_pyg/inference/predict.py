"""Predict AUs on an image, a folder of images or a video: detect -> 68 landmarks -> align -> ROIs ->
model, streaming.

Frames are decoded one at a time (:mod:`augcn_pyg.inference.media`); each frame's faces are found by a landmark
backend, aligned at once into the canonical 200x200 frame and kept as aligned faces only (the decoded
frame is dropped), so what a batch holds does not grow with the input. Every ``batch_size`` frames the
batch's faces are cut into ROIs in one call and scored by the model in one call, and the batch's rows are
appended to the output and flushed (:mod:`augcn_pyg.inference.output`). Every frame gets its row, a frame
without a usable face one row with ``success = 0``.

An image of a folder that cannot be read is skipped, not an error: its row has ``success = 0`` and a
``note`` saying why, and the summary counts the skipped files by reason. Nothing is written until a frame
has been read, so an input none of whose frames can be read (one bad image, a folder of bad images, a
video without a decodable frame) is one :class:`InputError` and leaves no output file behind.

``smooth`` > 1 replaces each face's probabilities by their mean over the last frames of its track
(:mod:`augcn_pyg.inference.smoothing`; its state is saved with every batch, beside the tracker's, so a
resumed run writes the same bytes); with landmark output each face also gets its head pose
(:mod:`augcn_pyg.face.pose`).

The per-face steps are the ones ``prepare`` uses (:mod:`augcn_pyg.face.pipeline`: its
usability rule, alignment and ROI crops), so a
face predicted here is cut exactly as the faces the model was trained on.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import runs
from augcn_pyg.face.pipeline import align_usable, crop_rois
from augcn_pyg.face.pose import head_pose
from augcn_pyg.inference.media import open_media
from augcn_pyg.inference.output import OUTPUT_FORMATS, OUTPUT_VERSION, StreamWriter
from augcn_pyg.inference.runtime import load_inference
from augcn_pyg.inference.smoothing import TrackSmoother
from augcn_pyg.landmarks import get_backend
from augcn_pyg.landmarks.tracking import FaceTracker

#: the smoother of ``predict --smooth N`` (one of :data:`augcn_pyg.inference.smoothing.KINDS`; why: docs/predict.md)
SMOOTHER = "mean"
#: ``--smooth``'s default for videos (and folders of frames with ``--track``): 1 (off), chosen on SynthAU-BP4D's
#: fold-1 validation subjects by benchmarks/bench_smoothing.py, where no window raised F1
#: (benchmarks/results/smoothing.md; docs/predict.md, "Smoothing over time")
SMOOTH_DEFAULT = 1


@dataclass
class FaceResult:
    """One face of a frame: ``box`` (4,) x0, y0, x1, y1; ``landmarks`` (68, 2) in frame pixels;
    ``probabilities`` (C,) or None when the face could not be aligned and cut."""

    face_id: int
    confidence: float
    box: np.ndarray
    landmarks: np.ndarray | None
    probabilities: np.ndarray | None = None  # what is written: the smoothed probabilities with --smooth N > 1
    raw: np.ndarray | None = None  # (C,) the model's own probabilities for this frame (None: not scored)
    pose: np.ndarray | None = None  # (3,) pose_Rx, pose_Ry, pose_Rz in radians (with --landmarks-out)
    intensity: np.ndarray | None = None  # (C,) 0–5 intensities (a model with an intensity head; never smoothed)


@dataclass
class FrameResult:
    number: int  # 1-based, OpenFace's frame
    timestamp: float | None  # seconds (videos), None for images
    name: str | None  # the image file's name (images), None for video frames
    faces: list[FaceResult] = field(default_factory=list)  # empty: no face found (or the image is unreadable)
    note: str | None = None  # why the frame could not be read (an unreadable image file), else None
    followed: bool = False  # the tracker followed the previous frame's faces into this one (face i is face i)


@dataclass
class PredictSummary:
    out: Path
    frames: int  # frames written in all (resumed ones included)
    faces: int  # faces scored in this call
    no_face: int  # frames of this call without a scored face
    resumed_frames: int
    seconds: float
    detections: int | None = None  # whole-frame detections when tracking
    skipped: dict[str, int] = field(default_factory=dict)  # this call's unreadable files: reason -> count
    output_format: str = "csv"

    def line(self) -> str:
        done = self.frames - self.resumed_frames
        text = (f"wrote {self.frames} frames to {self.out}: {self.faces} faces scored, {self.no_face} frames "
                f"without a face")
        if self.resumed_frames:
            text += f" (resumed after {self.resumed_frames} frames)"
        if self.skipped:
            counted = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items(), key=lambda kv: -kv[1]))
            where = "the note column" if self.output_format == "csv" else 'the frames\' "note" fields'
            text += f"; {sum(self.skipped.values())} skipped ({counted}), reasons in {where}"
        if self.detections is not None:
            text += f"; tracked, {self.detections} whole-frame detections"
        return text + f"; {done / max(self.seconds, 1e-9):.1f} frames/s"


def _largest(faces: list) -> list:
    return [max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))] if faces else []


class FaceAligner:
    """A frame's faces -> their aligned 200x200 images and landmarks (prepare's steps, per frame).

    ``detector``: a landmark backend, or a :class:`~augcn_pyg.landmarks.tracking.FaceTracker`; ``pose``: also
    estimate each face's head pose from its landmarks (:func:`augcn_pyg.face.pose.head_pose`)."""

    def __init__(self, detector, protocol, largest_face: bool = False, pose: bool = False):
        self.detector, self.protocol, self.largest_face, self.pose = detector, protocol, largest_face, pose

    @property
    def followed(self) -> bool:
        """Whether the last :meth:`__call__` followed the previous frame's faces (a tracker that found them all
        in their windows) rather than detecting on the whole frame."""
        return getattr(self.detector, "since_detection", 0) > 0

    def __call__(self, image: np.ndarray) -> tuple[list[FaceResult], np.ndarray, np.ndarray, list[int]]:
        """(faces, aligned (K, S, S, 3) uint8, aligned landmarks (K, 68, 2), indices of the K usable faces)."""
        found = self.detector.detect(image)  # best score first (tracked faces: in their tracks' order)
        if self.largest_face:
            found = _largest(found)
        faces = [FaceResult(i, f.confidence, f.box, f.landmarks) for i, f in enumerate(found)]
        if self.pose:
            for face in faces:
                face.pose = head_pose(face.landmarks, image.shape[:2])
        if not faces:
            return faces, None, None, []
        points = np.stack([f.landmarks for f in faces])  # (F, 68, 2)
        aligned = align_usable([image] * len(faces), points, self.protocol, workers=1)
        if not aligned.kept:
            return faces, None, None, []
        return faces, aligned.aligned, aligned.points, aligned.kept


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
        if self._owners:
            m = self.model
            rois = crop_rois(np.concatenate(self._aligned), np.concatenate(self._points), m.protocol,
                             m.roi_size)  # (K, R, 3, n, n)
            inten = None
            if getattr(m, "has_intensity", False):
                probs, inten = m.both(rois.numpy())  # (K, C), (K, C) on 0–5
            else:
                probs = m(rois.numpy())  # (K, C)
            for k, (face, p) in enumerate(zip(self._owners, probs)):
                face.raw = face.probabilities = np.asarray(p, dtype=np.float32)
                if inten is not None:
                    face.intensity = np.asarray(inten[k], dtype=np.float32)
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
            batch_size: int = 32, track: bool | None = None, redetect_every: int = 0, smooth: int | None = None,
            resume: bool = False, overwrite: bool = False,
            progress: Callable[[int], None] | None = None, on_start: Callable[[int, int], None] | None = None,
            on_frames: Callable[[list[FrameResult]], None] | None = None) -> PredictSummary:
    """Predict the AUs of every frame of ``input_path`` into ``out`` (see the module docstring).

    The model is a run folder (``checkpoint``) or an exported ONNX file (``onnx``). ``track``: follow faces
    from frame to frame (:mod:`augcn_pyg.landmarks.tracking`); None = on for videos when the backend can.
    ``smooth``: average each face's probabilities along its track over the last ``smooth`` frames
    (:mod:`augcn_pyg.inference.smoothing`; 1 = off), for a video or a folder of frames with ``track=True``;
    None = :data:`SMOOTH_DEFAULT` for those, 1 for images.
    ``progress(n)`` is called after each batch with its frame count; ``on_start(total, done)`` once before
    the first frame; ``on_frames(frames)`` with each batch's frames once they are written (each face's
    ``raw`` holds the model's own probabilities, ``probabilities`` what was written).
    """

    if batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {batch_size}")
    if smooth is not None and smooth < 1:
        raise InputError(f"--smooth must be >= 1 frame (1 = off), got {smooth}")
    if output_format not in OUTPUT_FORMATS:
        raise InputError(f"unknown output format {output_format!r}; choose from {sorted(OUTPUT_FORMATS)}")
    out = Path(out)
    if not out.parent.is_dir():  # checked before any slow loading
        raise InputError(f"the output's folder does not exist: {out.parent}")
    source = open_media(input_path)
    model = load_inference(checkpoint, onnx)
    model_file = Path(onnx) if onnx is not None else _model_file(Path(checkpoint))
    backend = get_backend(landmarks, all_faces=True, **(backend_options or {}))
    fmt = OUTPUT_FORMATS[output_format](model.aus, landmarks_out, model.threshold,
                                        intensity=getattr(model, "has_intensity", False))
    if track is None:
        track = source.kind == "video" and hasattr(backend, "detect_near")
    sequence = source.kind == "video" or bool(track)
    if smooth is None:
        smooth = SMOOTH_DEFAULT if sequence else 1
    if smooth > 1 and not sequence:
        raise InputError(f"--smooth {smooth} needs the frames of one video: a video file, or a folder of a video's "
                         f"frames (in name order) with --track; {source.path} is read as separate images")
    options = {"output_version": OUTPUT_VERSION, "landmarks": landmarks, "largest_face": largest_face,
               "landmarks_out": landmarks_out, "format": output_format, "batch_size": batch_size, "track": bool(track),
               "redetect_every": redetect_every if track else 0, "smooth": smooth,
               "detector_options": {k: str(v) for k, v in sorted((backend_options or {}).items())}}
    writer = StreamWriter(out, fmt, fingerprint(source, model_file, options), resume=resume, overwrite=overwrite)
    tracker = None
    if track:
        tracker = FaceTracker(backend, redetect_every, select=_largest if largest_face else None)
        tracker.restore((writer.state or {}).get("tracker"))  # the tracks at the end of the last written batch
    aligner = FaceAligner(tracker or backend, model.protocol, largest_face, pose=landmarks_out)
    smoother = None
    if smooth > 1:
        smoother = TrackSmoother(smooth, SMOOTHER)
        smoother.restore((writer.state or {}).get("smoother"))  # the tracks at the end of the last written batch
    batch = BatchScorer(model)
    resumed = writer.frames_done
    faces = no_face = 0
    skipped: Counter = Counter()  # reason -> files
    read_any = resumed > 0  # a resumed output was only started once a frame had been read
    first_unreadable = None  # (file name, reason) of the first unreadable file, for the error
    if on_start is not None:
        on_start(source.count, resumed)
    t0 = time.perf_counter()

    def flush() -> None:
        nonlocal faces, no_face
        if not read_any:  # nothing read yet: keep the (image-less) frames, create no file
            return
        frames = batch.score()
        if smoother is not None:
            for frame in frames:
                smoother.step(frame.faces, frame.followed)
        scored = sum(f.probabilities is not None for fr in frames for f in fr.faces)
        faces += scored
        no_face += sum(fr.note is None and not any(f.probabilities is not None for f in fr.faces) for fr in frames)
        state = {name: part.state() for name, part in (("tracker", tracker), ("smoother", smoother))
                 if part is not None}
        writer.write(frames, state or None)
        if on_frames is not None:
            on_frames(frames)
        if progress is not None:
            progress(len(frames))

    try:
        try:
            for media in source.frames(skip=resumed):
                if media.image is None:  # an unreadable image file: its row says why, the others go on
                    skipped[media.note] += 1
                    first_unreadable = first_unreadable or (media.name, media.note)
                    batch.add(FrameResult(media.number, media.timestamp, media.name, [], media.note), None, None, [])
                else:
                    read_any = True
                    found, aligned, points, usable = aligner(media.image)
                    batch.add(FrameResult(media.number, media.timestamp, media.name, found, followed=aligner.followed),
                              aligned, points, usable)
                if len(batch.frames) >= batch_size:
                    flush()
        except InputError:
            flush()  # the frames decoded before the bad one are kept
            raise
        if not read_any:
            raise InputError(_nothing_read(source, first_unreadable, skipped))
        flush()
        writer.finish()
    finally:
        writer.close()
    return PredictSummary(out, writer.frames_done, faces, no_face, resumed, time.perf_counter() - t0,
                          tracker.detections if tracker is not None else None, dict(skipped), output_format)


def _nothing_read(source, first: tuple[str, str] | None, skipped: Counter) -> str:
    """The one line for an input none of whose frames could be read (no output is written)."""
    if first is None:  # not reached: a source yields at least one frame or raises
        return f"nothing to predict: no frame could be read from {source.path}"
    name, reason = first
    if source.count == 1:  # one image (given as itself, or a folder's only image)
        return f"{reason}: {source.files[0]}"
    counted = ", ".join(f"{n} {why.split(': ', 1)[-1]}" for why, n in skipped.most_common())
    return (f"nothing to predict: none of the {source.count} images in {source.path} can be read ({counted}; "
            f"e.g. {name})")


def _model_file(run: Path) -> Path:
    return run / runs.MODEL if run.is_dir() else run
