r"""The other message-passing layers: ``ggnn``, ``graphconv``, ``gin``, ``sage`` and ``rgcn``.

Each is PyG's sparse layer (``GatedGraphConv``, ``GraphConv``, ``GINConv``, ``SAGEConv``, ``RGCNConv``)
with a dense fast path: PyG's dense layer (``DenseGraphConv``, ``DenseGINConv``, ``DenseSAGEConv``) run
as a :class:`~augcn_pyg.nn.layers.base.Twin` with the sparse layer's parameters where it computes the
same thing, a few lines of matrix products where there is none (``ggnn``, ``rgcn``).
"""
from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.nn import GatedGraphConv, GINConv, GraphConv, RGCNConv, SAGEConv
from torch_geometric.nn.dense import DenseGINConv, DenseGraphConv, DenseSAGEConv

from augcn_pyg.nn.layers.base import RelationLayer, Twin
from augcn_pyg.nn.layers.dense import mean_adjacency
from augcn_pyg.nn.topology import GraphTopology


def _aggr_adjacency(topology: GraphTopology, aggr: str) -> Tensor:
    """(R, R) weighted adjacency for ``aggr="add"``, divided by the in-degree (edge count) for "mean"."""
    A = topology.adjacency()
    return A if aggr == "add" else mean_adjacency(A, topology.adjacency(weighted=False))


class GatedGraphLayer(RelationLayer):
    r"""``Linear(in, out)`` then PyG's ``GatedGraphConv``: for each step,
    :math:`m = A\,(h W_k)` (edge weights used), :math:`h = \mathrm{GRU}(m, h)`. The Linear is there
    because ``GatedGraphConv`` needs ``out >= in`` (it zero-pads) and our widths shrink (150 -> 30)."""

    def __init__(self, in_channels, out_channels, topology, steps, aggr):
        super().__init__(in_channels, out_channels, topology)
        self.aggr = aggr
        self.lin = nn.Linear(in_channels, out_channels)
        self.conv = GatedGraphConv(out_channels, steps, aggr=aggr)

    def _fast(self, x):
        A = self._matrix(self.aggr, lambda: _aggr_adjacency(self.topology, self.aggr))  # (R, R)
        h = self.lin(x)                                                               # (B, R, out)
        for weight in self.conv.weight:                                               # (out, out) per step
            m = A @ (h @ weight)
            h = self.conv.rnn(m.reshape(-1, self.out_channels), h.reshape(-1, self.out_channels)).view_as(m)
        return h

    def _sparse(self, x, batch_size):
        edge_index, _, edge_weight = self.topology.batched(batch_size)
        return self.conv(self.lin(x), edge_index, edge_weight)


class GraphConvLayer(RelationLayer):
    r"""PyG's ``GraphConv``: :math:`x'_t = W_1 x_t + W_2\, \mathrm{aggr}_s\, w_{st} x_s` (edge weights
    used; the graph's self-loops are neighbours too). Fast path: PyG's ``DenseGraphConv`` (always with
    ``aggr="add"``) on an adjacency already divided by the edge count for "mean", because
    ``DenseGraphConv``'s own mean divides by the weight sum."""

    def __init__(self, in_channels, out_channels, topology, aggr):
        super().__init__(in_channels, out_channels, topology)
        self.aggr = aggr
        self.conv = GraphConv(in_channels, out_channels, aggr=aggr)
        self._twin = Twin(DenseGraphConv(in_channels, out_channels, aggr="add"))

    def _fast(self, x):
        return self._twin(self.conv, x, self._matrix(self.aggr, lambda: _aggr_adjacency(self.topology, self.aggr)))

    def _sparse(self, x, batch_size):
        edge_index, _, edge_weight = self.topology.batched(batch_size)
        return self.conv(x, edge_index, edge_weight)


class GINLayer(RelationLayer):
    r"""PyG's ``GINConv``: :math:`x'_t = \mathrm{MLP}((1 + \epsilon) x_t + \sum_s x_s)`, MLP =
    Linear(in, out)-[LayerNorm]-ReLU-Linear(out, out); edge weights not used. Fast path: ``DenseGINConv``.

    The sum over ~20 neighbours (the global node's are all ROIs) multiplies the input's scale; without a
    norm in the MLP, as in the GIN paper's (which uses BatchNorm), SGD at the toolkit's lr diverged and the
    model predicted every AU everywhere. LayerNorm rather than BatchNorm: it normalises each face's nodes
    alone, so a face's output does not depend on its batch and N processes compute what one does."""

    def __init__(self, in_channels, out_channels, topology, eps, train_eps, norm):
        super().__init__(in_channels, out_channels, topology)

        def mlp():
            middle = [nn.LayerNorm(out_channels)] if norm == "layer" else []
            return nn.Sequential(nn.Linear(in_channels, out_channels), *middle, nn.ReLU(),
                                 nn.Linear(out_channels, out_channels))
        self.conv = GINConv(mlp(), eps=eps, train_eps=train_eps)
        self._twin = Twin(DenseGINConv(mlp(), eps=eps, train_eps=train_eps))

    def _fast(self, x):
        return self._twin(self.conv, x, self._matrix("binary", lambda: self.topology.adjacency(weighted=False)))

    def _sparse(self, x, batch_size):
        edge_index, _, _ = self.topology.batched(batch_size)
        return self.conv(x, edge_index)


class SAGELayer(RelationLayer):
    r"""PyG's ``SAGEConv`` (mean): :math:`x'_t = W_1 x_t + W_2\, \mathrm{mean}_s x_s`; edge weights not
    used; the graph's self-loops are neighbours. Fast path: ``DenseSAGEConv`` on the 0/1 adjacency
    (which keeps those loops; it adds none of its own)."""

    _RENAME = {"lin_rel.weight": "lin_l.weight", "lin_root.weight": "lin_r.weight", "lin_root.bias": "lin_l.bias"}

    def __init__(self, in_channels, out_channels, topology):
        super().__init__(in_channels, out_channels, topology)
        self.conv = SAGEConv(in_channels, out_channels, aggr="mean")
        self._twin = Twin(DenseSAGEConv(in_channels, out_channels), rename=self._RENAME)

    def _fast(self, x):
        return self._twin(self.conv, x, self._matrix("binary", lambda: self.topology.adjacency(weighted=False)))

    def _sparse(self, x, batch_size):
        edge_index, _, _ = self.topology.batched(batch_size)
        return self.conv(x, edge_index)


class RGCNLayer(RelationLayer):
    r"""PyG's ``RGCNConv``, one relation per edge rule: :math:`x'_t = W_0 x_t + b + \sum_r
    \mathrm{mean}_{s \in N_r(t)} W_r x_s` (edge weights not used). Fast path: the per-relation mean
    adjacencies (num_relations, R, R) side by side as one (R, num_relations * R) matrix."""

    def __init__(self, in_channels, out_channels, topology, num_bases):
        super().__init__(in_channels, out_channels, topology)
        self.conv = RGCNConv(in_channels, out_channels, topology.num_relations, num_bases=num_bases)

    def _relation_weights(self) -> Tensor:
        conv = self.conv
        if conv.comp is None:
            return conv.weight                                             # (K, in, out)
        return (conv.comp @ conv.weight.view(conv.num_bases, -1)).view(conv.num_relations, self.in_channels,
                                                                       self.out_channels)

    def _fast(self, x):
        def compute():
            A = self.topology.relation_adjacency(weighted=False)          # (K, R, R)
            A = mean_adjacency(A, A)
            return A.transpose(0, 1).reshape(A.shape[1], -1)              # (R, K*R): [t, k*R + s]
        A = self._matrix("relations", compute)
        B, R, _ = x.shape
        W = self._relation_weights()                                      # (K, in, out)
        K = W.shape[0]
        # every relation's x W_k in one product, then all relations' messages in one (R, K*R) product
        xw = (x @ W.transpose(0, 1).reshape(self.in_channels, K * self.out_channels)).view(B, R, K, -1)
        messages = A @ xw.transpose(1, 2).reshape(B, K * R, self.out_channels)  # (B, R, out)
        return messages + x @ self.conv.root + self.conv.bias

    def _sparse(self, x, batch_size):
        edge_index, edge_type, _ = self.topology.batched(batch_size)
        return self.conv(x, edge_index, edge_type)
