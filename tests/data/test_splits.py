
import numpy as np
import pytest

from augcn_pyg.core.errors import InputError
from augcn_pyg.data.folds import fold_split
from augcn_pyg.data.splits import paper_sample, run_splits
from augcn_pyg.data.store import ROIStore
from benchmarks.fixtures import make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("s") / "store", subjects_per_part=3, per_subject=120, roi_size=5)


@pytest.mark.parametrize("fold", [1, 2, 3])
def test_three_subject_exclusive_parts(store, fold):
    s = run_splits(store, fold, val_fraction=0.2)
    train_all, test = fold_split("bp4d", fold)
    assert set(s.train_subjects) | set(s.val_subjects) == {x for x in train_all if x in store.subjects}
    assert not set(s.train_subjects) & set(s.val_subjects)
    assert set(s.test_subjects) == {x for x in test if x in store.subjects}
    assert len(s.val_subjects) == 2  # ceil(0.2 * 6)
    for rows, subjects in ((s.train_rows, s.train_subjects), (s.val_rows, s.val_subjects), (s.test_rows, s.test_subjects)):
        assert set(np.asarray(store.subject[rows]).tolist()) == set(subjects)


def test_validation_subjects_depend_on_the_val_seed_only(store):
    assert run_splits(store, 1).val_subjects == run_splits(store, 1).val_subjects
    picks = {tuple(run_splits(store, 1, val_seed=k).val_subjects) for k in range(6)}
    assert len(picks) > 1


def test_random_fold_assignments_cover_every_subject_once_as_test(store):
    tests = [set(run_splits(store, f, fold_seed=4).test_subjects) for f in (1, 2, 3)]
    assert set().union(*tests) == set(store.subjects) and sum(map(len, tests)) == len(store.subjects)
    for f in (1, 2, 3):
        s = run_splits(store, f, fold_seed=4)
        assert not (set(s.train_subjects) | set(s.val_subjects)) & set(s.test_subjects)
    standard = {f: set(run_splits(store, f).test_subjects) for f in (1, 2, 3)}
    drawn = [[set(run_splits(store, f, fold_seed=k).test_subjects) for f in (1, 2, 3)] for k in range(4)]
    assert any(d != [standard[f] for f in (1, 2, 3)] for d in drawn)  # not the standard folds again


@pytest.mark.parametrize("fold_seed", [-1, 4])
def test_fewer_training_subjects_nest_and_leave_validation_and_test_alone(store, fold_seed):
    full = run_splits(store, 2, fold_seed=fold_seed)
    sizes = range(1, len(full.train_subjects) + 1)
    parts = {n: run_splits(store, 2, fold_seed=fold_seed, train_subjects=n) for n in sizes}
    for n, s in parts.items():
        assert len(s.train_subjects) == n and set(s.train_subjects) <= set(full.train_subjects)
        assert s.val_subjects == full.val_subjects and s.test_subjects == full.test_subjects
        assert set(np.asarray(store.subject[s.train_rows]).tolist()) == set(s.train_subjects)
        if n > 1:
            assert set(parts[n - 1].train_subjects) < set(s.train_subjects)  # a smaller set inside a larger one
    assert parts[len(full.train_subjects)].train_subjects == full.train_subjects
    with pytest.raises(InputError, match="data.train_subjects must be 0 \\(all\\) to"):
        run_splits(store, 2, fold_seed=fold_seed, train_subjects=len(full.train_subjects) + 1)


def test_paper_sampling_quota_per_video_and_au(store):
    rows = run_splits(store, 1).train_rows
    sampled = paper_sample(store, rows, positives=2, seed=0)
    assert set(sampled) <= set(rows) and len(sampled) < len(rows)
    labels = np.asarray(store.labels[sampled])
    videos = np.char.add(np.asarray(store.subject[sampled]).astype(str), np.asarray(store.video[sampled]).astype(str))
    # every (video, AU) with enough frames contributes its quota; the union can hold more through other AUs
    all_labels = np.asarray(store.labels[rows])
    all_videos = np.char.add(np.asarray(store.subject[rows]).astype(str), np.asarray(store.video[rows]).astype(str))
    for v in np.unique(all_videos):
        for c in range(12):
            have_pos = np.sum(all_labels[all_videos == v, c] == 1)
            got_pos = np.sum(labels[videos == v, c] == 1)
            assert got_pos >= min(2, have_pos)
    assert np.array_equal(sampled, paper_sample(store, rows, positives=2, seed=0))
    assert not np.array_equal(sampled, paper_sample(store, rows, positives=2, seed=1))


def test_a_store_without_enough_subjects(tmp_path):
    one = make_store(tmp_path / "one", subjects_per_part=1)
    s = run_splits(one, 1)  # two training subjects: one to train on, one to validate
    assert len(s.train_subjects) == 1 and len(s.val_subjects) == 1
    from augcn_pyg.core.aus import get_protocol
    from augcn_pyg.data.store import write_store

    p = get_protocol("bp4d")
    n = 4
    lone = write_store(tmp_path / "lone", "bp4d", np.zeros((n, p.num_rois, 3, 5, 5), np.uint8),
                       np.zeros((n, 12), np.float32), np.array(["F001", "M007", "F007", "F015"]),
                       np.array(["T1"] * n), np.arange(n))
    assert run_splits(lone, 1).test_subjects == ["F007", "F015"]  # trains on part 1, tests on part 3
    with pytest.raises(InputError, match="too small to have faces in every split"):
        run_splits(lone, 2)  # tests on part 2, of which the store holds no one
    assert isinstance(lone, ROIStore)
