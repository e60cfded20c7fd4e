"""`augcn-pyg train --nproc 2` whose launcher alone is killed outright (the OOM killer picks one process):
the ranks end with it instead of training on for nobody."""
import sys

from process_tree import kill_and_watch, needs_proc
from test_trainer import SMALL

from augcn_pyg.engine import runs
from benchmarks.fixtures import make_store


@needs_proc
def test_ranks_end_with_their_killed_launcher(tmp_path):
    store = make_store(tmp_path / "store").path
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "augcn_pyg", "train", "--data", str(store), "-o", str(run), "--nproc", "2",
           "--epochs", "0,100000", "-q", *[a for s in SMALL for a in ("--set", s)]]
    # run.json is written once both ranks have joined the process group: a run that would go on for hours
    left = kill_and_watch(cmd, lambda: (run / runs.RUN_JSON).exists(), tmp_path / "train.log", grace=5)
    assert left == []
