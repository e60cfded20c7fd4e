"""Scores of a model on store rows: latents, probabilities, per-AU metrics, and their tables.

Used by the trainer (validation, test), evaluate, cv and the benchmarks alike. Batches go to the model as
:class:`~augcn_pyg.data.rows.StoreRows` (row indices), which the auto-encoders read straight into their float
input; the results equal those of uint8 crop tensors bit for bit.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from augcn_pyg.core.intensity import IntensityScores, intensity_scores
from augcn_pyg.core.io import atomic_path
from augcn_pyg.core.metrics import AUScores, au_scores
from augcn_pyg.data.rows import StoreRows


@torch.no_grad()
def encode_rows(model, store, rows: np.ndarray, device, batch_size: int = 512, flip=None) -> torch.Tensor:
    """(M, R, d0) latents of store ``rows`` (flipped faces when ``flip`` is a FlipROIs of the store's protocol)."""
    model.eval()
    out = []
    for start in range(0, len(rows), batch_size):
        part = rows[start:start + batch_size]
        crops = StoreRows(store, part, flipped=np.ones(len(part), bool) if flip is not None else None)
        out.append(model.autoencoders.encode(model.select_rois(crops)))
    return torch.cat(out) if out else torch.zeros(0, model.num_rois, model.latent, device=device)


@torch.no_grad()
def predict_rows(model, store, rows: np.ndarray, device, batch_size: int = 512) -> np.ndarray:
    """(M, C) AU probabilities of store ``rows``."""
    model.eval()
    out = [model.predict_proba(StoreRows(store, rows[s:s + batch_size])).cpu() for s in range(0, len(rows), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.protocol.num_aus), np.float32)


@torch.no_grad()
def predict_latents(model, latents: torch.Tensor, batch_size: int = 2048) -> np.ndarray:
    model.eval()
    out = [torch.sigmoid(model.head(latents[s:s + batch_size])).cpu() for s in range(0, len(latents), batch_size)]
    return torch.cat(out).numpy()


@torch.no_grad()
def predict_latents_both(model, latents: torch.Tensor, batch_size: int = 2048) -> tuple[np.ndarray, np.ndarray | None]:
    """(M, R, d0) latents -> ((M, C) AU probabilities, (M, C) intensities on 0–5 or None): the head alone."""
    model.eval()
    probs, inten = [], []
    for s in range(0, len(latents), batch_size):
        logits, i = model.head_outputs(latents[s:s + batch_size])
        probs.append(torch.sigmoid(logits).cpu())
        if i is not None:
            inten.append(i.cpu())
    return stacked_outputs(model, probs, inten)


def stacked_outputs(model, probs: list[torch.Tensor], inten: list[torch.Tensor]) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-batch (B, C) probabilities and intensities -> ((M, C), (M, C) or None when the model has no
    intensity head), empty (0, C) arrays when there were no batches."""
    c = model.protocol.num_aus
    p = torch.cat(probs).numpy() if probs else np.zeros((0, c), np.float32)
    if not has_intensity_head(model):
        return p, None
    return p, (torch.cat(inten).numpy() if inten else np.zeros((0, c), np.float32))


def score(store, rows, probabilities) -> AUScores:
    return au_scores(probabilities, store.labels[rows], aus=store.protocol.aus)


def write_table(path: Path, scores: AUScores) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame(scores.rows()).to_csv(tmp, index=False, float_format="%.4f")


def has_intensity_head(model) -> bool:
    return getattr(model, "intensity_head", None) is not None


@torch.no_grad()
def predict_rows_both(model, store, rows: np.ndarray, device, batch_size: int = 512,
                      roi_map: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """((M, C) AU probabilities, (M, C) intensities on 0–5 or None) of store ``rows``. ``roi_map`` (R_model,)
    picks each model ROI's crop from the store's ROIs (-1: a zero crop), for a store of another protocol."""
    model.eval()
    probs, inten = [], []
    for s in range(0, len(rows), batch_size):
        crops = StoreRows(store, rows[s:s + batch_size])  # (B, R_store, 3, n, n)
        if roi_map is not None:
            crops = crops.select(roi_map)  # (B, R_model, 3, n, n)
        p, i = model.predict_both(crops)
        probs.append(p.cpu())
        if i is not None:
            inten.append(i.cpu())
    return stacked_outputs(model, probs, inten)


def map_rois(crops: torch.Tensor, roi_map: np.ndarray) -> torch.Tensor:
    """(B, R_store, 3, n, n) -> (B, R_model, 3, n, n): crop ``roi_map[r]`` for model ROI r, zeros where -1."""
    index = torch.as_tensor(np.maximum(roi_map, 0), dtype=torch.long)
    out = crops.index_select(1, index)
    missing = torch.as_tensor(roi_map < 0)
    if missing.any():
        out[:, missing] = 0
    return out


def score_intensity(store, rows, intensities) -> IntensityScores | None:
    """ICC(3,1), MAE and r per AU of (M, C) predicted intensities against the store's; None when either is
    missing (a presence model, or a store without intensities)."""
    if intensities is None or not store.has_intensity:
        return None
    return intensity_scores(intensities, store.intensities[rows], aus=store.protocol.aus)


def write_intensity_table(path: Path, scores: IntensityScores) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame(scores.rows()).to_csv(tmp, index=False, float_format="%.4f")
