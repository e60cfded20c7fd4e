"""Layers by name from the command line: `layers --all`, a user's layer (docs/examples/my_layer.py) through
`train`, `cv` and the comparison, a run whose layer module is gone, and `export` of `pyg:` layers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import runs
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.layers import layer_rows
from augcn_pyg.nn.layers.listing import markdown
from augcn_pyg.nn.model import AUGCN
from benchmarks import relation_layers as rl
from benchmarks.fixtures import make_store

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
SMALL = ["model.latent=8", "model.hidden=4", "model.strip_channels=4", "train.batch_size=32", "train.threads=1"]
SETS = [a for s in SMALL for a in ("--set", s)]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("store") / "store").path


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_layers_lists_the_names_and_all_lists_every_pyg_class():
    plain = invoke("layers")
    assert plain.exit_code == 0 and "pyg:<ClassName>" in plain.output and "MODULE:ATTR" in plain.output
    every = invoke("layers", "--all")
    assert every.exit_code == 0, every.output
    lines = every.output.splitlines()
    assert lines[0].split()[:5] == ["name", "trains", "weights", "types", "dense"]
    assert any(line.startswith("gcn ") for line in lines) and any(line.startswith("pyg:GENConv ") for line in lines)
    point = next(line for line in lines if line.startswith("pyg:PointNetConv "))
    assert " no " in point and "needs node positions" in point
    trains = int(lines[-1].split()[0])
    assert trains >= 40 and lines[-1].startswith(f"{trains} of 66 PyG convolutions train here")
    table = invoke("layers", "--all", "--markdown")
    assert table.exit_code == 0 and table.output == markdown(layer_rows())


def test_a_user_layer_trains_from_the_cli_and_its_run_needs_the_module(store, tmp_path):
    """`train --layer my_layer:build` in a fresh process with PYTHONPATH at docs/examples; loading the run where
    the module is not importable is one line naming the run and the module."""
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLES), str(REPO)])}
    args = ["train", "--data", str(store), "--layer", "my_layer:build", "--epochs", "1,1", "-q", "-o", str(run), *SETS,
            "--set", "model.layer_options={gate_bias: 0}"]
    res = subprocess.run([sys.executable, "-m", "augcn_pyg", *args], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "my_layer:build" in (run / runs.CONFIG).read_text()
    sys.modules.pop("my_layer", None)  # as in a process that never had docs/examples on its path
    gone = invoke("evaluate", run)
    assert gone.exit_code != 0 and "Traceback" not in gone.output
    assert f"{run / runs.MODEL}: relation layer 'my_layer:build': no module 'my_layer' can be imported" in gone.output
    assert len(gone.output.strip().splitlines()) == 1


def test_a_pyg_layer_through_train_and_model_info(store, tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "--data", store, "--layer", "pyg:GATConv", "--epochs", "0,1", "-q", "-o", run, *SETS,
                    "--set", "model.layer_options={heads: 2, edge_attr: both}")
    assert result.exit_code == 0, result.output
    assert "average F1" in result.output and "pyg:GATConv" in (run / runs.CONFIG).read_text()
    info = invoke("model-info", "--layer", "pyg:GENConv", "--set", "model.hidden=8,4")
    assert info.exit_code == 0 and "layer pyg:GENConv" in info.output and "relation layers" in info.output
    bad = invoke("model-info", "--layer", "pyg:GATConv", "--set", "model.layer_options={head: 2}")
    assert bad.exit_code != 0 and "has no option 'head'; it takes heads" in bad.output
    assert "Traceback" not in bad.output


def test_a_user_message_passing_class_through_cv(store, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    out = tmp_path / "cv"
    result = invoke("cv", "--data", store, "--layer", "my_layer:MeanMaxConv", "--folds", "1,2", "--epochs", "0,1",
                    "-q", "-o", out, *SETS)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["layer"] == "my_layer:MeanMaxConv" and len(summary["runs"]) == 2
    assert "my_layer:MeanMaxConv: test scores" in result.output


def test_a_user_layer_in_the_comparison(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    assert rl.main(["--quick", "--parts", "frozen", "--repetitions", "1", "--layers",
                    "none,my_layer:build,pyg:GCNConv", "--out", str(tmp_path)]) == 0
    rows = pd.read_csv(tmp_path / "relation_layers_quick.csv")
    assert sorted(rows[rows.layer == "my_layer:build"].fold) == [1, 2, 3]
    assert sorted(rows[rows.layer == "pyg:GCNConv"].fold) == [1, 2, 3]
    assert "my_layer:build" in (tmp_path / "relation_layers_quick.md").read_text()
    with pytest.raises(InputError, match="unknown PyG convolution pyg:Nope"):
        rl.main(["--quick", "--layers", "none,pyg:Nope", "--out", str(tmp_path)])


def tiny(layer: str) -> AUGCN:
    torch.manual_seed(0)
    return AUGCN("bp4d", paper_graph("bp4d"), layer=layer, latent=8, hidden=[4], strip_channels=4, roi_size=10).eval()


def test_export_writes_a_pyg_layer_that_onnx_runtime_runs_at_any_batch(tmp_path):
    pytest.importorskip("onnxruntime")
    from augcn_pyg.inference.export import export_model
    from augcn_pyg.inference.runtime import OnnxModel

    model = tiny("pyg:GENConv")
    assert export_model(model, tmp_path / "m.onnx")["layer"] == "pyg:GENConv"
    onnx_model = OnnxModel(tmp_path / "m.onnx")
    crops = torch.randint(0, 256, (5, 19, 3, 10, 10), dtype=torch.uint8)
    assert np.abs(onnx_model(crops.numpy()) - model.predict_proba(crops).numpy()).max() < 1e-4


@pytest.mark.parametrize("layer, text", [
    ("pyg:EdgeConv", "cannot be exported to ONNX"),                    # the exporter refuses
    ("pyg:GPSConv", "does not export to ONNX for every batch size"),   # exported, wrong at another batch
])
def test_export_refuses_a_layer_onnx_cannot_express_in_one_line(layer, text, tmp_path, capfd):
    pytest.importorskip("onnxruntime")
    from augcn_pyg.inference.export import export_model

    with pytest.raises(InputError) as err:
        export_model(tiny(layer), tmp_path / "m.onnx")
    assert f"the {layer!r} relation layer {text}" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "m.onnx").exists()
    captured = capfd.readouterr()
    assert "Torch IR graph" not in captured.out + captured.err  # the exporter's dump stays out of the terminal
