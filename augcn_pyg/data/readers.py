"""Dataset readers: a dataset's native layout -> a list of :class:`Frame` (media, labels, landmarks).

Labels are parsed by :mod:`augcn_pyg.data.labels` (one parser per format); this module pairs each
labelled frame with its media (an image file, or a video and a 0-based frame index) and with the
landmarks the dataset ships. A labelled frame whose media cannot be found is never dropped in silence:
it is listed in the returned list's ``skipped`` attribute with the reason.

Readers (``DATASET_READERS``; accepted layouts are listed in ``docs/datasets.md``):

``bp4d``    ``root/Sequences/{Subject}/{Task}/{frame}.jpg`` + ``root/AUCoding/AU_OCC/*.csv``.
``disfa``   ``root/ActionUnit_Labels`` + extracted frames (``root/Images/SNxxx/...``) or the videos
            ``root/Videos_LeftCamera/LeftVideoSNxxx_comp.avi`` + ``root/Landmark_Points`` (66 points).
``lists``   ME-GraphAU ``root/list/{DS}_{split}_img_path_fold{k}.txt`` + ``..._label_fold{k}.txt``.
``folder``  a folder of images or a video file, optional OpenFace 2 CSV (landmarks) and label file.

``bp4d`` and ``disfa`` take ``landmarks_dir=``: a folder of per-video OpenFace 2 CSVs ``{video}.csv``
(``F001_T1.csv``, ``SN001.csv``) whose ``frame`` column is the label frame number (SynthAU's
``Landmarks/`` folder, or OpenFace run over each video). Frames it has no landmarks for are skipped.
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from ..aus import Protocol, get_protocol
from ..errors import InputError
from .labels import LabelSet, image_path_keys, list_image_file, read_image_list, read_labels

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
# helpers


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


def _first_dir(*candidates: Path) -> Path | None:
    return next((c for c in candidates if c.is_dir()), None)


def _group_frames(subject: str, video: str, rows: list[int], frame_of: list[int], labels: np.ndarray,
                  media: Callable[[int], tuple | str], skipped: list[Skipped],
                  landmarks: Callable[[int], np.ndarray | str | None] | None = None) -> list[Frame]:
    """Frames of one (subject, video) group of label rows; ``media(frame)`` gives
    (image, video_path, video_index) or a str reason to skip the frame; ``landmarks(frame)`` gives
    (68, 2) points, None (to be detected) or a str reason to skip the frame."""
    out = []
    for i in rows:
        f = frame_of[i]
        m = media(f)
        if isinstance(m, str):
            skipped.append(Skipped(subject, video, f, m))
            continue
        lm = landmarks(f) if landmarks is not None else None
        if isinstance(lm, str):
            skipped.append(Skipped(subject, video, f, lm))
            continue
        out.append(Frame(subject, video, f, m[0], m[1], m[2], labels[i], lm))
    return out


def _groups(ls: LabelSet) -> dict[tuple[str, str], list[int]]:
    """Row indices of each (subject, video) group, in first-appearance order."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(ls.subject.tolist(), ls.video.tolist())):
        groups.setdefault(key, []).append(i)
    return groups


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


def _landmarks_folder(landmarks_dir: str | Path | None) -> Path | None:
    if landmarks_dir is None:
        return None
    folder = Path(landmarks_dir)
    if not folder.is_dir():
        raise InputError(f"landmarks_dir is not a folder (of per-video OpenFace CSVs {{video}}.csv): {folder}")
    return folder


def video_landmarks(folder: Path, video: str) -> tuple[Callable[[int], np.ndarray | str], str | None]:
    """``(landmarks(frame), note)`` for one video from the OpenFace 2 CSV ``folder/{video}.csv``.

    ``landmarks(frame)`` is the (68, 2) float32 row whose ``frame`` column equals the label frame number,
    or the reason there is none (no CSV, no row, ``success == 0``): such frames are skipped, never
    detected, since the user asked for these landmarks. Several rows for one frame (OpenFace's
    multi-face output): the first successful one is used, and ``note`` says so.
    """
    csv = folder / f"{video}.csv"
    if not csv.is_file():
        reason = f"no OpenFace landmark CSV for the video: {csv}"
        return (lambda f: reason), None
    from ..landmarks.files import read_openface_csv

    frames, points = read_openface_csv(csv)  # (N,), (N, 68, 2); success == 0 rows are NaN
    by_frame: dict[int, np.ndarray] = {}
    repeated = 0
    for f, p in zip(frames.tolist(), points):
        if f in by_frame:
            repeated += 1
            if not np.isfinite(by_frame[f]).all():
                by_frame[f] = p  # a later successful row replaces a failed one
            continue
        by_frame[f] = p
    failed = f"no landmarks in the OpenFace CSV (success 0 or non-finite values): {csv}"
    absent = f"no landmarks in the OpenFace CSV (no row for the frame): {csv}"

    def landmarks(f: int) -> np.ndarray | str:
        p = by_frame.get(f)
        if p is None:
            return absent
        return p if np.isfinite(p).all() else failed

    note = (f"{repeated} rows repeat a frame number (several faces?); the first successful row of each frame "
            f"is used: {csv}") if repeated else None
    return landmarks, note


def _unused_landmarks_note(root: Path) -> list[str]:
    folder = root / "Landmarks"
    if folder.is_dir() and any(folder.glob("*.csv")):
        return [f"per-video landmark CSVs (SynthAU layout) are not used without landmarks_dir "
                f"(--landmarks-dir); landmarks will be detected: {folder}"]
    return []


# --------------------------------------------------------------------------------------------------
# BP4D


def read_bp4d(root: Path, protocol: Protocol, *, sequences: str | Path | None = None,
              labels: str | Path | None = None, landmarks_dir: str | Path | None = None) -> FrameList:
    """BP4D: ``root/Sequences/{Subject}/{Task}/{frame}.jpg`` (zero-padded numbers accepted) and the
    ``root/AUCoding/AU_OCC`` labels (9 = unknown -> NaN). ``sequences`` / ``labels`` override the folders.
    BP4D ships no 2-D landmarks: ``landmarks`` is None (prepare detects them), unless ``landmarks_dir``
    holds OpenFace 2 CSVs ``{Subject}_{Task}.csv`` (see :func:`video_landmarks`)."""
    seq = Path(sequences) if sequences else _first_dir(root / "Sequences", root / "sequences")
    if seq is None or not seq.is_dir():
        raise InputError(f"no Sequences folder (Sequences/{{Subject}}/{{Task}}/{{frame}}.jpg): {seq or root}")
    lm_dir = _landmarks_folder(landmarks_dir)
    ls = read_labels(Path(labels) if labels else root, protocol, format="bp4d")
    frames, skipped = [], []
    notes = list(ls.notes) + (_unused_landmarks_note(root) if lm_dir is None else [])
    no_csv = 0
    frame_of = ls.frame.tolist()
    for (subject, task), rows in _groups(ls).items():
        folder = seq / subject / task
        if not folder.is_dir():
            skipped += [Skipped(subject, task, frame_of[i], f"no image folder: {folder}") for i in rows]
            continue
        images, clashes = numbered_files(folder)
        clash = set(clashes)

        def media(f, images=images, folder=folder, clash=clash):
            if f in clash:
                return f"two images numbered {f}: {folder}"
            name = images.get(f)
            return (folder / name, None, None) if name is not None else f"no image for frame {f}: {folder}"

        lm_of = None
        if lm_dir is not None:
            lm_of, note = video_landmarks(lm_dir, f"{subject}_{task}")
            notes += [note] if note else []
            no_csv += not (lm_dir / f"{subject}_{task}.csv").is_file()
        frames += _group_frames(subject, task, rows, frame_of, ls.labels, media, skipped, lm_of)
    if no_csv:
        notes.append(f"{no_csv} videos have no OpenFace landmark CSV (their frames are skipped): {lm_dir}")
    return FrameList(frames, skipped, notes, ls.aus, ls.ignored_aus)


# --------------------------------------------------------------------------------------------------
# DISFA

_DISFA_IMAGE_ROOTS = ("Images", "images", "Frames", "frames", "img", "Img", "Images_LeftCamera")
_DISFA_VIDEO_ROOTS = ("Videos_LeftCamera", "Video_LeftCamera", "Videos", "videos")
_LM_INDEX = re.compile(r"(?:^l|_)(\d+)_lm\.mat$", re.IGNORECASE)


#: extracted-frame roots that name their camera: an ``SNxxx/`` folder inside holds that camera's frames
_DISFA_CAMERA_IMAGE_ROOTS = {"left": "Images_LeftCamera", "right": "Images_RightCamera"}


def _disfa_image_roots(root: Path, camera: str) -> tuple[Path | None, bool]:
    """(the extracted-frame root, whether its ``SNxxx/`` folders are known to be ``camera``'s).

    ``Images/SNxxx/`` does not say which camera it holds: it is read as the left camera's (the default),
    never as the right camera's. The right camera is read from ``Images_RightCamera/SNxxx/`` or from
    ``RightVideoSNxxx_comp/`` folders (or the right video)."""
    if camera == "left":
        return _first_dir(*(root / n for n in _DISFA_IMAGE_ROOTS)), True
    own = _first_dir(root / _DISFA_CAMERA_IMAGE_ROOTS[camera])
    if own is not None:
        return own, True
    return _first_dir(*(root / n for n in _DISFA_IMAGE_ROOTS if n != _DISFA_CAMERA_IMAGE_ROOTS["left"])), False


def _disfa_image_folder(images: Path, subject: str, camera: str, neutral_ok: bool = True) -> Path | None:
    """``SNxxx/`` (when ``neutral_ok``: the root is known to hold ``camera``'s frames), else the folders
    named by the camera's video: ``{Left,Right}VideoSNxxx_comp/`` or ``...comp.avi/``."""
    prefix = f"{camera.capitalize()}Video{subject}_comp"
    return _first_dir(*([images / subject] if neutral_ok else []), images / prefix, images / f"{prefix}.avi")


def disfa_landmark_files(folder: Path, subject: str) -> dict[int, Path]:
    """{1-based label frame: .mat} of ``Landmark_Points/SNxxx/tmp_frame_lm``.

    Two namings exist in the DISFA release (as handled by public DISFA pre-processing code): ``l0NNNN_lm.mat``
    numbered like the labels (1-based), and ``SNxxx_NNNN_lm.mat`` numbered from 0 (frame - 1).
    """
    out: dict[int, Path] = {}
    if not folder.is_dir():
        return out
    for f in folder.iterdir():
        m = _LM_INDEX.search(f.name)
        if not m:
            continue
        n = int(m.group(1))
        zero_based = f.name.upper().startswith(subject.upper() + "_")
        out.setdefault(n + 1 if zero_based else n, f)
    return out


def read_disfa(root: Path, protocol: Protocol, *, intensity_threshold: int = 2, images: str | Path | None = None,
               videos: str | Path | None = None, camera: str = "left", image_base: int | None = None,
               landmarks: bool = True, landmarks_dir: str | Path | None = None) -> FrameList:
    """DISFA: ``ActionUnit_Labels`` (label frames are 1-based) + media + shipped 66-point landmarks.

    Media per subject, first found: extracted frames in ``images`` (default: the first of
    ``root/Images``, ``Frames``, ``img``, ... that exists) under ``SNxxx/``, ``LeftVideoSNxxx_comp/`` or
    ``LeftVideoSNxxx_comp.avi/``, numbered by the last number in the file name; else the video
    ``videos/LeftVideoSNxxx_comp.avi`` (default folder ``root/Videos_LeftCamera``) at 0-based index
    frame - 1. ``camera="right"``: ``RightVideo...`` folders and videos, and ``SNxxx/`` only inside
    ``root/Images_RightCamera`` (or ``images=``): a found ``Images/SNxxx/`` does not say its camera and is
    read as the left camera's, so its frames are skipped, and when no subject has right-camera media at
    all this is an :class:`InputError`. Image numbering: ``image_base=1`` means file N holds label frame N, ``0`` means file N
    holds label frame N + 1; by default it is 0 when a subject's folder has a file numbered 0, else 1.

    ``landmarks_dir``: a folder of OpenFace 2 CSVs ``SNxxx.csv`` (see :func:`video_landmarks`) used
    instead of ``Landmark_Points``.
    """
    if camera not in ("left", "right"):
        raise InputError(f"camera must be 'left' or 'right' (got {camera!r}): {root}")
    ls = read_labels(root, protocol, format="disfa", intensity_threshold=intensity_threshold)
    # an images= folder is the user's word for the chosen camera's frames; a found one may not say which
    img_root, neutral_ok = (Path(images), True) if images else _disfa_image_roots(root, camera)
    vid_root = Path(videos) if videos else _first_dir(*(root / n.replace("Left", camera.capitalize())
                                                          for n in _DISFA_VIDEO_ROOTS))
    lm_dir = _landmarks_folder(landmarks_dir)
    notes = list(ls.notes) + (_unused_landmarks_note(root) if lm_dir is None else [])
    if landmarks and lm_dir is None and camera != "left":
        # Landmark_Points holds the left camera's points: on right-camera images they would cut wrong ROIs.
        notes.append(f"Landmark_Points (left camera) not used for the {camera} camera; landmarks will be "
                     f"detected: {root}")
        landmarks = False
    landmarks = landmarks and lm_dir is None  # landmarks_dir replaces Landmark_Points
    lm_root = _first_dir(root / "Landmark_Points", root / "landmark_points") if landmarks else None
    frames, skipped = [], []
    zero_based: list[str] = []
    no_landmarks = no_csv = 0
    from ..landmarks.files import read_disfa_mat  # (1, 68, 2) float32, the 66 points lifted
    frame_of = ls.frame.tolist()
    other_camera: list[str] = []  # subjects with only camera-neutral (left) frames, for the right camera
    for (subject, video_name), rows in _groups(ls).items():
        folder = _disfa_image_folder(img_root, subject, camera, neutral_ok) if img_root is not None else None
        video = vid_root / f"{camera.capitalize()}Video{subject}_comp.avi" if vid_root is not None else None
        if folder is not None:
            files, clashes = numbered_files(folder)
            base = image_base if image_base is not None else (0 if 0 in files else 1)
            if image_base is None and base == 0:
                zero_based.append(subject)
            clash = set(clashes)

            def media(f, files=files, folder=folder, base=base, clash=clash):
                n = f - 1 + base
                if n in clash:
                    return f"two images numbered {n}: {folder}"
                name = files.get(n)
                return (folder / name, None, None) if name is not None else f"no image for frame {f}: {folder}"
        elif video is not None and video.is_file():
            count = video_frame_count(video)

            def media(f, video=video, count=count):
                if not 1 <= f <= count:
                    return f"frame {f} beyond the video's {count} frames: {video}"
                return None, video, f - 1
        elif img_root is not None and not neutral_ok and (img_root / subject).is_dir():
            other_camera.append(subject)
            reason = (f"no {camera}-camera frames or video for {subject} ({img_root / subject} is read as the "
                      f"left camera's): {img_root}")
            skipped += [Skipped(subject, video_name, frame_of[i], reason) for i in rows]
            continue
        else:
            where = [str(p) for p in (img_root, video) if p is not None] or [str(root)]
            skipped += [Skipped(subject, video_name, frame_of[i], f"no frames or video for {subject}: "
                                f"{', '.join(where)}") for i in rows]
            continue
        lm_of = None
        if lm_dir is not None:
            lm_of, note = video_landmarks(lm_dir, video_name)
            notes += [note] if note else []
            no_csv += not (lm_dir / f"{video_name}.csv").is_file()
        elif lm_root is not None:
            lm_files = disfa_landmark_files(lm_root / subject / "tmp_frame_lm", subject)

            def lm_of(f, lm_files=lm_files):
                path = lm_files.get(f)
                return None if path is None else read_disfa_mat(path)[0]

        sub_frames = _group_frames(subject, video_name, rows, frame_of, ls.labels, media, skipped, lm_of)
        no_landmarks += sum(fr.landmarks is None for fr in sub_frames) if lm_root is not None else 0
        frames += sub_frames
    if other_camera and not frames:  # nothing of the asked camera at all: refuse rather than list every frame
        prefix = f"{camera.capitalize()}Video{other_camera[0]}_comp"
        raise InputError(f"camera {camera!r}: only one camera's frames were found ({img_root / other_camera[0]}/ "
                         f"... for {len(other_camera)} subjects, read as the left camera's); put the {camera} "
                         f"camera's frames in {root / _DISFA_CAMERA_IMAGE_ROOTS[camera] / other_camera[0]}/ or "
                         f"{img_root / prefix}/, or its video in "
                         f"{root / _DISFA_VIDEO_ROOTS[0].replace('Left', camera.capitalize()) / (prefix + '.avi')}: "
                         f"{root}")
    if other_camera:
        notes.append(f"{len(other_camera)} subjects have no {camera}-camera frames or video, only frames in "
                     f"{img_root}/SNxxx/ (read as the left camera's); their frames are skipped, e.g. "
                     f"{other_camera[0]}: {img_root}")
    if zero_based:  # said aloud: a guess that is wrong would shift every label by one frame
        notes.append(f"image files numbered from 0 (file N = label frame N + 1; pass image_base=1 if not) "
                     f"for {len(zero_based)} subjects, e.g. {zero_based[0]}: {img_root}")
    if no_csv:
        notes.append(f"{no_csv} videos have no OpenFace landmark CSV (their frames are skipped): {lm_dir}")
    if lm_root is None and landmarks:
        notes.append(f"no Landmark_Points folder: landmarks will be detected: {root}")
    elif no_landmarks:
        notes.append(f"{no_landmarks} frames have no landmark file (landmarks will be detected): {lm_root}")
    return FrameList(frames, skipped, notes, ls.aus, ls.ignored_aus)


# --------------------------------------------------------------------------------------------------
# ME-GraphAU list files


def read_lists(root: Path, protocol: Protocol, *, images: str | Path | None = None, split: str = "all",
               fold: int | None = None, dataset: str | None = None) -> FrameList:
    """ME-GraphAU lists: ``{list}/{DS}_{split}_img_path_fold{k}.txt`` + ``{DS}_{split}_label_fold{k}.txt``.

    ``root`` is the dataset folder holding ``list/`` (ME-GraphAU's ``data/BP4D``), the ``list`` folder,
    or one ``*_label_fold*.txt``. Image paths are relative to ``images`` (default: ``root/img``, else
    ``root``). ``split`` (train/test/all), ``fold`` and ``dataset`` (e.g. ``BP4D``) pick the files.
    The same image in several list files (a train list and a test list of different folds) is kept once.
    """
    if root.is_file():
        label_files, base = [root], root.parent.parent if root.parent.name == "list" else root.parent
    else:
        list_dir = _first_dir(root / "list", root / "lists", root)
        base = root
        label_files = sorted(list_dir.glob("*_label_fold*.txt"))
        if dataset:
            label_files = [f for f in label_files if f.name.lower().startswith(dataset.lower() + "_")]
        if split != "all":
            label_files = [f for f in label_files if f"_{split}_" in f.name]
        if fold is not None:
            label_files = [f for f in label_files if re.search(rf"fold{int(fold)}\.txt$", f.name)]
        if not label_files:
            raise InputError(f"no *_label_fold*.txt list files (dataset={dataset}, split={split}, fold={fold}) "
                             f"in: {list_dir}")
    img_root = Path(images) if images else (_first_dir(base / "img", base / "imgs", base / "images") or base)
    frames, skipped, notes, seen = [], [], [], set()
    ignored: set[int] = set()
    for lab in label_files:
        img_file = list_image_file(lab)
        if not img_file.is_file():
            raise InputError(f"the image list {img_file.name} beside the label list is missing: {lab}")
        ls = read_labels(lab, protocol, format="list")
        ignored |= set(ls.ignored_aus)
        paths = read_image_list(img_file)
        subjects, videos, frame_of = ls.subject.tolist(), ls.video.tolist(), ls.frame.tolist()
        for i, rel in enumerate(paths):
            if rel in seen:
                continue
            seen.add(rel)
            path = img_root / rel
            if not path.is_file():
                skipped.append(Skipped(subjects[i], videos[i], frame_of[i], f"no image: {path}"))
                continue
            frames.append(Frame(subjects[i], videos[i], frame_of[i], path, None, None, ls.labels[i]))
    return FrameList(frames, skipped, notes, protocol.aus, tuple(sorted(ignored)))


# --------------------------------------------------------------------------------------------------
# a plain folder of images, or a video


def read_folder(root: Path, protocol: Protocol, *, openface: str | Path | None = None,
                labels: str | Path | None = None, label_format: str | None = None,
                subject: str | None = None, video: str | None = None) -> FrameList:
    """A folder of images (sorted by name; frame numbers 1, 2, ... in that order) or a video file (frame
    k = 0-based index k - 1), as OpenFace numbers them. ``openface``: an OpenFace 2 CSV whose landmarks
    (rows with ``success == 0`` give NaN landmarks) are attached by frame number. ``labels``: any file
    :func:`~augcn_pyg.data.labels.read_labels` reads (may be the same OpenFace CSV), matched by frame
    number; without it every label is NaN (unknown)."""
    if root.is_file() and root.suffix.lower() in VIDEO_SUFFIXES:
        count = video_frame_count(root)
        numbers = np.arange(1, count + 1)
        media = [(None, root, k) for k in range(count)]
    elif root.is_dir():
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        numbers = np.arange(1, len(files) + 1)
        media = [(p, None, None) for p in files]
    else:
        raise InputError(f"folder reader needs a folder of images or a video file "
                         f"({', '.join(VIDEO_SUFFIXES)}): {root}")
    if not media:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder: {root}")
    name = root.stem if root.is_file() else root.name
    subject, video = subject or name, video or name
    notes: list[str] = []
    C = protocol.num_aus
    label_of: dict[int, np.ndarray] = {}
    ignored: tuple[int, ...] = ()
    if labels is not None:
        ls = read_labels(labels, protocol, format=label_format)
        ignored = ls.ignored_aus
        notes += ls.notes
        label_of = {int(f): ls.labels[i] for i, f in enumerate(ls.frame)}
        if len(label_of) < len(ls):  # e.g. OpenFace's one row per face: the last row, like openface= landmarks
            notes.append(f"{len(ls) - len(label_of)} label rows repeat a frame number (several faces?); the "
                         f"last row of each frame is used: {labels}")
        unmatched = len(set(label_of) - set(numbers.tolist()))
        if unmatched:
            notes.append(f"{unmatched} labelled frames have no image or video frame: {labels}")
        missing = len(set(numbers.tolist()) - set(label_of))
        if missing:
            notes.append(f"{missing} of {len(numbers)} frames have no label (unknown): {labels}")
    lm_of: dict[int, np.ndarray] = {}
    if openface is not None:
        from ..landmarks.files import read_openface_csv

        of_frames, points = read_openface_csv(openface)
        lm_of = {int(f): points[i] for i, f in enumerate(of_frames)}
        if len(set(numbers.tolist()) - set(lm_of)):
            notes.append(f"{len(set(numbers.tolist()) - set(lm_of))} frames have no OpenFace row "
                         f"(landmarks will be detected): {openface}")
    unknown = np.full(C, np.nan, dtype=np.float32)
    frames = [Frame(subject, video, int(n), m[0], m[1], m[2], label_of.get(int(n), unknown), lm_of.get(int(n)))
              for n, m in zip(numbers, media)]
    return FrameList(frames, [], notes, protocol.aus, ignored)


# --------------------------------------------------------------------------------------------------
# registry, entry point, media decoding

#: dataset name -> reader ``(root, protocol, **options) -> FrameList``
DATASET_READERS: dict[str, Callable[..., FrameList]] = {
    "bp4d": read_bp4d,
    "disfa": read_disfa,
    "lists": read_lists,
    "folder": read_folder,
}


def read_dataset(name: str, root: str | Path, protocol: str | Protocol, **options) -> FrameList:
    """Frames of dataset ``name`` at ``root`` in ``protocol``'s AU order (a :class:`FrameList`: a list of
    :class:`Frame` with ``skipped`` and ``notes``). Unknown names or options raise :class:`InputError`."""
    root = Path(root)
    reader = DATASET_READERS.get(str(name).lower())
    if reader is None:
        raise InputError(f"unknown dataset {name!r}; choose from {sorted(DATASET_READERS)}: {root}")
    try:
        proto = get_protocol(protocol)
    except ValueError as exc:
        raise InputError(f"{exc}: {root}") from None
    if not root.exists():
        raise InputError(f"dataset path does not exist: {root}")
    try:
        return reader(root, proto, **options)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc):
            raise InputError(f"dataset {name!r}: {exc}: {root}") from None
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {getattr(exc, 'filename', None) or root}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None


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
