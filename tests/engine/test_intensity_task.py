"""--task intensity|both from the CLI: training, the intensity scores of evaluate and cv, the clear
refusals, old configs, and cross-dataset evaluate (bp4d run on a disfa store and back)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.core.aus import Protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.engine.config import config_from_dict
from augcn_pyg.engine.cross_dataset import cross_map
from augcn_pyg.engine.cv import summarise
from augcn_pyg.engine.evaluate import evaluate
from benchmarks.fixtures import make_store

TINY = ["--set", "model.latent=8", "--set", "model.hidden=4", "--set", "model.strip_channels=4",
        "--set", "train.threads=1", "--set", "train.batch_size=64", "-q"]


def train(store, out, *extra):
    result = CliRunner().invoke(main, ["train", "--data", str(store), "--epochs", "1,2", "-o", str(out), *TINY,
                                       *extra])
    return result


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("intensity")
    make_store(tmp / "bp4d", "bp4d", per_subject=16, subjects_per_part=2, intensity=True)
    make_store(tmp / "disfa", "disfa", per_subject=16, subjects_per_part=2, intensity=True)
    make_store(tmp / "plain", "bp4d", per_subject=16, subjects_per_part=2)
    return tmp


@pytest.fixture(scope="module")
def both_run(stores):
    result = train(stores / "bp4d", stores / "both", "--task", "both")
    assert result.exit_code == 0, result.output
    return stores / "both"


def test_both_trains_and_reports_intensity(both_run):
    metrics = json.loads((both_run / "test_metrics.json").read_text())
    it = metrics["test_intensity"]
    assert len(it["icc"]) == 12 and it["mean_mae"] is not None and 0 <= it["mean_mae"] <= 5
    assert (both_run / "test_intensity_per_au.csv").exists()
    assert "intensity" in (both_run / "epochs.csv").read_text().splitlines()[0]  # the loss term is logged
    result = CliRunner().invoke(main, ["evaluate", str(both_run)])
    assert result.exit_code == 0, result.output
    assert "ICC(3,1)" in result.output and "MAE" in result.output
    doc = json.loads((both_run / "evaluation.json").read_text())
    assert doc["test_intensity"]["mean_mae"] == pytest.approx(it["mean_mae"])


def test_intensity_on_a_store_without_intensities_is_one_line(stores):
    result = train(stores / "plain", stores / "bad", "--task", "intensity")
    assert result.exit_code != 0
    assert "needs intensities and this store has none" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_old_configs_default_to_presence():
    cfg = config_from_dict({"model": {"layer": "gcn", "hidden": [8]}})
    assert cfg.model.task == "presence" and cfg.loss.intensity_loss == "mse"


def test_cv_summary_averages_intensity_scores():
    def run(fold, icc):
        return {"fold": fold, "seed": 0, "epoch": 1, "selected": "last", "train_seconds": 1.0,
                "test": {"aus": [1, 2], "f1": [0.5, 0.5], "auc": [0.6, None]},
                "test_intensity": {"icc": [icc, None], "mae": [1.0, 2.0], "r": [0.5, None], "mean_icc": icc,
                                   "mean_mae": 1.5, "mean_r": 0.5}}
    summary = summarise([run(1, 0.2), run(2, 0.4)])
    it = summary["intensity"]
    assert it["icc"]["AU1"] == pytest.approx(0.3) and it["icc"]["avg"] == pytest.approx(0.3)
    assert np.isnan(it["icc"]["AU2"]) and it["mae"]["AU2"] == 2.0 and it["icc_std"]["AU1"] > 0
    assert summary["runs"][0]["mean_icc"] == 0.2
    assert "intensity" not in summarise([{k: v for k, v in run(1, 0.2).items() if k != "test_intensity"}])


def test_cross_dataset_both_ways(stores, both_run):
    result = CliRunner().invoke(main, ["evaluate", str(both_run), "--data", str(stores / "disfa")])
    assert result.exit_code == 0, result.output
    assert "AUs scored: 1, 2, 4, 6, 12" in result.output and "left out: AU7" in result.output
    doc = json.loads((both_run / "evaluation.json").read_text())
    assert doc["test"]["aus"] == [1, 2, 4, 6, 12] and len(doc["test_intensity"]["icc"]) == 5
    assert doc["cross_dataset"]["store_protocol"] == "disfa" and "AU25" in doc["cross_dataset"]["left_out"]
    # and back: a disfa presence run on the bp4d store
    back = train(stores / "disfa", stores / "disfa_run")
    assert back.exit_code == 0, back.output
    result = evaluate(stores / "disfa_run", stores / "bp4d")
    assert result.presence.aus == [1, 2, 4, 6, 12] and result.intensity is None  # a presence run
    assert result.presence.frames.max() <= len(make_store(stores / "again", "bp4d", per_subject=16,
                                                          subjects_per_part=2))


def test_a_pair_sharing_no_au_is_one_line():
    nose_only = Protocol(name="nose_only", aus=(9,), region_aus=(("nose", (9,)),))
    with pytest.raises(InputError, match="share no AU"):
        cross_map("bp4d", nose_only)
    m = cross_map("bp4d", "disfa")
    assert m.aus == [1, 2, 4, 6, 12] and (m.roi_map >= 0).sum() == 13


def test_torch_runtime_gives_intensities(both_run, stores):
    from augcn_pyg.inference.runtime import TorchModel

    model = TorchModel(both_run)
    crops = np.asarray(make_store(stores / "rows", "bp4d", per_subject=16, subjects_per_part=2).read_rows([0, 1]))
    probs, inten = model.both(crops)
    assert model.has_intensity and probs.shape == inten.shape == (2, 12)
    assert ((inten > 0) & (inten < 5)).all()
    np.testing.assert_allclose(model(crops), probs, atol=1e-6)


def test_model_card_shows_the_task_and_intensity_metrics(both_run):
    card = (both_run / "MODEL_CARD.md").read_text()
    assert "task `both`" in card and "## Intensity metrics" in card and "ICC(3,1)" in card
