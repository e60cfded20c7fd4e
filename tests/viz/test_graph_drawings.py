import re

import numpy as np
import pytest

from augcn_pyg.core.aus import BP4D
from augcn_pyg.core.errors import InputError
from augcn_pyg.graph.relations import RULES, RelationBuilder, paper_graph
from augcn_pyg.viz.graphs import PLOTS, plot_graph, roi_positions

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF"}


@pytest.fixture(scope="module")
def fitted_graph():
    rng = np.random.default_rng(0)
    labels = (rng.random((300, 12)) < 0.4).astype(float)
    labels[:, 1] = labels[:, 0]  # AU2 follows AU1
    return RelationBuilder("bp4d", threshold=1.2, rules=RULES).fit(labels).graph_


@pytest.mark.parametrize("level", sorted(PLOTS))
@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_every_picture_in_every_format(tmp_path, level, suffix):
    out = tmp_path / f"g{suffix}"
    plot_graph(paper_graph("bp4d"), out, level)
    data = out.read_bytes()
    if suffix == ".svg":
        assert b"<svg" in data[:2000]
    else:
        assert data.startswith(MAGIC[suffix])
    assert not list(tmp_path.glob(".g*")), "temporary file left behind"


def test_au_graph_svg_names_every_au(tmp_path):
    out = plot_graph(paper_graph("disfa"), tmp_path / "au.svg", "au")
    text = out.read_text()
    # matplotlib writes each label as text in an SVG comment
    for au in (1, 2, 4, 6, 9, 12, 25, 26):
        assert re.search(rf"<!-- AU{au} -->", text), au


def test_heatmap_of_a_fitted_graph_marks_the_threshold(tmp_path, fitted_graph):
    out = plot_graph(fitted_graph, tmp_path / "h.svg", "heatmap")
    text = out.read_text()
    assert "threshold 1.2" in text
    # one outlined cell per related (i, j) cell
    assert len(re.findall(r'id="patch_\d+"', text)) >= int(np.asarray(fitted_graph.au_adjacency).sum())


def test_roi_positions_lie_on_the_face(fitted_graph):
    pos, face = roi_positions(fitted_graph)
    local = [r for r in range(BP4D.num_rois) if r != BP4D.global_index]
    lo, hi = face.min(0) - 20, face.max(0) + 20
    assert ((pos[local] >= lo) & (pos[local] <= hi)).all()
    names = BP4D.roi_names
    y = lambda name: pos[names.index(name), 1]  # noqa: E731  image y grows downwards
    assert y("inner_brow_left") < y("lid_left") < y("upper_lip_left") < y("lips_lower") < y("chin_left")
    assert pos[names.index("cheek_left"), 0] < pos[names.index("cheek_right"), 0]


def test_roi_graph_with_negative_edges(tmp_path, fitted_graph):
    out = plot_graph(fitted_graph, tmp_path / "roi.svg", "roi")
    assert "cooccurrence" in out.read_text()


def test_bad_output_and_level(tmp_path):
    with pytest.raises(InputError, match="unsupported picture format"):
        plot_graph(paper_graph("bp4d"), tmp_path / "g.jpg")
    with pytest.raises(InputError, match="unknown plot level"):
        plot_graph(paper_graph("bp4d"), tmp_path / "g.png", "3d")
    assert not list(tmp_path.iterdir())
