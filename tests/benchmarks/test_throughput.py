"""benchmarks/throughput.py: the two paths compute the same things, and --quick writes every row.

No timing is asserted: the machine is shared, and --quick proves nothing about speed.
"""
import csv
import json

import pytest
import torch
from torch_geometric.data import Batch

from benchmarks.fixtures import make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("tp") / "store"
    make_store(path, roi_size=10)  # 144 faces of 10 x 10 crops
    return path


@pytest.fixture(scope="module")
def bench(store):
    from benchmarks.throughput_measure import Bench

    return Bench(store, list_faces=64, max_batch=8)


def test_loaders_give_the_same_batch(bench):
    from augcn_pyg.data.loader import FaceGraphLoader

    positions = [5, 0, 17, 3]
    ours = FaceGraphLoader(bench.dataset, 4).collate(positions)
    pyg = Batch.from_data_list([bench.data_list[i] for i in positions])
    for key in ("x", "edge_index", "edge_weight", "edge_type", "y", "y_mask", "batch"):
        assert torch.equal(ours[key], pyg[key]), key


def test_store_rows_reach_the_encoders_as_the_loaders_batch_does(bench):
    """Ours reads store rows as the trainer does: the same faces, labels and encoder input as the Batch."""
    from augcn_pyg.data.loader import FaceGraphLoader
    from benchmarks.throughput_measure import RowBatches
    from benchmarks.throughput_steps import crops_of

    model, _ = bench.model_pair("gcn")
    rows = next(iter(RowBatches(bench.dataset, 4, seed=3)))
    batch = next(iter(FaceGraphLoader(bench.dataset, 4, shuffle=True, seed=3, drop_last=True)))
    assert torch.equal(rows.y, batch.y) and torch.equal(rows.y_mask, batch.y_mask)
    assert torch.equal(rows.crops.crops(), crops_of(batch, model.num_rois))
    ae = model.autoencoders
    assert torch.equal(ae.pixels(model.select_rois(crops_of(rows, model.num_rois))),
                       ae.pixels(model.select_rois(crops_of(batch, model.num_rois))))


@pytest.mark.parametrize("layer", ["gcn", "gat", "rgcn", "learned"])
def test_relation_paths_agree_for_the_same_weights(bench, layer):
    from benchmarks.throughput_steps import relation_stack, same_outputs

    model, obvious = bench.model_pair(layer)
    assert same_outputs(model, obvious) < 1e-4
    z = torch.randn(3, model.num_rois, model.latent)
    model.eval(), obvious.eval()
    with torch.no_grad():
        dense = relation_stack(model.relation, model.dropout, z, sparse=False)
        sparse = relation_stack(obvious.relation, obvious.dropout, z, sparse=True)
    assert torch.allclose(dense, sparse, atol=1e-5)


def test_obvious_model_shapes(bench):
    from benchmarks.throughput_steps import crops_of

    model, obvious = bench.model_pair("gcn")
    batch = bench.loaders(4)["obvious"]()
    logits, roi_logits, recon = obvious(crops_of(batch, model.num_rois))
    assert logits.shape == (4, 12) and roi_logits.shape == (4, model.num_rois, 12) and recon.ndim == 0


@pytest.mark.parametrize("path", ["obvious", "ours"])
def test_each_paths_training_step_trains_its_encoders(bench, path):
    from benchmarks.throughput_steps import encoder_input_steps, model_steps

    model, obvious = bench.model_pair("gcn")
    net = {"obvious": obvious, "ours": model}[path]
    before = [p.detach().clone() for p in net.parameters()]
    model_steps(model, obvious, bench.loaders(4), "train")[path]()  # one real SGD step
    assert any(not torch.equal(b, p) for b, p in zip(before, net.parameters()))
    encoder_input_steps(model, bench.loaders(4))[path]()  # the batching part's step runs on this input


def test_quick_writes_every_row(store, tmp_path):
    from benchmarks.throughput import main

    out = tmp_path / "res" / "throughput"
    assert main(["--quick", "--data", str(store), "--out", str(out), "--batches", "1", "3", "8"]) == 0
    with open(out.with_suffix(".csv")) as f:
        rows = list(csv.DictReader(f))
    for part, modes in (("batching", ["any"]), ("relation", ["inference", "train"]),
                        ("batching+relation", ["inference", "train"]), ("model", ["inference", "train"])):
        for mode in modes:
            for path in ("obvious", "ours"):
                got = sorted(int(r["batch"]) for r in rows if (r["part"], r["mode"], r["path"]) == (part, mode, path))
                assert got == [1, 3, 8], (part, mode, path, got)
    assert all(float(r["faces_per_s"]) > 0 for r in rows)
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["setup"]["quick"] and doc["machine"]["git"] is not None
    assert doc["head_max_abs_difference"]["gcn"] < 1e-4
    assert "proves nothing" in out.with_suffix(".md").read_text()
    assert (out.parent / "throughput_vs_batch.png").stat().st_size > 0


def test_bad_input_is_one_clear_error(tmp_path, capsys):
    from benchmarks.throughput import main

    with pytest.raises(SystemExit) as exc:
        main(["--data", str(tmp_path)])
    assert exc.value.code != 0 and "not an ROI store" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--quick", "--layers", "nope"])
    assert exc.value.code != 0 and "unknown relation layer" in capsys.readouterr().err


def _result(batches, layers=("gcn", "gat")):
    """A result document as ``throughput.run`` writes it, with made-up faces/s, for the plot alone."""
    rows = [{"part": part, "layer": layer, "mode": mode, "batch": b, "path": path, "source": "main",
             "faces_per_s": (1000.0 if path == "obvious" else 5000.0) * b, "min_ms": 1.0 if path == "ours" else 5.0}
            for part in ("batching+relation", "model") for layer in layers for mode in ("inference", "train")
            for b in batches for path in ("obvious", "ours")]
    setup = {"quick": False, "layers": list(layers), "batches": list(batches), "threads": 1, "repeats": 15,
             "model_repeats": 5, "targets": {"batching+relation": 10.0, "model": 2.5}, "plot": "r_vs_batch.png"}
    return {"setup": setup, "rows": rows, "load": {"start": "1.01 1.53 2.03 1/82 3", "end": "1.00 1.35 1.90 1/82 4"}}


def test_one_batch_size_is_drawn_as_bars_per_layer(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from benchmarks import throughput_report

    figures, savefig = [], Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (figures.append(fig), savefig(fig, *a, **k))[1])
    throughput_report.plot(_result([256]), tmp_path / "bars.png")
    assert (tmp_path / "bars.png").stat().st_size > 0
    (fig,) = figures
    assert "batch 256" in fig.get_suptitle() and "1 torch thread" in fig.get_suptitle()
    assert "1.01 1.53 2.03" in fig.get_suptitle()
    assert len(fig.axes) == 4  # (whole model, batching + relation) x (inference, train)
    for ax in fig.axes:
        if ax.get_subplotspec().is_first_col():  # the rows share the y axis: one tick label per layer
            assert [t.get_text() for t in ax.get_yticklabels()] == ["gcn", "gat"]
        assert len(ax.patches) == 4  # two layers, two paths
        assert sorted(t.get_text() for t in ax.texts) == ["5.0×", "5.0×"]
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 2


def test_several_batch_sizes_keep_the_line_plot(tmp_path, monkeypatch):
    from benchmarks import throughput_report

    drawn = []
    monkeypatch.setattr(throughput_report, "plot_layers_at_batch", lambda doc, path: drawn.append("bars"))
    monkeypatch.setattr(throughput_report, "plot_vs_batch", lambda doc, path: drawn.append("lines"))
    throughput_report.plot(_result([16, 256]), tmp_path / "x.png")
    throughput_report.plot(_result([256]), tmp_path / "y.png")
    assert drawn == ["lines", "bars"]


def test_replot_only_draws_the_plot_beside_the_json(tmp_path):
    from benchmarks.throughput import main

    result = tmp_path / "r.json"
    result.write_text(json.dumps(_result([256])))
    assert main(["--replot", str(result)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r_vs_batch.png"]
