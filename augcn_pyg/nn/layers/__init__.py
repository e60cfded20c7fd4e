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

The package, by job:

* :mod:`~augcn_pyg.nn.layers.registry`: :data:`RELATION_LAYERS`, :func:`register_layer`,
  :func:`build_layer` and the option checks builders use;
* :mod:`~augcn_pyg.nn.layers.base`: the :class:`RelationLayer` base and :class:`Twin` (PyG's other
  implementation of a layer run with the owner's parameters);
* :mod:`~augcn_pyg.nn.layers.dense`: the dense matrices the fast paths share (:func:`gcn_adjacency`,
  :func:`mean_adjacency`, :func:`masked_softmax`);
* the layers: :mod:`~augcn_pyg.nn.layers.gcn` (gcn, dense-gcn, learned, none),
  :mod:`~augcn_pyg.nn.layers.attention` (gat, gatv2, transformer) and
  :mod:`~augcn_pyg.nn.layers.message_passing` (ggnn, graphconv, gin, sage, rgcn);
* :mod:`~augcn_pyg.nn.layers.builders`: the thirteen registered builders, in the registry's order
  (importing this package registers them);
* :mod:`~augcn_pyg.nn.layers.pyg`: :class:`PyGLayer`, the one adapter that runs any PyG convolution
  (``pyg:<ClassName>``) or a user's ``MessagePassing`` class (``MODULE:ATTR``) on the batched graph, and
  the probe that says whether one trains here; :mod:`~augcn_pyg.nn.layers.listing`: every name with
  what the probe found (``augcn-pyg layers --all``).
"""
from __future__ import annotations

from augcn_pyg.nn.layers.attention import GATLayer, GATv2Layer, TransformerLayer
from augcn_pyg.nn.layers.base import RelationLayer, Twin
from augcn_pyg.nn.layers.builders import (
    build_dense_gcn,
    build_gat,
    build_gatv2,
    build_gcn,
    build_ggnn,
    build_gin,
    build_graphconv,
    build_learned,
    build_none,
    build_rgcn,
    build_sage,
    build_transformer,
)
from augcn_pyg.nn.layers.dense import gcn_adjacency, masked_softmax, mean_adjacency
from augcn_pyg.nn.layers.gcn import DenseGCNLayer, GCNLayer, LearnedGraphLayer, NoGraphLayer
from augcn_pyg.nn.layers.listing import layer_rows
from augcn_pyg.nn.layers.message_passing import GatedGraphLayer, GINLayer, GraphConvLayer, RGCNLayer, SAGELayer
from augcn_pyg.nn.layers.pyg import PYG_PREFIX, Probe, PyGLayer, conv_spec, probe, probe_pyg, pyg_conv_names
from augcn_pyg.nn.layers.registry import (
    RELATION_LAYERS,
    LayerEntry,
    build_layer,
    choice,
    flag,
    get_layer,
    layer_names,
    number,
    positive_int,
    probability,
    pyg_entry,
    register_layer,
    user_entry,
)

__all__ = [
    # the registry
    "RELATION_LAYERS", "LayerEntry", "register_layer", "layer_names", "get_layer", "build_layer",
    # any PyG convolution (pyg:<ClassName>) or a user's layer (MODULE:ATTR), and the listing
    "PYG_PREFIX", "PyGLayer", "Probe", "conv_spec", "probe", "probe_pyg", "pyg_conv_names", "pyg_entry",
    "user_entry", "layer_rows",
    # option checks for builders
    "positive_int", "probability", "number", "flag", "choice",
    # the base and the shared dense pieces
    "RelationLayer", "Twin", "masked_softmax", "mean_adjacency", "gcn_adjacency",
    # the layers
    "GCNLayer", "DenseGCNLayer", "LearnedGraphLayer", "NoGraphLayer",
    "GATLayer", "GATv2Layer", "TransformerLayer",
    "GatedGraphLayer", "GraphConvLayer", "GINLayer", "SAGELayer", "RGCNLayer",
    # the builders, in registration order
    "build_gcn", "build_dense_gcn", "build_gat", "build_gatv2", "build_transformer", "build_ggnn",
    "build_graphconv", "build_gin", "build_sage", "build_rgcn", "build_learned", "build_none",
]
