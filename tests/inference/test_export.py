"""ONNX export: ONNX Runtime gives PyTorch's probabilities for every registered relation layer, with a
dynamic batch; `export` + `predict --onnx` on a trained run; bad input."""

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.engine.config import ModelConfig
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.inference.export import export_model
from augcn_pyg.inference.runtime import OnnxModel
from augcn_pyg.nn.layers import RELATION_LAYERS
from augcn_pyg.nn.model import AUGCN

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
from predict_media import feat_data, train_tiny_run


def spread_out(model: AUGCN) -> AUGCN:
    """Larger classifier weights, so that probabilities span (0, 1) rather than sit near 0.5; a two-stage
    classifier's AU relations away from their zero start, so the export carries them too."""
    with torch.no_grad():
        first = getattr(model.classifier, "local", model.classifier)  # (C, R·c_L) linear map
        first.weight.mul_(40)
        first.bias.uniform_(-2, 2)
        if hasattr(model.classifier, "relations"):
            model.classifier.relations.weight.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize("layer", list(RELATION_LAYERS))
@pytest.mark.parametrize("protocol", ["bp4d", "disfa"])
def test_onnx_runtime_equals_pytorch_for_every_relation_layer(layer, protocol, tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(layer=layer, latent=16, hidden=[8, 4], strip_channels=4)
    model = spread_out(AUGCN.from_config(protocol, paper_graph(protocol), cfg, roi_size=25))
    meta = export_model(model, tmp_path / "m.onnx")
    onnx_model = OnnxModel(tmp_path / "m.onnx")
    assert onnx_model.protocol.name == protocol and onnx_model.roi_size == 25 and meta["layer"] == layer
    assert onnx_model.aus == tuple(model.protocol.aus)
    gen = torch.Generator().manual_seed(1)
    for batch in (1, 7):  # exported with a batch of 2: the batch axis is dynamic
        crops = torch.randint(0, 256, (batch, model.protocol.num_rois, 3, 25, 25), dtype=torch.uint8, generator=gen)
        expected = model.predict_proba(crops).numpy()
        got = onnx_model(crops.numpy())
        assert got.shape == expected.shape == (batch, model.protocol.num_aus)
        assert np.abs(got - expected).max() <= 1e-4
    assert expected.std() > 0.05  # probabilities that differ: the comparison means something


@pytest.mark.parametrize("task", ["intensity", "both"])
def test_an_intensity_head_exports_as_a_second_output(task, tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(layer="gcn", latent=16, hidden=[8, 4], strip_channels=4, task=task)
    model = AUGCN.from_config("bp4d", paper_graph("bp4d"), cfg, roi_size=25).eval()
    with torch.no_grad():
        model.intensity_head.weight.mul_(40)  # intensities that span the scale
    meta = export_model(model, tmp_path / "m.onnx")
    assert meta["outputs"] == ["probabilities", "intensities"] and "0-5" in meta["intensity_output"]
    onnx_model = OnnxModel(tmp_path / "m.onnx")
    assert onnx_model.has_intensity
    crops = torch.randint(0, 256, (5, 19, 3, 25, 25), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    probs, inten = model.predict_both(crops)
    got_p, got_i = onnx_model.both(crops.numpy())
    assert np.abs(got_p - probs.numpy()).max() <= 1e-4 and np.abs(got_i - inten.numpy()).max() <= 5e-4
    assert np.array_equal(onnx_model(crops.numpy()), got_p)
    assert inten.std() > 0.1 and 0 <= got_i.min() and got_i.max() <= 5


def test_a_presence_model_exports_one_output(tmp_path):
    model = AUGCN.from_config("bp4d", paper_graph("bp4d"), ModelConfig(latent=16, hidden=[8, 4], strip_channels=4),
                              roi_size=25).eval()
    assert export_model(model, tmp_path / "m.onnx")["outputs"] == ["probabilities"]
    onnx_model = OnnxModel(tmp_path / "m.onnx")
    assert not onnx_model.has_intensity
    assert onnx_model.both(np.zeros((1, 19, 3, 25, 25), np.uint8))[1] is None


def test_export_then_predict_with_onnx_gives_the_checkpoints_rows(tmp_path):
    pytest.importorskip("dlib")
    data = feat_data()
    run = train_tiny_run(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["export", str(run), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    assert "(B, 19, 3, 25, 25) uint8" in result.output
    outs = {}
    for kind, model in (("torch", ["--checkpoint", str(run)]), ("onnx", ["--onnx", str(tmp_path / "m.onnx")])):
        outs[kind] = tmp_path / f"{kind}.csv"
        r = runner.invoke(main, ["predict", str(data / "multi_face.jpg"), *model, "-o", str(outs[kind]), "-q"])
        assert r.exit_code == 0, r.output
    a, b = pd.read_csv(outs["torch"]), pd.read_csv(outs["onnx"])
    assert a.shape == b.shape and len(a) >= 2
    p = [c for c in a.columns if c.endswith("_p")]
    assert np.abs(a[p].to_numpy() - b[p].to_numpy()).max() <= 2e-4  # written to 4 decimals


@pytest.mark.parametrize("case", ["not a run", "missing output folder", "not onnx"])
def test_bad_export_and_onnx_input_is_one_line(case, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "fake.onnx").write_bytes(b"not a protobuf at all")
    photo = tmp_path / "p.png"
    photo.write_bytes(b"")
    args = {"not a run": ["export", tmp_path / "empty", "-o", tmp_path / "m.onnx"],
            "missing output folder": ["export", tmp_path / "empty", "-o", tmp_path / "no" / "m.onnx"],
            "not onnx": ["predict", tmp_path, "--onnx", tmp_path / "fake.onnx", "-o", tmp_path / "o.csv"]}[case]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "o.csv").exists()
