"""The registered builders of the thirteen relation layers, in the order ``augcn-pyg layers`` lists them.

Each builder validates its options (a bad value is an :class:`~augcn_pyg.core.errors.InputError`) and
returns the layer; its keyword arguments, with their defaults, are the options
:func:`~augcn_pyg.nn.layers.registry.build_layer` accepts.
"""
from __future__ import annotations

from augcn_pyg.nn.layers.attention import GATLayer, GATv2Layer, TransformerLayer
from augcn_pyg.nn.layers.gcn import DenseGCNLayer, GCNLayer, LearnedGraphLayer, NoGraphLayer
from augcn_pyg.nn.layers.message_passing import GatedGraphLayer, GINLayer, GraphConvLayer, RGCNLayer, SAGELayer
from augcn_pyg.nn.layers.registry import choice, flag, number, positive_int, probability, register_layer


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
    return GATLayer(in_channels, out_channels, topology, positive_int("heads", heads), probability("dropout", dropout))


@register_layer("gatv2", description="GATv2 attention (dynamic attention), heads averaged",
                pyg_layer="torch_geometric.nn.GATv2Conv")
def build_gatv2(in_channels, out_channels, topology, heads=1, dropout=0.0):
    return GATv2Layer(in_channels, out_channels, topology, positive_int("heads", heads),
                      probability("dropout", dropout))


@register_layer("transformer", description="graph transformer attention with a root (skip) weight, heads averaged",
                pyg_layer="torch_geometric.nn.TransformerConv")
def build_transformer(in_channels, out_channels, topology, heads=1, dropout=0.0):
    return TransformerLayer(in_channels, out_channels, topology, positive_int("heads", heads),
                            probability("dropout", dropout))


@register_layer("ggnn", description="Linear(in, out) then a gated graph network (GRU over message steps)",
                uses_edge_weight=True, pyg_layer="torch_geometric.nn.GatedGraphConv")
def build_ggnn(in_channels, out_channels, topology, steps=2, aggr="add"):
    return GatedGraphLayer(in_channels, out_channels, topology, positive_int("steps", steps),
                           choice("aggr", aggr, ("add", "mean")))


@register_layer("graphconv", description="GraphConv: root weight plus weighted neighbour mean (aggr add: the sum)",
                uses_edge_weight=True, pyg_layer="torch_geometric.nn.GraphConv")
def build_graphconv(in_channels, out_channels, topology, aggr="mean"):
    # mean by default: PyG's own default, the sum, grows with the ~20 neighbours of the global node and
    # diverged at the toolkit's lr (first-layer outputs of 260-400, every AU predicted everywhere)
    return GraphConvLayer(in_channels, out_channels, topology, choice("aggr", aggr, ("add", "mean")))


@register_layer("gin", description="GIN: MLP((1 + eps) x + sum of neighbours)",
                pyg_layer="torch_geometric.nn.GINConv")
def build_gin(in_channels, out_channels, topology, eps=0.0, train_eps=False, norm="layer"):
    return GINLayer(in_channels, out_channels, topology, number("eps", eps), flag("train_eps", train_eps),
                    choice("norm", norm, ("layer", "none")))


@register_layer("sage", description="GraphSAGE with mean aggregation",
                pyg_layer="torch_geometric.nn.SAGEConv")
def build_sage(in_channels, out_channels, topology):
    return SAGELayer(in_channels, out_channels, topology)


@register_layer("rgcn", description="relational GCN: one weight per edge rule, mean per rule",
                uses_edge_type=True, pyg_layer="torch_geometric.nn.RGCNConv")
def build_rgcn(in_channels, out_channels, topology, num_bases=None):
    if num_bases is not None:
        num_bases = positive_int("num_bases", num_bases)
    return RGCNLayer(in_channels, out_channels, topology, num_bases)


@register_layer("learned", description="a trained R x R adjacency, initialised from the GCN-normalised graph",
                uses_edge_weight=True)
def build_learned(in_channels, out_channels, topology, mask=False):
    return LearnedGraphLayer(in_channels, out_channels, topology, flag("mask", mask))


@register_layer("none", description="no graph (G = I): a per-node linear map (the paper's AU-Net also drops Dice and the face node)")
def build_none(in_channels, out_channels, topology):
    return NoGraphLayer(in_channels, out_channels, topology)


@register_layer("local", description="relation-free: no graph, and each AU's logit from its own ROIs' nodes only "
                "(membership-masked classifier)")
def build_local(in_channels, out_channels, topology):
    # the node map of `none` (same parameters, same draws); AUGCN gives this layer a classifier whose weight is
    # masked by the ROI-AU membership (nn/model.py LOCAL_LAYER), so no AU sees another AU's ROIs
    return NoGraphLayer(in_channels, out_channels, topology)


@register_layer("local-labels", description="local, then each AU's logit corrected by the other AUs' local logits "
                "(a learned C x C AU-relation matrix, zero at start): explicit relations between AU predictions")
def build_local_labels(in_channels, out_channels, topology):
    # the node map of `local`; AUGCN gives this layer a LabelRelations classifier (nn/model.py LABEL_LAYER)
    return NoGraphLayer(in_channels, out_channels, topology)
