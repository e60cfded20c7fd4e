"""Subject-exclusive folds."""
from __future__ import annotations

import numpy as np
import pytest

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.folds import FOLDS, fold_split, kfold_subjects, split_parts, subject_mask


@pytest.mark.parametrize("protocol,n", [("bp4d", 41), ("disfa", 27)])
def test_parts_disjoint_and_complete(protocol, n):
    parts = FOLDS[protocol]
    assert len(parts) == 3
    everyone = [s for p in parts for s in p]
    assert len(everyone) == len(set(everyone)) == n
    if protocol == "bp4d":
        assert {s[0] for s in everyone} == {"F", "M"} and len([s for s in everyone if s[0] == "F"]) == 23
    else:
        assert all(s.startswith("SN") and len(s) == 5 for s in everyone)


@pytest.mark.parametrize("protocol", ["bp4d", "disfa"])
def test_fold_split_matches_reference(protocol):
    p1, p2, p3 = FOLDS[protocol]
    assert fold_split(protocol, 1) == (p1 + p2, p3)
    assert fold_split(protocol, 2) == (p1 + p3, p2)
    assert fold_split(get_protocol(protocol), 3) == (p2 + p3, p1)
    tests = []
    for fold in (1, 2, 3):
        train, test = fold_split(protocol, fold)
        assert not set(train) & set(test)
        assert set(train) | set(test) == set(p1 + p2 + p3)
        tests += test
    assert sorted(tests) == sorted(p1 + p2 + p3)  # every subject is tested exactly once


def test_reference_subjects_spot_check():
    assert FOLDS["bp4d"][0][:3] == ("F001", "M007", "F018") and FOLDS["bp4d"][2][-1] == "F014"
    assert FOLDS["disfa"][1][0] == "SN013" and FOLDS["disfa"][2][-1] == "SN004"
    assert "SN022" not in {s for p in FOLDS["disfa"] for s in p}  # not among DISFA's 27


def test_bad_fold_and_protocol():
    with pytest.raises(InputError, match="fold must be 1..3"):
        fold_split("bp4d", 4)
    with pytest.raises(InputError, match="no standard folds"):
        fold_split("ckplus", 1)


def test_kfold_subjects_exclusive_balanced_reproducible():
    subjects = [f"S{i:02d}" for i in range(10)]
    parts = kfold_subjects(subjects, k=3, seed=1)
    assert sorted(len(p) for p in parts) == [3, 3, 4]
    assert sorted(s for p in parts for s in p) == subjects
    assert kfold_subjects(subjects, k=3, seed=1) == parts
    assert any(kfold_subjects(subjects, k=3, seed=s) != parts for s in range(2, 6))
    for fold in (1, 2, 3):
        train, test = split_parts(parts, fold)
        assert not set(train) & set(test) and len(train) + len(test) == 10


def test_kfold_balances_frames_when_given_per_frame_subjects():
    # frame counts: A 50, B 40, C 30, D 20, E 10 -> greedy: A | B | C, then D -> lightest (C: 30), E -> B
    frames = ["A"] * 50 + ["B"] * 40 + ["C"] * 30 + ["D"] * 20 + ["E"] * 10
    parts = kfold_subjects(np.array(frames), k=3, seed=0)
    loads = sorted(sum(frames.count(s) for s in p) for p in parts)
    assert loads == [50, 50, 50]
    mask = subject_mask(np.array(frames), parts[0])
    assert mask.sum() == 50


def test_kfold_errors():
    with pytest.raises(InputError, match="2 subjects cannot make 3"):
        kfold_subjects(["a", "b", "a"], k=3)
    with pytest.raises(InputError, match="k >= 2"):
        kfold_subjects(["a", "b"], k=1)
