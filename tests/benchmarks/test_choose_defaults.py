"""benchmarks/choose_defaults.py --quick: the search chooses on validation F1 only and writes its files."""
import json

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
