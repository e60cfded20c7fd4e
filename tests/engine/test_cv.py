import json

import numpy as np
import pytest
from click.testing import CliRunner
from test_trainer import SMALL

from augcn_pyg.cli import main
from augcn_pyg.engine import runs
from benchmarks.fixtures import make_store


def test_cv_runs_every_fold_and_seed_and_resumes(tmp_path):
    store = make_store(tmp_path / "store").path
    args = ["cv", "--data", str(store), "--layer", "none", "-o", str(tmp_path / "cv"), "--seeds", "0,1",
            "--epochs", "0,1", "-q", *[a for s in SMALL for a in ("--set", s)]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    cv = tmp_path / "cv"
    names = sorted(p.name for p in cv.iterdir() if p.is_dir())
    assert names == [f"fold{f}-seed{s}" for f in (1, 2, 3) for s in (0, 1)]
    summary = json.loads((cv / "summary.json").read_text())
    assert len(summary["runs"]) == 6 and (cv / "summary.csv").is_file() and (cv / "f1.png").stat().st_size > 0
    per_run = [json.loads((cv / n / runs.TEST_METRICS).read_text())["test"]["mean_f1"] for n in names]
    assert summary["f1"]["avg"] == pytest.approx(np.mean(per_run))
    assert summary["f1_std"]["avg"] == pytest.approx(np.std(per_run, ddof=1))
    assert "avg" in result.output and "±" in result.output
    stamp = (cv / "fold2-seed1" / runs.MODEL).stat().st_mtime_ns
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and again.output.count("finished already") == 6
    assert (cv / "fold2-seed1" / runs.MODEL).stat().st_mtime_ns == stamp


def test_cv_jobs_train_the_same_runs_side_by_side(tmp_path):
    store = make_store(tmp_path / "store").path
    common = ["cv", "--data", str(store), "--layer", "gcn", "--epochs", "1,1", "-q",
              *[a for s in SMALL for a in ("--set", s)]]
    one = CliRunner().invoke(main, [*common, "-o", str(tmp_path / "one")])
    two = CliRunner().invoke(main, [*common, "-o", str(tmp_path / "two"), "--jobs", "2"])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    assert two.output.count("test average F1") == 3  # one line per run as it finishes
    for fold in (1, 2, 3):
        a, b = (json.loads((tmp_path / k / f"fold{fold}-seed0" / runs.TEST_METRICS).read_text()) for k in ("one", "two"))
        assert a["test"] == b["test"]  # one thread each way: the same run, bit for bit
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["jobs"] == 2


@pytest.mark.parametrize("option, value, message", [
    ("--folds", "1,4", "--folds: 4 is out of range"),
    ("--seeds", "-1", "--seeds: -1 is out of range"),
    ("--seeds", "a", "comma-separated integers"),
    ("--layer", "gcnx", "choose from"),
])
def test_bad_cv_options(tmp_path, option, value, message):
    result = CliRunner().invoke(main, ["cv", "--data", str(tmp_path), "-o", str(tmp_path / "cv"), option, value])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "cv").exists()
