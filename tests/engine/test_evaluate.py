"""evaluate (and benchmarks/plot_run.py) score a run on the test part of its *own* fold assignment."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.data.splits import run_splits
from augcn_pyg.engine.evaluate import evaluate_run
from augcn_pyg.engine.models import open_store
from benchmarks.fixtures import train_tiny_run


@pytest.fixture(scope="module")
def random_fold_run(tmp_path_factory):
    """A tiny run trained on fold 2 of the random subject-exclusive assignment with fold seed 1 (on this
    store, fold 2's test part there shares one subject with the standard fold 2's, and misses one)."""
    return train_tiny_run(tmp_path_factory.mktemp("ev"), ["--fold", "2", "--set", "data.fold_seed=1"])


def test_evaluate_uses_the_runs_fold_seed(random_fold_run):
    run = random_fold_run
    splits = json.loads((run / "run.json").read_text())["splits"]
    store = open_store(str(run.parent / "store"))
    standard = run_splits(store, 2).test_subjects
    # the check means something: the standard fold's test subjects are partly this run's training subjects
    assert set(standard) & set(splits["train_subjects"])
    result = CliRunner().invoke(main, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output
    doc = json.loads((run / "evaluation.json").read_text())
    assert doc["fold_seed"] == 1 and doc["test_subjects"] == splits["test_subjects"]
    # the same faces as the test score written when the run finished, so the same numbers
    recorded = json.loads((run / "test_metrics.json").read_text())["test"]
    assert doc["test"]["mean_f1"] == pytest.approx(recorded["mean_f1"])
    assert evaluate_run(run).mean_auc == pytest.approx(recorded["mean_auc"])


def test_plot_run_shows_test_faces_of_the_runs_fold_seed(random_fold_run):
    from benchmarks.plot_run import shown_faces

    splits = json.loads((random_fold_run / "run.json").read_text())["splits"]
    _, cfg, store, rows = shown_faces(random_fold_run, 3)
    assert cfg.data.fold_seed == 1 and len(rows) > 0
    assert set(np.asarray(store.subject)[rows].astype(str)) <= set(splits["test_subjects"])
    np.testing.assert_array_equal(rows, run_splits(store, 2, fold_seed=1).test_rows[::97][:3])
    assert not np.array_equal(rows, run_splits(store, 2).test_rows[::97][:3])  # the standard fold's would differ
