"""relation_layers.py --quick end to end on a tiny store: repetitions that re-split the subjects, runs,
paired statistics, provenance, shards, tables and plots.

It checks the plumbing only; a 1-3 epoch budget on a tiny store says nothing about accuracy. Every number
asserted here is recomputed from the per-run CSV rows or the run folders, so each assertion can fail."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import runs
from benchmarks import relation_layers as rl
from benchmarks.fixtures import make_store
from benchmarks.paired_stats import compare
from benchmarks.relation_layers_report import choose_e2e_layers
from benchmarks.relation_layers_runs import Group, balanced_tasks, grid_groups, shard_groups

REPO = Path(rl.__file__).resolve().parents[1]  # `python -m benchmarks.relation_layers` runs from here


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "store"
    make_store(path)
    return path


@pytest.fixture(scope="module")
def quick(tmp_path_factory, store):
    """--quick: gcn and none, frozen and end-to-end, on 2 random fold assignments (fold seeds 0, 1).

    --allow-mixed: other people may edit the package while this trains, which would make the runs' revisions
    differ; the refusal itself is tested on a copy with controlled revisions (test_a_report_refuses_...)."""
    out = tmp_path_factory.mktemp("quick")
    assert rl.main(["--quick", "--data", str(store), "--root", str(out / "runs"), "--out", str(out),
                    "--allow-mixed"]) == 0
    return out


def load(quick):
    return (pd.read_csv(quick / "relation_layers_quick.csv"),
            json.loads((quick / "relation_layers_quick.json").read_text()))


def test_quick_writes_every_result_file(quick):
    for name in ("relation_layers_quick.csv", "relation_layers_quick.json", "relation_layers_quick.md",
                 "selection_cost_quick.csv", "selection_cost_quick.md", "relation_layers_quick_f1.png",
                 "relation_layers_quick_paired.png", "relation_layers_quick_folds.png"):
        assert (quick / name).stat().st_size > 0, name
    md = (quick / "relation_layers_quick.md").read_text()
    assert "proves nothing about accuracy" in md
    assert "| none (no graph) |" in md and "AU-Net (" not in md  # none keeps Dice and the face node


def test_repetitions_resplit_the_subjects(quick):
    rows, doc = load(quick)
    assert doc["assignments"] == [0, 1] and doc["test_sets"] == 6
    for protocol in ("frozen", "end-to-end"):
        for layer in ("gcn", "none"):
            got = rows[(rows.protocol == protocol) & (rows.layer == layer)]
            assert sorted(zip(got.fold_seed, got.fold)) == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
            assert (got.seed == got.fold_seed).all()  # the training seed is tied to the repetition
    # r x 3 distinct test sets, read from the runs' own records
    root = quick / "runs"
    tests = set()
    for fs in (0, 1):
        for fold in (1, 2, 3):
            doc_run = runs.read_run_json(root / f"fold-seed{fs}" / "frozen" / "gcn" / f"fold{fold}-seed{fs}")
            tests.add(frozenset(doc_run["splits"]["test_subjects"]))
            row = rows[(rows.protocol == "frozen") & (rows.layer == "gcn") & (rows.fold_seed == fs) & (rows.fold == fold)]
            assert int(row.n_test_subjects.iloc[0]) == len(doc_run["splits"]["test_subjects"])
            assert int(row.n_train_subjects.iloc[0]) == len(doc_run["splits"]["train_subjects"])
    assert len(tests) == 6


def test_comparisons_use_the_subjects_fitted_on(quick):
    rows, doc = load(quick)
    for protocol in ("frozen", "end-to-end"):
        by_layer = {s["layer"]: s for s in doc["summary"][protocol]}
        c = by_layer["gcn"]["vs_none"]
        mine = rows[rows.protocol == protocol].sort_values(["fold_seed", "seed", "fold"])
        a = mine[mine.layer == "gcn"].mean_f1.to_numpy()
        b = mine[mine.layer == "none"].mean_f1.to_numpy()
        ratio = float(np.mean(mine[mine.layer == "none"].n_test_subjects / mine[mine.layer == "none"].n_train_subjects))
        assert ratio == pytest.approx(2 / 3)  # 2 test subjects, 3 fitted on (1 of the 4 others validates)
        assert c["ratio_name"] == "subjects" and c["test_train_ratio"] == pytest.approx(ratio)
        expected = compare(a, b, folds=3, rope=0.01, test_train_ratio=ratio)
        assert c["runs"] == 6 and c["mean_diff"] == pytest.approx((a - b).mean())
        assert (c["p"], c["ci_low"], c["ci_high"]) == pytest.approx((expected.p, expected.ci_low, expected.ci_high))
        assert c["verdict"] == expected.verdict
        nominal = compare(a, b, folds=3, rope=0.01)
        assert c["ratios"]["nominal"]["p"] == pytest.approx(nominal.p) and c["ratios"]["nominal"]["ratio"] == 0.5
        assert c["ratio_changes_verdict"] == (len({v["verdict"] for v in c["ratios"].values()}) > 1)
        assert c["per_test_set"] is None and c["test_sets"] == 6  # one run per test set: the same test
        assert by_layer["none"]["vs_gcn"]["mean_diff"] == pytest.approx(-c["mean_diff"])
        assert by_layer["gcn"]["vs_gcn"] is None  # no layer is compared with itself
    assert doc["recorder_check_max_abs_diff"] < 1e-4  # the recorder's validation-selected epoch scores what the run reports


def test_spreads_and_stds_are_the_sample_ones(quick):
    rows, doc = load(quick)
    frozen = rows[(rows.protocol == "frozen") & (rows.layer == "gcn")]
    s = next(s for s in doc["summary"]["frozen"] if s["layer"] == "gcn")
    assert s["f1_std"] == pytest.approx(frozen.mean_f1.std(ddof=1))
    for au in (4, 7):  # per-AU ± with ddof 1, as the averages (and cv) have
        assert s["per_au_f1"][f"AU{au}"][1] == pytest.approx(np.nanstd(frozen[f"f1_AU{au}"], ddof=1))
        assert s["per_au_auc"][f"AU{au}"][1] == pytest.approx(np.nanstd(frozen[f"auc_AU{au}"], ddof=1))
    assert s["val_f1_mean"] == pytest.approx(frozen.val_f1_at_selected.mean())
    spread = next(x for x in doc["fold_assignments"] if x["layer"] == "gcn" and x["protocol"] == "frozen")
    per = frozen.groupby("fold_seed").mean_f1.mean()
    assert spread["per_assignment"] == pytest.approx({str(k): v for k, v in per.items()})
    assert spread["range"] == pytest.approx(per.max() - per.min()) and spread["std"] == pytest.approx(per.std(ddof=1))


def test_selection_cost_is_what_the_runs_recorded(quick):
    rows, _ = load(quick)
    cost = pd.read_csv(quick / "selection_cost_quick.csv")
    assert {"gcn", "none", "all layers"} <= set(cost.layer)
    for layer in ("gcn", "none"):
        mine = rows[(rows.protocol == "frozen") & (rows.layer == layer)]
        got = cost[(cost.protocol == "frozen") & (cost.layer == layer)].iloc[0]
        epoch = 100 * (mine.test_selected_f1 - mine.recorded_val_selected_f1)
        thr = 100 * (mine.test_selected_with_threshold_f1 - mine.recorded_val_selected_f1)
        assert got.runs == len(mine) == 6
        assert got.epoch_gain_mean == pytest.approx(epoch.mean()) and got.epoch_gain_max == pytest.approx(epoch.max())
        assert got.threshold_gain_std == pytest.approx(thr.std(ddof=1))


def test_runs_carry_their_revision_and_config_digest(quick):
    rows, doc = load(quick)
    root = quick / "runs"
    for r in rows.itertuples():
        path = root / f"fold-seed{r.fold_seed}" / r.protocol / r.layer / f"fold{r.fold}-seed{r.seed}"
        run_doc = runs.read_run_json(path)
        assert r.git == ";".join(runs.run_revisions(run_doc)) and r.git
        assert r.config_digest == runs.config_digest(yaml.safe_load((path / runs.CONFIG).read_text()))
        stage1 = root / f"fold-seed{r.fold_seed}" / "stage1" / f"fold{r.fold}-seed{r.seed}"
        assert r.init_config_digest == runs.run_config_digest(stage1)
    # one layer's runs share their settings (config less fold, fold seed, seed and the stage-1 path), layers do not
    assert rows.groupby(["protocol", "layer"]).settings_digest.nunique().eq(1).all()
    assert rows.settings_digest.nunique() == 4
    assert sum(doc["provenance"]["revisions"].values()) == len(rows) + 6  # the runs and the 6 stage-1 models


def set_revision(root: Path, revision: str) -> None:
    for path in root.rglob(runs.RUN_JSON):
        doc = json.loads(path.read_text())
        doc["git"], doc["git_resumed"] = revision, []
        if doc.get("init"):
            doc["init"]["git"] = revision
        path.write_text(json.dumps(doc))


def test_a_report_refuses_to_mix_revisions_and_stage1_models(quick, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(quick / "runs", root)
    store = json.loads((quick / "relation_layers_quick.json").read_text())["store"]
    args = ["--quick", "--data", store, "--root", str(root), "--out", str(tmp_path), "--report-only"]
    set_revision(root, "rev-A")
    assert rl.main(args) == 0
    assert set(pd.read_csv(tmp_path / "relation_layers_quick.csv").git) == {"rev-A"}
    assert "nothing mixed" in (tmp_path / "relation_layers_quick.md").read_text()
    odd = root / "fold-seed1" / "frozen" / "none" / "fold2-seed1"
    doc = runs.read_run_json(odd)
    doc["git"] = "rev-B"
    (odd / runs.RUN_JSON).write_text(json.dumps(doc))
    with pytest.raises(InputError, match="2 revisions.*rev-B: frozen/none fold-seed 1 fold 2 seed 1"):
        rl.main(args)
    assert rl.main([*args, "--allow-mixed"]) == 0
    md = (tmp_path / "relation_layers_quick.md").read_text()
    assert "Mixed" in md and "frozen/none fold-seed 1 fold 2 seed 1" in md
    set_revision(root, "rev-A")
    doc = runs.read_run_json(odd)  # started from a stage-1 model that has been retrained since
    doc["init"]["config_digest"] = "0" * 64
    (odd / runs.RUN_JSON).write_text(json.dumps(doc))
    with pytest.raises(InputError, match="fold-seed 1 fold 2 seed 1 started from a stage-1 model with config digest"):
        rl.main(args)
    set_revision(root, "rev-A")
    stage1 = root / "fold-seed1" / "stage1" / "fold2-seed1"  # retrained with the same config: a new finish time
    s1 = runs.read_run_json(stage1)
    s1["finished"] = "2099-01-01T00:00:00"
    (stage1 / runs.RUN_JSON).write_text(json.dumps(s1))
    with pytest.raises(InputError, match="fold 2 seed 1 started from a stage-1 model with finish time.*retrained since"):
        rl.main(args)


def test_shards_and_jobs_train_the_same_runs(quick, store, tmp_path):
    groups = grid_groups([0, 1], lambda fs: [fs], [1, 2, 3])
    assert groups[:2] == [Group(0, 0, 1), Group(0, 0, 2)] and len(groups) == 6
    one, two = shard_groups(groups, 1, 2), shard_groups(groups, 2, 2)
    assert not set(one) & set(two) and set(one) | set(two) == set(groups)
    root = tmp_path / "runs"
    common = ["--quick", "--data", str(store), "--root", str(root), "--out", str(tmp_path), "--parts", "frozen"]
    assert rl.main([*common, "--shard", "1/2"]) == 0
    trained = {g for g in groups if (root / f"fold-seed{g.fold_seed}" / "stage1" / f"fold{g.fold}-seed{g.seed}").is_dir()}
    assert trained == set(one)
    assert not (tmp_path / "relation_layers_quick.csv").exists()  # a shard writes no report
    with pytest.raises(InputError, match="6 runs of the grid have not finished.*fold-seed0/frozen/gcn/fold2-seed0"):
        rl.main([*common, "--report-only"])
    assert rl.main([*common, "--shard", "2/2", "--jobs", "2"]) == 0  # 3 groups on 2 workers: the third split
    assert rl.main([*common, "--report-only", "--allow-mixed"]) == 0
    key = ["protocol", "layer", "fold", "seed", "fold_seed"]
    a = pd.read_csv(quick / "relation_layers_quick.csv").query("protocol == 'frozen'").set_index(key).sort_index()
    b = pd.read_csv(tmp_path / "relation_layers_quick.csv").set_index(key).sort_index()
    pd.testing.assert_series_equal(a.mean_f1, b.mean_f1)  # whole, shared out or split: the same runs
    members = {(r.fold_seed, r.fold): r.batch_members for r in b.reset_index().itertuples()}
    last = two[-1]  # shard 2's last group, trained as two batches of one
    assert members[(last.fold_seed, last.fold)] == 1 and members[(one[0].fold_seed, one[0].fold)] == 2
    walls = json.loads((tmp_path / "relation_layers_quick.json").read_text())["timing"]["part_walls"]["frozen"]
    assert [(w["shard"], w["jobs"], w["runs_trained"]) for w in walls] == [("1/2", 1, 6), ("2/2", 2, 6)]


@pytest.mark.parametrize("n_groups, jobs, expected", [
    (4, 2, [2, 2, 2, 2]),  # whole rounds: nothing split
    (3, 2, [2, 2, 1, 1]),  # the last group split between the two workers
    (5, 4, [2, 2, 2, 2, 1, 1]),  # no more shares than layers
    (2, 4, [1, 1, 1, 1]),  # two groups, four workers: each group in two shares
    (1, 3, [1, 1]),  # no more shares than layers
])
def test_the_last_round_is_shared_between_the_workers(n_groups, jobs, expected):
    groups = [Group(0, 0, f) for f in range(1, n_groups + 1)]
    tasks = balanced_tasks(groups, ["gcn", "none"], jobs)
    assert [len(share) for _, share in tasks] == expected
    for g in groups:  # every run of every group exactly once
        assert sorted(layer for t, share in tasks if t == g for layer in share) == ["gcn", "none"]


def test_grid_overrides_reach_every_run_and_stage1_model(store, tmp_path):
    root = tmp_path / "runs"
    assert rl.main(["--quick", "--data", str(store), "--root", str(root), "--out", str(tmp_path), "--parts", "frozen",
                    "--repetitions", "1", "--set", "data.train_subjects=1", "--set", "train.epochs_ae=2", "--jobs", "2",
                    "--allow-mixed"]) == 0
    dirs = [root / "fold-seed0" / "stage1" / "fold1-seed0", root / "fold-seed0" / "frozen" / "gcn" / "fold2-seed0"]
    for d in dirs:
        assert yaml.safe_load((d / "config.yaml").read_text())["data"]["train_subjects"] == 1
        assert len(runs.read_run_json(d)["splits"]["train_subjects"]) == 1
    # a stage-1 key lengthens the stage-1 models; the runs started from them still train no stage 1 of their own
    assert [yaml.safe_load((d / "config.yaml").read_text())["train"]["epochs_ae"] for d in dirs] == [2, 0]
    doc = json.loads((tmp_path / "relation_layers_quick.json").read_text())
    assert doc["grid_overrides"] == ["data.train_subjects=1", "train.epochs_ae=2"]
    assert ("stage-1 models included, with `--set data.train_subjects=1 --set train.epochs_ae=2`"
            in (tmp_path / "relation_layers_quick.md").read_text())
    assert (pd.read_csv(tmp_path / "relation_layers_quick.csv").n_train_subjects == 1).all()
    from benchmarks import bench_protocol as bp

    assert bp.GRID == []  # the process's later runs are untouched


@pytest.mark.parametrize("sets, message", [(["model.layer=gat"], "sets model.layer itself"),
                                           (["data.train_subjects=two"], "'data.train_subjects' must be an integer")])
def test_a_bad_grid_override_is_one_clear_error(store, tmp_path, sets, message):
    with pytest.raises(InputError, match=message):
        rl.main(["--quick", "--data", str(store), "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
                 *[a for s in sets for a in ("--set", s)]])
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


def test_a_grid_override_needs_its_own_root(store, tmp_path):
    with pytest.raises(InputError, match="give it its own --root"):
        rl.main(["--data", str(store), "--out", str(tmp_path), "--set", "data.train_subjects=1"])


def test_intensity_heads_are_scored_and_compared_like_presence(tmp_path):
    store = tmp_path / "store"
    make_store(store, intensity=True)
    root = tmp_path / "runs"
    assert rl.main(["--quick", "--data", str(store), "--root", str(root), "--out", str(tmp_path), "--parts", "frozen",
                    "--repetitions", "1", "--set", "model.task=both", "--allow-mixed"]) == 0
    rows = pd.read_csv(tmp_path / "relation_layers_quick.csv")
    for r in rows.itertuples():
        metrics = json.loads((root / f"fold-seed{r.fold_seed}" / "frozen" / r.layer / f"fold{r.fold}-seed{r.seed}"
                              / runs.TEST_METRICS).read_text())["test_intensity"]
        assert r.mean_icc == pytest.approx(metrics["mean_icc"]) and r.mean_mae == pytest.approx(metrics["mean_mae"])
        assert r.icc_AU1 == pytest.approx(metrics["icc"][0])
    doc = json.loads((tmp_path / "relation_layers_quick.json").read_text())
    gcn = next(s for s in doc["summary"]["frozen"] if s["layer"] == "gcn")
    g, n = rows[rows.layer == "gcn"].sort_values("fold"), rows[rows.layer == "none"].sort_values("fold")
    assert gcn["icc_mean"] == pytest.approx(g.mean_icc.mean())
    assert gcn["vs_none_icc"]["mean_diff"] == pytest.approx((g.mean_icc.to_numpy() - n.mean_icc.to_numpy()).mean())
    md = (tmp_path / "relation_layers_quick.md").read_text()
    assert "Intensity (frozen)" in md and "| ICC(3,1) |" in md


def test_end_to_end_layers_are_chosen_on_validation_subjects():
    rows = [{"protocol": "frozen", "layer": layer, "mean_f1": test, "val_f1_at_selected": val}
            for layer, test, val in (("gat", 0.9, 0.5), ("sage", 0.5, 0.8), ("gin", 0.6, 0.7), ("gcn", 0.7, 0.6),
                                     ("none", 0.7, 0.6))]
    # by test F1 the two others would be gat and gin; by validation F1 they are sage and gin
    assert choose_e2e_layers(rows, ["gat", "sage", "gin", "gcn", "none"], ["gcn", "none", "gat", "sage", "gin"]) == \
        ["gcn", "none", "sage", "gin"]


def test_nothing_to_compare_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="--repetitions 0 without --standard leaves no fold assignment"):
        rl.main(["--quick", "--repetitions", "0", "--out", str(tmp_path)])
    with pytest.raises(InputError, match="--seeds lists no seed"):
        rl.main(["--quick", "--seeds", ",", "--out", str(tmp_path)])
    with pytest.raises(InputError, match="unknown part 'folds'"):
        rl.main(["--quick", "--parts", "frozen,folds", "--out", str(tmp_path)])
    with pytest.raises(InputError, match="--shard takes I/N"):
        rl.main(["--quick", "--shard", "2", "--out", str(tmp_path)])
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_bad_store_is_one_clear_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "benchmarks.relation_layers", "--data", str(tmp_path / "nothing"),
                          "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2
    assert "not a prepared ROI store" in res.stderr and "Traceback" not in res.stderr


def test_unknown_layer_is_one_clear_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "benchmarks.relation_layers", "--quick", "--layers", "gcn,nope",
                          "--out", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 2 and "unknown relation layer 'nope'" in res.stderr


def test_design_points_are_trained_and_compared_like_layers(quick, store, tmp_path):
    # the quick run's root, copied: its gcn runs are the default point (skip=none) and its stage-1 models are shared
    root = tmp_path / "runs"
    shutil.copytree(quick / "runs", root)
    out = tmp_path / "out"
    assert rl.main(["--quick", "--data", str(store), "--root", str(root), "--out", str(out), "--parts", "frozen",
                    "--repetitions", "1", "--design", "skip=none,sum,concat,initial", "--allow-mixed"]) == 0
    rows, doc = load(out)
    points = {"gcn": "none", "gcn@skip=sum": "sum", "gcn@skip=concat": "concat", "gcn@skip=initial": "initial"}
    assert set(rows.layer) == set(points)
    for name, value in points.items():
        mine = rows[rows.layer == name]
        assert sorted(mine.fold) == [1, 2, 3] and set(mine.fold_seed) == {0}
        assert set(mine.design_key) == {"skip"} and set(mine.design_value) == {value}
        assert set(mine.design_layer) == {"gcn"}
        cfg = yaml.safe_load((root / "fold-seed0" / "frozen" / name / "fold1-seed0" / runs.CONFIG).read_text())
        assert cfg["model"]["skip"] == value  # each point in its own run folder, one override apart
        base = yaml.safe_load((root / "fold-seed0" / "frozen" / "gcn" / "fold1-seed0" / runs.CONFIG).read_text())
        assert {**cfg["model"], "skip": "none"} == base["model"]
        # the same protocol (train.init: the copied root's stage-1 model, where the default point's is the original)
        assert {**cfg["train"], "init": ""} == {**base["train"], "init": ""} and cfg["train"]["init"].endswith(
            "runs/fold-seed0/stage1/fold1-seed0")
    before = load(quick)[0].query("protocol == 'frozen' and layer == 'gcn' and fold_seed == 0").sort_values("fold")
    assert np.array_equal(rows[rows.layer == "gcn"].sort_values("fold").mean_f1, before.mean_f1)  # reused
    params = rows.groupby("layer").params_relation.first()
    # the quick budget's d0 = 16, hidden [8, 4]: gcn's W and b per layer, plus the skips' projections
    assert params["gcn"] == (16 * 8 + 8) + (8 * 4 + 4)
    assert params["gcn@skip=sum"] == params["gcn"] + 16 * 8 + 8 * 4  # P_0: 16 -> 8, P_1: 8 -> 4
    assert params["gcn@skip=initial"] == params["gcn"] + 16 * 8  # Q_1: h_0 (16) -> h_1's width (8)
    assert params["gcn@skip=concat"] == (16 * 8 + 8) + ((8 + 16) * 4 + 4)  # layer 1 reads [h_1 ‖ h_0]
    entries = {e["point"]: e for e in doc["design"]["summary"]["frozen"]}
    assert entries["gcn"]["default"] and entries["gcn"]["vs_default"] is None
    for name in ("gcn@skip=sum", "gcn@skip=concat", "gcn@skip=initial"):
        a = rows[rows.layer == name].sort_values("fold").mean_f1.to_numpy()
        b = rows[rows.layer == "gcn"].sort_values("fold").mean_f1.to_numpy()
        c = entries[name]["vs_default"]
        assert c["runs"] == 3 and c["mean_diff"] == pytest.approx((a - b).mean())
        assert c["p"] == pytest.approx(compare(a, b, folds=3, rope=0.01, test_train_ratio=c["ratios"][c["ratio_name"]]
                                               ["ratio"]).p)
    md = (out / "relation_layers_quick.md").read_text()
    assert "## Design: model.skip" in md and "| gcn | `none (default)` | 3 |" in md and "| gcn | `initial` | 3 |" in md


def test_crossed_stage2_designs_are_every_combination_one_override_per_moved_dimension(quick, store, tmp_path):
    # Table 4's dimensions on none: the default point is the quick run's own none, the other three are new runs
    root = tmp_path / "runs"
    shutil.copytree(quick / "runs", root)
    out = tmp_path / "out"
    assert rl.main(["--quick", "--data", str(store), "--root", str(root), "--out", str(out), "--parts", "frozen",
                    "--repetitions", "1", "--layers", "none", "--design", "loss.dice=true,false",
                    "--design", "model.global_node=true,false", "--allow-mixed"]) == 0
    rows, doc = load(out)
    points = {"none": ("true", "true"), "none@model.global_node=false": ("true", "false"),
              "none@loss.dice=false": ("false", "true"),
              "none@loss.dice=false@model.global_node=false": ("false", "false")}
    assert set(rows.layer) == set(points)
    base = yaml.safe_load((root / "fold-seed0" / "frozen" / "none" / "fold1-seed0" / runs.CONFIG).read_text())
    for name, (dice, face) in points.items():
        mine = rows[rows.layer == name]
        assert sorted(mine.fold) == [1, 2, 3]
        assert set(mine.design_key) == {"loss.dice, model.global_node"} and set(mine.design_value) == {f"{dice}, {face}"}
        cfg = yaml.safe_load((root / "fold-seed0" / "frozen" / name / "fold1-seed0" / runs.CONFIG).read_text())
        assert (cfg["loss"]["dice"], cfg["model"]["global_node"]) == (dice == "true", face == "true")
        # nothing else differs from the default point, the shared stage-1 model aside
        assert {**cfg["loss"], "dice": True} == base["loss"] and {**cfg["model"], "global_node": True} == base["model"]
        assert cfg["train"]["init"].endswith("runs/fold-seed0/stage1/fold1-seed0")
    entries = {e["point"]: e for e in doc["design"]["summary"]["frozen"]}
    assert entries["none"]["default"] and entries["none"]["vs_default"] is None
    a = rows[rows.layer == "none@loss.dice=false@model.global_node=false"].sort_values("fold").mean_f1.to_numpy()
    b = rows[rows.layer == "none"].sort_values("fold").mean_f1.to_numpy()
    assert entries["none@loss.dice=false@model.global_node=false"]["vs_default"]["mean_diff"] == pytest.approx((a - b).mean())
    md = (out / "relation_layers_quick.md").read_text()
    assert "## Design: loss.dice × model.global_node" in md and "| none | `false` | `false` | 3 |" in md


@pytest.mark.parametrize("design, layers, message", [
    ("skip=residual", "gcn", "config key 'model.skip' must be one of none, sum, concat, initial; got 'residual'"),
    ("latent=8,16", "gcn", "--design takes KEY=V1,V2 with KEY one of hidden, skip, skip_alpha, norm, dropout"),
    ("loss.lambda_recon=1,2", "gcn", "or loss.dice, loss.lambda_dice, model.global_node .stage-2 settings."),
    ("layer_options={aggr: add},{aggr: max}", "graphconv", "layer 'graphconv': aggr must be one of add, mean"),
    ("norm=layer,layer", "gcn", "gives the value layer twice"),
    ("hidden=[8],[0]", "gcn", "config key 'model.hidden' must list one or more widths >= 1"),
])
def test_a_bad_design_is_one_clear_error_before_any_work(store, tmp_path, design, layers, message):
    with pytest.raises(InputError, match=message):
        rl.main(["--quick", "--data", str(store), "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
                 "--layers", layers, "--design", design])
    assert not list(tmp_path.iterdir())


def test_design_values_are_split_outside_brackets_and_name_their_runs():
    from benchmarks.relation_layers_design import canonical, parse_design, point_name, split_point

    assert parse_design("model.hidden=[12],[30,12], [30,30,12]") == ("hidden", [[12], [30, 12], [30, 30, 12]])
    key, values = parse_design("layer_options={aggr: add},{aggr: mean}")
    assert values == [{"aggr": "add"}, {"aggr": "mean"}]
    name = point_name("graphconv", {key: canonical(values[0])})
    assert split_point(name) == ("graphconv", ['model.layer_options={"aggr":"add"}']) and "/" not in name
    assert split_point("gat") == ("gat", [])
    assert parse_design("loss.dice=true,false") == ("loss.dice", [True, False])
    crossed = point_name("none", {"loss.dice": canonical(False), "model.global_node": canonical(False)})
    assert crossed == "none@loss.dice=false@model.global_node=false"
    assert split_point(crossed) == ("none", ["loss.dice=false", "model.global_node=false"])
    assert split_point(crossed + "#lr=0.03,heads=2") == ("none", ["loss.dice=false", "model.global_node=false",
                                                                   "train.lr=0.03", "model.layer_options={heads: 2}"])
