"""relation_layers.py --quick end to end on a tiny store: runs, paired statistics, tables and plots.

It checks the plumbing only; a 1-3 epoch budget on a tiny store says nothing about accuracy."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmarks import relation_layers as rl

REPO = Path(rl.__file__).resolve().parents[1]  # `python -m benchmarks.relation_layers` runs from here


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    assert rl.main(["--quick", "--out", str(out)]) == 0
    return out


def test_quick_writes_every_result_file(quick):
    for name in ("relation_layers_quick.csv", "relation_layers_quick.json", "relation_layers_quick.md",
                 "selection_cost_quick.csv", "selection_cost_quick.md", "relation_layers_quick_f1.png",
                 "relation_layers_quick_paired.png", "relation_layers_quick_folds.png"):
        assert (quick / name).stat().st_size > 0, name
    assert "proves nothing about accuracy" in (quick / "relation_layers_quick.md").read_text()


def test_quick_runs_are_paired_and_compared(quick):
    rows = pd.read_csv(quick / "relation_layers_quick.csv")
    standard = rows[rows.fold_seed == -1]
    # both protocols, both layers, the same three folds
    for protocol in ("frozen", "end-to-end"):
        for layer in ("gcn", "none"):
            got = standard[(standard.protocol == protocol) & (standard.layer == layer)]
            assert sorted(got.fold) == [1, 2, 3]
    doc = json.loads((quick / "relation_layers_quick.json").read_text())
    for protocol in ("frozen", "end-to-end"):
        by_layer = {s["layer"]: s for s in doc["summary"][protocol]}
        c = by_layer["gcn"]["vs_none"]
        assert c["runs"] == 3 and c["verdict"] in ("a", "b", "equal", "unsure")
        assert c["ci_low"] <= c["mean_diff"] <= c["ci_high"]
        a = standard[(standard.protocol == protocol) & (standard.layer == "gcn")].sort_values("fold").mean_f1.to_numpy()
        b = standard[(standard.protocol == protocol) & (standard.layer == "none")].sort_values("fold").mean_f1.to_numpy()
        assert c["mean_diff"] == pytest.approx((a - b).mean())
        assert by_layer["none"]["vs_gcn"]["mean_diff"] == pytest.approx(-c["mean_diff"])
        assert by_layer["gcn"]["vs_gcn"] is None  # no layer is compared with itself
    # the recorder's validation-selected epoch scores what the run reports
    assert doc["recorder_check_max_abs_diff"] < 1e-4
    spread = {s["layer"]: s for s in doc["fold_assignments"]}
    assert spread["gcn"]["assignments"] == 2 and spread["gcn"]["range"] >= 0


def test_selection_cost_never_below_the_honest_choice(quick):
    cost = pd.read_csv(quick / "selection_cost_quick.csv")
    assert {"gcn", "none", "all layers"} <= set(cost.layer)
    assert (cost.epoch_gain_mean >= 0).all() and (cost.threshold_gain_mean >= cost.epoch_gain_mean).all()


def test_bad_store_is_one_clear_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "benchmarks.relation_layers", "--data", str(tmp_path / "nothing"),
                          "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2
    assert "not a prepared ROI store" in res.stderr and "Traceback" not in res.stderr


def test_unknown_layer_is_one_clear_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "benchmarks.relation_layers", "--quick", "--layers", "gcn,nope",
                          "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2 and "unknown relation layer 'nope'" in res.stderr


def test_jobs_train_the_same_runs_side_by_side(quick, tmp_path):
    assert rl.main(["--quick", "--parts", "frozen", "--jobs", "2", "--out", str(tmp_path)]) == 0
    key = ["protocol", "layer", "fold", "seed", "fold_seed"]
    one = pd.read_csv(quick / "relation_layers_quick.csv").query("protocol == 'frozen'").set_index(key).sort_index()
    two = pd.read_csv(tmp_path / "relation_layers_quick.csv").query("protocol == 'frozen'").set_index(key).sort_index()
    standard = two.index.get_level_values("fold_seed") == -1
    pd.testing.assert_series_equal(one.loc[two.index[standard], "mean_f1"], two.loc[standard, "mean_f1"])
    walls = json.loads((tmp_path / "relation_layers_quick.json").read_text())["timing"]["part_walls"]["frozen"]
    assert walls[-1]["jobs"] == 2 and walls[-1]["runs_trained"] == walls[-1]["runs"] > 0
