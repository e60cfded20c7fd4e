"""Readers of the datasets named after a protocol: BP4D (image sequences) and DISFA (extracted frames
or videos, shipped 66-point landmarks); both may take per-video OpenFace landmark CSVs (``landmarks_dir``)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np

from augcn_pyg.core.aus import Protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.labels import LabelSet, read_labels
from augcn_pyg.data.readers.frames import Frame, FrameList, Skipped, first_dir, numbered_files, video_frame_count
from augcn_pyg.landmarks.files import (
    read_disfa_mat,  # (1, 68, 2) float32, the 66 points lifted
    read_openface_csv,
)

# --------------------------------------------------------------------------------------------------
# helpers


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
    seq = Path(sequences) if sequences else first_dir(root / "Sequences", root / "sequences")
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
        return first_dir(*(root / n for n in _DISFA_IMAGE_ROOTS)), True
    own = first_dir(root / _DISFA_CAMERA_IMAGE_ROOTS[camera])
    if own is not None:
        return own, True
    return first_dir(*(root / n for n in _DISFA_IMAGE_ROOTS if n != _DISFA_CAMERA_IMAGE_ROOTS["left"])), False


def _disfa_image_folder(images: Path, subject: str, camera: str, neutral_ok: bool = True) -> Path | None:
    """``SNxxx/`` (when ``neutral_ok``: the root is known to hold ``camera``'s frames), else the folders
    named by the camera's video: ``{Left,Right}VideoSNxxx_comp/`` or ``...comp.avi/``."""
    prefix = f"{camera.capitalize()}Video{subject}_comp"
    return first_dir(*([images / subject] if neutral_ok else []), images / prefix, images / f"{prefix}.avi")


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
    vid_root = Path(videos) if videos else first_dir(*(root / n.replace("Left", camera.capitalize())
                                                          for n in _DISFA_VIDEO_ROOTS))
    lm_dir = _landmarks_folder(landmarks_dir)
    notes = list(ls.notes) + (_unused_landmarks_note(root) if lm_dir is None else [])
    if landmarks and lm_dir is None and camera != "left":
        # Landmark_Points holds the left camera's points: on right-camera images they would cut wrong ROIs.
        notes.append(f"Landmark_Points (left camera) not used for the {camera} camera; landmarks will be "
                     f"detected: {root}")
        landmarks = False
    landmarks = landmarks and lm_dir is None  # landmarks_dir replaces Landmark_Points
    lm_root = first_dir(root / "Landmark_Points", root / "landmark_points") if landmarks else None
    frames, skipped = [], []
    zero_based: list[str] = []
    no_landmarks = no_csv = 0
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
