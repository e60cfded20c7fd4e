"""The obvious PyG implementation of AU-GCN, the baseline the toolkit's path is measured against.

What a first implementation with PyG's usual tools looks like (REFERENCE.md, "Speed of the naive ROI
auto-encoder stack"):

* data: one ``torch_geometric.data.Data`` per face in a Python list, batched by
  ``torch_geometric.loader.DataLoader`` (per-face collation, the edge_index shifted face by face);
* encoders: one ``nn.Conv2d`` auto-encoder per ROI (3 -> 16 -> 32 channels, stride 2, linear to d0),
  run in a Python loop over the R ROIs; the decoders and the per-ROI heads likewise;
* relation layers: PyG's sparse layers (GCNConv, GATConv, ...) on the batched edge_index: the registry
  layers' ``forward_sparse``, so the weights are the ones the dense fast path uses.

Only the relation layers and the classifier compute the same function as the toolkit's model (same
weights, same outputs); the convolutional auto-encoders are a different (the reference's) architecture.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch_geometric.data import Data


def conv_side(n: int) -> int:
    """Side of the feature map after two 3x3 stride-2 convolutions with padding 1 on an n x n crop."""
    return (((n + 1) // 2) + 1) // 2


def conv_autoencoder(roi_size: int = 25, latent: int = 150) -> tuple[nn.Sequential, nn.Sequential]:
    """One ROI's (encoder, decoder): (B, 3, n, n) -> (B, d0) -> (B, 3, n, n)."""
    mid, m = (roi_size + 1) // 2, conv_side(roi_size)
    # output_padding makes the transposed convolutions land exactly on mid and n again
    pad1, pad2 = mid - (2 * m - 1), roi_size - (2 * mid - 1)
    enc = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(32 * m * m, latent))
    dec = nn.Sequential(nn.Linear(latent, 32 * m * m), nn.ReLU(), nn.Unflatten(1, (32, m, m)),
                        nn.ConvTranspose2d(32, 16, 3, 2, 1, pad1), nn.ReLU(),
                        nn.ConvTranspose2d(16, 3, 3, 2, 1, pad2))
    return enc, dec


class ObviousAUGCN(nn.Module):
    """Per-ROI Conv2d auto-encoders and heads in Python loops, then PyG's sparse relation layers.

    ``relation`` and ``classifier`` are copied from a toolkit :class:`~augcn_pyg.nn.model.AUGCN`
    (same weights at the start), so ``head`` computes what ``AUGCN.head`` does, through the sparse path.
    """

    def __init__(self, model):
        super().__init__()
        r, n, d0 = model.num_rois, model.roi_size, model.latent
        parts = [conv_autoencoder(n, d0) for _ in range(r)]
        self.encoders = nn.ModuleList(enc for enc, _ in parts)
        self.decoders = nn.ModuleList(dec for _, dec in parts)
        self.roi_heads = nn.ModuleList(nn.Linear(d0, model.protocol.num_aus) for _ in range(r))
        self.relation = copy.deepcopy(model.relation)
        self.classifier = copy.deepcopy(model.classifier)
        self.dropout = nn.Dropout(model.dropout.p)
        self.register_buffer("membership", model.membership.clone(), persistent=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, R, 3, n, n) float in [0, 1] -> (B, R, d0), one encoder call per ROI."""
        return torch.stack([enc(x[:, r]) for r, enc in enumerate(self.encoders)], dim=1)

    def head(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, R, d0) -> (B, C) logits through PyG's sparse layers on the batched edge_index."""
        z = latents
        for layer in self.relation:
            z = torch.relu(self.dropout(layer.forward_sparse(z)))  # (B, R, d_i)
        return self.classifier(z.flatten(1))

    def forward(self, crops: torch.Tensor):
        """crops (B, R, 3, n, n) uint8 -> (logits (B, C), roi_logits (B, R, C), L1 reconstruction)."""
        x = crops.float() / 255
        latents = self.encode(x)  # (B, R, d0)
        # eq. 1 per ROI: 3 x the mean over (B, 3, n, n) is (1/n^2) sum over a crop, averaged over faces
        recon = sum(3 * (dec(latents[:, r]) - x[:, r]).abs().mean() for r, dec in enumerate(self.decoders))
        roi_logits = torch.stack([h(latents[:, r]) for r, h in enumerate(self.roi_heads)], dim=1)  # (B, R, C)
        return self.head(latents), roi_logits, recon

    @torch.no_grad()
    def predict_proba(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, R, 3, n, n) uint8 -> (B, C) AU probabilities."""
        return torch.sigmoid(self.head(self.encode(crops.float() / 255)))


def face_data_list(dataset, count: int) -> list[Data]:
    """The first ``count`` faces of an :class:`~augcn_pyg.data.dataset.AUROIDataset` as a list of ``Data``."""
    return [dataset[i] for i in range(min(count, len(dataset)))]
