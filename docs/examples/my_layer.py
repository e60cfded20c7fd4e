"""A relation layer of your own, chosen by name, with no change to the package.

Put this file's folder on PYTHONPATH and name the layer as MODULE:ATTR wherever a layer name goes::

    PYTHONPATH=docs/examples augcn-pyg train --data STORE --layer my_layer:build -o runs/mine
    PYTHONPATH=docs/examples augcn-pyg cv --data STORE --layer my_layer:MeanMaxConv -o runs/mine-cv
    PYTHONPATH=docs/examples python -m benchmarks.relation_layers --data STORE --layers gcn,none,my_layer:build

Two kinds of ATTR work:

* ``build``: a builder with the registered builders' signature, ``build(in_channels, out_channels, topology,
  **options)``, returning a module that maps ``(B, R, in)`` to ``(B, R, out)``. Its keyword arguments are
  its options (``--set 'model.layer_options={gate_bias: 0.0}'``).
* ``MeanMaxConv``: a PyG ``MessagePassing`` class. The toolkit runs it through the same adapter as
  ``pyg:<ClassName>``: it fills ``in_channels`` and ``out_channels``, and passes the batched ``edge_index``
  of B faces and, because ``forward`` takes it, ``edge_weight``.

The run folder records the name (``model.layer`` in ``config.yaml``); ``evaluate``, ``predict`` and
``export`` import the module again, so it must stay importable wherever the run is loaded.
"""
from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter

from augcn_pyg.nn.layers import RelationLayer


class GatedNeighbourMean(RelationLayer):
    r"""x'_t = W_root x_t + g_t W_nb (sum_s w_st x_s / sum_s w_st), g_t = sigmoid(a^T x_t + c): each ROI
    decides how much of its neighbours' weighted mean it takes in."""

    def __init__(self, in_channels, out_channels, topology, gate_bias=-1.0):
        super().__init__(in_channels, out_channels, topology)
        self.root = nn.Linear(in_channels, out_channels)
        self.neighbours = nn.Linear(in_channels, out_channels, bias=False)
        self.gate = nn.Linear(in_channels, 1)
        nn.init.constant_(self.gate.bias, gate_bias)  # start by mostly keeping each ROI's own latent

    def _fast(self, x):                                                  # (B, R, in)
        def mean_adjacency():
            A = self.topology.adjacency()                                # (R, R), A[target, source]
            return A / A.sum(1, keepdim=True).clamp(min=1e-12)
        A = self._matrix("mean", mean_adjacency)                         # computed once per device and dtype
        return self.root(x) + torch.sigmoid(self.gate(x)) * self.neighbours(A @ x)    # (B, R, out)

    def _sparse(self, x, batch_size):                                    # (B*R, in), the same on edge_index
        edge_index, _, w = self.topology.batched(batch_size)
        src, dst = edge_index
        total = scatter(w[:, None] * x[src], dst, dim=0, dim_size=x.shape[0], reduce="sum")
        norm = scatter(w, dst, dim=0, dim_size=x.shape[0], reduce="sum").clamp(min=1e-12)[:, None]
        return self.root(x) + torch.sigmoid(self.gate(x)) * self.neighbours(total / norm)


def build(in_channels, out_channels, topology, gate_bias=-1.0):
    """gated neighbour mean: each ROI gates the weighted mean of its neighbours (docs/examples/my_layer.py)"""
    return GatedNeighbourMean(in_channels, out_channels, topology, float(gate_bias))


build.uses_edge_weight = True  # optional flags that `model-info` and listings may show


class MeanMaxConv(MessagePassing):
    r"""x'_t = W [x_t, mean_s w_st x_s, max_s w_st x_s]: the root, the weighted mean and the weighted max."""

    def __init__(self, in_channels, out_channels):
        super().__init__(aggr=["mean", "max"])  # two aggregations, side by side: (N, 2 * in)
        self.lin = nn.Linear(3 * in_channels, out_channels)

    def forward(self, x, edge_index, edge_weight=None):
        m = self.propagate(edge_index, x=x, edge_weight=edge_weight)   # (N, 2 * in)
        return self.lin(torch.cat([x, m], dim=-1))                     # (N, out)

    def message(self, x_j, edge_weight):
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j
