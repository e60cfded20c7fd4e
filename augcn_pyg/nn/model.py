"""The AU-GCN model: ROI auto-encoders -> R latents -> relation layers -> flattened nodes -> C logits.

Shapes (B faces, R ROIs, C AUs, n ROI side, d0 latent, d_L the last relation width)::

    crops (B, R, 3, n, n) uint8
      -> ROIAutoEncoders       latents Z0 (B, R, d0), L1 reconstruction (scalar)
      -> ROI heads             roi_logits (B, R, C)        (eq. 2: one linear d0 -> C per ROI)
      -> relation layers       Z_{i+1} = ReLU(Dropout(layer_i(Z_i)))   d0 -> d1 -> ... -> d_L (eq. 6)
      -> flatten + Linear      logits (B, C)

``layer`` is any name of :data:`augcn_pyg.nn.layers.RELATION_LAYERS`; ``none`` is no graph (the paper's
AU-Net is ``none`` with ``loss.dice: false`` and ``global_node: False``); ``local`` is ``none`` with a
:class:`MaskedLinear` classifier: AU c's logit reads only the nodes of the ROIs of c (the relation-free
point). With ``global_node=False`` the whole-face ROI is left out of the model and of the graph (the paper's
"w/o F" ablation).

The relation head (everything after the latents) is a design space, :data:`DESIGN_OPTIONS`; its default
point (``skip="none"``, ``norm="none"``) is the relation-layer line above, the paper's head. See :class:`AUGCN`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from augcn_pyg.core.aus import Protocol, get_protocol
from augcn_pyg.core.draws import batch_rand
from augcn_pyg.core.errors import InputError
from augcn_pyg.core.registry import Registry
from augcn_pyg.nn.autoencoder import ROIAutoEncoders, per_roi
from augcn_pyg.nn.layers import build_layer
from augcn_pyg.nn.topology import GraphTopology

#: parameter-name prefixes of each part, in the order model-info prints them
PARTS = {
    "encoders": ("autoencoders.enc_",),
    "decoders": ("autoencoders.dec_",),
    "roi heads": ("roi_head_",),
    "relation layers": ("relation.", "relation_norms.", "relation_skips."),
    "classifier": ("classifier.",),
    "intensity head": ("intensity_head.",),
}


@dataclass
class ModelOutput:
    logits: torch.Tensor  # (B, C)
    roi_logits: torch.Tensor  # (B, R, C)
    reconstruction: torch.Tensor | None  # scalar L1 (eq. 1) or None when not computed
    latents: torch.Tensor  # (B, R, d0)
    intensity: torch.Tensor | None = None  # (B, C) on 0–5, when the model has an intensity head


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


class NodeBatchNorm(nn.BatchNorm1d):
    """Batch normalisation of node features, (B, R, d) -> (B, R, d): one mean and variance per feature over
    the B·R nodes of the batch (every face and every ROI), as PyG's ``BatchNorm`` and GraphGym do;
    d weights and d biases. Running statistics are used in eval mode."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).view_as(x)  # (B·R, d) -> (B, R, d)


class MaskedLinear(nn.Linear):
    r"""A linear layer whose weight is multiplied by a fixed 0/1 mask: y = x (W ⊙ M)ᵀ + b.

    The classifier of the ``local`` layer: x = flatten(h_L), (B, R·c_L); M, (C, R·c_L), is 1 where the
    feature belongs to a ROI of the AU (the protocol's membership, without the whole-face ROI), so
    logit_c = Σ_{r ∈ ROIs(c)} ⟨W_{c,r}, h_L[r]⟩ + b_c. Masked weights get zero gradients and never act.
    The parameters are ``weight`` and ``bias`` as in ``nn.Linear`` (checkpoints of the same shape load)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.to(self.weight.dtype), persistent=False)  # (C, R·c_L)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class LabelRelations(nn.Module):
    """A classifier in two stages: each AU's logit from its own ROIs (:class:`MaskedLinear`), then corrected by
    the other AUs' logits: logits = l + l A^T with l = local(x), (B, C), and A a learned (C, C) AU-relation matrix
    whose diagonal is held at zero (an AU is never its own evidence). A starts at zero, so training starts from
    the local model. ``mask`` is the local stage's (an intensity head reads the same ROIs)."""

    def __init__(self, mask: torch.Tensor):
        super().__init__()
        self.local = MaskedLinear(mask)
        num_aus = mask.shape[0]
        self.relations = nn.Linear(num_aus, num_aus, bias=False)
        nn.init.zeros_(self.relations.weight)
        self.register_buffer("others", 1.0 - torch.eye(num_aus), persistent=False)  # (C, C), 0 on the diagonal

    @property
    def mask(self) -> torch.Tensor:
        return self.local.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.local(x)  # (B, C)
        return logits + nn.functional.linear(logits, self.relations.weight * self.others)


#: the relation layer whose model gets a :class:`MaskedLinear` classifier (each AU from its own ROIs only), and the
#: one whose model adds AU-level relations after it (:class:`LabelRelations`)
LOCAL_LAYER, LABEL_LAYER = "local", "local-labels"
#: the classifier of each such layer's model, from the (C, R·c_L) membership mask
MASKED_CLASSIFIERS = {LOCAL_LAYER: MaskedLinear, LABEL_LAYER: LabelRelations}


def local_mask(membership: np.ndarray, is_global: np.ndarray, width: int) -> torch.Tensor:
    """(R, C) membership, (R,) whole-face flags, c_L -> (C, R·c_L) float mask of :class:`MaskedLinear`: AU c
    reads the c_L features of every ROI r with membership[r, c], except the whole-face ROI (it shows every AU,
    so through it an AU would see the others)."""
    own = np.asarray(membership, bool) & ~np.asarray(is_global, bool)[:, None]  # (R, C)
    return torch.from_numpy(np.repeat(own.T, width, axis=1).astype(np.float32))  # (C, R·c_L), ROI-major


#: the normalisations after each relation layer, by name: a builder ``width -> module on (B, R, width)``
NORMS: Registry = Registry("normalisation")
NORMS.register("none", lambda width: nn.Identity())
NORMS.register("layer", lambda width: nn.LayerNorm(width))  # each node of each face alone, over its d features
NORMS.register("batch", lambda width: NodeBatchNorm(width))  # each feature over the batch's B·R nodes

#: the skip connections around the relation layers (defined in :class:`AUGCN`'s docstring)
SKIPS = ("none", "sum", "concat", "initial")

#: the model's constructor options that a run config's ``model`` section holds (``from_config`` reads them)
MODEL_OPTIONS = ("layer", "latent", "hidden", "dropout", "skip", "skip_alpha", "norm", "layer_options", "global_node",
                 "strip_rows", "strip_channels", "task")

#: what the head predicts: AU presence (the classifier), 0–5 intensity (the intensity head), or both
TASKS = ("presence", "intensity", "both")
#: the top of the intensity scale (DISFA, BP4D's FERA 2015 release, SynthAU, OpenFace's AUxx_r)
INTENSITY_MAX = 5.0
#: an intensity-only model's presence: logit = INTENSITY_SLOPE · (intensity − PRESENT_AT), so p ≥ 0.5 exactly
#: where the predicted intensity reaches the datasets' "present" level
PRESENT_AT, INTENSITY_SLOPE = 2.0, 2.0

#: the options that shape only the relation head (after the latents): models that differ in these alone can
#: share one stage-1 model (auto-encoders and ROI heads), so they are the design dimensions a benchmark varies
DESIGN_OPTIONS = ("hidden", "skip", "skip_alpha", "norm", "dropout", "layer_options")


class AUGCN(nn.Module):
    r"""Args:
        protocol: a protocol name or :class:`Protocol`.
        graph: the fitted ``RelationGraph`` of the protocol.
        layer: a relation layer's name (``augcn_pyg.nn.layers.RELATION_LAYERS``); ``layer_options`` its options
            (e.g. ``aggr`` for ``graphconv`` and ``ggnn``; ``augcn-pyg layers`` lists each layer's).
        latent: d0, each ROI's latent size.
        hidden: d1, ..., dL: the relation layers' output widths, so also the depth L = len(hidden) >= 1.
        dropout: after each relation layer (and its normalisation), before its ReLU. Its masks come from
            :class:`FaceDropout`, whose ``share`` attribute a distributed trainer sets (see
            :mod:`augcn_pyg.core.draws`).
        skip, skip_alpha: the skip connections (:data:`SKIPS`) and the α of ``skip="initial"``.
        norm: the normalisation after each relation layer (:data:`NORMS`).
        global_node: the whole-face ROI as a node; strip_rows, strip_channels: the auto-encoders' strips.
        roi_size: n of the store's crops.

    **The relation head.** Every face's latents h_0 = Z0, (B, R, d0), pass through L relation layers, then
    the classifier. With N_i the normalisation (``norm``) and

    .. math::
        \phi_i(x) = \mathrm{ReLU}(\mathrm{Dropout}(N_i(\mathrm{layer}_i(x))))

    the four ``skip`` forms are, for i = 0 ... L-1, with c_i the width of h_i (c_0 = d0):

    ============  =============================================================  =====================
    ``skip``      h_{i+1}                                                         c_{i+1}
    ============  =============================================================  =====================
    ``none``      φ_i(h_i)   (the paper's eq. 6; the default)                      d_{i+1}
    ``sum``       φ_i(h_i) + P_i h_i                                              d_{i+1}
    ``concat``    [φ_i(h_i) ‖ h_i]   (concatenated features)                       d_{i+1} + c_i
    ``initial``   φ_i((1 - α) h_i + α Q_i h_0), and h_1 = φ_0(h_0)                 d_{i+1}
    ============  =============================================================  =====================

    and logits = Linear(R·c_L -> C)(flatten(h_L)), (B, C). layer_i maps (B, R, c_i) -> (B, R, d_{i+1}); N_i
    acts on (B, R, d_{i+1}). P_i is the identity where c_i = d_{i+1} and otherwise a learned projection
    Linear(c_i -> d_{i+1}, no bias) applied to every node alike (as a relation layer's own weight is); Q_i
    likewise maps h_0 to h_i's width (identity where d_i = d0). ``concat`` is GraphGym's ``skipconcat``
    (You et al. 2020): each layer sees every earlier representation and the classifier sees h_0, the
    ROI's own latent, whatever the layers mix. ``initial`` is GCNII's initial residual (Chen et al. 2020)
    written for any layer: GCNII adds α h_0 after its propagation and before its weight, inside its own
    layer; here the layer is any registered one, so the mix enters at its input. At i = 0 the mix is h_0
    itself, so with one layer ``initial`` equals ``none``; with α = 0 it equals ``none`` at every depth.

    ``norm``: ``none`` (identity); ``layer``: LayerNorm over each node's d features (each face and ROI
    alone, so a face's output never depends on its batch); ``batch``: :class:`NodeBatchNorm`, one
    statistic per feature over the batch's B·R nodes (PyG's and GraphGym's node batch norm).

    Default point (``skip="none"``, ``norm="none"``): the paper's head, with the parameter names of
    earlier versions (``relation.<i>.…``, ``classifier.…``), so their checkpoints load. The design modules
    (``relation_norms``, ``relation_skips``) are made after the classifier: with one seed, every point
    whose layer widths equal the default's starts from the default's layer and classifier weights.

    ``AUGCN.from_config(protocol, graph, cfg.model, roi_size)`` builds one from a run config's model section.
    """

    def __init__(self, protocol: str | Protocol, graph, layer: str = "gcn", latent: int = 150,
                 hidden=(30, 12), dropout: float = 0.2, layer_options: dict | None = None, global_node: bool = True,
                 strip_rows: int = 5, strip_channels: int = 24, roi_size: int = 25, skip: str = "none",
                 skip_alpha: float = 0.1, norm: str = "none", task: str = "presence"):
        super().__init__()
        if task not in TASKS:
            raise InputError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
        self.task = task
        self.protocol = get_protocol(protocol)
        self.layer, self.latent, self.hidden = layer, int(latent), [int(h) for h in hidden]
        if not self.hidden or min(self.hidden) < 1:
            raise InputError(f"hidden must list one or more widths >= 1, got {self.hidden}")
        if skip not in SKIPS:
            raise InputError(f"skip must be one of {', '.join(SKIPS)}; got {skip!r}")
        if not 0.0 <= float(skip_alpha) <= 1.0:
            raise InputError(f"skip_alpha must be in [0, 1], got {skip_alpha}")
        make_norm = NORMS.lookup(norm)
        self.skip, self.skip_alpha, self.norm = skip, float(skip_alpha), norm
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
        widths = self.input_widths()  # c_0, ..., c_L
        self.relation = nn.ModuleList(
            build_layer(layer, widths[i], self.hidden[i], self.topology, **self.layer_options)
            for i in range(len(self.hidden)))
        self.dropout = FaceDropout(dropout)
        if layer in MASKED_CLASSIFIERS:
            is_global = np.array([self.protocol.rois[k].is_global for k in keep])
            mask = local_mask(self.protocol.membership()[keep], is_global, widths[-1])  # (C, R·c_L)
            self.classifier = MASKED_CLASSIFIERS[layer](mask)
        else:
            self.classifier = nn.Linear(num_rois * widths[-1], num_aus)
        self.relation_norms = nn.ModuleList(make_norm(d) for d in self.hidden)  # N_i on (B, R, d_{i+1})
        self.relation_skips = nn.ModuleList()  # P_i (sum) or Q_i (initial), one per layer
        if skip in ("sum", "initial"):
            for i, d in enumerate(self.hidden):
                a, b = (widths[i], d) if skip == "sum" else (self.latent, widths[i])
                self.relation_skips.append(nn.Identity() if a == b else nn.Linear(a, b, bias=False))
        # made last, so a presence model's weights are drawn as before: intensity_c = 5·σ(⟨w_c, flatten(h_L)⟩ + b_c)
        self.intensity_head = None
        if task != "presence":
            self.intensity_head = (MaskedLinear(self.classifier.mask.clone()) if layer in MASKED_CLASSIFIERS
                                   else nn.Linear(num_rois * widths[-1], num_aus))

    def input_widths(self) -> list[int]:
        """c_0, ..., c_L: the widths of h_0 (d0), of each layer's input, and of the classifier's nodes."""
        widths = [self.latent]
        for d in self.hidden:
            widths.append(d + widths[-1] if self.skip == "concat" else d)
        return widths

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

    def relate(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, R, d0) latents h_0 -> (B, R, c_L) h_L: the relation layers with their skips (see the class)."""
        h0 = h = latents
        for i, layer in enumerate(self.relation):
            x = h  # (B, R, c_i)
            if self.skip == "initial" and i > 0:
                x = (1.0 - self.skip_alpha) * h + self.skip_alpha * self.relation_skips[i](h0)
            u = torch.relu(self.dropout(self.relation_norms[i](layer(x))))  # (B, R, d_{i+1})
            if self.skip == "sum":
                h = u + self.relation_skips[i](h)
            elif self.skip == "concat":
                h = torch.cat([u, h], dim=-1)  # (B, R, d_{i+1} + c_i)
            else:
                h = u
        return h

    def head(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, R, d0) latents -> (B, C) logits: the relation layers and the classifier."""
        return self.head_outputs(latents)[0]

    def head_outputs(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, R, d0) latents -> ((B, C) presence logits, (B, C) intensities on 0–5 or None), one pass
        through the relation layers. An intensity-only model's logits come from its intensities
        (:data:`PRESENT_AT`); its classifier is unused."""
        z = self.relate(latents).flatten(1)  # (B, R·c_L)
        if self.intensity_head is None:
            return self.classifier(z), None
        intensity = INTENSITY_MAX * torch.sigmoid(self.intensity_head(z))  # (B, C) in (0, 5)
        if self.task == "intensity":
            return INTENSITY_SLOPE * (intensity - PRESENT_AT), intensity
        return self.classifier(z), intensity

    def head_parameters(self) -> list[nn.Parameter]:
        """The relation head's parameters (layers, normalisations, skip projections, classifier): what stage 2
        trains with frozen encoders."""
        return [*self.relation.parameters(), *self.relation_norms.parameters(), *self.relation_skips.parameters(),
                *self.classifier.parameters(), *(self.intensity_head.parameters() if self.intensity_head else [])]

    def forward(self, crops: torch.Tensor, reconstruct: bool = True) -> ModelOutput:
        latents, recon = self.autoencoders(self.select_rois(crops), reconstruct=reconstruct)  # (B, R, d0)
        logits, intensity = self.head_outputs(latents)
        return ModelOutput(logits, self.roi_logits(latents), recon, latents, intensity)

    @torch.no_grad()
    def predict_proba(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, R, 3, n, n) uint8 -> (B, C) AU probabilities."""
        return torch.sigmoid(self.head(self.autoencoders.encode(self.select_rois(crops))))

    @torch.no_grad()
    def predict_both(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, R, 3, n, n) uint8 -> ((B, C) probabilities, (B, C) intensities on 0–5 or None)."""
        logits, intensity = self.head_outputs(self.autoencoders.encode(self.select_rois(crops)))
        return torch.sigmoid(logits), intensity

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
                z = model.relate(latents)  # (B, R, c_L); eval mode: no dropout
            with FlopCounterMode(display=False) as cls:
                model.classifier(z.flatten(1))
            with FlopCounterMode(display=False) as inten:
                if model.intensity_head is not None:
                    model.intensity_head(z.flatten(1))
    finally:
        model.train(was_training)
    out = {"encoders": enc.get_total_flops(), "decoders": dec.get_total_flops() if reconstruct else 0,
           "roi heads": roi.get_total_flops(), "relation layers": rel.get_total_flops(),
           "classifier": cls.get_total_flops(), "intensity head": inten.get_total_flops()}
    out = {k: v / batch_size for k, v in out.items()}
    out["total"] = sum(out.values())
    return out
