"""The TensorBoard training log (train.tensorboard, --tensorboard): its scalars are epochs.csv's, a resumed
run shows every epoch once, cv's runs show side by side, and a missing extra is one clear error."""
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from test_trainer import SMALL, cfg

from augcn_pyg.cli import main
from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import runs
from augcn_pyg.engine import trainer as trainer_module
from augcn_pyg.engine.trainer import train
from augcn_pyg.engine.training_log import NOT_SCALARS, TENSORBOARD_DIR, tag
from benchmarks.fixtures import make_store

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                        reason="TensorBoard (the tensorboard extra) is not installed")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "store"
    make_store(path)
    return path


def scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a TensorBoard log folder, read back as TensorBoard reads it (purges included)."""
    acc = event_accumulator.EventAccumulator(str(log_dir), size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def assert_log_equals_epochs_csv(run, per_au_steps):
    got = scalars(run / TENSORBOARD_DIR)
    epochs = pd.read_csv(run / runs.EPOCHS)
    expected = set()
    for column in epochs.columns:
        if column in NOT_SCALARS:
            continue
        rows = epochs[["epoch", column]].dropna()
        expected.add(tag(column))
        steps, values = zip(*got[tag(column)])
        assert list(steps) == rows["epoch"].tolist(), column  # each epoch once, in order
        np.testing.assert_allclose(values, rows[column].to_numpy(float), rtol=1e-6, err_msg=column)  # float32
    aus = get_protocol("bp4d").aus
    per_au = {f"val_f1/AU{a}" for a in aus}
    assert per_au <= set(got) and set(got) - per_au - expected <= {f"val_auc/AU{a}" for a in aus}
    f1 = np.array([[v for _, v in got[f"val_f1/AU{a}"]] for a in aus])  # (C, epochs)
    assert [s for s, _ in got[f"val_f1/AU{aus[0]}"]] == per_au_steps
    val = epochs.set_index("epoch").loc[per_au_steps, "val_f1"].to_numpy()
    np.testing.assert_allclose(f1.mean(0), val, rtol=1e-5)  # the per-AU scores average to the logged F1


def test_the_log_holds_epochs_csv_and_per_au_scores(store, tmp_path):
    run = tmp_path / "run"
    train(cfg(store, "train.tensorboard=true", epochs=(1, 2)), run, quiet=True)
    assert_log_equals_epochs_csv(run, per_au_steps=[2, 3])
    assert {"loss/loss", "loss/roi", "loss/recon", "loss/au", "train/lr", "val/f1", "val/auc"} <= set(
        scalars(run / TENSORBOARD_DIR))
    # an option of the call, not of the run: not in config.yaml, so not in the config digest either
    assert "tensorboard" not in yaml.safe_load((run / runs.CONFIG).read_text())["train"]


def crash_at_checkpoint(monkeypatch, epochs_done):
    """Make the run die after epoch ``epochs_done`` is logged, before its checkpoint is saved."""
    real = trainer_module.save_checkpoint

    def save(path, state, doc, **kw):
        if doc.get("kind") == "checkpoint" and doc["epochs_done"] == epochs_done:
            raise RuntimeError("killed")
        return real(path, state, doc, **kw)

    monkeypatch.setattr(trainer_module, "save_checkpoint", save)


@pytest.mark.parametrize("logged_before", [True, False], ids=["resumed", "turned-on-when-resuming"])
def test_a_resumed_run_logs_every_epoch_once(store, tmp_path, monkeypatch, logged_before):
    run = tmp_path / "run"
    with monkeypatch.context() as m:
        crash_at_checkpoint(m, epochs_done=3)  # epoch 3 logged (with the log on), then lost
        with pytest.raises(RuntimeError, match="killed"):
            train(cfg(store, f"train.tensorboard={str(logged_before).lower()}", epochs=(1, 3)), run, quiet=True)
    time.sleep(1.1)  # event files sort by their second of creation: the resumed run's comes after
    train(cfg(store, "train.tensorboard=true", epochs=(1, 3)), run, resume=True, quiet=True)
    # the crashed run's epochs logged with per-AU scores; epochs logged from epochs.csv rows have none
    assert_log_equals_epochs_csv(run, per_au_steps=[2, 3, 4] if logged_before else [3, 4])


def test_cv_logs_each_run_in_its_folder_for_one_tensorboard(store, tmp_path):
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    out = tmp_path / "cv"
    result = CliRunner().invoke(main, ["cv", "--data", str(store), "--layer", "none", "-o", str(out), "--epochs",
                                       "0,1", "-q", "--tensorboard", *[a for s in SMALL for a in ("--set", s)]])
    assert result.exit_code == 0, result.output
    names = [f"fold{f}-seed0" for f in (1, 2, 3)]
    multiplexer = EventMultiplexer().AddRunsFromDirectory(str(out))  # how `tensorboard --logdir CVDIR` finds runs
    multiplexer.Reload()
    assert sorted(multiplexer.Runs()) == [f"{n}/{TENSORBOARD_DIR}" for n in names]
    for n in names:
        assert_log_equals_epochs_csv(out / n, per_au_steps=[1])


def test_without_tensorboard_installed_it_is_one_clear_error(store, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if TensorBoard were not installed
    with pytest.raises(InputError, match=r"pip install 'augcn-pyg\[tensorboard\]'"):
        train(cfg(store, "train.tensorboard=true"), tmp_path / "lib", quiet=True)
    for command in ("train", "cv"):
        result = CliRunner().invoke(main, [command, "--data", str(store), "-o", str(tmp_path / command), "--tensorboard",
                                           "--epochs", "0,1", *[a for s in SMALL for a in ("--set", s)]])
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
        assert result.output.strip().splitlines()[-1] == (
            "Error: train.tensorboard (--tensorboard) needs TensorBoard, which is not installed: "
            "pip install 'augcn-pyg[tensorboard]'")
    assert not any((tmp_path / name).exists() for name in ("lib", "train", "cv"))  # nothing left behind
    # without the option, nothing needs TensorBoard
    train(cfg(store, epochs=(0, 1)), tmp_path / "plain", quiet=True)
    assert not (tmp_path / "plain" / TENSORBOARD_DIR).exists()
