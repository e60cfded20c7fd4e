"""Dataset readers: a dataset's native layout -> a list of :class:`Frame` (media, labels, landmarks).

Labels are parsed by :mod:`augcn_pyg.data.labels` (one parser per format); this package pairs each
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

Modules: :mod:`.frames` (:class:`Frame`, :class:`FrameList`, media suffixes, :func:`load_image`),
:mod:`.native` (``bp4d``, ``disfa``), :mod:`.generic` (``lists``, ``folder``); this package holds the
registry and :func:`read_dataset`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from augcn_pyg.core.aus import PROTOCOLS, Protocol, get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.core.registry import Registry
from augcn_pyg.data.readers.frames import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    Frame,
    FrameList,
    Skipped,
    load_image,
    numbered_files,
    release_videos,
    video_frame_count,
)
from augcn_pyg.data.readers.generic import read_folder, read_lists
from augcn_pyg.data.readers.native import disfa_landmark_files, read_bp4d, read_disfa, video_landmarks

__all__ = [
    "DATASET_READERS", "NATIVE_DATASETS", "read_dataset", "Frame", "FrameList", "Skipped", "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES", "load_image", "release_videos", "numbered_files", "video_frame_count", "video_landmarks",
    "disfa_landmark_files", "read_bp4d", "read_disfa", "read_lists", "read_folder",
]


# --------------------------------------------------------------------------------------------------
# registry, entry point

#: dataset name -> reader ``(root, protocol, **options) -> FrameList``
DATASET_READERS: Registry[Callable[..., FrameList]] = Registry("dataset", lowercase=True)
for _name, _reader in (("bp4d", read_bp4d), ("disfa", read_disfa), ("lists", read_lists), ("folder", read_folder)):
    DATASET_READERS.register(_name, _reader)

#: the datasets whose name is a protocol: they imply their AU order, and their readers list each video's
#: frames consecutively (so prepare tracks faces by default)
NATIVE_DATASETS: tuple[str, ...] = tuple(name for name in DATASET_READERS if name in PROTOCOLS)


def read_dataset(name: str, root: str | Path, protocol: str | Protocol, **options) -> FrameList:
    """Frames of dataset ``name`` at ``root`` in ``protocol``'s AU order (a :class:`FrameList`: a list of
    :class:`Frame` with ``skipped`` and ``notes``). Unknown names or options raise :class:`InputError`."""
    root = Path(root)
    reader = DATASET_READERS.lookup(name, where=str(root))
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
