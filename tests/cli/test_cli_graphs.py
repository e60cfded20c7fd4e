"""The graph commands through click's CliRunner: outputs, summaries and every bad input."""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from augcn_pyg import __version__
from augcn_pyg.cli import main
from augcn_pyg.core.aus import BP4D
from augcn_pyg.graph.relations import RelationBuilder, RelationGraph

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_user_error(result, *fragments):
    """One clear line on stderr/stdout, non-zero exit, no traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def write_bp4d_occ(folder: Path, rows_by_video: dict[str, list[list[int]]], aus=BP4D.aus) -> Path:
    """A BP4D-style AU_OCC folder: one CSV per subject/task, frame column then one column per AU."""
    folder.mkdir(parents=True, exist_ok=True)
    for video, rows in rows_by_video.items():
        lines = [",".join(["0"] + [str(a) for a in aus])]
        lines += [",".join([str(2440 + k)] + [str(v) for v in row]) for k, row in enumerate(rows)]
        (folder / f"{video}.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output


@pytest.mark.parametrize("protocol, rois", [("bp4d", 19), ("disfa", 14)])
def test_build_graph_without_labels_reproduces_the_table1_file(tmp_path, protocol, rois):
    out = tmp_path / "x.json"
    result = run("build-graph", "--protocol", protocol, "-o", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == json.loads((GRAPHS / f"{protocol}_table1.json").read_text())
    assert f"{rois} ROI nodes" in result.output


def test_build_graph_on_a_bp4d_folder_gives_the_hand_computed_graph(tmp_path):
    # AU1 (col 0) and AU2 (col 1) always together; AU4 (col 2) with AU1 in 1 of 4 frames; AU6 9 = unknown.
    rows = [[1, 1, 0, 9] + [0] * 8, [1, 1, 0, 0] + [0] * 8, [1, 1, 1, 0] + [0] * 8, [1, 1, 0, 1] + [0] * 8,
            [0, 0, 1, 0] + [1] * 8]
    folder = write_bp4d_occ(tmp_path / "AU_OCC", {"F001_T1": rows[:3], "M002_T2": rows[3:]})
    out = tmp_path / "g.json"
    result = run("build-graph", "--labels", folder, "--threshold", "0.6", "-o", out, "--plot", tmp_path / "g.svg")
    assert result.exit_code == 0, result.output
    graph = RelationGraph.load(out)
    adj = np.asarray(graph.au_adjacency, dtype=bool)
    # by hand: P(2|1) = P(1|2) = 1 -> 2; P(4|1) = 1/4, P(1|4) = 1/2 -> 0.75;
    # AU6 is unknown in the first frame, so AU1-AU6 uses the other four: P(6|1) = 1/3, P(1|6) = 1 -> 1.33
    assert adj[0, 1] and adj[0, 2] and adj[0, 3]
    assert not adj[1, 4]  # AU2-AU7: AU7 only in the last frame, without AU2 -> 0
    assert graph.stats["score"][0][2] == pytest.approx(0.75)
    assert graph.stats["score"][0][3] == pytest.approx(1 / 3 + 1)
    expected = RelationBuilder("bp4d", threshold=0.6).fit(
        np.array(rows, dtype=float)).graph_
    np.testing.assert_array_equal(graph.edge_index, expected.edge_index)
    assert (tmp_path / "g.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    assert "independence alone gives this edge" in result.output


def test_graph_info_and_plot_graph(tmp_path):
    result = run("graph-info", GRAPHS / "bp4d_table1.json")
    assert result.exit_code == 0, result.output
    assert "19 ROI nodes" in result.output and "cooccurrence" in result.output and "density" in result.output
    assert "inner_brow_left" in result.output
    for level in ("au", "roi", "heatmap"):
        out = tmp_path / f"{level}.png"
        result = run("plot-graph", GRAPHS / "disfa_table1.json", "-o", out, "--level", level)
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- bad input: one line, non-zero exit, nothing written ----------------------------------------

def test_missing_labels_path(tmp_path):
    out = tmp_path / "g.json"
    result = run("build-graph", "--labels", tmp_path / "nope", "-o", out)
    assert_user_error(result, str(tmp_path / "nope"))
    assert not out.exists()


def test_unknown_label_format(tmp_path):
    folder = write_bp4d_occ(tmp_path / "AU_OCC", {"F001_T1": [[1] * 12]})
    result = run("build-graph", "--labels", folder, "--format", "xml", "-o", tmp_path / "g.json")
    assert_user_error(result, "xml")
    assert not (tmp_path / "g.json").exists()


def test_label_columns_that_do_not_match_the_protocol(tmp_path):
    folder = write_bp4d_occ(tmp_path / "AU_OCC", {"F001_T1": [[1, 0, 1]]}, aus=(1, 2, 4))
    result = run("build-graph", "--labels", folder, "--threshold", "0.5", "-o", tmp_path / "g.json")
    assert_user_error(result, "no label column", "6, 7, 10")
    assert not (tmp_path / "g.json").exists()


def test_empty_label_set(tmp_path):
    folder = write_bp4d_occ(tmp_path / "AU_OCC", {"F001_T1": []})
    result = run("build-graph", "--labels", folder, "-o", tmp_path / "g.json")
    assert_user_error(result)
    assert not (tmp_path / "g.json").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--threshold", "2.5"], "outside the range"),
    (["--threshold", "1.5", "--symmetrize", "mean"], "[0, 1]"),
    (["--threshold", "0.5", "--measure", "phi", "--rules", "self,friends"], "unknown rule"),
])
def test_bad_builder_options(tmp_path, args, fragment):
    folder = write_bp4d_occ(tmp_path / "AU_OCC", {"F001_T1": [[1] * 12, [0] * 12]})
    out = tmp_path / "g.json"
    result = run("build-graph", "--labels", folder, *args, "-o", out, "--plot", tmp_path / "g.png")
    assert_user_error(result, fragment)
    assert not out.exists() and not (tmp_path / "g.png").exists()


def test_threshold_without_labels_is_refused(tmp_path):
    result = run("build-graph", "--threshold", "0.5", "-o", tmp_path / "g.json")
    assert_user_error(result, "--labels")


def test_bad_plot_extension_writes_nothing(tmp_path):
    result = run("build-graph", "-o", tmp_path / "g.json", "--plot", tmp_path / "g.bmp")
    assert_user_error(result, ".bmp")
    assert not (tmp_path / "g.json").exists()


@pytest.mark.parametrize("content", ["{broken", '{"edges": []}', "[1, 2, 3]"])
def test_graph_file_that_is_not_ours(tmp_path, content):
    path = tmp_path / "other.json"
    path.write_text(content)
    for args in (["graph-info", path], ["plot-graph", path, "-o", tmp_path / "p.png"]):
        result = run(*args)
        assert_user_error(result, str(path))
    assert not (tmp_path / "p.png").exists()


def test_missing_graph_file(tmp_path):
    assert_user_error(run("graph-info", tmp_path / "none.json"), "no such graph file")


# --- defaults shared with the library, the protocol from the labels, DISFA-only options --------------

def write_disfa_labels(root: Path, intensities_by_au: dict[int, list[int]], subject: str = "SN001") -> Path:
    """``ActionUnit_Labels/SNxxx/SNxxx_au{N}.txt``: ``frame,intensity`` lines, frames from 1."""
    folder = root / "ActionUnit_Labels" / subject
    folder.mkdir(parents=True, exist_ok=True)
    for au, values in intensities_by_au.items():
        (folder / f"{subject}_au{au}.txt").write_text("".join(f"{k + 1},{v}\n" for k, v in enumerate(values)))
    return root / "ActionUnit_Labels"


DISFA_FILE_AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)


def test_build_graph_default_threshold_is_the_builders_default(tmp_path):
    from augcn_pyg.graph.relations import DEFAULT_THRESHOLDS

    rng = np.random.default_rng(0)
    rows = rng.integers(0, 2, (40, 12)).tolist()
    folder = write_bp4d_occ(tmp_path / "AU_OCC", {"F001_T1": rows})
    result = run("build-graph", "--labels", folder, "-o", tmp_path / "g.json")
    assert result.exit_code == 0, result.output
    graph = RelationGraph.load(tmp_path / "g.json")
    builder = RelationBuilder("bp4d").fit(np.array(rows, dtype=float))  # what training and fold_datasets fit
    assert graph.threshold == builder.threshold_ == DEFAULT_THRESHOLDS["conditional"] == 1.0
    np.testing.assert_array_equal(graph.edge_index, builder.graph_.edge_index)
    help_text = run("build-graph", "--help").output
    assert "conditional 1" in help_text and "SynthAU-BP4D" in help_text


def test_build_graph_takes_the_protocol_from_disfa_labels(tmp_path):
    rng = np.random.default_rng(0)
    labels = write_disfa_labels(tmp_path, {au: rng.integers(0, 6, 20).tolist() for au in DISFA_FILE_AUS})
    result = run("build-graph", "--labels", labels, "-o", tmp_path / "g.json")
    assert result.exit_code == 0, result.output
    assert RelationGraph.load(tmp_path / "g.json").protocol == "disfa"
    assert "protocol disfa: 8 AUs, 14 ROI nodes" in result.output
    # asked for the wrong protocol: the message says which one the columns fit
    result = run("build-graph", "--labels", labels, "--protocol", "bp4d", "-o", tmp_path / "h.json")
    assert_user_error(result, "no label column for AU 7, 10", "fit protocol 'disfa'")


def test_build_graph_needs_a_protocol_for_labels_without_one(tmp_path):
    f = tmp_path / "y.csv"
    f.write_text("AU1,AU2,AU4,AU6,AU9,AU12,AU25,AU26\n1,0,0,1,0,0,1,0\n")
    result = run("build-graph", "--labels", f, "-o", tmp_path / "g.json")
    assert_user_error(result, "--protocol is needed", "'csv'")
    assert not (tmp_path / "g.json").exists()
    assert run("build-graph", "--labels", f, "--protocol", "disfa", "-o", tmp_path / "g.json").exit_code == 0


def test_intensity_threshold_is_used_on_disfa_and_refused_elsewhere(tmp_path):
    values = {au: [0] * 6 for au in DISFA_FILE_AUS}
    values[1] = values[2] = [3, 3, 3, 1, 1, 0]  # AU1 and AU2 at intensity 3 together
    labels = write_disfa_labels(tmp_path / "DISFA", values)
    for threshold, related in (("3", True), ("4", False)):
        out = tmp_path / f"d{threshold}.json"
        result = run("build-graph", "--labels", labels, "--intensity-threshold", threshold, "-o", out)
        assert result.exit_code == 0, result.output
        assert bool(RelationGraph.load(out).au_adjacency[0][1]) is related
    folder = write_bp4d_occ(tmp_path / "AU_OCC", {"F001_T1": [[1] * 12, [0] * 12]})
    result = run("build-graph", "--labels", folder, "--intensity-threshold", "3", "-o", tmp_path / "g.json")
    assert_user_error(result, "--intensity-threshold applies to DISFA", "'bp4d'")
    assert not (tmp_path / "g.json").exists()
    result = run("build-graph", "--intensity-threshold", "3", "-o", tmp_path / "g.json")
    assert_user_error(result, "need --labels")


def test_label_format_is_a_choice(tmp_path):
    result = run("build-graph", "--help")
    assert "[bp4d|csv|disfa|list|npy|openface]" in result.output


# --- plain CSV labels: as docs/datasets.md says, and like the BP4D reader -------------------------

BP4D_CSV_HEADER = "frame," + ",".join(f"AU{a}" for a in BP4D.aus)


def test_plain_csv_with_a_trailing_comma_on_every_row(tmp_path):
    f = tmp_path / "y.csv"
    f.write_text(BP4D_CSV_HEADER + "\n" + "".join(f"{k},1,1" + ",0" * 10 + ",\n" for k in range(4)))
    result = run("build-graph", "--labels", f, "--protocol", "bp4d", "-o", tmp_path / "g.json")
    assert result.exit_code == 0, result.output
    assert RelationGraph.load(tmp_path / "g.json").au_adjacency[0][1] == 1


def test_plain_csv_repeated_frame_is_refused(tmp_path):
    f = tmp_path / "y.csv"
    f.write_text(BP4D_CSV_HEADER + "\n" + "1,1" + ",0" * 11 + "\n" + "1,0" + ",0" * 11 + "\n")
    result = run("build-graph", "--labels", f, "--protocol", "bp4d", "-o", tmp_path / "g.json")
    assert_user_error(result, "frame 1 appears 2 times", str(f))
    assert not (tmp_path / "g.json").exists()


def test_all_unknown_au_is_reported_unknown_not_absent(tmp_path):
    f = tmp_path / "y.csv"
    f.write_text(BP4D_CSV_HEADER + "\n" + "".join(f"{k},1" + ",0" * 10 + ",9\n" for k in range(3)))
    result = run("build-graph", "--labels", f, "--protocol", "bp4d", "-o", tmp_path / "g.json")
    assert result.exit_code == 0, result.output
    assert "AU24 have no known label (all unknown)" in result.output
    assert "AU24 unknown" in result.output and "AU24 0%" not in result.output
    assert "AU2, AU4, AU6, AU7, AU10, AU12, AU14, AU15, AU17, AU23 never occur" in result.output
    info = run("graph-info", tmp_path / "g.json")  # the saved graph says the same
    assert "AU24 unknown" in info.output
