"""Readers not tied to one dataset: ME-GraphAU list files and a plain folder of images or a video."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from augcn_pyg.core.aus import Protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.labels import list_image_file, read_image_list, read_labels
from augcn_pyg.data.readers.frames import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    Frame,
    FrameList,
    Skipped,
    first_dir,
    video_frame_count,
)
from augcn_pyg.landmarks.files import read_openface_csv

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
        list_dir = first_dir(root / "list", root / "lists", root)
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
    img_root = Path(images) if images else (first_dir(base / "img", base / "imgs", base / "images") or base)
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
        of_frames, points = read_openface_csv(openface)
        lm_of = {int(f): points[i] for i, f in enumerate(of_frames)}
        if len(set(numbers.tolist()) - set(lm_of)):
            notes.append(f"{len(set(numbers.tolist()) - set(lm_of))} frames have no OpenFace row "
                         f"(landmarks will be detected): {openface}")
    unknown = np.full(C, np.nan, dtype=np.float32)
    frames = [Frame(subject, video, int(n), m[0], m[1], m[2], label_of.get(int(n), unknown), lm_of.get(int(n)))
              for n, m in zip(numbers, media)]
    return FrameList(frames, [], notes, protocol.aus, ignored)
