"""A run's three subject-exclusive parts: training, validation (held out of the training folds), test.

The test part is the standard fold's test part and is only ever evaluated. Validation subjects are a
``val_fraction`` of the fold's training subjects that the store holds, drawn with ``val_seed`` (the same
for every training seed, so seeds vary the model and not the split). Model selection and anything else
learned (the relation graph, the AU weights) uses the training part only.

``paper_sample`` is the paper's frame sampling: per video and AU, up to P positive and 2P negative
frames (P = 100 for BP4D, 800 for DISFA), the union of those frames being the training set.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.data.folds import fold_split, kfold_subjects, split_parts
from augcn_pyg.data.store import ROIStore

#: the paper's P (positives per video and AU; negatives are 2P)
PAPER_POSITIVES = {"bp4d": 100, "disfa": 800}


@dataclass
class RunSplits:
    train_subjects: list[str]
    val_subjects: list[str]
    test_subjects: list[str]
    train_rows: np.ndarray  # (M_train,) store rows
    val_rows: np.ndarray
    test_rows: np.ndarray

    def to_dict(self) -> dict:
        return {"train_subjects": self.train_subjects, "val_subjects": self.val_subjects,
                "test_subjects": self.test_subjects, "train_faces": int(len(self.train_rows)),
                "val_faces": int(len(self.val_rows)), "test_faces": int(len(self.test_rows))}


def run_splits(store: ROIStore, fold: int, val_fraction: float = 0.2, val_seed: int = 0,
               fold_seed: int = -1, train_subjects: int = 0) -> RunSplits:
    """Training / validation / test subjects and rows of ``fold`` in ``store``.

    ``fold_seed`` -1 takes the protocol's standard folds; a seed >= 0 instead splits the store's subjects
    into three random subject-exclusive parts balanced by frame count (``kfold_subjects``), to measure
    how much a result moves with the fold assignment alone.

    ``train_subjects`` N > 0 fits on only N of the training subjects (for learning curves): the first N of
    one seeded order of them, so a smaller set is always inside a larger one; validation and test subjects
    stay as they are. 0 takes them all."""
    if fold_seed < 0:
        train_all, test = fold_split(store.protocol.name, fold)
    else:
        train_all, test = split_parts(kfold_subjects(np.asarray(store.subject), 3, seed=fold_seed), fold)
    held = set(store.subjects)
    train_present = sorted(s for s in train_all if s in held)
    test_present = sorted(s for s in test if s in held)
    if len(train_present) < 2 or not test_present:
        raise InputError(f"{store.path}: too small to have faces in every split of fold {fold}: it holds "
                         f"{len(train_present)} of the fold's training subjects (2 or more are needed: one "
                         f"for training, one for validation) and {len(test_present)} of its test subjects")
    num_val = min(max(1, math.ceil(val_fraction * len(train_present))), len(train_present) - 1)
    order = np.random.default_rng(val_seed).permutation(len(train_present))
    val = sorted(train_present[i] for i in order[:num_val])
    train = sorted(s for s in train_present if s not in val)
    if train_subjects < 0 or train_subjects > len(train):
        raise InputError(f"{store.path}: fold {fold} has {len(train)} training subjects besides its {len(val)} "
                         f"validation subjects; data.train_subjects must be 0 (all) to {len(train)}, got "
                         f"{train_subjects}")
    if train_subjects:
        order = np.random.default_rng(val_seed + 1).permutation(len(train))  # one order: smaller sets nest
        train = sorted(train[i] for i in order[:train_subjects])
    rows = {name: store.indices_for_subjects(subjects) for name, subjects in
            (("train", train), ("val", val), ("test", test_present))}
    return RunSplits(train, val, test_present, rows["train"], rows["val"], rows["test"])


def paper_sample(store: ROIStore, rows: np.ndarray, positives: int, seed: int = 0) -> np.ndarray:
    """(M',) sorted store rows: per video and AU, up to ``positives`` positive and twice as many negative
    known frames among ``rows``, drawn without replacement with ``seed``; their union."""
    if positives < 1:
        raise InputError(f"paper sampling needs positives >= 1, got {positives}")
    rng = np.random.default_rng(seed)
    rows = np.asarray(rows, dtype=np.int64)
    labels = np.asarray(store.labels[rows])  # (M, C), NaN unknown
    videos = np.asarray(store.subject[rows]).astype(str) + "/" + np.asarray(store.video[rows]).astype(str)
    chosen = np.zeros(len(rows), dtype=bool)
    for video in np.unique(videos):
        in_video = np.nonzero(videos == video)[0]
        for c in range(labels.shape[1]):
            column = labels[in_video, c]
            for value, quota in ((1.0, positives), (0.0, 2 * positives)):
                candidates = in_video[column == value]
                take = rng.choice(candidates, size=min(quota, len(candidates)), replace=False)
                chosen[take] = True
    return np.sort(rows[chosen])
