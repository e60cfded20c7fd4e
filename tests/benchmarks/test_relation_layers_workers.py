"""`python -m benchmarks.relation_layers --jobs 2` killed outright (a scheduler's limit, the OOM killer): its
workers end with it instead of staying alive and idle for good. The same run checks that ``--tensorboard``
reaches the workers: each run they start logs in its own folder, where ``tensorboard --logdir ROOT`` finds it."""
import importlib.util
import sys

from process_tree import kill_and_watch, needs_proc

from benchmarks.fixtures import make_store

HAVE_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


@needs_proc
def test_killed_comparison_leaves_no_workers(tmp_path):
    make_store(tmp_path / "store")
    root = tmp_path / "runs"
    cmd = [sys.executable, "-m", "benchmarks.relation_layers", "--quick", "--data", str(tmp_path / "store"),
           "--root", str(root), "--out", str(tmp_path / "out"), "--jobs", "2", *["--tensorboard"] * HAVE_TENSORBOARD]
    started = "tensorboard/events.out.tfevents.*" if HAVE_TENSORBOARD else "run.json"

    # killed once both workers have started training (each a stage-1 model of its own fold)
    left = kill_and_watch(cmd, lambda: len(list(root.rglob(started))) >= 2, tmp_path / "bench.log", grace=5)
    assert left == []
    if HAVE_TENSORBOARD:
        from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

        logs = sorted(str(p.parent.relative_to(root)) for p in root.rglob("tensorboard/events.out.tfevents.*"))
        assert len(logs) >= 2 and sorted(EventMultiplexer().AddRunsFromDirectory(str(root)).Runs()) == logs
