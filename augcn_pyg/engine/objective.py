"""The training objective of one batch: the paper's losses for a stage, as the module DDP wraps.

Stage ``ae``: L_ROI = lambda_roi * ROI BCE on the ROI heads (eq. 2) + lambda1 * L1 reconstruction (eq. 1, eq. 3;
the paper's lambda_roi is 1).
Stage ``all``: L_ROI + L_au, with L_au = weighted BCE + lambda2 * weighted Dice (eq. 9) on the presence
logits (unless the task is intensity alone) + lambda_intensity * the intensity term when the model has an
intensity head. With frozen encoders the inputs are cached latents and the loss is L_au alone.

``y`` and ``known`` are (B, C) labels and their known-mask, with the store's intensities appended as
columns C.. (B, 2C) when the model has an intensity head. Batch *sums* become global-batch sums through
``total`` (the identity on one process, an all-reduce with its gradient under DDP: see distributed.py).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from augcn_pyg.nn.losses import face_mean, intensity_loss, roi_bce, weighted_bce, weighted_dice


class Objective:
    """The losses of a batch for ``model`` under a run config's ``loss`` section and ``model.task``;
    ``weights`` (C,) the AU weights of the training labels, ``total`` how batch sums become global sums."""

    def __init__(self, model: nn.Module, loss_cfg, task: str, weights: torch.Tensor,
                 total: Callable[[torch.Tensor], torch.Tensor]):
        self.model, self.loss_cfg, self.task, self.weights, self.total = model, loss_cfg, task, weights, total

    def stage_losses(self, stage: str, crops: torch.Tensor, y: torch.Tensor,
                     known: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, R, 3, n, n) crops -> the stage's named losses, ``loss`` their weighted sum."""
        m, lc = self.model, self.loss_cfg
        latents, recon = m.autoencoders(m.select_rois(crops))  # (B, R, d0), scalar
        c = m.protocol.num_aus  # y, known may carry intensities in columns C..
        out = {"roi": roi_bce(m.roi_logits(latents), y[:, :c], known[:, :c], m.membership, self.total),
               "recon": face_mean(recon, crops.shape[0], self.total)}
        out["loss"] = lc.lambda_roi * out["roi"] + lc.lambda_recon * out["recon"]
        if stage == "all":
            out.update(self.head_losses(*m.head_outputs(latents), y, known))
            out["loss"] = out["loss"] + out["au"]
        return out

    def head_losses(self, logits, intensity, y, known) -> dict[str, torch.Tensor]:
        """The head's losses (``au`` their sum): presence (BCE + Dice) unless the task is intensity alone,
        plus lambda_intensity x the intensity term when the model has an intensity head."""
        lc, c = self.loss_cfg, self.model.protocol.num_aus
        out = {}
        if self.task != "intensity":
            out["bce"] = weighted_bce(logits, y[:, :c], known[:, :c], self.weights, self.total)
            out["au"] = out["bce"]
            if lc.dice:
                out["dice"] = weighted_dice(logits, y[:, :c], known[:, :c], self.weights, lc.dice_eps, self.total)
                out["au"] = out["au"] + lc.lambda_dice * out["dice"]
        if intensity is not None:
            out["intensity"] = intensity_loss(intensity, y[:, c:], known[:, c:], lc.intensity_loss, total=self.total)
            weighted = lc.lambda_intensity * out["intensity"]
            out["au"] = out["au"] + weighted if "au" in out else weighted
        return out


class BatchLosses(nn.Module):
    """One batch's training losses as a module (what DistributedDataParallel wraps): ``frozen`` inputs are
    (B, R, d0) cached latents, otherwise (B, R, 3, n, n) crops."""

    def __init__(self, objective: Objective, stage: str, frozen: bool):
        super().__init__()
        self.model = objective.model
        self.stage, self.frozen = stage, frozen
        object.__setattr__(self, "objective", objective)  # a plain reference, not a submodule

    def forward(self, inputs, y, known) -> dict[str, torch.Tensor]:
        if self.frozen:
            losses = self.objective.head_losses(*self.model.head_outputs(inputs), y, known)
            losses["loss"] = losses["au"]
            return losses
        return self.objective.stage_losses(self.stage, inputs, y, known)
