"""The shared benchmark protocol on a tiny store (checks the plumbing, not accuracy)."""
import numpy as np
import pytest
import torch

from augcn_pyg.engine.models import load_model
from augcn_pyg.engine.trainer import STAGE1_PARTS
from benchmarks import bench_protocol as bp
from benchmarks.fixtures import make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "store"
    make_store(path)
    return path


def test_layers_share_one_stage1_model_and_the_recorder_never_selects(store, tmp_path):
    gat = bp.layer_run(store, 1, 0, "gat", tmp_path, "quick", threads=1)
    none = bp.layer_run(store, 1, 0, "none", tmp_path, "quick", threads=1)
    stage1 = tmp_path / "standard-folds" / "stage1" / "fold1-seed0"
    assert [p.name for p in stage1.parent.iterdir() if p.is_dir()] == ["fold1-seed0"]  # trained once, reused
    a = load_model(tmp_path / "standard-folds" / "frozen" / "gat" / "fold1-seed0")[0].state_dict()
    b = load_model(tmp_path / "standard-folds" / "frozen" / "none" / "fold1-seed0")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(STAGE1_PARTS))
    assert [r["epoch"] for r in gat["test_fold_epochs"]] == [1, 2, 3]
    assert bp.layer_run(store, 1, 0, "gat", tmp_path, "quick", threads=1) == gat  # reused, with its record
    cost = bp.selection_cost(gat["test_fold_epochs"])
    assert gat["selected"] == "val" and gat["epoch"] == cost["val_selected_epoch"]
    assert cost["val_selected_test_f1"] == pytest.approx(gat["test"]["mean_f1"], abs=1e-6)  # the recorder saw the run's score
    assert none["layer"] == "none"


def test_f1_at_thresholds_matches_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    probs = rng.random((50, 3))
    labels = (rng.random((50, 3)) < 0.4).astype(float)
    labels[0, 1] = np.nan
    f1 = bp.mean_f1_at_thresholds(probs, labels)
    i = int(np.nonzero(bp.THRESHOLDS == 0.5)[0][0])
    keep = ~np.isnan(labels)
    expected = np.mean([f1_score(labels[keep[:, c], c], probs[keep[:, c], c] >= 0.5) for c in range(3)])
    assert f1[i] == pytest.approx(expected)


def test_selection_cost_by_hand():
    # three epochs; validation prefers epoch 2, the test fold at 0.5 prefers epoch 3, and the best
    # (epoch, threshold) on the test fold is epoch 1 at 0.3
    t = [0.0] * len(bp.THRESHOLDS)
    at = {float(th): i for i, th in enumerate(bp.THRESHOLDS)}
    recorded = []
    for epoch, val, at_half, best in ((1, 0.50, 0.40, (0.3, 0.90)), (2, 0.70, 0.55, (0.5, 0.55)), (3, 0.60, 0.65, (0.5, 0.65))):
        per = list(t)
        per[at[0.5]] = at_half
        per[at[best[0]]] = best[1]
        recorded.append({"epoch": epoch, "val_f1": val, "test_f1_at_0.5": at_half, "test_f1_per_threshold": per})
    cost = bp.selection_cost(recorded)
    assert (cost["val_selected_epoch"], cost["val_selected_test_f1"]) == (2, 0.55)
    assert (cost["test_selected_epoch"], cost["test_selected_test_f1"]) == (3, 0.65)
    assert cost["test_selected_epoch_and_threshold"] == [1, 0.3] and cost["test_selected_with_threshold_f1"] == 0.90
