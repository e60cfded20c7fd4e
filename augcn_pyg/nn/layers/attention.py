r"""The attention layers: ``gat``, ``gatv2`` and ``transformer``, PyG's ``GATConv``, ``GATv2Conv`` and
``TransformerConv``.

Each computes per-head logits :math:`e_{ts}` for every (target, source) pair of the shared ``(R, R)``
topology at once, a softmax over each target's incoming edges (:func:`masked_softmax`), and the heads'
weighted messages averaged (``concat=False``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GATConv, GATv2Conv, TransformerConv

from augcn_pyg.nn.layers.base import RelationLayer
from augcn_pyg.nn.layers.dense import masked_softmax


class _AttentionLayer(RelationLayer):
    """Attention over each target's incoming edges; heads averaged (``concat=False``)."""

    self_loops = False  # whether PyG's layer adds a self-loop to every node

    def attention(self, x: Tensor) -> Tensor:
        """(B, R, in) -> (B, heads, R, R) attention, A[target, source] (before dropout)."""
        self._check(x)
        return masked_softmax(self._logits(x), self._mask(self.self_loops))

    def _fast(self, x):
        att = F.dropout(self.attention(x), p=self.conv.dropout, training=self.training)  # (B, H, R, R)
        return torch.einsum("bhts,bshc->bthc", att, self._values(x)).mean(dim=2) + self._root(x)

    def _sparse(self, x, batch_size):
        edge_index, _, _ = self.topology.batched(batch_size)
        return self.conv(x, edge_index)

    def _heads(self, t: Tensor) -> Tensor:
        return t.view(*t.shape[:-1], self.conv.heads, self.out_channels)  # (B, R, H, C)

    def _logits(self, x: Tensor) -> Tensor:   # (B, H, R, R)
        raise NotImplementedError

    def _values(self, x: Tensor) -> Tensor:   # (B, R, H, C)
        raise NotImplementedError

    def _root(self, x: Tensor) -> Tensor:     # (B, R, out) or (out,)
        return self.conv.bias


class GATLayer(_AttentionLayer):
    r"""PyG's ``GATConv``: :math:`\alpha_{ts} = \mathrm{softmax}_s\, \mathrm{LeakyReLU}(a_d^\top W x_t +
    a_s^\top W x_s)` over the sources of t and t itself (loops removed, then re-added)."""

    self_loops = True

    def __init__(self, in_channels, out_channels, topology, heads, dropout):
        super().__init__(in_channels, out_channels, topology)
        self.conv = GATConv(in_channels, out_channels, heads=heads, concat=False, dropout=dropout)

    def _values(self, x):
        return self._heads(self.conv.lin(x))

    def _logits(self, x):
        h = self._values(x)                                           # (B, R, H, C)
        src = (h * self.conv.att_src).sum(-1).transpose(1, 2)         # (B, H, R)
        dst = (h * self.conv.att_dst).sum(-1).transpose(1, 2)         # (B, H, R)
        return F.leaky_relu(dst.unsqueeze(-1) + src.unsqueeze(-2), self.conv.negative_slope)


class GATv2Layer(_AttentionLayer):
    r"""PyG's ``GATv2Conv``: :math:`\alpha_{ts} = \mathrm{softmax}_s\, a^\top \mathrm{LeakyReLU}(W_r x_t +
    W_l x_s)`, messages :math:`W_l x_s`; self-loops added like ``GATConv``."""

    self_loops = True

    def __init__(self, in_channels, out_channels, topology, heads, dropout):
        super().__init__(in_channels, out_channels, topology)
        self.conv = GATv2Conv(in_channels, out_channels, heads=heads, concat=False, dropout=dropout)

    def _values(self, x):
        return self._heads(self.conv.lin_l(x))

    def _logits(self, x):
        e = self._heads(self.conv.lin_r(x)).unsqueeze(2) + self._values(x).unsqueeze(1)  # (B, Rt, Rs, H, C)
        e = F.leaky_relu(e, self.conv.negative_slope)
        return (e * self.conv.att).sum(-1).permute(0, 3, 1, 2)                           # (B, H, Rt, Rs)


class TransformerLayer(_AttentionLayer):
    r"""PyG's ``TransformerConv``: :math:`x'_t = W_{skip} x_t + \sum_s \alpha_{ts} W_v x_s`,
    :math:`\alpha_{ts} = \mathrm{softmax}_s (W_q x_t)^\top (W_k x_s) / \sqrt{C}` over the graph's edges
    only (no self-loops added: the graph's own loops count)."""

    def __init__(self, in_channels, out_channels, topology, heads, dropout):
        super().__init__(in_channels, out_channels, topology)
        self.conv = TransformerConv(in_channels, out_channels, heads=heads, concat=False, dropout=dropout)

    def _values(self, x):
        return self._heads(self.conv.lin_value(x))

    def _logits(self, x):
        q, k = self._heads(self.conv.lin_query(x)), self._heads(self.conv.lin_key(x))    # (B, R, H, C)
        return torch.einsum("bthc,bshc->bhts", q, k) / math.sqrt(self.out_channels)

    def _root(self, x):
        return self.conv.lin_skip(x)
