"""The paper's losses, with unknown labels masked out of every term.

Notation: B faces, C AUs, R ROIs; ``known`` (B, C) bool is False where a label is unknown (BP4D's 9).

- AU weights (eq. 7): ``w_i = (1/r_i) * C / sum_j (1/r_j)``, r_i the AU's occurrence rate among the
  training frames where it is known. An AU that never occurs in training gets the weight of the rarest
  AU that does (a finite weight and a warning instead of 1/0).
- Weighted BCE (eq. 7): ``sum_{b,i} known * w_i * bce(b, i) / sum known``: with every label known this is
  eq. 7 averaged over the batch.
- Weighted Dice (eq. 8): per AU over the batch, as JAA-Net's implementation does:
  ``1 - (2 sum_b y p + eps) / (sum_b y^2 + sum_b p^2 + eps)`` over known frames, weighted by w_i, averaged
  over AUs (eps = 1).
- ROI loss (eq. 2): per ROI, ``(1/C) sum_c bce`` of its AU logits against the face's labels, counting only
  the AUs that belong to the ROI (the global ROI belongs to all) and that are known; summed over the R ROIs
  (each ROI has its own auto-encoder and loss) and averaged over the faces.
- L1 reconstruction (eq. 1): likewise per ROI, summed over ROIs (:mod:`augcn_pyg.nn.autoencoder`). Summing
  over ROIs rather than averaging matters with SGD: with a mean over every pixel of every ROI the
  auto-encoders barely moved in 200 steps at lr 0.01 (docs/model-and-training.md).
- Every term is a ratio of batch sums, and ``total`` (identity here) may sum them over processes first
  (``Distributed.total``): the loss of a batch split over N processes is then the loss of the whole batch.
- L_au = BCE + lambda2 * Dice (lambda2 = 4); L_ROI = ROI BCE + lambda1 * L1 reconstruction (lambda1 = 3).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F


def local_sums(sums: torch.Tensor) -> torch.Tensor:
    """The batch sums as they are: one process. Distributed training passes a sum over the ranks."""
    return sums


class LossWarning(UserWarning):
    """A training statistic that makes a loss term degenerate (e.g. an AU absent from a fold)."""


def au_weights(labels: np.ndarray, aus=None) -> np.ndarray:
    """(C,) float32 weights of eq. 7 from (N, C) training labels (1, 0, NaN unknown)."""
    labels = np.asarray(labels, dtype=np.float64)
    known = ~np.isnan(labels)
    positives = np.where(known, labels, 0).sum(0)
    counted = known.sum(0)
    rates = np.divide(positives, counted, out=np.zeros_like(positives), where=counted > 0)
    absent = rates <= 0
    if absent.all():
        raise ValueError("no AU occurs in the training labels: the AU weights are undefined")
    if absent.any():
        names = ", ".join(f"AU{aus[i]}" if aus is not None else f"column {i}" for i in np.nonzero(absent)[0])
        warnings.warn(f"{names} never occur in the training labels: weighted like the rarest AU that does",
                      LossWarning, stacklevel=2)
        rates = np.where(absent, rates[~absent].min(), rates)
    inverse = 1.0 / rates
    return (inverse * len(rates) / inverse.sum()).astype(np.float32)


def weighted_bce(logits: torch.Tensor, y: torch.Tensor, known: torch.Tensor, weights: torch.Tensor,
                 total=local_sums) -> torch.Tensor:
    """Eq. 7 with masking: logits, y, known (B, C); weights (C,) -> scalar."""
    bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")  # (B, C)
    mask = known.to(bce.dtype)
    num, den = total(torch.stack([(bce * mask * weights).sum(), mask.sum()]))
    return num / den.clamp_min(1)


def weighted_dice(logits: torch.Tensor, y: torch.Tensor, known: torch.Tensor, weights: torch.Tensor,
                  eps: float = 1.0, total=local_sums) -> torch.Tensor:
    """Eq. 8 over the batch with masking: logits, y, known (B, C); weights (C,) -> scalar."""
    mask = known.to(logits.dtype)
    p = torch.sigmoid(logits) * mask  # (B, C)
    t = y * mask
    pt, tt, pp = total(torch.stack([(p * t).sum(0), (t * t).sum(0), (p * p).sum(0)]))  # 3 x (C,)
    dice = (2 * pt + eps) / (tt + pp + eps)  # (C,)
    return (weights * (1 - dice)).mean()


def roi_bce(roi_logits: torch.Tensor, y: torch.Tensor, known: torch.Tensor, membership: torch.Tensor,
            total=local_sums) -> torch.Tensor:
    """Eq. 2 with masking: roi_logits (B, R, C), y and known (B, C), membership (R, C) bool -> scalar."""
    target = y.unsqueeze(1).expand_as(roi_logits)  # (B, R, C)
    mask = (known.unsqueeze(1) & membership.unsqueeze(0)).to(roi_logits.dtype)  # (B, R, C)
    bce = F.binary_cross_entropy_with_logits(roi_logits, target, reduction="none")
    num, faces = total(torch.stack([(bce * mask).sum(), bce.new_tensor(float(roi_logits.shape[0]))]))
    return num / (faces.clamp_min(1) * roi_logits.shape[2])


def face_mean(value: torch.Tensor, faces: int, total=local_sums) -> torch.Tensor:
    """A loss already averaged over this batch's ``faces`` as the average over every rank's faces."""
    if total is local_sums:
        return value
    num, count = total(torch.stack([value * faces, value.new_tensor(float(faces))]))
    return num / count.clamp_min(1)


#: the intensity losses by name (``loss.intensity_loss``), on intensity / 5: see :func:`intensity_loss`
INTENSITY_LOSSES = ("mse", "huber")


def intensity_loss(predicted: torch.Tensor, target: torch.Tensor, known: torch.Tensor, kind: str = "mse",
                   total=local_sums, scale: float = 5.0, delta: float = 0.2) -> torch.Tensor:
    """Masked regression of (B, C) intensities on 0–5 against (B, C) targets (unknown where ``known`` is
    False): the mean over known entries of ``mse`` (squared error) or ``huber`` (``delta`` on the 0–1
    scale, i.e. one intensity step) of ``predicted / 5`` against ``target / 5``. Dividing by 5 keeps the
    term on the scale of the BCE beside it (both at most ~1 per entry)."""
    if kind not in INTENSITY_LOSSES:
        raise ValueError(f"intensity loss must be one of {', '.join(INTENSITY_LOSSES)}; got {kind!r}")
    p, t = predicted / scale, torch.where(known, target, torch.zeros((), dtype=target.dtype)) / scale
    if kind == "mse":
        err = (p - t) ** 2
    else:
        err = F.huber_loss(p, t, reduction="none", delta=delta)
    mask = known.to(err.dtype)
    num, den = total(torch.stack([(err * mask).sum(), mask.sum()]))
    return num / den.clamp_min(1)
