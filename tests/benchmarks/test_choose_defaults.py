"""benchmarks/choose_defaults.py --quick: the search chooses on validation F1 only and writes its files."""
import json

import pytest

from benchmarks import choose_defaults


def test_quick_search_chooses_by_validation_f1(tmp_path, monkeypatch):
    monkeypatch.setattr(choose_defaults, "GRIDS", {"train.lr": [0.01, 0.05], "model.dropout": [0.0, 0.2]})
    assert choose_defaults.main(["--quick", "--epochs", "1,1", "--folds", "1", "--out", str(tmp_path),
                                 "--threads", "1"]) == 0
    doc = json.loads((tmp_path / "defaults_quick.json").read_text())
    for key, grid in choose_defaults.GRIDS.items():
        rows = [r for r in doc["rows"] if r["dimension"] == key]
        best = max(grid, key=lambda v: sum(r["val_f1"] for r in rows if r[key] == v))
        assert doc["chosen"][key] == best  # the validation score decides, whatever the test score says
    assert {"val_f1", "test_f1", "git"} <= set(doc["rows"][0])
    assert "chose nothing" in (tmp_path / "defaults_quick.md").read_text()


def test_bad_epochs_are_refused(capsys):
    assert choose_defaults.main(["--quick", "--epochs", "0,3"]) == 2
    assert "--epochs takes two positive counts" in capsys.readouterr().err


def test_a_grid_and_a_start_can_be_given(tmp_path):
    assert choose_defaults.main(["--quick", "--epochs", "1,1", "--folds", "1", "--out", str(tmp_path), "--threads", "1",
                                 "--grid", "train.lr=0.01,0.05", "--start", "train.lr_step=10", "--name", "confirm"]) == 0
    doc = json.loads((tmp_path / "confirm_quick.json").read_text())
    assert doc["grids"] == {"train.lr": [0.01, 0.05]} and doc["chosen"]["train.lr_step"] == 10
    assert {r["train.lr"] for r in doc["rows"]} == {0.01, 0.05}


def test_a_bad_grid_is_one_clear_error(capsys):
    assert choose_defaults.main(["--quick", "--grid", "train.momentum=0.9"]) == 2
    assert "--grid / --start" in capsys.readouterr().err


@pytest.mark.parametrize("key, values", [("loss.lambda_recon", "3,0.3"), ("loss.lambda_roi", "1,3")])
def test_stage1_dimensions_with_a_frozen_local_head(tmp_path, key, values):
    """--layer local --frozen: each point trains stage 1 at its value, then local on the frozen latents; the point
    with the better validation F1 is chosen."""
    import yaml

    root = tmp_path / "runs"
    assert choose_defaults.main(["--quick", "--epochs", "1,2", "--folds", "1", "--out", str(tmp_path), "--threads", "1",
                                 "--root", str(root), "--layer", "local", "--frozen",
                                 "--grid", f"{key}={values}", "--name", "stage1"]) == 0
    doc = json.loads((tmp_path / "stage1_quick.json").read_text())
    assert (doc["layer"], doc["frozen"]) == ("local", True)
    section, name = key.split(".")
    for r in doc["rows"]:
        folder = choose_defaults.point_name({k: r[k] for k in doc["chosen"]})
        cfg = yaml.safe_load((root / "local-frozen" / folder / "fold1" / "config.yaml").read_text())
        assert cfg["model"]["layer"] == "local" and cfg["train"]["freeze_encoders"] is True
        assert cfg[section][name] == r[key] and cfg["train"]["epochs_ae"] == 1
    assert len({r[key] for r in doc["rows"]}) == 2
    best = max(doc["rows"], key=lambda r: r["val_f1"])[key]
    assert doc["chosen"][key] == best
    assert "layer local, frozen encoders after stage 1" in (tmp_path / "stage1_quick.md").read_text()
