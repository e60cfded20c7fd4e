"""`augcn-pyg cv --jobs 2` killed outright (SIGKILL: a scheduler's time limit, the OOM killer): its training
workers end with it instead of training on for nobody."""
import sys

from process_tree import kill_and_watch, needs_proc
from test_trainer import SMALL

from benchmarks.fixtures import make_store


@needs_proc
def test_killed_cv_leaves_no_workers(tmp_path):
    store = make_store(tmp_path / "store").path
    out = tmp_path / "cv"
    cmd = [sys.executable, "-m", "augcn_pyg", "cv", "--data", str(store), "--layer", "gcn", "-o", str(out),
           "--jobs", "2", "--epochs", "0,100000", "-q", *[a for s in SMALL for a in ("--set", s)]]
    # killed once both workers have started their runs, which would go on for hours
    left = kill_and_watch(cmd, lambda: len(list(out.glob("*/run.json"))) >= 2, tmp_path / "cv.log", grace=5)
    assert left == []
