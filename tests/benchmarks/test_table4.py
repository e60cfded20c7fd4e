"""table4.py: the paper's Table 4 read from a relation_layers --quick result whose design crosses loss.dice and
model.global_node on gcn and none. Plumbing only: a 1-3 epoch budget on a tiny store proves nothing about
accuracy; each number asserted is recomputed from the result's per-run rows."""
import json

import numpy as np
import pandas as pd
import pytest

from benchmarks import relation_layers as rl
from benchmarks import table4
from benchmarks.ablation_parts import STEPS, VARIANTS
from benchmarks.fixtures import make_store
from benchmarks.paired_stats import compare


@pytest.fixture(scope="module")
def crossed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("table4")
    make_store(tmp / "store")
    assert rl.main(["--quick", "--data", str(tmp / "store"), "--root", str(tmp / "runs"), "--out", str(tmp / "out"),
                    "--parts", "frozen", "--repetitions", "1", "--layers", "gcn,none", "--design", "loss.dice=true,false",
                    "--design", "model.global_node=true,false", "--allow-mixed"]) == 0
    assert table4.main(["--result", str(tmp / "out" / "relation_layers_quick.json")]) == 0
    return tmp / "out"


def test_each_variant_is_the_point_with_its_dice_and_face_settings(crossed):
    doc = json.loads((crossed / "table4_quick.json").read_text())["table"]["frozen"]
    rows = pd.read_csv(crossed / "relation_layers_quick.csv")
    expected = {"au-net": "none@loss.dice=false@model.global_node=false", "au-net+d": "none@model.global_node=false",
                "gcn-noF-noD": "gcn@loss.dice=false@model.global_node=false", "gcn-noF": "gcn@model.global_node=false",
                "gcn-noD": "gcn@loss.dice=false", "gcn": "gcn"}
    assert {k: v["point"] for k, v in doc["variants"].items()} == expected
    for key, point in expected.items():
        mine = rows[rows.layer == point]
        assert doc["variants"][key]["runs"] == 3
        assert doc["variants"][key]["f1"] == pytest.approx(mine.mean_f1.mean())
        assert doc["variants"][key]["f1_std"] == pytest.approx(mine.mean_f1.std(ddof=1))


def test_steps_pair_after_against_before_over_the_same_runs(crossed):
    doc = json.loads((crossed / "table4_quick.json").read_text())["table"]["frozen"]
    rows = pd.read_csv(crossed / "relation_layers_quick.csv")
    points = {k: v["point"] for k, v in doc["variants"].items()}
    for before, after in STEPS:
        a = rows[rows.layer == points[after]].sort_values("fold").mean_f1.to_numpy()
        b = rows[rows.layer == points[before]].sort_values("fold").mean_f1.to_numpy()
        c = doc["steps"][f"{before} -> {after}"]["mean_f1"]
        assert c["mean_diff"] == pytest.approx((a - b).mean())
        assert c["p"] == pytest.approx(compare(a, b, folds=3, rope=0.01, test_train_ratio=c["ratios"][c["ratio_name"]]
                                               ["ratio"]).p)
    assert set(doc["vs_full"]) == {v.key for v in VARIANTS} - {"gcn"}
    md = (crossed / "table4_quick.md").read_text()
    assert "| AU-Net (`none@loss.dice=false@model.global_node=false`) | × | × | × | 54.0 | 81.3 |" in md
    assert "| step: AU-GCN vs AU-GCN w/o D |" in md
    assert "![Table 4 beside the paper](table4_quick.png)" in md and (crossed / "table4_quick.png").stat().st_size > 0
    assert table4.parts_markdown({"frozen": doc}, level=4).startswith("#### frozen\n\n| variant |")


def test_a_result_without_the_crossed_design_is_one_clear_error(crossed, tmp_path, capsys):
    doc = json.loads((crossed / "relation_layers_quick.json").read_text())
    doc["design"]["dimensions"] = doc["design"]["dimensions"][:1]
    (tmp_path / "relation_layers_quick.json").write_text(json.dumps(doc))
    (tmp_path / "relation_layers_quick.csv").write_text((crossed / "relation_layers_quick.csv").read_text())
    assert table4.main(["--result", str(tmp_path / "relation_layers_quick.json")]) == 2
    assert "Table 4 needs exactly loss.dice and model.global_node" in capsys.readouterr().err
    assert not list(tmp_path.glob("table4_*"))
    assert table4.main(["--result", str(tmp_path / "missing.json")]) == 2
    assert np.all([not p.name.startswith("table4") for p in tmp_path.iterdir()])
