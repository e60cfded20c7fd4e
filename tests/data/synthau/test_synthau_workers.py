"""`augcn-pyg synth --workers 2` killed outright: the workers stop rendering with it."""
import sys

from process_tree import kill_and_watch, needs_proc


@needs_proc
def test_killed_synth_leaves_no_workers(tmp_path):
    out = tmp_path / "synth"
    cmd = [sys.executable, "-m", "augcn_pyg", "synth", "-o", str(out), "--subjects", "2", "--frames-per-video", "3000",
           "--image-size", "64", "--workers", "2", "-q"]
    # killed once both workers render (a video each, of minutes; without the fix they would finish it for nobody)
    left = kill_and_watch(cmd, lambda: len({p.parent for p in out.rglob("*.jpg")}) >= 2, tmp_path / "synth.log",
                          grace=5)
    assert left == []
