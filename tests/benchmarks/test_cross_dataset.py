"""benchmarks.cross_dataset: F1 from per-subject counts, the two-way bootstrap, and a whole run of it on two
quick comparisons (a bp4d and a disfa store with intensities) scored on each other's store."""
import json
import shutil

import numpy as np
import pytest

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.metrics import au_scores
from benchmarks import cross_dataset as cd
from benchmarks import relation_layers as rl
from benchmarks.fixtures import make_store

LAYERS = "local,none,gcn"


def test_counts_give_the_f1_of_au_scores():
    rng = np.random.default_rng(0)
    probs = rng.random((60, 3))
    labels = (rng.random((60, 3)) < 0.4).astype(float)
    labels[5, 1] = np.nan  # unknown: counted nowhere
    subjects = np.repeat(["S1", "S2", "S3"], 20)
    counts = cd.subject_counts(probs, labels, subjects, ["S1", "S2", "S3"])
    assert counts.shape == (3, 3, 3)
    assert cd.f1_of_counts(counts) == pytest.approx(au_scores(probs, labels).mean_f1)
    assert cd.f1_of_counts(counts[:1]) == pytest.approx(au_scores(probs[:20], labels[:20]).mean_f1)


def test_bootstrap_tells_a_clear_gap_and_not_a_tie():
    rng = np.random.default_rng(1)
    base = rng.integers(5, 15, size=(6, 10, 2, 3))  # (runs, subjects, AUs, tp/fp/fn)
    better = base.copy()
    better[..., 0] += 10  # more true positives everywhere
    gap = cd.bootstrap_difference(better, base, draws=300)
    assert gap["verdict"] == "better" and gap["low"] > 0 and gap["mean"] > cd.ROPE
    assert cd.bootstrap_difference(base, better, draws=300)["verdict"] == "worse"
    tie = cd.bootstrap_difference(base, base, draws=300)
    assert tie["mean"] == 0 and tie["verdict"] == "unsure"


@pytest.fixture(scope="module")
def comparisons(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cross")
    for protocol in ("bp4d", "disfa"):
        store = make_store(tmp / f"store_{protocol}", protocol, per_subject=16, subjects_per_part=2, intensity=True)
        out = tmp / f"out_{protocol}"
        assert rl.main(["--quick", "--data", str(store.path), "--root", str(tmp / f"runs_{protocol}"),
                        "--out", str(out), "--parts", "frozen", "--layers", LAYERS, "--repetitions", "1",
                        "--set", "model.task=both", "--allow-mixed"]) == 0
        # a quick comparison names its results "quick"; this benchmark looks them up by store name
        shutil.copy(out / "relation_layers_quick.csv", tmp / f"relation_layers_store_{protocol}.csv")
    return tmp


def test_both_directions_are_scored_and_resume_from_the_cache(comparisons, capsys):
    tmp = comparisons
    args = ["--a", str(tmp / "store_bp4d"), "--a-root", str(tmp / "runs_bp4d"), "--b", str(tmp / "store_disfa"),
            "--b-root", str(tmp / "runs_disfa"), "--layers", LAYERS, "--results", str(tmp), "--out", str(tmp)]
    assert cd.main(args) == 0
    doc = json.loads((tmp / "cross_dataset_store_bp4d_store_disfa.json").read_text())
    there, back = doc["directions"]
    assert (there["model_protocol"], there["store_protocol"]) == ("bp4d", "disfa")
    assert (back["model_protocol"], back["store_protocol"]) == ("disfa", "bp4d")
    assert there["mapping"]["aus"] == [1, 2, 4, 6, 12] and "AU25" in there["mapping"]["left_out"]
    for d in (there, back):
        assert len(d["runs"]) == 3 * 3  # three layers x three folds of one assignment
        for r in d["runs"]:
            assert 0 <= r["cross"]["f1"] <= 1 and r["cross"]["icc"] is not None and r["own"]["f1"] is not None
            assert len(r["config_digest"]) == 64 and r["git"] and r["run"].startswith("fold-seed0/frozen/")
        layers = [s["layer"] for s in d["summary"]]
        assert layers == ["local", "none", "gcn"]
        assert "vs_none" in d["summary"][2] and "vs_none" not in d["summary"][1]
    md = (tmp / "cross_dataset_store_bp4d_store_disfa.md").read_text()
    assert "store_bp4d → store_disfa" in md and "store_disfa → store_bp4d" in md and "| gcn |" in md
    # a second call scores nothing again: every run is in its root's cache
    capsys.readouterr()
    assert cd.main(args) == 0
    assert "F1 " not in capsys.readouterr().out.split("# Across datasets")[0]
    cached = json.loads((tmp / "runs_bp4d" / "cross_dataset_store_disfa.json").read_text())
    assert len(cached) == 9


def test_a_wrong_run_root_is_one_clear_error(comparisons):
    tmp = comparisons
    with pytest.raises(InputError, match="no run there"):
        cd.main(["--a", str(tmp / "store_bp4d"), "--a-root", str(tmp / "nowhere"), "--b", str(tmp / "store_disfa"),
                 "--b-root", str(tmp / "runs_disfa"), "--layers", LAYERS, "--results", str(tmp), "--out", str(tmp)])
