"""The dense graph matrices the fast paths share, on the one ``(R, R)`` topology of every face.

Dense matrices put the target in the row: ``A[target, source]`` (see :mod:`augcn_pyg.nn.topology`).
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from augcn_pyg.nn.topology import GraphTopology


def masked_softmax(logits: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the last axis (the sources) restricted to ``mask``; a row with no source gives 0.

    logits (..., R, R), mask (R, R) bool, A[target, source]. Like PyG's per-target scatter softmax, and
    NaN-free for a target without incoming edges.
    """
    logits = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
    return torch.softmax(logits, dim=-1) * mask


def mean_adjacency(adjacency: Tensor, counts: Tensor) -> Tensor:
    """``adjacency`` divided row by row by the number of incoming edges (PyG's ``aggr="mean"``)."""
    return adjacency / counts.sum(dim=-1, keepdim=True).clamp(min=1)


def gcn_adjacency(topology: GraphTopology) -> Tensor:
    """(R, R) the GCNConv-normalised Â: remaining self-loops of weight 1 added, D^-1/2 A D^-1/2."""
    edge_index, weight = gcn_norm(topology.edge_index, topology.edge_weight, topology.num_nodes,
                                  add_self_loops=True)
    A = topology.edge_weight.new_zeros(topology.num_nodes, topology.num_nodes)
    A[edge_index[1], edge_index[0]] = weight
    return A
