"""relation_reach: the second stage finds a relation the run cannot see and none where AUs are independent; the
report's difference in differences from hand-made scores; end to end on quick runs; bad input."""
import json

import numpy as np
import pytest

from augcn_pyg.core.errors import InputError
from benchmarks import relation_layers as rl
from benchmarks import relation_reach as rr
from benchmarks.fixtures import make_store


def first_stage(related: bool, n: int = 1200, seed: int = 0):
    """(p, y): AU0 read well; AU1 read not at all (its probability is noise); AU1 = AU0 when related."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 2)) < 0.4).astype(float)
    if related:
        y[:, 1] = y[:, 0]
    p = np.column_stack([np.clip(0.8 * y[:, 0] + 0.1 + 0.05 * rng.standard_normal(n), 0, 1), rng.random(n)])
    return p, y


@pytest.mark.parametrize("related", [True, False])
def test_the_second_stage_reads_a_hidden_au_from_its_partner_only_when_related(related):
    p, y = first_stage(related)
    half = len(p) // 2
    s = rr.reach_scores(p[:half], y[:half], p[half:], y[half:], aus=[1, 2])
    run, stacked = s["run"]["auc_per_au"], s["stacked"]["auc_per_au"]
    assert abs(run[1] - 0.5) < 0.1  # the run cannot see AU1
    if related:
        assert stacked[1] > 0.95
    else:
        assert abs(stacked[1] - 0.5) < 0.1
    assert stacked[0] > 0.95 and run[0] > 0.95


def test_thresholds_are_the_best_on_validation():
    y = np.array([[1], [1], [0], [0], [np.nan]], float)
    p = np.array([[0.9], [0.35], [0.3], [0.1], [0.99]])
    assert rr.val_thresholds(p, y)[0] == pytest.approx(0.35)  # 0.35 keeps both positives and drops the negatives
    assert rr.val_thresholds(p, np.full_like(y, np.nan))[0] == 0.5


def scores(run: float, stacked: float) -> dict:
    one = lambda v: {m: v for m in rr.METRICS}  # noqa: E731
    return {"run": one(run), "stacked": one(stacked), "n_train_subjects": 12, "n_test_subjects": 8}


def test_report_is_the_gain_beyond_the_control():
    rng = np.random.default_rng(0)
    keys = [(fs, f) for fs in range(3) for f in (1, 2, 3)]
    noise = 0.002 * rng.standard_normal(len(keys))
    preset = {k: scores(0.6, 0.65 + e) for k, e in zip(keys, noise)}
    control = {k: scores(0.5, 0.51) for k in keys}
    r = rr.report(preset, control)
    assert r["runs"] == 9 and r["test_train_ratio"] == pytest.approx(8 / 12)
    auc = r["metrics"]["auc"]
    assert auc["did"]["mean_diff"] == pytest.approx(0.04 + noise.mean()) and auc["did"]["verdict"] == "a"
    assert auc["run_preset"] == pytest.approx(0.6) and auc["stacked_control"] == pytest.approx(0.51)
    assert "| AUC | 60.0 | 65.0 | 50.0 | 51.0 | +4.0 [" in rr.table({"layer": "local", "report": r})
    with pytest.raises(InputError, match="share 1 runs"):
        rr.report({keys[0]: preset[keys[0]]}, control)


def test_end_to_end_on_quick_runs(tmp_path):
    stores = {"preset": tmp_path / "preset", "control": tmp_path / "control"}
    make_store(stores["preset"])
    make_store(stores["control"], seed=1)
    for side, store in stores.items():
        assert rl.main(["--quick", "--data", str(store), "--root", str(tmp_path / "runs" / side), "--out",
                        str(tmp_path / "rl"), "--parts", "frozen", "--layers", "local", "--repetitions", "1",
                        "--allow-mixed"]) == 0
    assert rr.main(["--preset", str(stores["preset"]), "--preset-runs", str(tmp_path / "runs" / "preset"),
                    "--control", str(stores["control"]), "--control-runs", str(tmp_path / "runs" / "control"),
                    "--out", str(tmp_path / "out")]) == 0
    doc = json.loads((tmp_path / "out" / "relation_reach_preset.json").read_text())
    assert doc["report"]["runs"] == 3 and set(doc["runs"]["preset"]) == {"0-1", "0-2", "0-3"}
    run = doc["runs"]["preset"]["0-1"]
    assert run["config_digest"] and doc["revisions"] == sorted({str(r["git"]) for side in doc["runs"].values()
                                                               for r in side.values()})
    assert "second stage" in (tmp_path / "out" / "relation_reach_preset.md").read_text()


def test_report_names_say_the_layer():
    assert rr.report_name("store_occ", "local") == "relation_reach_store_occ"
    assert rr.report_name("store_occ", "none") == "relation_reach_store_occ_none"


@pytest.mark.parametrize("what, message", [("store", "not a prepared ROI store"), ("runs", "no finished frozen")])
def test_bad_input_is_one_clear_error(tmp_path, what, message):
    store = tmp_path / "s"
    make_store(store)
    args = {"store": str(tmp_path / "nowhere") if what == "store" else str(store), "runs": str(tmp_path / "none")}
    with pytest.raises(InputError, match=message):
        rr.main(["--preset", args["store"], "--preset-runs", args["runs"], "--control", args["store"],
                 "--control-runs", args["runs"], "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
