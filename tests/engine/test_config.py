import dataclasses

import pytest

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine.config import ModelConfig, RunConfig, load_config
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.model import AUGCN, DESIGN_OPTIONS, MODEL_OPTIONS, NORMS, SKIPS


def test_defaults_are_the_papers():
    cfg = RunConfig()
    assert (cfg.train.epochs_ae, cfg.train.epochs, cfg.train.batch_size) == (12, 40, 256)
    assert (cfg.train.momentum, cfg.train.weight_decay, cfg.train.lr_gamma) == (0.9, 5e-4, 0.1)
    assert cfg.train.lr_step == 0  # no decay: chosen on validation subjects at 12 + 40 (benchmarks/results/defaults_full.md)
    assert (cfg.loss.lambda_recon, cfg.loss.lambda_dice, cfg.loss.lambda_roi) == (3.0, 4.0, 1.0)
    assert (cfg.model.latent, cfg.model.hidden) == (150, [30, 12])


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 0.02\n  epochs: 3\nmodel:\n  layer: gat\n  layer_options: {heads: 2}\n")
    cfg = load_config(path, ["train.epochs=5", "model.hidden=64,12", "graph.threshold=1.0", "loss.dice=false"])
    assert cfg.train.lr == 0.02 and cfg.train.epochs == 5
    assert cfg.model.layer == "gat" and cfg.model.layer_options == {"heads": 2}
    assert cfg.model.hidden == [64, 12] and cfg.graph.threshold == 1.0 and cfg.loss.dice is False
    again = load_config(None, [], base=None)
    assert again.train.lr == 0.1  # the default, chosen on validation subjects (benchmarks/results/defaults.md)


def test_resolved_yaml_round_trips(tmp_path):
    cfg = load_config(None, ["train.seed=3", "model.layer_options={steps: 3}"])
    path = tmp_path / "r.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path).to_dict() == cfg.to_dict()


@pytest.mark.parametrize("overrides, message", [
    (["train.nope=1"], "unknown config key 'train.nope'"),
    (["nosection.x=1"], "unknown config key 'nosection'"),
    (["train.epochs=two"], "'train.epochs' must be an integer"),
    (["train.lr=fast"], "'train.lr' must be a number"),
    (["train.lr=nan"], "'train.lr' must be a number"),
    (["loss.dice=maybe"], "'loss.dice' must be true or false"),
    (["model.hidden=a,b"], r"'model.hidden\[0\]' must be an integer"),
    (["train.select=best"], "'train.select' must be one of last, val"),
    (["data.fold=4"], "'data.fold' must be 1, 2 or 3"),
    (["train.batch_size=0"], "'train.batch_size' must be >= 1"),
    (["data.val_fraction=1.0"], "'data.val_fraction' must be in"),
    (["data.train_subjects=-1"], "'data.train_subjects' must be 0"),
    (["train.patience=-1"], "'train.patience' must be >= 0"),
    (["train.lr_step=-1"], "'train.lr_step' must be >= 0"),
    (["loss.lambda_roi=-1"], "'loss.lambda_roi' must be >= 0"),
    (["loss.lambda_recon=-0.5"], "'loss.lambda_recon' must be >= 0"),
    (["train.patience=5"], "'train.patience' needs train.select=val"),
    (["train.epochs_ae=0", "train.epochs=0"], r"'train.epochs_ae' and 'train.epochs' \(--epochs S1,S2\) are both 0"),
    (["train"], "--set takes section.key=value"),
    (["train=3"], "config section 'train' must be a mapping"),
])
def test_bad_keys_and_types(overrides, message):
    with pytest.raises(InputError, match=message):
        load_config(None, overrides)


@pytest.mark.parametrize("text, message", [
    ("- 1\n- 2\n", "must be a YAML mapping"),
    ("train: [1, 2\n", "is not valid YAML"),
    ("train: 5\n", "config section 'train' must be a mapping"),
])
def test_bad_yaml_files(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_config(path)


def test_missing_yaml_file(tmp_path):
    with pytest.raises(InputError, match="cannot read the config"):
        load_config(tmp_path / "none.yaml")


def test_yaml_is_read_safely(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("train: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_config(path)


def test_a_number_in_exponent_form_is_a_number():
    # YAML 1.1 reads 1e-3 as a string; a researcher means the number
    assert load_config(None, ["train.lr=1e-3"]).train.lr == pytest.approx(0.001)


@pytest.mark.parametrize("epochs", [(0, 3), (3, 0), (1, 1)])
def test_one_stage_without_epochs_is_a_run(epochs):
    cfg = load_config(None, [f"train.epochs_ae={epochs[0]}", f"train.epochs={epochs[1]}"])
    assert (cfg.train.epochs_ae, cfg.train.epochs) == epochs


@pytest.mark.parametrize("command", ["train", "cv"])
def test_a_run_without_epochs_is_refused_in_one_line_before_any_work(command, tmp_path):
    from click.testing import CliRunner

    from augcn_pyg.cli import main

    out = tmp_path / "run"
    result = CliRunner().invoke(main, [command, "--data", str(tmp_path / "store"), "--epochs", "0,0", "-o", str(out),
                                       "-q"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "are both 0: nothing would be trained" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_config_file_without_epochs_is_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs_ae: 0\n  epochs: 0\n")
    with pytest.raises(InputError, match="are both 0"):
        load_config(path)
    assert load_config(path, ["train.epochs=2"]).train.epochs == 2  # an override that gives a stage epochs


# --- the relation head's design keys (model.skip, model.skip_alpha, model.norm, model.hidden) ----------------
def test_the_design_defaults_are_the_papers_head():
    m = RunConfig().model
    assert (m.skip, m.norm, m.hidden, m.dropout) == ("none", "none", [30, 12], 0.2) and 0 <= m.skip_alpha <= 1


@pytest.mark.parametrize("key, values", [("skip", SKIPS), ("norm", NORMS.choices())])
def test_every_design_choice_is_a_valid_model(key, values):
    for value in values:
        cfg = load_config(None, [f"model.{key}={value}", "model.latent=8", "model.hidden=4,6",
                                 "model.strip_channels=4"])
        model = AUGCN.from_config("bp4d", paper_graph("bp4d"), cfg.model, roi_size=10)
        assert getattr(model, key) == value and getattr(cfg.model, key) == value


@pytest.mark.parametrize("hidden", ["12", "30,12", "30,30,12", "30,30,30,12", "[64, 64, 64, 64, 12]"])
def test_hidden_is_the_widths_and_the_depth(hidden):
    cfg = load_config(None, [f"model.hidden={hidden}"])
    assert cfg.model.hidden == [int(v) for v in hidden.strip("[]").split(",")]


def test_a_config_without_the_design_keys_loads_with_the_papers_head(tmp_path):
    path = tmp_path / "old.yaml"  # a run's config.yaml written before the keys existed
    path.write_text("model:\n  layer: gcn\n  latent: 150\n  hidden: [30, 12]\n  dropout: 0.2\n  layer_options: {}\n")
    assert load_config(path).to_dict() == RunConfig().to_dict()
    assert set(MODEL_OPTIONS) == {f.name for f in dataclasses.fields(ModelConfig)}  # from_config reads every key
    assert set(DESIGN_OPTIONS) <= set(MODEL_OPTIONS)


@pytest.mark.parametrize("overrides, message", [
    (["model.skip=residual"], "config key 'model.skip' must be one of none, sum, concat, initial; got 'residual'"),
    (["model.norm=group"], "config key 'model.norm' must be one of none, layer, batch; got 'group'"),
    (["model.skip_alpha=1.5"], r"config key 'model.skip_alpha' must be in \[0, 1\], got 1.5"),
    (["model.skip_alpha=-0.1"], r"config key 'model.skip_alpha' must be in \[0, 1\]"),
    (["model.skip_alpha=much"], "config key 'model.skip_alpha' must be a number"),
    (["model.hidden=[]"], "config key 'model.hidden' must list one or more widths >= 1"),
    (["model.hidden=30,0"], "config key 'model.hidden' must list one or more widths >= 1"),
    (["model.dropout=1.5"], r"config key 'model.dropout' must be in \[0, 1\]"),
])
def test_bad_design_values_are_one_clear_error(overrides, message):
    with pytest.raises(InputError, match=message):
        load_config(None, overrides)
