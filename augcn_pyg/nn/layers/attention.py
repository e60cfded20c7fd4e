r"""The attention layers: ``gat``, ``gatv2`` and ``transformer``, PyG's ``GATConv``, ``GATv2Conv`` and
``TransformerConv``.

Each computes per-head logits :math:`e_{ts}`, a softmax over each target's incoming edges
(:func:`masked_softmax` on the shared ``(R, R)`` topology), and the heads' weighted messages averaged
(``concat=False``), one ``(B, H, R, R) x (B, R, H, C)`` matmul.

Where the logits are computed:

* ``gatv2``: over the E attended edges only, on ``(B, E, H, C)`` tensors gathered from the node
  features, then put in their (target, source) places (:func:`scatter_pairs`): its per-pair term
  :math:`a^\top \mathrm{LeakyReLU}(\cdot)` is the expensive part (on the paper's BP4D graph, with its
  self-loops, E = 225 of the R * R = 361 pairs);
* ``gat`` and ``transformer``: for every (target, source) pair, the non-edges masked in the softmax:
  their logits are a broadcast sum of per-node scores and one small matmul, cheaper dense than gathered.

The graph reaches the layers only through ``RelationLayer._matrix`` (float tensors) and every op is
out of place (gathers, ``index_add`` into fresh zeros), so the layers run under ``torch.func.vmap`` over
stacked parameters.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GATConv, GATv2Conv, TransformerConv

from augcn_pyg.nn.layers.base import RelationLayer
from augcn_pyg.nn.layers.dense import masked_softmax


def scatter_pairs(edge_values: Tensor, source: Tensor, target: Tensor, num_nodes: int) -> Tensor:
    """(B, E, H) per-edge values -> (B, H, R, R) dense, ``A[target, source]``; 0 off the edges.

    One ``index_add`` into fresh zeros on the flattened (target, source) pair, so it runs under vmap.
    """
    B, E, H = edge_values.shape
    R = num_nodes
    dense = edge_values.new_zeros(B, R * R, H).index_add(1, target * R + source, edge_values)  # (B, R*R, H)
    return dense.view(B, R, R, H).permute(0, 3, 1, 2)


class _AttentionLayer(RelationLayer):
    r"""Attention over each target's incoming edges; heads averaged (``concat=False``).

    :math:`x'_t = \frac{1}{H} \sum_h \sum_{s \to t} \alpha^h_{ts} v^h_s + \mathrm{root}_t`: a subclass gives
    the values :math:`v` (``_values``), the logits :math:`e^h_{ts}` (``_logits``, dense ``(B, H, R, R)``;
    only the entries on the attended pairs matter) and the root term (``_root``).
    """

    self_loops = False  # whether PyG's layer adds a self-loop to every node

    def attention(self, x: Tensor) -> Tensor:
        """(B, R, in) -> (B, heads, R, R) attention, A[target, source] (before dropout)."""
        self._check(x)
        return self._attention(x)[0]

    def _fast(self, x):
        att, values = self._attention(x)                                                  # (B, H, R, R), (B, R, H, C)
        att = F.dropout(att, p=self.conv.dropout, training=self.training)
        return torch.einsum("bhts,bshc->bthc", att, values).mean(dim=2) + self._root(x)

    def _attention(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r""":math:`\alpha = \mathrm{softmax}_s\, e_{ts}` over the attended pairs (B, H, R, R), and the values."""
        values = self._values(x)
        return masked_softmax(self._logits(x, values), self._attended() > 0), values

    def _sparse(self, x, batch_size):
        edge_index, _, _ = self.topology.batched(batch_size)
        return self.conv(x, edge_index)

    def _attended(self) -> Tensor:
        """(R, R) float 0/1: the pairs each target attends over, ``_edges`` as a dense A[target, source]."""
        def compute():
            source, target = self._edges()                                                  # (E,), (E,)
            R, ones = self.topology.num_nodes, torch.ones_like(source, dtype=self.topology.edge_weight.dtype)
            return ones.new_zeros(R * R).index_add(0, target * R + source, ones).view(R, R)
        return self._matrix(f"attended{int(self.self_loops)}", compute)

    def _edges(self) -> tuple[Tensor, Tensor]:
        """The attended pairs as edges: (E,) source and (E,) target, long.

        The graph's own edges; with ``self_loops``, its loops removed and one loop per node appended
        (PyG's ``remove_self_loops`` then ``add_self_loops``). Cached as a float (2, E) graph matrix, like
        every other one (exact: node numbers are small integers).
        """
        def compute():
            edge_index = self.topology.edge_index                                           # (2, E0)
            if self.self_loops:
                nodes = torch.arange(self.topology.num_nodes, device=edge_index.device)
                edge_index = torch.cat([edge_index[:, edge_index[0] != edge_index[1]], nodes.expand(2, -1)], dim=1)
            return edge_index.to(self.topology.edge_weight.dtype)                           # (2, E)
        edges = self._matrix(f"edges{int(self.self_loops)}", compute).long()
        return edges[0], edges[1]

    def _heads(self, t: Tensor) -> Tensor:
        return t.view(*t.shape[:-1], self.conv.heads, self.out_channels)  # (B, R, H, C)

    def _values(self, x: Tensor) -> Tensor:   # (B, R, H, C)
        raise NotImplementedError

    def _logits(self, x: Tensor, values: Tensor) -> Tensor:   # (B, H, R, R)
        raise NotImplementedError

    def _root(self, x: Tensor) -> Tensor:     # (B, R, out) or (out,)
        return self.conv.bias


class GATLayer(_AttentionLayer):
    r"""PyG's ``GATConv``: :math:`\alpha_{ts} = \mathrm{softmax}_s\, \mathrm{LeakyReLU}(a_d^\top W x_t +
    a_s^\top W x_s)` over the sources of t and t itself (loops removed, then re-added).

    The logits stay dense: :math:`e_{ts}` is a sum of two per-node scores, a broadcast over the pairs
    that costs no more than gathering the scores onto the edges (measured on the paper's graph)."""

    self_loops = True

    def __init__(self, in_channels, out_channels, topology, heads, dropout):
        super().__init__(in_channels, out_channels, topology)
        self.conv = GATConv(in_channels, out_channels, heads=heads, concat=False, dropout=dropout)

    def _values(self, x):
        return self._heads(self.conv.lin(x))

    def _logits(self, x, values):
        src = (values * self.conv.att_src).sum(-1).transpose(1, 2)    # (B, H, R)
        dst = (values * self.conv.att_dst).sum(-1).transpose(1, 2)    # (B, H, R)
        return F.leaky_relu(dst.unsqueeze(-1) + src.unsqueeze(-2), self.conv.negative_slope)


class GATv2Layer(_AttentionLayer):
    r"""PyG's ``GATv2Conv``: :math:`\alpha_{ts} = \mathrm{softmax}_s\, a^\top \mathrm{LeakyReLU}(W_r x_t +
    W_l x_s)`, messages :math:`W_l x_s`; self-loops added like ``GATConv``.

    The logits are computed on the E attended edges only: the LeakyReLU sits between the two node terms
    and :math:`a`, so each logit needs its own ``(H, C)`` sum, and the other ``R * R - E`` pairs would be
    computed only to be masked out."""

    self_loops = True

    def __init__(self, in_channels, out_channels, topology, heads, dropout):
        super().__init__(in_channels, out_channels, topology)
        self.conv = GATv2Conv(in_channels, out_channels, heads=heads, concat=False, dropout=dropout)

    def _values(self, x):
        return self._heads(self.conv.lin_l(x))

    def _logits(self, x, values):
        source, target = self._edges()                                                       # (E,), (E,)
        e = self._heads(self.conv.lin_r(x)).index_select(1, target) + values.index_select(1, source)  # (B, E, H, C)
        e = torch.einsum("behc,hc->beh", F.leaky_relu(e, self.conv.negative_slope), self.conv.att[0])  # (B, E, H)
        return scatter_pairs(e, source, target, self.topology.num_nodes)                     # (B, H, Rt, Rs)


class TransformerLayer(_AttentionLayer):
    r"""PyG's ``TransformerConv``: :math:`x'_t = W_{skip} x_t + \sum_s \alpha_{ts} W_v x_s`,
    :math:`\alpha_{ts} = \mathrm{softmax}_s (W_q x_t)^\top (W_k x_s) / \sqrt{C}` over the graph's edges
    only (no self-loops added: the graph's own loops count).

    The logits stay dense: :math:`Q K^\top` of every pair is one small matmul per face and head, which
    costs less than gathering queries and keys onto the edges."""

    def __init__(self, in_channels, out_channels, topology, heads, dropout):
        super().__init__(in_channels, out_channels, topology)
        self.conv = TransformerConv(in_channels, out_channels, heads=heads, concat=False, dropout=dropout)

    def _values(self, x):
        return self._heads(self.conv.lin_value(x))

    def _logits(self, x, values):
        q, k = self._heads(self.conv.lin_query(x)), self._heads(self.conv.lin_key(x))    # (B, R, H, C)
        return torch.einsum("bthc,bshc->bhts", q, k) / math.sqrt(self.out_channels)

    def _root(self, x):
        return self.conv.lin_skip(x)
