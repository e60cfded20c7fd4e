"""Frames and their media: :class:`Frame` / :class:`FrameList` (a reader's result), the media suffixes,
numbered image files, and decoding a frame's image or video frame (:func:`load_image`)."""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from augcn_pyg.core.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv")
_TRAILING_NUMBER = re.compile(r"(\d+)$")


@dataclass(slots=True)
class Frame:
    """One labelled face frame.

    ``image``: an image file, or None when the frame lives in ``video_path`` at 0-based ``video_index``.
    ``labels`` (C,) float32 in the protocol's AU order, NaN = unknown. ``landmarks`` (68, 2) float32
    iBUG-68 in image pixels when the dataset ships them, else None.
    """

    subject: str
    video: str
    frame: int
    image: Path | None
    video_path: Path | None
    video_index: int | None
    labels: np.ndarray
    landmarks: np.ndarray | None = None
    #: (C,) float32 0–5 intensities, NaN unknown; None when the dataset codes none (set by prepare)
    intensity: np.ndarray | None = None


class Skipped(NamedTuple):
    """A labelled frame that has no usable media, and why."""

    subject: str
    video: str
    frame: int
    reason: str


class FrameList(list):
    """``list[Frame]`` plus ``skipped`` (list of :class:`Skipped`), ``notes`` (remarks for the user),
    ``aus`` (the label columns) and ``ignored_aus`` (label-file AUs the protocol does not score)."""

    def __init__(self, frames=(), skipped=(), notes=(), aus=(), ignored_aus=()):
        super().__init__(frames)
        self.skipped: list[Skipped] = list(skipped)
        self.notes: list[str] = list(notes)
        self.aus: tuple[int, ...] = tuple(aus)
        self.ignored_aus: tuple[int, ...] = tuple(ignored_aus)

    def summary(self) -> str:
        reasons: dict[str, int] = {}
        for s in self.skipped:
            key = s.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        text = f"{len(self)} frames"
        if self.skipped:
            text += f", {len(self.skipped)} skipped (" + ", ".join(f"{n} {r}" for r, n in reasons.items()) + ")"
        return text


# --------------------------------------------------------------------------------------------------
# media: files, videos, decoding


def numbered_files(folder: Path, suffixes=IMAGE_SUFFIXES) -> tuple[dict[int, str], list[int]]:
    """{number: file name} for the files in ``folder`` whose stem ends in a number (``2440.jpg``,
    ``02440.jpg``, ``frame-12.png``, ``LeftVideoSN001_comp_00012.jpg``), and the numbers that two files
    share (ambiguous: e.g. ``12.jpg`` beside ``012.jpg``)."""
    found: dict[int, str] = {}  # names, not Paths: a Path costs microseconds, built only for labelled frames
    clashes: set[int] = set()
    with os.scandir(folder) as it:
        for entry in it:
            name = entry.name
            dot = name.rfind(".")
            if dot <= 0 or name[dot:].lower() not in suffixes:
                continue
            m = _TRAILING_NUMBER.search(name[:dot])
            if not m:
                continue
            n = int(m.group(1))
            if n in found:
                clashes.add(n)
            found[n] = name
    return found, sorted(clashes)


def first_dir(*candidates: Path) -> Path | None:
    """The first of ``candidates`` that is a folder (None if none is)."""
    return next((c for c in candidates if c.is_dir()), None)


def video_frame_count(path: Path) -> int:
    """Frames in a video as its container reports them (OpenCV)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"cannot open video: {path}")
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()


class _VideoCache(threading.local):
    """One open ``cv2.VideoCapture`` per thread (and process), reused while frames are read in order:
    a sequential read needs no seek, and reopening per frame would decode from the last key frame."""

    def __init__(self):
        self.path: Path | None = None
        self.pid = -1
        self.cap = None
        self.next_index = -1

    def read(self, path: Path, index: int) -> np.ndarray | None:
        import cv2

        if self.cap is None or self.path != path or self.pid != os.getpid():
            if self.cap is not None and self.pid == os.getpid():
                self.cap.release()
            self.cap = cv2.VideoCapture(str(path))
            self.path, self.pid, self.next_index = path, os.getpid(), 0
            if not self.cap.isOpened():
                self.cap = None
                return None
        if index != self.next_index:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = self.cap.read()
        self.next_index = index + 1 if ok else -1
        return image if ok else None

    def release(self) -> None:
        if self.cap is not None and self.pid == os.getpid():
            self.cap.release()
        self.cap, self.path, self.next_index = None, None, -1


_VIDEOS = _VideoCache()


def release_videos() -> None:
    """Close this thread's open video (kept open by :func:`load_image` for in-order reads)."""
    _VIDEOS.release()


def load_image(frame: Frame) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a frame: decodes its image file, or seeks its video to ``video_index``.

    Raises :class:`InputError` naming the file when it is missing, not an image, or the video frame
    cannot be decoded.
    """
    import cv2

    if frame.image is not None:
        path = Path(frame.image)
        data = np.fromfile(path, dtype=np.uint8) if path.is_file() else None  # fromfile: any path encoding
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
        if bgr is None:
            raise InputError(f"unreadable image ({'missing' if data is None else 'not a decodable image'}): {path}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if frame.video_path is not None and frame.video_index is not None:
        path = Path(frame.video_path)
        if not path.is_file():
            raise InputError(f"video not found: {path}")
        bgr = _VIDEOS.read(path, int(frame.video_index))
        if bgr is None:
            raise InputError(f"cannot decode frame index {frame.video_index} of video: {path}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    raise InputError(f"frame {frame.subject}/{frame.video}/{frame.frame} has neither an image nor a video")
