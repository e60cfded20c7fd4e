"""The AU-GCN model: ROI auto-encoders -> R latents -> relation layers -> flattened nodes -> C logits.

Shapes (B faces, R ROIs, C AUs, n ROI side, d0 latent, d_L the last relation width)::

    crops (B, R, 3, n, n) uint8
      -> ROIAutoEncoders       latents Z0 (B, R, d0), L1 reconstruction (scalar)
      -> ROI heads             roi_logits (B, R, C)        (eq. 2: one linear d0 -> C per ROI)
      -> relation layers       Z_{i+1} = ReLU(Dropout(layer_i(Z_i)))   d0 -> d1 -> ... -> d_L (eq. 6)
      -> flatten + Linear      logits (B, C)

``layer`` is any name of :data:`augcn_pyg.nn.layers.RELATION_LAYERS`; ``none`` is the paper's AU-Net
(no graph). With ``global_node=False`` the whole-face ROI is left out of the model and of the graph
(the paper's "w/o F" ablation).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from augcn_pyg.core.aus import Protocol, get_protocol
from augcn_pyg.core.draws import batch_rand
from augcn_pyg.nn.autoencoder import ROIAutoEncoders, per_roi
from augcn_pyg.nn.layers import build_layer
from augcn_pyg.nn.topology import GraphTopology

#: parameter-name prefixes of each part, in the order model-info prints them
PARTS = {
    "encoders": ("autoencoders.enc_",),
    "decoders": ("autoencoders.dec_",),
    "roi heads": ("roi_head_",),
    "relation layers": ("relation.",),
    "classifier": ("classifier.",),
}


@dataclass
class ModelOutput:
    logits: torch.Tensor  # (B, C)
    roi_logits: torch.Tensor  # (B, R, C)
    reconstruction: torch.Tensor | None  # scalar L1 (eq. 1) or None when not computed
    latents: torch.Tensor  # (B, R, d0)


class FaceDropout(nn.Module):
    """Dropout on (B, R, d) whose mask for a face depends on its row in the global batch: with ``share`` =
    (offset, total) set, the mask of all ``total`` faces is drawn and rows offset.. kept, so N processes
    drop the same units as one (nn.Dropout would draw per process)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = float(p)
        self.share: tuple[int, int] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = batch_rand(x.shape[0], x.shape[1:], self.share, device=x.device) >= self.p  # (B, R, d)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


#: the model's constructor options that a run config's ``model`` section holds (``from_config`` reads them)
MODEL_OPTIONS = ("layer", "latent", "hidden", "dropout", "layer_options", "global_node", "strip_rows", "strip_channels")


class AUGCN(nn.Module):
    """Args:
        protocol: a protocol name or :class:`Protocol`.
        graph: the fitted ``RelationGraph`` of the protocol.
        layer: a relation layer's name (``augcn_pyg.nn.layers.RELATION_LAYERS``); ``layer_options`` its options.
        latent: d0, each ROI's latent size; hidden: d1, d2, ...: one relation layer each.
        dropout: after each relation layer, before its ReLU. Its masks come from :class:`FaceDropout`, whose
            ``share`` attribute a distributed trainer sets (see :mod:`augcn_pyg.core.draws`).
        global_node: the whole-face ROI as a node; strip_rows, strip_channels: the auto-encoders' strips.
        roi_size: n of the store's crops.

    ``AUGCN.from_config(protocol, graph, cfg.model, roi_size)`` builds one from a run config's model section.
    """

    def __init__(self, protocol: str | Protocol, graph, layer: str = "gcn", latent: int = 150,
                 hidden=(30, 12), dropout: float = 0.2, layer_options: dict | None = None, global_node: bool = True,
                 strip_rows: int = 5, strip_channels: int = 24, roi_size: int = 25):
        super().__init__()
        self.protocol = get_protocol(protocol)
        self.layer, self.latent, self.hidden = layer, int(latent), [int(h) for h in hidden]
        self.layer_options = dict(layer_options or {})
        self.global_node = bool(global_node)
        self.roi_size = roi_size
        keep = np.arange(self.protocol.num_rois)
        if not global_node:
            keep = keep[keep != self.protocol.global_index]
        self.register_buffer("keep", torch.as_tensor(keep, dtype=torch.long), persistent=False)
        self.all_rois = len(keep) == self.protocol.num_rois
        membership = torch.from_numpy(self.protocol.membership()[keep])  # (R, C) bool
        self.register_buffer("membership", membership, persistent=False)
        num_rois, num_aus = len(keep), self.protocol.num_aus
        self.autoencoders = ROIAutoEncoders(num_rois, roi_size, self.latent, strip_rows, strip_channels)
        self.roi_head_weight, self.roi_head_bias = per_roi(num_rois, self.latent, num_aus)
        self.topology = GraphTopology.from_graph(graph, keep=keep.tolist())
        widths = [self.latent, *self.hidden]
        self.relation = nn.ModuleList(
            build_layer(layer, widths[i], widths[i + 1], self.topology, **self.layer_options)
            for i in range(len(widths) - 1))
        self.dropout = FaceDropout(dropout)
        self.classifier = nn.Linear(num_rois * widths[-1], num_aus)

    @classmethod
    def from_config(cls, protocol: str | Protocol, graph, config, roi_size: int = 25) -> "AUGCN":
        """The model a config's ``model`` section describes (any object with :data:`MODEL_OPTIONS` as attributes)."""
        return cls(protocol, graph, roi_size=roi_size, **{k: getattr(config, k) for k in MODEL_OPTIONS})

    @property
    def num_rois(self) -> int:
        return int(self.keep.numel())

    def select_rois(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, R_store, 3, n, n) -> (B, R, 3, n, n): the ROIs the model uses."""
        return crops if self.all_rois else crops.index_select(1, self.keep)

    def roi_logits(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, R, d0) -> (B, R, C) ROI-level AU logits (eq. 2)."""
        out = torch.baddbmm(self.roi_head_bias, latents.transpose(0, 1), self.roi_head_weight)  # (R, B, C)
        return out.transpose(0, 1)

    def head(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, R, d0) latents -> (B, C) logits: the relation layers and the classifier."""
        z = latents
        for layer in self.relation:
            z = torch.relu(self.dropout(layer(z)))  # (B, R, d_i)
        return self.classifier(z.flatten(1))

    def forward(self, crops: torch.Tensor, reconstruct: bool = True) -> ModelOutput:
        latents, recon = self.autoencoders(self.select_rois(crops), reconstruct=reconstruct)  # (B, R, d0)
        return ModelOutput(self.head(latents), self.roi_logits(latents), recon, latents)

    @torch.no_grad()
    def predict_proba(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, R, 3, n, n) uint8 -> (B, C) AU probabilities."""
        return torch.sigmoid(self.head(self.autoencoders.encode(self.select_rois(crops))))

    def parameter_counts(self) -> dict[str, int]:
        """Parameters per part (see :data:`PARTS`) and the total."""
        counts = {part: 0 for part in PARTS}
        for name, p in self.named_parameters():
            part = next((k for k, prefixes in PARTS.items() if name.startswith(prefixes)), None)
            if part is None:
                raise RuntimeError(f"parameter {name} belongs to no part of PARTS")
            counts[part] += p.numel()
        counts["total"] = sum(counts.values())
        return counts

    def encoder_parameters(self):
        return [p for n, p in self.named_parameters() if n.startswith("autoencoders.enc_")]


def count_flops(model: AUGCN, batch_size: int = 16, reconstruct: bool = False) -> dict[str, float]:
    """FLOPs per face of one forward pass, per part, from ``torch.utils.flop_counter`` (matrix products
    only: element-wise work and sparse message passing are not counted)."""
    crops = torch.zeros(batch_size, model.protocol.num_rois, 3, model.roi_size, model.roi_size, dtype=torch.uint8)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            sel = model.select_rois(crops)
            with FlopCounterMode(display=False) as enc:
                latents, _ = model.autoencoders(sel, reconstruct=False)
            with FlopCounterMode(display=False) as dec:
                model.autoencoders.decode_pixels(latents.transpose(0, 1))
            with FlopCounterMode(display=False) as roi:
                model.roi_logits(latents)
            with FlopCounterMode(display=False) as rel:
                z = latents
                for layer in model.relation:
                    z = torch.relu(layer(z))
            with FlopCounterMode(display=False) as cls:
                model.classifier(z.flatten(1))
    finally:
        model.train(was_training)
    out = {"encoders": enc.get_total_flops(), "decoders": dec.get_total_flops() if reconstruct else 0,
           "roi heads": roi.get_total_flops(), "relation layers": rel.get_total_flops(),
           "classifier": cls.get_total_flops()}
    out = {k: v / batch_size for k, v in out.items()}
    out["total"] = sum(out.values())
    return out
