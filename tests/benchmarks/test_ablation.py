"""benchmarks/ablation.py: the quick mode end to end (plumbing, not accuracy) and its relation scores."""
import json

import numpy as np
import pytest

from augcn_pyg.core.aus import get_protocol
from benchmarks import ablation, ablation_parts
from benchmarks.paired_stats import compare


def test_quick_mode_writes_every_table_test_and_drawing(tmp_path, capsys):
    assert ablation.main(["--quick", "--out", str(tmp_path), "--torch-threads", "1"]) == 0
    assert "proves nothing about accuracy" in capsys.readouterr().out
    for name in ("ablation.csv", "ablation.json", "ablation.md", "ablation.png", "threshold_sweep.csv",
                 "threshold_sweep.md", "threshold_sweep.png", "learned_relations.md", "learned_relations.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    doc = json.loads((tmp_path / "ablation.json").read_text())
    assert set(doc["parts"]) == set(ablation.PARTS)
    frozen = doc["parts"]["table-frozen"]
    assert frozen["budget"] == "quick" and frozen["machine"]["git"] is not None
    assert [(r["fold"], r["seed"]) for r in frozen["runs"]["gcn"]] == [(1, 0), (2, 0), (3, 0)]
    # the comparison is compare() of the runs it lists, in (fold, seed) order
    expected = compare([r["f1"] for r in frozen["runs"]["au-net"]], [r["f1"] for r in frozen["runs"]["gcn"]], folds=3)
    got = frozen["vs_full"]["au-net"]["f1"]
    assert got["verdict"] == expected.verdict and got["p"] == pytest.approx(expected.p)
    assert got["mean_diff"] == pytest.approx(frozen["variants"]["au-net"]["f1"] - frozen["variants"]["gcn"]["f1"])
    assert "au-net -> gcn-noF-noD" not in frozen["steps"]  # quick runs only two of the variants
    # the full model is the plain gcn run, shared with the relation-layers benchmark (no own name)
    assert (tmp_path / "runs" / "standard-folds" / "frozen" / "gcn" / "fold1-seed0" / "test_metrics.json").exists()
    assert (tmp_path / "runs" / "standard-folds" / "end-to-end" / "au-net" / "fold3-seed0").is_dir()
    sweep = doc["parts"]["sweep"]["points"]
    default = next(p for p in sweep if p["threshold"] == 1.0)
    assert default["name"] == "gcn" and default["f1"] == pytest.approx(frozen["variants"]["gcn"]["f1"])
    # a lower threshold joins at least as many AU pairs
    assert next(p for p in sweep if p["threshold"] == 0.8)["au_pairs"] >= default["au_pairs"]
    learned = doc["parts"]["learned"]
    assert "not a SynthAU store" in learned["truth_source"]
    for kind, scores in learned["scores"].items():  # the means (and sample std, ddof 1) of the per-run scores
        per_run = learned["per_run"][kind]
        assert scores["spearman"] == pytest.approx(np.nanmean([r["spearman"] for r in per_run]))
        assert scores["spearman_std"] == pytest.approx(np.nanstd([r["spearman"] for r in per_run], ddof=1), nan_ok=True)
        assert scores["precision_at_k"] == pytest.approx(np.mean([r["precision_at_k"] for r in per_run]))
    rules = doc["parts"]["rules"]
    # self-loops alone normalise to G = I: gcn then trains exactly as none does (same start, same steps)
    assert rules["rule_sets"]["self"]["f1"] == rules["none"]["f1"]
    assert rules["rule_sets"]["self"]["edges"] < rules["rule_sets"]["all (the paper's)"]["edges"]
    md = (tmp_path / "ablation.md").read_text()
    assert "| AU-Net (`au-net`) |" in md and "54.0" in md and "proves nothing" in md
    assert "Which edges cost accuracy" in md


def test_bad_input_is_one_clear_error(tmp_path, capsys):
    assert ablation.main(["--data", str(tmp_path / "missing")]) == 2
    assert "not a ROI store" in capsys.readouterr().err
    assert ablation.main(["--quick", "--out", str(tmp_path), "--parts", "table-frozen,nope"]) == 2
    assert "unknown part(s) nope" in capsys.readouterr().err


def test_au_level_averages_distinct_roi_pairs_and_ignores_the_global_node():
    p = get_protocol("bp4d")
    keep = np.arange(p.num_rois)
    rois_of = {au: [r for r, roi in enumerate(p.rois) if au in roi.aus and not roi.is_global] for au in p.aus}
    a = np.zeros((p.num_rois, p.num_rois))
    u, v = rois_of[1][0], rois_of[12][0]
    a[u, v] = 2.0  # one directed ROI edge between an AU1 ROI and an AU12 ROI
    a[p.global_index, :] = 5.0  # the whole face talks to everyone: no AU relation
    au = ablation_parts.au_level(a, p, keep)
    i, j = p.aus.index(1), p.aus.index(12)
    pairs = len(rois_of[1]) * len(rois_of[12])
    assert au[i, j] == pytest.approx(1.0 / pairs) and au[j, i] == pytest.approx(au[i, j])
    # and nothing else: only the AU pairs those two ROIs hold (the lip corner's ROI also holds AU14, AU15)
    expected = {(p.aus.index(a), p.aus.index(b)) for a in p.rois[u].aus for b in p.rois[v].aus}
    expected |= {(b, a) for a, b in expected}
    assert set(zip(*np.nonzero(au))) == expected


def test_relation_scores_rank_and_precision():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(6, 6))
    truth = truth + truth.T
    edges = truth > 0.5
    perfect = ablation_parts.relation_scores(truth * 3 + 1, truth, edges, edges)
    assert perfect["spearman"] == pytest.approx(1.0) and perfect["precision_at_k"] == 1.0
    reverse = ablation_parts.relation_scores(-truth, truth, edges, edges)
    assert reverse["spearman"] == pytest.approx(-1.0) and reverse["precision_at_k"] < 1.0
