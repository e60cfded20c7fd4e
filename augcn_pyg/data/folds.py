"""Subject-exclusive folds: the field's 3-fold splits for BP4D and DISFA, and k folds for any other data.

The BP4D and DISFA parts are the ones used by JAA-Net and ME-GraphAU (``shared/REFERENCE.md``). Fold f
tests on one part and trains on the other two: fold 1 = train parts 1+2, test part 3; fold 2 = train
1+3, test 2; fold 3 = train 2+3, test 1 (in general, with k parts, fold f tests on part k + 1 - f).
No subject is ever in both the training and the test side of a fold.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from augcn_pyg.core.aus import Protocol
from augcn_pyg.core.errors import InputError

#: protocol -> the three subject-exclusive parts (tuples of subject ids)
FOLDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "bp4d": (
        tuple("F001 M007 F018 F008 F002 M004 F010 F009 M012 M001 F016 M014 F023 M008".split()),
        tuple("M011 F003 M010 M002 F005 F022 M018 M017 F013 M016 F020 F011 M013 M005".split()),
        tuple("F007 F015 F006 F019 M006 M009 F012 M003 F004 F021 F017 M015 F014".split()),
    ),
    "disfa": (
        tuple("SN002 SN010 SN001 SN026 SN027 SN032 SN030 SN009 SN016".split()),
        tuple("SN013 SN018 SN011 SN028 SN012 SN006 SN031 SN021 SN024".split()),
        tuple("SN003 SN029 SN023 SN025 SN008 SN005 SN007 SN017 SN004".split()),
    ),
}


def split_parts(parts: Sequence[Sequence[str]], fold: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(train subjects, test subjects) of 1-based ``fold`` over k parts: test on part k + 1 - fold."""
    k = len(parts)
    if not isinstance(fold, (int, np.integer)) or not 1 <= fold <= k:
        raise InputError(f"fold must be 1..{k} (got {fold!r})")
    test_part = k - int(fold)  # 0-based
    train = tuple(s for i, part in enumerate(parts) if i != test_part for s in part)
    return train, tuple(parts[test_part])


def fold_split(protocol: str | Protocol, fold: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(train subjects, test subjects) of the standard 3-fold protocol; fold is 1, 2 or 3."""
    name = protocol.name if isinstance(protocol, Protocol) else str(protocol).lower()
    if name not in FOLDS:
        raise InputError(f"no standard folds for protocol {name!r}; choose from {sorted(FOLDS)} "
                         f"or use kfold_subjects()")
    return split_parts(FOLDS[name], fold)


def kfold_subjects(subjects: Iterable[str], k: int = 3, seed: int = 0) -> tuple[tuple[str, ...], ...]:
    """Split subjects into ``k`` disjoint parts (use with :func:`split_parts`).

    ``subjects`` is either one id per subject or one per frame (e.g. ``LabelSet.subject``); with
    repeats, parts are balanced by frame count (largest subjects first, each to the lightest part).
    The order is shuffled by ``seed`` first, so ties and equal-size subjects are spread at random but
    reproducibly. Each part's subjects are returned sorted.
    """
    counts = Counter(str(s) for s in subjects)
    if k < 2:
        raise InputError(f"k-fold needs k >= 2 (got {k})")
    if len(counts) < k:
        raise InputError(f"{len(counts)} subjects cannot make {k} subject-exclusive folds")
    names = sorted(counts)
    order = np.random.default_rng(seed).permutation(len(names))
    shuffled = [names[i] for i in order]
    shuffled.sort(key=lambda s: -counts[s])  # stable: shuffled order among equal counts
    parts: list[list[str]] = [[] for _ in range(k)]
    load = np.zeros(k, dtype=np.int64)
    for s in shuffled:
        # lightest part by frames, then by subjects, then by index (deterministic)
        i = min(range(k), key=lambda j: (load[j], len(parts[j]), j))
        parts[i].append(s)
        load[i] += counts[s]
    return tuple(tuple(sorted(p)) for p in parts)


def subject_mask(subject: np.ndarray, subjects: Iterable[str]) -> np.ndarray:
    """(N,) bool: rows whose subject is in ``subjects`` (e.g. a fold's training side)."""
    return np.isin(np.asarray(subject).astype(str), np.asarray(list(subjects), dtype=str))
