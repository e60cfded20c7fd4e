r"""The GCN family: :math:`X' = A X W + b` with the adjacency :math:`A` made four ways.

``gcn`` (PyG's ``GCNConv``: :math:`\hat D^{-1/2} \hat A \hat D^{-1/2}`), ``dense-gcn`` (the paper's
:math:`Z' = G Z W`, PyG's ``DenseGCNConv``), ``learned`` (a trained :math:`A`, initialised from ``gcn``'s)
and ``none`` (:math:`A = I`, no graph, with ``gcn``'s parameters; not the paper's AU-Net, which also drops
the Dice term and the face node).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv
from torch_geometric.nn import Linear as PygLinear
from torch_geometric.nn.dense import DenseGCNConv
from torch_geometric.utils import remove_self_loops

from augcn_pyg.nn.layers.base import RelationLayer, Twin
from augcn_pyg.nn.layers.dense import gcn_adjacency


class GCNLayer(RelationLayer):
    r""":math:`X' = \hat D^{-1/2} \hat A \hat D^{-1/2} X W + b`, PyG's ``GCNConv`` (edge weights used,
    existing self-loops kept, missing ones added with weight 1). Fast path: Â computed once."""

    def __init__(self, in_channels, out_channels, topology):
        super().__init__(in_channels, out_channels, topology)
        self.conv = GCNConv(in_channels, out_channels)

    def _fast(self, x):
        A = self._matrix("gcn", lambda: gcn_adjacency(self.topology))  # (R, R)
        return A @ self.conv.lin(x) + self.conv.bias                    # (B, R, out)

    def _sparse(self, x, batch_size):
        edge_index, _, edge_weight = self.topology.batched(batch_size)
        return self.conv(x, edge_index, edge_weight)


class DenseGCNLayer(RelationLayer):
    r"""PyG's ``DenseGCNConv`` on the shared adjacency, the paper's :math:`Z' = G Z W`: the diagonal is
    set to 1 (existing self-loop weights are overwritten), then symmetric normalisation. Its sparse twin
    is ``GCNConv`` on the graph with its self-loops replaced by unit ones."""

    def __init__(self, in_channels, out_channels, topology):
        super().__init__(in_channels, out_channels, topology)
        self.conv = DenseGCNConv(in_channels, out_channels)
        self._twin = Twin(GCNConv(in_channels, out_channels))

    def _fast(self, x):
        return self.conv(x, self._matrix("adj", self.topology.adjacency))

    def _sparse(self, x, batch_size):
        edge_index, _, edge_weight = self.topology.batched(batch_size)
        edge_index, edge_weight = remove_self_loops(edge_index, edge_weight)  # gcn_norm adds unit loops
        return self._twin(self.conv, x, edge_index, edge_weight)


class LearnedGraphLayer(RelationLayer):
    r""":math:`X' = A X W + b` with :math:`A` (R, R) a trained parameter, initialised from the
    topology's GCN-normalised Â (so it starts as ``gcn``). ``mask=True`` trains only the fitted graph's
    edges (and the self-loops GCN adds); the other entries stay 0."""

    def __init__(self, in_channels, out_channels, topology, mask: bool):
        super().__init__(in_channels, out_channels, topology)
        self.lin = PygLinear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.adjacency = nn.Parameter(gcn_adjacency(topology).detach().clone())  # (R, R), A[target, source]
        self.register_buffer("edge_mask", self._mask(self_loops=True).float() if mask else None)
        self._twin = Twin(GCNConv(in_channels, out_channels, normalize=False, add_self_loops=False))

    def adjacency_matrix(self) -> Tensor:
        """(R, R) the adjacency in use, A[target, source]."""
        return self.adjacency if self.edge_mask is None else self.adjacency * self.edge_mask

    def _fast(self, x):
        return self.adjacency_matrix() @ self.lin(x) + self.bias

    def _sparse(self, x, batch_size):
        # reference: GCNConv without normalisation on the complete graph weighted by A[target, source]
        R = self.topology.num_nodes
        nodes = torch.arange(R, device=x.device)
        src, dst = nodes.repeat(R), nodes.repeat_interleave(R)                       # (R*R,)
        offsets = (torch.arange(batch_size, device=x.device) * R).repeat_interleave(R * R)
        edge_index = torch.stack([src.repeat(batch_size), dst.repeat(batch_size)]) + offsets
        weight = self.adjacency_matrix()[dst, src].repeat(batch_size)
        return self._twin(self, x, edge_index, weight)


class NoGraphLayer(RelationLayer):
    r""":math:`X' = X W + b` per node: the GCN with :math:`G = I` (no graph; the paper's AU-Net also drops Dice and the face node), the same
    parameters as ``gcn``, so ``none`` vs ``gcn`` isolates message passing."""

    def __init__(self, in_channels, out_channels, topology):
        super().__init__(in_channels, out_channels, topology)
        # W and b made as GCNConv makes them, so that one seed starts `none` from exactly the weights it
        # gives `gcn`, and `gcn` on a graph of self-loops alone (normalised: I) trains to the same
        # weights; the twin's own (unused) weights then must not draw from the global generator
        conv = GCNConv(in_channels, out_channels)
        self.lin, self.bias = conv.lin, conv.bias
        with torch.random.fork_rng(devices=[]):
            self._twin = Twin(GCNConv(in_channels, out_channels, normalize=False, add_self_loops=False))

    def _fast(self, x):
        return self.lin(x) + self.bias

    def _sparse(self, x, batch_size):
        # reference: GCNConv on a graph of self-loops only (G = I)
        loops = torch.arange(x.shape[0], device=x.device).repeat(2, 1)
        return self._twin(self, x, loops)
