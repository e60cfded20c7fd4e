"""The attention layers' fast paths: gatv2's logits over the edges, and all three under ``torch.func.vmap``.

The parity with PyG's sparse layers (outputs, attention weights, gradients, dropout) is checked for every
registered layer in ``tests/nn/test_layers.py``; here what is particular to the attention fast paths.
"""
import pytest
import torch
from torch.func import functional_call, stack_module_state, vmap
from torch_geometric.utils import add_self_loops, remove_self_loops

from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.layers import build_layer
from augcn_pyg.nn.layers.attention import scatter_pairs
from augcn_pyg.nn.topology import GraphTopology

R, B, IN, OUT = 19, 4, 40, 30
ATTENTION = ["gat", "gatv2", "transformer"]


def bp4d() -> GraphTopology:
    return GraphTopology.from_graph(paper_graph("bp4d"))


def make(name, topology, seed=0, **options):
    """A layer with non-default values in every parameter (biases start at 0)."""
    torch.manual_seed(seed)
    layer = build_layer(name, IN, OUT, topology, **options)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return layer


def features(batch=B, seed=1):
    return torch.randn(batch, R, IN, generator=torch.Generator().manual_seed(seed))


def stacked(name, topology, copies=3, **options):
    """``copies`` layers built with different seeds, and their parameters stacked (a leading axis)."""
    layers = [make(name, topology, seed=seed, **options) for seed in range(copies)]
    params, _ = stack_module_state(layers)
    return layers, params


def vmapped(layer, params, x, randomness="different"):
    """The forward of ``layer`` run once per stacked copy of its parameters, under vmap."""
    buffers = dict(layer.named_buffers())  # the shared graph: not stacked
    def one(p, x):
        return functional_call(layer, (p, buffers), (x,))
    return vmap(one, in_dims=(0, None), randomness=randomness)(params, x)


# --- vmap over stacked parameters --------------------------------------------------------------------

@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("name", ATTENTION)
def test_vmap_over_stacked_parameters_equals_each_copy(name, heads):
    layers, params = stacked(name, bp4d(), heads=heads)
    for layer in layers:
        layer.eval()
    x = features()
    with torch.no_grad():
        expected = [layer(x) for layer in layers]            # also fills the graph-matrix caches
        out = vmapped(layers[0], params, x)                   # (3, B, R, OUT)
    assert out.shape == (3, B, R, OUT)
    for member, want in enumerate(expected):
        torch.testing.assert_close(out[member], want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ATTENTION)
def test_vmap_gradients_reach_every_stacked_parameter(name):
    layers, params = stacked(name, bp4d())
    layers[0].eval()
    params = {k: v.detach().requires_grad_() for k, v in params.items()}
    vmapped(layers[0], params, features()).square().sum().backward()
    for pname, p in params.items():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert (p.grad.flatten(1).abs().sum(1) > 0).all(), f"{pname}: a copy gets no gradient"


@pytest.mark.parametrize("name", ATTENTION)
def test_vmap_attention_dropout_differs_between_copies(name):
    """randomness="different": each copy draws its own dropout mask; same weights, different outputs."""
    layer = make(name, bp4d(), dropout=0.5).train()
    params = {k: torch.stack([v.detach()] * 3) for k, v in layer.named_parameters()}
    out = vmapped(layer, params, features())
    assert torch.isfinite(out).all()
    assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[1], out[2])


# --- gatv2: logits over the edges ---------------------------------------------------------------------

def test_gatv2_attends_over_the_edges_pyg_uses():
    """The graph's edges without its loops, then one loop per node (GATv2Conv's add_self_loops)."""
    topo = bp4d()
    source, target = make("gatv2", topo)._edges()
    edge_index, _ = add_self_loops(remove_self_loops(topo.edge_index)[0], num_nodes=R)
    assert torch.equal(torch.stack([source, target]), edge_index)
    assert source.numel() < R * R


@pytest.mark.parametrize("heads", [1, 3])
def test_gatv2_edge_logits_equal_the_all_pairs_formula_on_the_edges(heads):
    r""":math:`a^\top \mathrm{LeakyReLU}(W_r x_t + W_l x_s)` on every attended pair, 0 on the others."""
    layer = make("gatv2", bp4d(), heads=heads).eval()
    conv, x = layer.conv, features()
    with torch.no_grad():
        values = layer._values(x)                                                              # (B, R, H, C)
        logits = layer._logits(x, values)                                                      # (B, H, R, R)
        pairs = layer._heads(conv.lin_r(x)).unsqueeze(2) + values.unsqueeze(1)                 # (B, Rt, Rs, H, C)
        every = (torch.nn.functional.leaky_relu(pairs, conv.negative_slope) * conv.att).sum(-1).permute(0, 3, 1, 2)
    attended = layer._attended() > 0
    torch.testing.assert_close(logits[..., attended], every[..., attended], atol=1e-5, rtol=1e-5)
    assert (logits[..., ~attended] == 0).all()


def test_scatter_pairs_puts_each_edge_at_target_source():
    source, target = torch.tensor([0, 2, 1]), torch.tensor([1, 1, 2])
    values = torch.arange(2 * 3 * 2, dtype=torch.float).view(2, 3, 2)                           # (B, E, H)
    dense = scatter_pairs(values, source, target, 3)                                           # (B, H, R, R)
    expected = torch.zeros(2, 2, 3, 3)
    for e in range(3):
        expected[:, :, target[e], source[e]] = values[:, e]
    assert torch.equal(dense, expected)


def test_graph_matrices_are_cached_as_float():
    """What vmap may swap for per-copy tensors: every graph matrix the attention layers keep is float."""
    for name in ATTENTION:
        layer = make(name, bp4d())
        layer(features())
        assert layer._matrices and all(m.dtype == torch.float32 for m in layer._matrices.values()), name


def relabelled(topology: GraphTopology, seed: int) -> GraphTopology:
    """The same graph with its nodes renumbered: another graph with the same number of edges."""
    perm = torch.randperm(R, generator=torch.Generator().manual_seed(seed))
    return GraphTopology(perm[topology.edge_index], topology.edge_type, topology.edge_weight, R)


@pytest.mark.parametrize("name", ATTENTION)
def test_vmap_with_a_graph_per_copy(name):
    """The cached graph matrices swapped for stacked per-copy ones under vmap: copy i runs on graph i."""
    topologies = [bp4d(), relabelled(bp4d(), 1), relabelled(bp4d(), 2)]
    layers, params = stacked(name, topologies[0])
    x = features()
    expected = []
    with torch.no_grad():
        for layer, topo in zip(layers, topologies):
            other = make(name, topo).eval()
            other.load_state_dict(layer.state_dict())
            expected.append(other(x))
            layer._matrices.clear()
            layer.topology = topo
            layer(x)                                                   # this copy's graph matrices
    matrices = {key: torch.stack([layer._matrices[key] for layer in layers]) for key in layers[0]._matrices}
    base = layers[0].eval()
    buffers = dict(base.named_buffers())

    def one(p, m, x):
        saved = dict(base._matrices)
        base._matrices.update(m)
        try:
            return functional_call(base, (p, buffers), (x,))
        finally:
            base._matrices.clear()
            base._matrices.update(saved)

    with torch.no_grad():
        out = vmap(one, in_dims=(0, 0, None), randomness="different")(params, matrices, x)
    for member, want in enumerate(expected):
        torch.testing.assert_close(out[member], want, atol=1e-5, rtol=0)
