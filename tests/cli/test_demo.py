"""The README's main job, end to end on SynthAU (real renderer, real dlib, real PyG batches)."""
import json

from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.graph.relations import RelationGraph


def test_demo_runs_every_stage(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "-o", str(out), "--workers", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "synthau-bp4d" / "synthau.json").read_text())
    frames = manifest["frames"]
    assert frames == manifest["parameters"]["subjects"] * 8 * manifest["parameters"]["frames_per_video"]
    assert f"Relation graphs fitted on {frames} SynthAU-BP4D frames" in result.output
    for name in ("bp4d_table1", "disfa_table1", "synthau_conditional", "synthau_phi"):
        RelationGraph.load(out / "graphs" / f"{name}.json")
    assert (out / "graphs" / "bp4d_table1_roi.png").stat().st_size > 10_000
    assert (out / "rois.png").read_bytes()[:4] == b"\x89PNG"
    # dlib finds most rendered faces; the rest are reported, not dropped silently
    stored = int(result.output.split("prepared ")[1].split(" of ")[0])
    assert stored >= 0.8 * frames
    assert "one batch: 64 face graphs, x (1216, 3, 25, 25)" in result.output
    # the model half: AU-GCN and none (no graph: not the paper's AU-Net) on fold 1's test subjects, side by side
    assert "AU-GCN F1" in result.output and "none (no graph) F1" in result.output and "AU-Net" not in result.output
    for layer in ("gcn", "none"):
        metrics = json.loads((out / "runs" / layer / "test_metrics.json").read_text())
        assert metrics["selected"] == "last" and metrics["epoch"] == 12
        assert metrics["test"]["mean_auc"] > 0.65  # both learn the rendered AUs (chance is 0.5)
    # a second run reuses the rendered faces and the store
    again = CliRunner().invoke(main, ["demo", "-o", str(out), "--workers", "1"], catch_exceptions=False)
    assert again.exit_code == 0 and "reusing the ROI store" in again.output
    assert again.output.count("finished already") == 2


def test_demo_output_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "f").write_text("x")
    result = CliRunner().invoke(main, ["demo", "-o", str(tmp_path / "f")])
    assert result.exit_code == 1 and "cannot make the demo output folder" in result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
