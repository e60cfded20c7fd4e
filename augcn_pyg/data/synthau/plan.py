"""What a SynthAU dataset contains: subject ids, videos, and the random stream of each piece.

Every random draw is keyed by indices, never by processing order: ``SeedSequence(seed, spawn_key=(stream,
subject, task))``, so a dataset is the same whatever the number of workers, and the labels can be drawn
without rendering a pixel (:func:`sample_intensities`).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.data.folds import FOLDS
from augcn_pyg.data.synthau.prototypes import RENDERED_AUS, TASKS
from augcn_pyg.data.synthau.relations import PRESENT, RELATIONS, load_model, sample_video

# Streams of the spawn key.
IDENTITY, LABELS, RENDER, FRAME_NUMBERS = 0, 1, 2, 3
#: streams of missing local evidence (occlusion.py): occluders per video, weak AUs per subject
OCCLUSION, EXPRESSIVITY = 4, 5


def _interleave(parts) -> list[str]:
    out = []
    for i in range(max(len(p) for p in parts)):
        out += [p[i] for p in parts if i < len(p)]
    return out


def subject_ids(protocol: str, n: int) -> list[str]:
    """``n`` subject ids: the real dataset's ids first, taken from the three parts of the standard folds
    in turn (so any prefix spreads over the parts and ``fold_split`` works), then made-up ones (in no
    fold)."""
    ids = _interleave(FOLDS["disfa" if protocol == "disfa" else "bp4d"])
    if protocol == "disfa":
        extra = (f"SN{i:03d}" for i in itertools.count(33))
    else:
        extra = (f"{s}{i:03d}" for i in itertools.count(24) for s in "FM")
    ids = ids[:n]
    while len(ids) < n:
        ids.append(next(extra))
    return ids


def task_ids(n_tasks: int = len(TASKS)) -> list[str]:
    return [f"T{t + 1}" for t in range(n_tasks)]


def stream(seed: int, kind: int, subject: int, task: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(kind, subject, task)))


@dataclass(frozen=True)
class Video:
    """One video: BP4D ``F001_T1`` (one task) or DISFA ``SN001`` (all tasks, one after the other)."""

    subject_index: int
    subject: str
    task_index: int  # -1 for a DISFA video made of every task
    name: str


def videos(protocol: str, subjects: int) -> list[Video]:
    out = []
    for s, sid in enumerate(subject_ids(protocol, subjects)):
        if protocol == "disfa":
            out.append(Video(s, sid, -1, sid))
        else:
            out += [Video(s, sid, t, f"{sid}_{tid}") for t, tid in enumerate(task_ids())]
    return out


def sample_intensities(protocol: str, relations: str, video: Video, frames_per_video: int,
                       seed: int, model=None) -> np.ndarray:
    """(F, A) true intensities of ``video`` over RENDERED_AUS (F = frames_per_video x tasks for DISFA)."""
    if relations not in RELATIONS:
        raise ValueError(f"unknown relations {relations!r}; choose from {list(RELATIONS)}")
    model = model if model is not None or relations != "realistic" else load_model(protocol)
    tasks = range(len(TASKS)) if video.task_index < 0 else [video.task_index]
    parts = [sample_video(stream(seed, LABELS, video.subject_index, t), protocol, relations, TASKS[t],
                          frames_per_video, model) for t in tasks]
    return np.concatenate(parts, axis=0)


def sample_labels(protocol: str = "bp4d", relations: str = "realistic", subjects: int = 24,
                  frames_per_video: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labels only, no rendering: ``(labels (N, C) float32 0/1 in the protocol's AU order, intensities
    (N, A) over RENDERED_AUS, video name per row)``. Same numbers as :func:`generate_synthau` writes."""
    aus = get_protocol(protocol).aus
    model = load_model(protocol) if relations == "realistic" else None
    rows, names = [], []
    for v in videos(protocol, subjects):
        inten = sample_intensities(protocol, relations, v, frames_per_video, seed, model)
        rows.append(inten)
        names += [v.name] * len(inten)
    inten = np.concatenate(rows)
    cols = [RENDERED_AUS.index(a) for a in aus]
    return (inten[:, cols] >= PRESENT).astype(np.float32), inten, names
