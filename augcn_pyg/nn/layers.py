r"""The relation-layer registry: graph layers chosen by name, each with a dense fast path.

A relation layer maps the node features of B faces, ``(B, R, in)``, to ``(B, R, out)`` over the one
relation graph that every face shares (:class:`~augcn_pyg.nn.topology.GraphTopology`). Each layer is a
real PyG layer (it owns the parameters) with two ways to run it:

* ``forward`` (the fast path): the computation on the shared ``(R, R)`` adjacency, once for the batch.
  Either PyG's own dense layer (``torch_geometric.nn.dense``) where it computes the same thing as the
  sparse one, or a few lines of einsum with the PyG module's own parameters where it does not;
* ``forward_sparse``: the same parameters through PyG's sparse layer on the batched ``edge_index``;
  the tests check that the two agree on asymmetric, weighted graphs with self-loops.

Dense matrices put the target in the row: ``A[target, source]`` (see :mod:`augcn_pyg.nn.topology`).

Register a new layer with :func:`register_layer` over a builder
``build(in_channels, out_channels, topology, **options) -> RelationLayer``; its keyword arguments (with
defaults) are the options :func:`build_layer` accepts.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from operator import attrgetter
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch_geometric.nn import (GATConv, GATv2Conv, GatedGraphConv, GCNConv, GINConv, GraphConv, RGCNConv,
                                SAGEConv, TransformerConv)
from torch_geometric.nn import Linear as PygLinear
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.dense import DenseGCNConv, DenseGINConv, DenseGraphConv, DenseSAGEConv
from torch_geometric.utils import remove_self_loops

from ..errors import InputError
from .topology import GraphTopology

# ---------------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------------

_FIXED_ARGS = ("in_channels", "out_channels", "topology")


@dataclass(frozen=True)
class LayerEntry:
    """A registered relation layer and what it can do (the tests read these flags)."""

    name: str
    build: Callable
    description: str            # one line, for listings
    uses_edge_weight: bool      # the edge weights change the output
    uses_edge_type: bool        # the edge types (relation rules) change the output
    dense: bool                 # the fast path runs on the shared (R, R) topology
    pyg_layer: str | None       # the PyG class it is or equals; None for ours

    @property
    def options(self) -> dict:
        """The options the builder takes, with their defaults."""
        params = inspect.signature(self.build).parameters
        return {k: p.default for k, p in params.items() if k not in _FIXED_ARGS}


RELATION_LAYERS: dict[str, LayerEntry] = {}


def register_layer(name: str, *, description: str, uses_edge_weight: bool = False, uses_edge_type: bool = False,
                   dense: bool = True, pyg_layer: str | None = None):
    """Decorator: register ``build(in_channels, out_channels, topology, **options)`` under ``name``."""
    def decorator(build: Callable) -> Callable:
        if name in RELATION_LAYERS:
            raise ValueError(f"relation layer {name!r} is already registered")
        args = list(inspect.signature(build).parameters)[:3]
        if tuple(args) != _FIXED_ARGS:
            raise TypeError(f"a layer builder takes {', '.join(_FIXED_ARGS)} first, {build.__name__} takes {args}")
        RELATION_LAYERS[name] = LayerEntry(name, build, description, uses_edge_weight, uses_edge_type, dense,
                                           pyg_layer)
        return build
    return decorator


def layer_names() -> list[str]:
    return list(RELATION_LAYERS)


def get_layer(name: str) -> LayerEntry:
    try:
        return RELATION_LAYERS[name]
    except KeyError:
        raise InputError(f"unknown relation layer {name!r}; choose from {', '.join(RELATION_LAYERS)}") from None


def build_layer(name: str, in_channels: int, out_channels: int, topology, **options) -> "RelationLayer":
    """The layer ``name`` for ``(B, R, in_channels) -> (B, R, out_channels)`` on ``topology``.

    ``topology``: a :class:`GraphTopology` or a :class:`~augcn_pyg.relations.RelationGraph`.
    Raises :class:`InputError` for an unknown name, an option the layer does not take, or a bad value.
    """
    entry = get_layer(name)
    accepted = entry.options
    unknown = [k for k in options if k not in accepted]
    if unknown:
        takes = ", ".join(accepted) if accepted else "no options"
        raise InputError(f"relation layer {name!r} has no option {', '.join(map(repr, unknown))}; it takes {takes}")
    in_channels = _positive_int("in_channels", in_channels)
    out_channels = _positive_int("out_channels", out_channels)
    if not isinstance(topology, GraphTopology):
        if not all(hasattr(topology, f) for f in ("edge_index", "edge_type", "edge_weight", "num_nodes")):
            raise InputError(f"a relation layer needs a GraphTopology or a RelationGraph, got {type(topology).__name__}")
        topology = GraphTopology.from_graph(topology)
    return entry.build(in_channels, out_channels, topology, **options)


# --- option checks (bad values are user input) -------------------------------------------------------

def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return value


def _probability(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise InputError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false, got {value!r}")
    return value


def _choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------------------------

class _Twin:
    """PyG's other implementation of a layer, run with the owner's parameters.

    Held outside the module tree (it owns nothing): ``functional_call`` swaps the owner's tensors in on
    every call, so one set of weights serves both paths and the state dict holds no duplicates.
    ``rename`` maps the twin's parameter names to the owner's where PyG named them differently.
    """

    def __init__(self, module: nn.Module, rename: dict[str, str] | None = None):
        self.module = module
        rename = rename or {}
        names = [n for n, _ in module.named_parameters()] + [n for n, _ in module.named_buffers()]
        self._getters = {n: attrgetter(rename.get(n, n)) for n in names}

    def __call__(self, owner: nn.Module, *args, **kwargs):
        tensors = {n: get(owner) for n, get in self._getters.items()}
        if torch.jit.is_tracing():  # functional_call refuses the TorchScript tracer (ONNX export)
            return self._call_swapped(tensors, args, kwargs)
        return functional_call(self.module, tensors, args, kwargs, strict=True)

    def _call_swapped(self, tensors: dict[str, Tensor], args, kwargs):
        """What functional_call does, by hand: the owner's tensors put in the twin's slots, then put back."""
        saved = []
        for name, tensor in tensors.items():
            path, _, attr = name.rpartition(".")
            module = self.module.get_submodule(path)
            slots = module._parameters if attr in module._parameters else module._buffers
            saved.append((slots, attr, slots[attr]))
            slots[attr] = tensor
        try:
            return self.module(*args, **kwargs)
        finally:
            for slots, attr, original in saved:
                slots[attr] = original


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


class RelationLayer(nn.Module):
    """Base: ``(B, R, in) -> (B, R, out)`` on a shared topology, a fast path and a sparse reference.

    Subclasses implement ``_fast(x)`` on ``(B, R, in)`` and ``_sparse(x, B)`` on the flattened
    ``(B*R, in)``; the graph matrices they derive from the topology are cached per device and dtype.
    """

    def __init__(self, in_channels: int, out_channels: int, topology: GraphTopology):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.topology = topology  # a shared submodule: moves with .to(), owns no saved state
        self._matrices: dict[str, Tensor] = {}

    def _check(self, x: Tensor) -> int:
        R = self.topology.num_nodes
        if x.dim() != 3 or x.shape[1] != R or x.shape[2] != self.in_channels:
            raise InputError(f"{type(self).__name__} expects node features of shape (B, {R}, {self.in_channels}), "
                             f"got {tuple(x.shape)}")
        return x.shape[0]

    def forward(self, x: Tensor) -> Tensor:
        """(B, R, in) -> (B, R, out), the fast path."""
        self._check(x)
        return self._fast(x)

    def forward_sparse(self, x: Tensor) -> Tensor:
        """(B, R, in) -> (B, R, out), the same weights through the sparse reference on the batched graph."""
        B = self._check(x)
        return self._sparse(x.reshape(B * self.topology.num_nodes, -1), B).view(B, self.topology.num_nodes, -1)

    def _fast(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _sparse(self, x: Tensor, batch_size: int) -> Tensor:
        raise NotImplementedError

    def _matrix(self, name: str, compute: Callable[[], Tensor]) -> Tensor:
        """A graph matrix computed once from the topology (again only if its device or dtype changed)."""
        ref = self.topology.edge_weight
        hit = self._matrices.get(name)
        if hit is None or hit.device != ref.device or hit.dtype != ref.dtype:
            with torch.no_grad():
                hit = compute()
            self._matrices[name] = hit
        return hit

    def _mask(self, self_loops: bool = False) -> Tensor:
        """(R, R) bool: the edges, plus the diagonal when ``self_loops``."""
        def compute():
            mask = self.topology.adjacency(weighted=False) > 0
            return mask | torch.eye(self.topology.num_nodes, dtype=torch.bool, device=mask.device) if self_loops \
                else mask
        return self._matrix(f"mask{int(self_loops)}", compute)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, num_nodes={self.topology.num_nodes}"


# ---------------------------------------------------------------------------------------------------
# GCN family
# ---------------------------------------------------------------------------------------------------

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
        self._twin = _Twin(GCNConv(in_channels, out_channels))

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
        self._twin = _Twin(GCNConv(in_channels, out_channels, normalize=False, add_self_loops=False))

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
    r""":math:`X' = X W + b` per node: the GCN with :math:`G = I` (the paper's AU-Net ablation), the same
    parameters as ``gcn``, so ``none`` vs ``gcn`` isolates message passing."""

    def __init__(self, in_channels, out_channels, topology):
        super().__init__(in_channels, out_channels, topology)
        # W and b made as GCNConv makes them, so that one seed starts `none` from exactly the weights it
        # gives `gcn`, and `gcn` on a graph of self-loops alone (normalised: I) trains to the same
        # weights; the twin's own (unused) weights then must not draw from the global generator
        conv = GCNConv(in_channels, out_channels)
        self.lin, self.bias = conv.lin, conv.bias
        with torch.random.fork_rng(devices=[]):
            self._twin = _Twin(GCNConv(in_channels, out_channels, normalize=False, add_self_loops=False))

    def _fast(self, x):
        return self.lin(x) + self.bias

    def _sparse(self, x, batch_size):
        # reference: GCNConv on a graph of self-loops only (G = I)
        loops = torch.arange(x.shape[0], device=x.device).repeat(2, 1)
        return self._twin(self, x, loops)


# ---------------------------------------------------------------------------------------------------
# Attention family
# ---------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------
# Other message-passing layers
# ---------------------------------------------------------------------------------------------------

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
        self._twin = _Twin(DenseGraphConv(in_channels, out_channels, aggr="add"))

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
        self._twin = _Twin(DenseGINConv(mlp(), eps=eps, train_eps=train_eps))

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
        self._twin = _Twin(DenseSAGEConv(in_channels, out_channels), rename=self._RENAME)

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


# ---------------------------------------------------------------------------------------------------
# Registered builders
# ---------------------------------------------------------------------------------------------------

@register_layer("gcn", description="GCN: symmetric-normalised weighted adjacency, Â X W + b",
                uses_edge_weight=True, pyg_layer="torch_geometric.nn.GCNConv")
def build_gcn(in_channels, out_channels, topology):
    return GCNLayer(in_channels, out_channels, topology)


@register_layer("dense-gcn", description="the paper's Z' = G Z W: PyG DenseGCNConv, diagonal set to 1",
                uses_edge_weight=True, pyg_layer="torch_geometric.nn.DenseGCNConv")
def build_dense_gcn(in_channels, out_channels, topology):
    return DenseGCNLayer(in_channels, out_channels, topology)


@register_layer("gat", description="graph attention (GAT), heads averaged",
                pyg_layer="torch_geometric.nn.GATConv")
def build_gat(in_channels, out_channels, topology, heads=1, dropout=0.0):
    return GATLayer(in_channels, out_channels, topology, _positive_int("heads", heads), _probability("dropout", dropout))


@register_layer("gatv2", description="GATv2 attention (dynamic attention), heads averaged",
                pyg_layer="torch_geometric.nn.GATv2Conv")
def build_gatv2(in_channels, out_channels, topology, heads=1, dropout=0.0):
    return GATv2Layer(in_channels, out_channels, topology, _positive_int("heads", heads),
                      _probability("dropout", dropout))


@register_layer("transformer", description="graph transformer attention with a root (skip) weight, heads averaged",
                pyg_layer="torch_geometric.nn.TransformerConv")
def build_transformer(in_channels, out_channels, topology, heads=1, dropout=0.0):
    return TransformerLayer(in_channels, out_channels, topology, _positive_int("heads", heads),
                            _probability("dropout", dropout))


@register_layer("ggnn", description="Linear(in, out) then a gated graph network (GRU over message steps)",
                uses_edge_weight=True, pyg_layer="torch_geometric.nn.GatedGraphConv")
def build_ggnn(in_channels, out_channels, topology, steps=2, aggr="add"):
    return GatedGraphLayer(in_channels, out_channels, topology, _positive_int("steps", steps),
                           _choice("aggr", aggr, ("add", "mean")))


@register_layer("graphconv", description="GraphConv: root weight plus weighted neighbour mean (aggr add: the sum)",
                uses_edge_weight=True, pyg_layer="torch_geometric.nn.GraphConv")
def build_graphconv(in_channels, out_channels, topology, aggr="mean"):
    # mean by default: PyG's own default, the sum, grows with the ~20 neighbours of the global node and
    # diverged at the toolkit's lr (first-layer outputs of 260-400, every AU predicted everywhere)
    return GraphConvLayer(in_channels, out_channels, topology, _choice("aggr", aggr, ("add", "mean")))


@register_layer("gin", description="GIN: MLP((1 + eps) x + sum of neighbours)",
                pyg_layer="torch_geometric.nn.GINConv")
def build_gin(in_channels, out_channels, topology, eps=0.0, train_eps=False, norm="layer"):
    return GINLayer(in_channels, out_channels, topology, _number("eps", eps), _flag("train_eps", train_eps),
                    _choice("norm", norm, ("layer", "none")))


@register_layer("sage", description="GraphSAGE with mean aggregation",
                pyg_layer="torch_geometric.nn.SAGEConv")
def build_sage(in_channels, out_channels, topology):
    return SAGELayer(in_channels, out_channels, topology)


@register_layer("rgcn", description="relational GCN: one weight per edge rule, mean per rule",
                uses_edge_type=True, pyg_layer="torch_geometric.nn.RGCNConv")
def build_rgcn(in_channels, out_channels, topology, num_bases=None):
    if num_bases is not None:
        num_bases = _positive_int("num_bases", num_bases)
    return RGCNLayer(in_channels, out_channels, topology, num_bases)


@register_layer("learned", description="a trained R x R adjacency, initialised from the GCN-normalised graph",
                uses_edge_weight=True)
def build_learned(in_channels, out_channels, topology, mask=False):
    return LearnedGraphLayer(in_channels, out_channels, topology, _flag("mask", mask))


@register_layer("none", description="no graph (G = I): a per-node linear map, the AU-Net ablation")
def build_none(in_channels, out_channels, topology):
    return NoGraphLayer(in_channels, out_channels, topology)
