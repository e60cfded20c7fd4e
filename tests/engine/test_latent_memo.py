"""Frozen-encoder latents remembered within a process: served only for the same encoders, faces and flip."""
from pathlib import Path

import numpy as np
import pytest
import torch

from augcn_pyg.engine import latent_memo
from augcn_pyg.engine.config import load_config
from augcn_pyg.engine.scoring import encode_rows
from augcn_pyg.engine.trainer import Trainer, train
from benchmarks.fixtures import make_store

SMALL = ["model.latent=16", "model.hidden=8,4", "model.strip_channels=4", "train.batch_size=32", "train.threads=1"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "store"
    make_store(path)
    return path


def model_of(store, seed=0):
    cfg = load_config(None, [f"data.store={store}", f"train.seed={seed}", *SMALL])
    trainer = Trainer(cfg, Path("/nonexistent/never-written"), quiet=True)
    trainer.setup()
    return trainer


def test_a_remembered_encoding_is_served_only_for_the_same_encoders_rows_and_flip(store):
    latent_memo.forget()
    t = model_of(store)
    rows = np.arange(20)
    calls = []

    def encode():
        calls.append(1)
        return encode_rows(t.model, t.store, rows, t.device)

    first = latent_memo.remembered(t.model, t.store, rows, t.device, False, encode)
    again = latent_memo.remembered(t.model, t.store, rows, t.device, False, encode)
    assert again is first and len(calls) == 1
    latent_memo.remembered(t.model, t.store, rows, t.device, True, encode)  # flipped: another encoding
    latent_memo.remembered(t.model, t.store, rows[:10], t.device, False, encode)  # other faces
    assert len(calls) == 3
    with torch.no_grad():
        next(t.model.autoencoders.parameters()).add_(1e-3)  # changed weights: never the old latents
    fresh = latent_memo.remembered(t.model, t.store, rows, t.device, False, encode)
    assert len(calls) == 4 and not torch.equal(fresh, first)


def test_only_the_latest_encodings_are_kept(store):
    latent_memo.forget()
    t = model_of(store)
    for start in range(latent_memo.KEEP + 2):
        latent_memo.remembered(t.model, t.store, np.arange(start, start + 5), t.device, False,
                               lambda: torch.zeros(5, 1))
    assert len(latent_memo._memo) == latent_memo.KEEP


def test_frozen_runs_are_the_same_with_and_without_remembered_latents(store, tmp_path):
    train(load_config(None, [f"data.store={store}", "train.epochs_ae=1", "train.epochs=0", *SMALL]),
          tmp_path / "stage1", quiet=True)
    sets = [f"data.store={store}", "train.epochs_ae=0", "train.epochs=2", "train.freeze_encoders=true",
            f"train.init={tmp_path / 'stage1'}", *SMALL]
    latent_memo.forget()
    cold = train(load_config(None, sets), tmp_path / "cold", quiet=True)
    assert latent_memo._memo  # the run remembered its latents
    warm = train(load_config(None, sets), tmp_path / "warm", quiet=True)  # served from the memo
    assert warm["test"] == cold["test"]
