"""relation_layers.py --budget: an equal number of seeded trials per layer and design point, chosen in each fold
by validation F1 only; the reported test score is the chosen trial's; a rerun reuses the finished trials.

A tiny store and a 3-epoch budget: it checks the plumbing, not which configuration is better. Every assertion
recomputes what it checks from the run folders."""
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import runs
from benchmarks import relation_layers as rl
from benchmarks.fixtures import make_store
from benchmarks.relation_layers_budget import Budget, parse_space, split_trial, trial_name, trial_values
from benchmarks.relation_layers_design import split_point

POINTS = ("gcn", "gcn@skip=sum")


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """--quick --budget 2 on gcn's skip=none,sum design points, frozen part, one fold assignment."""
    base = tmp_path_factory.mktemp("budget")
    make_store(base / "store")
    args = ["--quick", "--data", str(base / "store"), "--root", str(base / "runs"), "--out", str(base / "out"),
            "--parts", "frozen", "--repetitions", "1", "--design", "skip=none,sum", "--budget", "2", "--allow-mixed"]
    assert rl.main(args) == 0
    return base, args


def run_dir(root: Path, name: str, fold: int) -> Path:
    return root / "fold-seed0" / "frozen" / name / f"fold{fold}-seed0"


def metrics(root: Path, name: str, fold: int) -> dict:
    return json.loads((run_dir(root, name, fold) / runs.TEST_METRICS).read_text())


def trials_of(root: Path) -> dict[str, list[str]]:
    """The trial run folders under the frozen part, by design point."""
    out = {}
    for path in sorted((root / "fold-seed0" / "frozen").iterdir()):
        if path.is_dir():
            out.setdefault(split_trial(path.name)[0], []).append(path.name)
    return out


def test_every_design_point_gets_the_same_trials(tuned):
    base, _ = tuned
    trials = trials_of(base / "runs")
    assert set(trials) == set(POINTS)
    assert {p: len(t) for p, t in trials.items()} == {p: 2 for p in POINTS}  # (a) the same budget for each
    for point, names in trials.items():
        for name in names:
            assert sorted(p.name for p in (base / "runs" / "fold-seed0" / "frozen" / name).iterdir()
                          if p.is_dir()) == ["fold1-seed0", "fold2-seed0", "fold3-seed0"]
    # the same draw of the common dimensions for both points (common random numbers), as trained
    draws = {p: split_trial(next(n for n in t if "#" in n))[1] for p, t in trials.items()}
    assert draws["gcn"] == draws["gcn@skip=sum"] and set(draws["gcn"]) == {"lr", "weight_decay", "dropout"}
    cfg = yaml.safe_load((run_dir(base / "runs", trial_name("gcn@skip=sum", draws["gcn"]), 1) / runs.CONFIG).read_text())
    assert cfg["train"]["lr"] == draws["gcn"]["lr"] and cfg["model"]["dropout"] == draws["gcn"]["dropout"]
    assert cfg["train"]["weight_decay"] == draws["gcn"]["weight_decay"] and cfg["model"]["skip"] == "sum"
    trials_csv = pd.read_csv(base / "out" / "relation_layers_quick_trials.csv")
    assert trials_csv.groupby(["point", "fold"]).trial.nunique().eq(2).all()
    assert not any(c.startswith("mean_f1") or c.startswith("test") for c in trials_csv.columns)  # no test score
    md = (base / "out" / "relation_layers_quick.md").read_text()
    assert "**The frozen part, an equal budget:**" in md and "**Selection used validation subjects only**" in md


def check_selection(root: Path, out: Path) -> pd.DataFrame:
    """(b) and (c): each fold's chosen trial is the argmax of validation F1 read from the run folders, and
    the reported test score is that run's."""
    rows = pd.read_csv(out / "relation_layers_quick.csv")
    trials = trials_of(root)
    for point in POINTS:
        for fold in (1, 2, 3):
            val = {n: metrics(root, n, fold)["val_f1_at_selected"] for n in trials[point]}
            order = [point] + [n for n in trials[point] if n != point]  # trial 0 wins a tie
            best = max(order, key=lambda n: (val[n], -order.index(n)))
            row = rows[(rows.layer == point) & (rows.fold == fold)]
            assert len(row) == 1 and row.trial_name.iloc[0] == best
            assert row.mean_f1.iloc[0] == pytest.approx(metrics(root, best, fold)["test"]["mean_f1"])
            assert row.val_f1_at_selected.iloc[0] == pytest.approx(val[best])
    return rows


def test_selection_follows_validation_not_test(tuned, tmp_path):
    base, args = tuned
    check_selection(base / "runs", base / "out")
    # make validation and test disagree in every fold: the trial with the lower test F1 gets the higher
    # validation F1; the report must follow validation (and report that trial's test F1)
    root = tmp_path / "runs"
    shutil.copytree(base / "runs", root)
    trials = trials_of(root)
    for point in POINTS:
        for fold in (1, 2, 3):
            names = sorted(trials[point], key=lambda n: metrics(root, n, fold)["test"]["mean_f1"])
            worst, best = names[0], names[-1]
            for name, val in ((worst, 0.9), (best, 0.1)):
                path = run_dir(root, name, fold) / runs.TEST_METRICS
                doc = json.loads(path.read_text())
                doc["val_f1_at_selected"] = val
                path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    report = [a for a in args if a != "--allow-mixed"]
    report[report.index("--root") + 1], report[report.index("--out") + 1] = str(root), str(out)
    assert rl.main([*report, "--report-only", "--allow-mixed"]) == 0
    rows = check_selection(root, out)
    differ = 0
    for point in POINTS:
        for fold in (1, 2, 3):
            chosen = rows[(rows.layer == point) & (rows.fold == fold)].iloc[0]
            tests = {n: metrics(root, n, fold)["test"]["mean_f1"] for n in trials[point]}
            if len(set(tests.values())) > 1:  # the orders differ: validation chose the lower test F1
                assert chosen.mean_f1 == pytest.approx(min(tests.values()))
                differ += 1
    assert differ >= 3  # the construct made validation and test disagree (not a vacuous check)
    # the paired statistics are over the chosen runs only
    doc = json.loads((out / "relation_layers_quick.json").read_text())
    entry = next(e for e in doc["design"]["summary"]["frozen"] if e["point"] == "gcn@skip=sum")
    a = rows[rows.layer == "gcn@skip=sum"].sort_values("fold").mean_f1.to_numpy()
    b = rows[rows.layer == "gcn"].sort_values("fold").mean_f1.to_numpy()
    assert entry["vs_default"]["mean_diff"] == pytest.approx((a - b).mean()) and entry["runs"] == 3
    assert {w["point"]: w["of"] for w in doc["tuning"]["wins"]} == {p: 3 for p in POINTS}
    assert sum(w["chosen"] for w in doc["tuning"]["wins"]) == 6


def test_a_rerun_reuses_the_finished_trials(tuned):
    base, args = tuned
    stamps = {p: p.stat().st_mtime_ns for p in (base / "runs").rglob(runs.TEST_METRICS)}
    walls = json.loads((base / "runs" / "frozen_part_wall.json").read_text())
    assert rl.main(args) == 0
    assert {p: p.stat().st_mtime_ns for p in (base / "runs").rglob(runs.TEST_METRICS)} == stamps
    assert json.loads((base / "runs" / "frozen_part_wall.json").read_text()) == walls  # nothing trained


def test_trials_are_seeded_and_layer_options_only_where_a_layer_takes_them():
    space = parse_space("lr=0.01:0.2:log,weight_decay=0:1e-3,dropout=0:0.5,heads=1|2|4,steps=1|2|3")
    a, b = Budget(4, space, seed=0), Budget(4, space, seed=0)
    assert a.expand(["gcn", "gat"]) == b.expand(["gcn", "gat"])  # a rerun draws the same trials
    assert Budget(3, space).names("gcn") == a.names("gcn")[:3]  # a longer budget keeps the shorter one's
    assert Budget(4, space, seed=1).names("gcn") != a.names("gcn")
    gcn, gat, ggnn = (trial_values(space, layer, 1, 0) for layer in ("gcn", "gat", "ggnn"))
    assert set(gcn) == {"lr", "weight_decay", "dropout"} and set(gat) == set(gcn) | {"heads"}
    assert set(ggnn) == set(gcn) | {"steps"}
    assert {k: gat[k] for k in gcn} == gcn  # common random numbers
    for k in range(1, 50):
        v = trial_values(space, "gat", k, 0)
        assert 0.01 <= v["lr"] <= 0.2 and 0 <= v["weight_decay"] <= 1e-3 and v["heads"] in (1, 2, 4)
    name = trial_name("gat@layer_options={\"heads\":1}", {"lr": 0.03, "heads": 2})
    assert split_point(name) == ("gat", ["train.lr=0.03", "model.layer_options={heads: 2}"])
    assert split_point("gcn@skip=sum#dropout=0.1") == ("gcn", ["model.skip=sum", "model.dropout=0.1"])
    fixed = Budget(2, space, fixed=frozenset({"dropout"}))
    assert "dropout" not in split_trial(fixed.names("gcn@dropout=0.5")[1])[1]  # the design's dimension


@pytest.mark.parametrize("argv, message", [
    (["--budget", "0"], "--budget must be 1 or more"),
    (["--budget", "2", "--budget-space", "lr=0.2:0.01"], "LOW < HIGH"),
    (["--budget", "2", "--budget-space", "lr=0:0.1:log"], "LOW > 0 for log"),
    (["--budget", "2", "--budget-space", "lr"], "expected NAME=LOW:HIGH"),
    (["--budget-space", "lr=0.01:0.1"], "tunes nothing"),
    (["--budget", "2", "--layers", "gat", "--budget-space", "lr=0.01:0.1,heads=0"],
     r"run 'gat#lr=.*,heads=0'.*heads must be"),
])
def test_a_bad_budget_is_one_clear_error(tmp_path, argv, message):
    with pytest.raises(InputError, match=message):
        rl.main(["--quick", "--out", str(tmp_path / "out"), *argv])
    assert not list(tmp_path.iterdir())


def test_trials_not_chosen_are_held_to_the_provenance_rules(tuned, tmp_path):
    base, args = tuned
    root = tmp_path / "runs"
    shutil.copytree(base / "runs", root)
    for path in root.rglob(runs.RUN_JSON):  # one revision everywhere, then one trial that was not chosen apart
        doc = json.loads(path.read_text())
        doc["git"], doc["git_resumed"] = "rev-A", []
        if doc.get("init"):
            doc["init"]["git"] = "rev-A"
        path.write_text(json.dumps(doc))
    report = [a for a in args if a != "--allow-mixed"]
    report[report.index("--root") + 1], report[report.index("--out") + 1] = str(root), str(tmp_path / "out")
    assert rl.main([*report, "--report-only"]) == 0
    rows = pd.read_csv(tmp_path / "out" / "relation_layers_quick.csv")
    chosen = rows[(rows.layer == "gcn") & (rows.fold == 2)].trial_name.iloc[0]
    other = next(n for n in trials_of(root)["gcn"] if n != chosen)
    doc = runs.read_run_json(run_dir(root, other, 2))
    doc["git"] = "rev-B"
    (run_dir(root, other, 2) / runs.RUN_JSON).write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"2 revisions.*by rev-B: frozen/gcn.* \(trial not chosen\) fold-seed 0 fold 2"):
        rl.main([*report, "--report-only"])


def test_shards_share_the_trials_and_report_the_same_choice(tuned, tmp_path):
    base, args = tuned
    common = [a for a in args if a != "--allow-mixed"]
    common[common.index("--root") + 1], common[common.index("--out") + 1] = str(tmp_path / "runs"), str(tmp_path)
    assert rl.main([*common, "--shard", "1/2"]) == 0
    assert not (tmp_path / "relation_layers_quick.csv").exists()  # a shard writes no report
    with pytest.raises(InputError, match="runs of the grid have not finished.*#lr="):
        rl.main([*common, "--report-only"])  # the other shard's trials are missing
    assert rl.main([*common, "--shard", "2/2", "--jobs", "2"]) == 0  # workers train trials by their run names
    assert rl.main([*common, "--report-only", "--allow-mixed"]) == 0
    key = ["layer", "fold"]
    a = pd.read_csv(base / "out" / "relation_layers_quick.csv").set_index(key).sort_index()
    b = pd.read_csv(tmp_path / "relation_layers_quick.csv").set_index(key).sort_index()
    assert list(a.index) == list(b.index) and (b.trials == 2).all()
    pd.testing.assert_series_equal(a.trial_name, b.trial_name)  # training is deterministic here: the same choice
    pd.testing.assert_series_equal(a.mean_f1, b.mean_f1)
    # retrained runs of the same configs: the same trial names; the choice follows each root's validation F1
    assert set(trials_of(tmp_path / "runs")) == set(trials_of(base / "runs"))
    check_selection(tmp_path / "runs", tmp_path)


def test_the_end_to_end_part_is_not_tuned(tuned, tmp_path):
    base, _ = tuned
    assert rl.main(["--quick", "--data", str(base / "store"), "--root", str(tmp_path / "runs"), "--out", str(tmp_path),
                    "--repetitions", "1", "--budget", "2", "--allow-mixed"]) == 0
    rows = pd.read_csv(tmp_path / "relation_layers_quick.csv")
    frozen, e2e = rows[rows.protocol == "frozen"], rows[rows.protocol == "end-to-end"]
    assert (frozen.trials == 2).all() and e2e.trial_name.isna().all() and len(e2e) == 6
    assert sorted((tmp_path / "runs" / "fold-seed0" / "end-to-end").iterdir()) == [
        tmp_path / "runs" / "fold-seed0" / "end-to-end" / layer for layer in ("gcn", "none")]  # no trial runs
    for r in frozen[frozen.trial == 0].itertuples():  # trial 0 reports the values it trained with (the config's)
        cfg = yaml.safe_load((run_dir(tmp_path / "runs", r.layer, r.fold) / runs.CONFIG).read_text())
        assert (r.tuned_lr, r.tuned_dropout) == (cfg["train"]["lr"], cfg["model"]["dropout"])
    assert "The end-to-end part is not tuned" in (tmp_path / "relation_layers_quick.md").read_text()


def test_e2e_budget_tunes_the_end_to_end_part_alike(tuned, tmp_path):
    """--e2e-budget 2: each end-to-end layer gets the frozen part's first 2 trials (the same draws), and each fold
    keeps the one with the better validation F1; its test score is the one reported."""
    base, _ = tuned
    root = tmp_path / "runs"
    assert rl.main(["--quick", "--data", str(base / "store"), "--root", str(root), "--out", str(tmp_path),
                    "--parts", "end-to-end", "--e2e-layers", "gcn,none", "--repetitions", "1", "--e2e-budget", "2",
                    "--allow-mixed"]) == 0
    part = root / "fold-seed0" / "end-to-end"
    space = parse_space(None)
    for layer in ("gcn", "none"):  # trial 0 as given, trial 1 the draw every frozen point gets as its trial 1
        assert sorted(p.name for p in part.iterdir() if split_trial(p.name)[0] == layer) == sorted(
            [layer, trial_name(layer, trial_values(space, layer, 1, 0))])
    rows = pd.read_csv(tmp_path / "relation_layers_quick.csv")
    assert set(rows.protocol) == {"end-to-end"} and len(rows) == 6 and (rows.trials == 2).all()
    for r in rows.itertuples():
        got = {}
        for name in (p.name for p in part.iterdir() if split_trial(p.name)[0] == r.layer):
            m = json.loads((part / name / f"fold{r.fold}-seed0" / runs.TEST_METRICS).read_text())
            got[name] = (m["val_f1_at_selected"], m["test"]["mean_f1"])
        best = max(got, key=lambda n: (got[n][0], n == r.layer))  # a tie goes to trial 0
        assert r.trial_name == best and r.mean_f1 == pytest.approx(got[best][1])
    trials_csv = pd.read_csv(tmp_path / "relation_layers_quick_trials.csv")
    assert set(trials_csv.protocol) == {"end-to-end"} and trials_csv.selected.sum() == 6
    md = (tmp_path / "relation_layers_quick.md").read_text()
    assert "**The end-to-end part, an equal budget:** every layer and design point had the same 2 trials" in md
    with pytest.raises(InputError, match="--e2e-budget must be 1 or more"):
        rl.main(["--quick", "--e2e-budget", "0"])
