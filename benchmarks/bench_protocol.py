"""The one protocol every accuracy benchmark follows, so that their numbers can be set side by side.

* The same store, folds (standard, or random subject-exclusive ones with ``fold_seed``), seeds and
  training budget for every model; selection on the validation subjects only (``train.select: val``).
* One stage-1 model (ROI auto-encoders + ROI heads) per (store, fold assignment, fold, seed), trained once
  and shared by every relation layer through ``train.init``: the *frozen* protocol then trains only the
  relation layers and classifier on its cached latents, the *end-to-end* protocol trains everything from
  it (the paper's second stage).
* Every run is an ordinary run folder: finished runs are reused, interrupted ones resume, and a lock file
  keeps two benchmark processes from training the same run at once.
* :class:`TestFoldRecorder` scores every epoch on the test subjects *beside* training; it never feeds
  back into selection. It exists to measure what selecting on the test fold would add.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import write_json_atomic
from augcn_pyg.engine import runs
from augcn_pyg.engine.config import load_config
from augcn_pyg.engine.scoring import predict_latents, predict_rows
from augcn_pyg.engine.trainer import Trainer
from benchmarks.common import finished, layer_dir, load_average, locked, machine_info, stage1_dir

#: training budgets (config overrides). "quick" only checks that a pipeline works; it proves nothing.
BUDGETS = {
    "quick": {"stage1": ["train.epochs_ae=1", "train.epochs=0"],
              "frozen": ["train.epochs_ae=0", "train.epochs=3"],
              "end-to-end": ["train.epochs_ae=0", "train.epochs=2"],
              "common": ["model.latent=16", "model.hidden=8,4", "model.strip_channels=4", "train.batch_size=32"]},
    "full": {"stage1": ["train.epochs_ae=12", "train.epochs=0"],
             # early stopping on the validation subjects (patience 10 was chosen on an earlier round's
             # 40-epoch runs; that check was not kept as a result file)
             "frozen": ["train.epochs_ae=0", "train.epochs=40", "train.patience=10"],
             "end-to-end": ["train.epochs_ae=0", "train.epochs=12", "train.lr_step=5"],
             "common": []},
}


#: overrides of every run's logging (:func:`log_to_tensorboard`); output-only keys (``config.OUTPUT_ONLY``),
#: so a run and its config digest are the same with or without them
LOGGING: list[str] = []
#: config overrides of every run of a grid, stage-1 models included (:func:`set_grid_overrides`)
GRID: list[str] = []
#: what keeps a part to its own stage, applied after the grid overrides: ``--set train.epochs_ae=36`` lengthens
#: the stage-1 models and leaves the runs started from them without a stage 1 of their own (and ``train.epochs``
#: the other way round)
STAGE_OF_PART = {"stage1": ["train.epochs=0"], "frozen": ["train.epochs_ae=0"], "end-to-end": ["train.epochs_ae=0"]}
#: the keys the protocol itself sets per run: a grid override may not change them
PROTOCOL_KEYS = ("data.store", "data.fold", "data.fold_seed", "train.seed", "model.layer", "train.select",
                 "train.threads", "train.init", "train.freeze_encoders")


def log_to_tensorboard(on: bool) -> None:
    """Every run trained from now on in this process also logs to TensorBoard in its run folder (``--tensorboard``:
    ``tensorboard --logdir ROOT`` then shows the runs side by side). A pool's workers call it in their initializer."""
    LOGGING[:] = ["train.tensorboard=true"] if on else []


def set_grid_overrides(sets) -> None:
    """Every run trained from now on in this process, stage-1 models included, also takes the config overrides
    ``sets`` (``KEY=VALUE``, e.g. ``data.train_subjects=3`` for a learning curve's point); one clear error for a
    key the protocol sets itself or a value the config refuses. A pool's workers call it in their initializer."""
    sets = list(sets)
    for item in sets:
        if item.split("=", 1)[0].strip() in PROTOCOL_KEYS:
            raise InputError(f"--set {item}: the benchmark sets {item.split('=', 1)[0].strip()} itself for each run")
    load_config(None, sets)  # a bad key or value is one error before anything trains
    GRID[:] = sets


def configure_worker(tensorboard: bool, sets) -> None:
    """A pool worker's settings, those of its parent (:func:`log_to_tensorboard`, :func:`set_grid_overrides`)."""
    log_to_tensorboard(tensorboard)
    set_grid_overrides(sets)


def run_config(store, fold: int, seed: int, layer: str, budget: str, part: str, fold_seed: int = -1,
               extra=(), threads: int = 0):
    b = BUDGETS[budget]
    sets = [f"data.store={store}", f"data.fold={fold}", f"data.fold_seed={fold_seed}", f"train.seed={seed}",
            f"model.layer={layer}", "train.select=val", f"train.threads={threads}", *b["common"], *b[part], *GRID,
            *STAGE_OF_PART[part], *extra, *LOGGING]
    return load_config(None, sets)


def train_or_reuse(cfg, run_dir: Path, on_epoch=None) -> dict:
    """The run's test metrics: trained now, resumed, or read back when it finished before.

    A reused run does not call ``on_epoch`` again: recorders keep their own results next to the run."""
    with locked(run_dir):
        doc = runs.read_run_json(run_dir) if run_dir.is_dir() else None
        return Trainer(cfg, run_dir, resume=doc is not None, quiet=True, on_epoch=on_epoch).run()


def stage1(store, fold: int, seed: int, root: Path, budget: str, fold_seed: int = -1, threads: int = 0) -> Path:
    """The run folder of the shared stage-1 model of (fold, seed), trained if it is not there yet."""
    run_dir = stage1_dir(root, fold, seed, fold_seed)
    cfg = run_config(store, fold, seed, "gcn", budget, "stage1", fold_seed, threads=threads)
    train_or_reuse(cfg, run_dir)
    return run_dir


#: beside each layer run: every stage-2 epoch's test-fold scores (see TestFoldRecorder)
TEST_FOLD_EPOCHS = "test_fold_epochs.json"


def layer_config(store, fold: int, seed: int, layer: str, root: Path, budget: str, protocol: str = "frozen",
                 fold_seed: int = -1, extra=(), name: str | None = None, threads: int = 0):
    """(config, run folder) of ``layer`` started from the shared stage-1 model of (fold, seed) (see
    :func:`layer_run`; the stage-1 model is not trained here)."""
    sets = [f"train.init={stage1_dir(root, fold, seed, fold_seed)}",
            *(["train.freeze_encoders=true"] if protocol == "frozen" else []), *extra]
    cfg = run_config(store, fold, seed, layer, budget, protocol, fold_seed, sets, threads)
    return cfg, layer_dir(root, protocol, name or layer, fold, seed, fold_seed)


def layer_run(store, fold: int, seed: int, layer: str, root: Path, budget: str, protocol: str = "frozen",
              fold_seed: int = -1, extra=(), name: str | None = None, threads: int = 0) -> dict:
    """Test metrics of ``layer`` started from the shared stage-1 model; ``protocol`` frozen or end-to-end.

    ``extra`` overrides (e.g. ``loss.dice=false``) name a variant; give it its own ``name``. The result
    also holds ``test_fold_epochs``: the per-epoch test-fold scores recorded while it trained."""
    stage1(store, fold, seed, root, budget, fold_seed, threads)
    cfg, run_dir = layer_config(store, fold, seed, layer, root, budget, protocol, fold_seed, extra, name, threads)
    record = run_dir / TEST_FOLD_EPOCHS
    with locked(run_dir):
        # the recorder must see every epoch, so a run that did not finish starts again
        done = finished(run_dir, TEST_FOLD_EPOCHS)
        recorder = TestFoldRecorder()
        metrics = Trainer(cfg, run_dir, resume=done, overwrite=not done, quiet=True, on_epoch=recorder).run()
        if not done:
            write_json_atomic(record, recorder.rows)
    return {**metrics, "test_fold_epochs": json.loads(record.read_text())}


#: global thresholds tried when "selecting on the test fold" as public code does
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)


def mean_f1_at_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(T,) average per-AU F1 at each global threshold in :data:`THRESHOLDS`; unknown labels (NaN) skipped."""
    known = ~np.isnan(labels)  # (M, C)
    y = np.nan_to_num(labels) > 0.5
    pred = probabilities[None] >= THRESHOLDS[:, None, None]  # (T, M, C)
    tp = (pred & y & known).sum(1)  # (T, C)
    fp = (pred & ~y & known).sum(1)
    fn = (~pred & y & known).sum(1)
    f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    return f1.mean(1)


class TestFoldRecorder:
    """``on_epoch`` hook: each epoch's average F1 on the test subjects at every global threshold.

    Only stage-2 epochs (those with a validation score) are recorded. The trainer never sees these numbers."""

    def __init__(self):
        self.rows: list[dict] = []
        self._test_latents = None

    def __call__(self, trainer: Trainer, row: dict) -> None:
        if row["stage"] != "all":
            return
        rows = trainer.splits.test_rows
        if trainer.cache is not None:  # frozen encoders: test latents once, then only the head per epoch
            if self._test_latents is None:
                self._test_latents = trainer.frozen_latents(rows)
            probs = predict_latents(trainer.model, self._test_latents)
        else:
            probs = predict_rows(trainer.model, trainer.store, rows, trainer.device)
        f1 = mean_f1_at_thresholds(probs, np.asarray(trainer.store.labels[rows]))
        self.rows.append({"epoch": row["epoch"], "val_f1": row["val_f1"], "test_f1_at_0.5": float(f1[THRESHOLDS == 0.5][0]),
                          "test_f1_per_threshold": [float(v) for v in f1]})


def selection_cost(recorded: list[dict]) -> dict:
    """Average test F1 of the epoch chosen on validation subjects (threshold 0.5) against the best epoch
    and global threshold chosen on the test fold itself."""
    honest = max(recorded, key=lambda r: r["val_f1"])
    peeked = max(((r["epoch"], t, f) for r in recorded for t, f in zip(THRESHOLDS, r["test_f1_per_threshold"])),
                 key=lambda x: x[2])
    best_epoch_at_half = max(recorded, key=lambda r: r["test_f1_at_0.5"])
    return {"val_selected_epoch": honest["epoch"], "val_selected_test_f1": honest["test_f1_at_0.5"],
            "test_selected_epoch": best_epoch_at_half["epoch"], "test_selected_test_f1": best_epoch_at_half["test_f1_at_0.5"],
            "test_selected_epoch_and_threshold": [peeked[0], float(peeked[1])], "test_selected_with_threshold_f1": peeked[2]}


def machine() -> dict:
    """Where and with what a benchmark ran (benchmarks/common.py), with the torch threads and the load."""
    import platform

    import torch_geometric

    info = machine_info()
    try:
        load = load_average().split()[:3]
    except OSError:  # no /proc/loadavg
        load = None
    return {**info, "machine": platform.platform(), "cpus": info["cores"], "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__, "torch_threads": torch.get_num_threads(),
            "load_average": load}
