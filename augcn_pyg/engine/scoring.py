"""Scores of a model on store rows: latents, probabilities, per-AU metrics, and their tables.

Used by the trainer (validation, test), evaluate, cv and the benchmarks alike.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from augcn_pyg.core.io import atomic_path
from augcn_pyg.core.metrics import AUScores, au_scores


@torch.no_grad()
def encode_rows(model, store, rows: np.ndarray, device, batch_size: int = 512, flip=None) -> torch.Tensor:
    """(M, R, d0) latents of store ``rows`` (flipped faces when ``flip`` is a FlipROIs)."""
    model.eval()
    out = []
    for start in range(0, len(rows), batch_size):
        crops = torch.from_numpy(store.read_rows(rows[start:start + batch_size])).to(device)
        if flip is not None:
            crops = flip.flip(crops)
        out.append(model.autoencoders.encode(model.select_rois(crops)))
    return torch.cat(out) if out else torch.zeros(0, model.num_rois, model.latent, device=device)


@torch.no_grad()
def predict_rows(model, store, rows: np.ndarray, device, batch_size: int = 512) -> np.ndarray:
    """(M, C) AU probabilities of store ``rows``."""
    model.eval()
    out = [model.predict_proba(torch.from_numpy(store.read_rows(rows[s:s + batch_size])).to(device)).cpu()
           for s in range(0, len(rows), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.protocol.num_aus), np.float32)


@torch.no_grad()
def predict_latents(model, latents: torch.Tensor, batch_size: int = 2048) -> np.ndarray:
    model.eval()
    out = [torch.sigmoid(model.head(latents[s:s + batch_size])).cpu() for s in range(0, len(latents), batch_size)]
    return torch.cat(out).numpy()


def score(store, rows, probabilities) -> AUScores:
    return au_scores(probabilities, store.labels[rows], aus=store.protocol.aus)


def write_table(path: Path, scores: AUScores) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame(scores.rows()).to_csv(tmp, index=False, float_format="%.4f")
