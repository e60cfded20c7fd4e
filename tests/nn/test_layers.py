"""The relation-layer registry: every registered layer is tested here with no new test code.

The central check: the fast path (``forward``, dense on the shared R x R topology) equals PyG's real
sparse layer with the same weights (``forward_sparse``) on graphs where the dense/sparse conventions
differ: directed, weighted, with self-loops (and one graph without any loops and an isolated node).
"""
import pytest
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.graph.relations import RULES, paper_graph
from augcn_pyg.nn.layers import RELATION_LAYERS, build_layer, layer_names, masked_softmax, register_layer
from augcn_pyg.nn.topology import GraphTopology

R, B, IN, OUT = 19, 3, 40, 30
NAMES = layer_names()


def random_topology(seed: int, self_loops: bool = True, isolated: int | None = None) -> GraphTopology:
    """A directed graph on R nodes: ~80 random edges, weights in (0.2, 2), types in 0..4."""
    g = torch.Generator().manual_seed(seed)
    pairs = torch.randperm(R * R, generator=g)[:80]
    src, dst = pairs % R, pairs // R
    keep = src != dst
    if isolated is not None:
        keep &= dst != isolated  # no incoming edge at all
    src, dst = src[keep], dst[keep]
    if self_loops:
        src, dst = torch.cat([src, torch.arange(R)]), torch.cat([dst, torch.arange(R)])
    E = src.numel()
    weight = 0.2 + 1.8 * torch.rand(E, generator=g)
    types = torch.randint(0, len(RULES), (E,), generator=g)
    return GraphTopology(torch.stack([src, dst]), types, weight, R)


TOPOLOGIES = {
    "directed-weighted-loops": lambda: random_topology(0),
    "no-loops-isolated-node": lambda: random_topology(1, self_loops=False, isolated=4),
    "paper-bp4d": lambda: GraphTopology.from_graph(paper_graph("bp4d")),
}


def make(name, topology=None, seed=0, **options):
    torch.manual_seed(seed)
    return build_layer(name, IN, OUT, topology or TOPOLOGIES["directed-weighted-loops"](), **options)


def features(batch=B, seed=1):
    return torch.randn(batch, R, IN, generator=torch.Generator().manual_seed(seed))


def randomise(layer):
    """Non-default values everywhere (biases start at 0, GIN's eps at 0), so every parameter matters."""
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return layer


# --- every layer -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_shape_finite_and_gradients_reach_every_parameter(name):
    layer = randomise(make(name)).train()
    out = layer(features())
    assert out.shape == (B, R, OUT)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    for pname, p in layer.named_parameters():
        assert p.grad is not None, f"{pname} gets no gradient"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, f"{pname} gets a zero gradient"


@pytest.mark.parametrize("name", NAMES)
def test_permuting_the_faces_permutes_the_output(name):
    layer = randomise(make(name)).eval()
    x = features(batch=5)
    perm = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        assert torch.allclose(layer(x[perm]), layer(x)[perm], atol=1e-6)


@pytest.mark.parametrize("graph", list(TOPOLOGIES))
@pytest.mark.parametrize("name", NAMES)
def test_fast_path_equals_the_sparse_pyg_layer(name, graph):
    layer = randomise(make(name, TOPOLOGIES[graph]())).eval()
    x = features()
    with torch.no_grad():
        fast, sparse = layer(x), layer.forward_sparse(x)
    assert fast.shape == sparse.shape == (B, R, OUT)
    torch.testing.assert_close(fast, sparse, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_of_the_two_paths_agree(name):
    layer = randomise(make(name)).eval()
    x = features()
    grads = []
    for run in (layer.forward, layer.forward_sparse):
        layer.zero_grad()
        run(x).square().sum().backward()
        grads.append({n: p.grad.clone() for n, p in layer.named_parameters()})
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], atol=1e-4, rtol=1e-3, msg=n)


@pytest.mark.parametrize("name", NAMES)
def test_the_flags_say_what_the_layer_uses(name):
    """uses_edge_weight / uses_edge_type are true exactly when changing weights / types changes the output."""
    entry = RELATION_LAYERS[name]
    base = random_topology(0)
    reweighted = GraphTopology(base.edge_index, base.edge_type, base.edge_weight * 1.7 + 0.1, R)
    retyped = GraphTopology(base.edge_index, (base.edge_type + 1) % len(RULES), base.edge_weight, R)
    x = features()
    outputs = {}
    for key, topo in (("base", base), ("weight", reweighted), ("type", retyped)):
        layer = randomise(make(name, topo)).eval()
        with torch.no_grad():
            outputs[key] = layer(x)
    assert (not torch.allclose(outputs["base"], outputs["weight"])) == entry.uses_edge_weight
    assert (not torch.allclose(outputs["base"], outputs["type"])) == entry.uses_edge_type


@pytest.mark.parametrize("name", NAMES)
def test_topology_and_graph_matrices_follow_the_module(name):
    layer = randomise(make(name)).eval()
    x = features()
    with torch.no_grad():
        expected = layer(x).double()
        layer.double()
        assert layer.topology.edge_weight.dtype == torch.float64
        out = layer(x.double())
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_feature_shapes_are_refused(name):
    layer = make(name)
    for bad in (torch.randn(B, R - 1, IN), torch.randn(B, R, IN + 1), torch.randn(R, IN)):
        with pytest.raises(InputError, match=rf"\(B, {R}, {IN}\)"):
            layer(bad)


# --- attention layers ------------------------------------------------------------------------------

ATTENTION = [n for n in NAMES if hasattr(make(n), "attention")]


def test_the_attention_family_is_found():
    assert {"gat", "gatv2", "transformer"} <= set(ATTENTION)


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("name", ATTENTION)
def test_attention_equals_pyg_attention_weights(name, heads):
    topo = random_topology(0)
    layer = randomise(make(name, topo, heads=heads)).eval()
    x = features()
    with torch.no_grad():
        att = layer.attention(x)                                                  # (B, H, R, R)
        edge_index, _, _ = topo.batched(B)
        out, (edges, alpha) = layer.conv(x.reshape(B * R, IN), edge_index, return_attention_weights=True)
    assert att.shape == (B, heads, R, R)
    face, target, source = edges[1] // R, edges[1] % R, edges[0] % R
    torch.testing.assert_close(att[face, :, target, source], alpha, atol=1e-6, rtol=1e-5)
    # every pair PyG did not attend over has weight 0; each target's weights sum to 1
    torch.testing.assert_close(att.sum(), alpha.sum())
    torch.testing.assert_close(att.sum(-1), torch.ones(B, heads, R))
    torch.testing.assert_close(layer(x), out.view(B, R, OUT), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("graph", ["directed-weighted-loops", "no-loops-isolated-node"])
def test_pyg_dense_gat_agrees_given_the_edge_mask(graph):
    """DenseGATConv equals GATConv when given the 0/1 adjacency (it sets the diagonal like GATConv's loops)."""
    from torch_geometric.nn.dense import DenseGATConv

    from augcn_pyg.nn.layers import Twin

    topo = TOPOLOGIES[graph]()
    layer = randomise(make("gat", topo, heads=3)).eval()
    twin = Twin(DenseGATConv(IN, OUT, heads=3, concat=False))
    x = features()
    with torch.no_grad():
        torch.testing.assert_close(twin(layer.conv, x, topo.adjacency(weighted=False)), layer(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ATTENTION)
def test_attention_dropout_only_in_training(name):
    layer = make(name, dropout=0.5)
    x = features()
    layer.train()
    assert not torch.allclose(layer(x), layer(x))
    layer.eval()
    assert torch.equal(layer(x), layer(x))


def test_masked_softmax_rows_without_sources_are_zero():
    mask = torch.tensor([[True, False], [False, False]])
    att = masked_softmax(torch.randn(4, 2, 2, requires_grad=True), mask)
    assert torch.equal(att[:, 0], torch.tensor([[1.0, 0.0]]).expand(4, 2))
    assert torch.equal(att[:, 1], torch.zeros(4, 2))


# --- particular layers -------------------------------------------------------------------------------

def unit_loop_topology():
    base = random_topology(0)
    loops = base.edge_index[0] == base.edge_index[1]
    return GraphTopology(base.edge_index, base.edge_type, torch.where(loops, 1.0, base.edge_weight), R)


def test_dense_gcn_equals_gcn_with_unit_self_loops():
    topo = unit_loop_topology()
    gcn, dense = randomise(make("gcn", topo)), make("dense-gcn", topo)
    dense.load_state_dict(gcn.state_dict())
    x = features()
    torch.testing.assert_close(dense(x), gcn(x), atol=1e-5, rtol=1e-4)


def test_dense_gcn_overwrites_self_loop_weights():
    topo = random_topology(0)  # self-loop weights in (0.2, 2): here the two layers differ
    gcn, dense = randomise(make("gcn", topo)), make("dense-gcn", topo)
    dense.load_state_dict(gcn.state_dict())
    x = features()
    assert not torch.allclose(dense(x), gcn(x), atol=1e-3)


@pytest.mark.parametrize("mask", [False, True])
def test_learned_starts_as_gcn_and_its_adjacency_learns(mask):
    topo = random_topology(0)
    gcn, learned = randomise(make("gcn", topo)), make("learned", topo, mask=mask)
    with torch.no_grad():
        learned.lin.weight.copy_(gcn.conv.lin.weight)
        learned.bias.copy_(gcn.conv.bias)
    x = features()
    torch.testing.assert_close(learned(x), gcn(x), atol=1e-6, rtol=1e-5)
    learned(x).square().sum().backward()
    grad = learned.adjacency.grad
    assert grad is not None and grad.abs().sum() > 0
    off_graph = learned.adjacency_matrix().detach() == 0
    assert off_graph.any()
    if mask:
        assert (grad[off_graph] == 0).all()        # entries off the fitted graph stay 0
    else:
        assert (grad[off_graph] != 0).any()        # every entry is trainable


def test_none_has_the_parameters_of_gcn_and_ignores_the_graph():
    count = lambda layer: sum(p.numel() for p in layer.parameters())  # noqa: E731
    assert count(make("none")) == count(make("gcn"))
    x = features()
    a = make("none", random_topology(0), seed=3)
    b = make("none", TOPOLOGIES["paper-bp4d"](), seed=3)
    assert torch.equal(a(x), b(x))


def test_ggnn_runs_its_steps():
    x = features()
    one, three = make("ggnn", steps=1), make("ggnn", steps=3)
    assert one.conv.weight.shape[0] == 1 and three.conv.weight.shape[0] == 3
    torch.testing.assert_close(three(x), three.forward_sparse(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name, options", [("ggnn", dict(aggr="mean")), ("graphconv", dict(aggr="add")),
                                           ("gin", dict(eps=0.3, train_eps=True)), ("gin", dict(norm="none")),
                                           ("rgcn", dict(num_bases=2)),
                                           ("learned", dict(mask=True))])
def test_options_keep_the_two_paths_equal(name, options):
    layer = randomise(make(name, **options)).eval()
    x = features()
    torch.testing.assert_close(layer(x), layer.forward_sparse(x), atol=1e-5, rtol=1e-4)


def test_graphconv_mean_differs_from_add():
    x = features()
    add, mean = make("graphconv", seed=5, aggr="add"), make("graphconv", seed=5)
    assert not torch.allclose(add(x), mean(x))



# --- the registry ------------------------------------------------------------------------------------

def test_registry_names_and_entries():
    assert NAMES == list(RELATION_LAYERS)
    assert {"gcn", "dense-gcn", "gat", "gatv2", "transformer", "ggnn", "graphconv", "gin", "sage", "rgcn",
            "learned", "none"} <= set(NAMES)
    for name, entry in RELATION_LAYERS.items():
        assert entry.name == name and entry.description and "\n" not in entry.description
        if entry.pyg_layer is not None:
            module, cls = entry.pyg_layer.rsplit(".", 1)
            assert hasattr(__import__(module, fromlist=[cls]), cls)


def test_unknown_layer_lists_every_name():
    with pytest.raises(InputError) as err:
        build_layer("gcnn", IN, OUT, random_topology(0))
    for name in NAMES:
        assert name in str(err.value)


@pytest.mark.parametrize("name, options, message", [
    ("gcn", dict(heads=2), "no option 'heads'; it takes no options"),
    ("gat", dict(head=2), "no option 'head'; it takes heads, dropout"),
    ("gat", dict(heads=0), "heads must be a positive integer"),
    ("gat", dict(dropout=1.5), r"dropout must be a number in \[0, 1\)"),
    ("ggnn", dict(steps=2.5), "steps must be a positive integer"),
    ("ggnn", dict(aggr="max"), "aggr must be one of add, mean"),
    ("graphconv", dict(aggr="sum"), "aggr must be one of add, mean"),
    ("gin", dict(eps="x"), "eps must be a finite number"),
    ("gin", dict(train_eps=1), "train_eps must be true or false"),
    ("gin", dict(norm="batch"), "norm must be one of layer, none"),
    ("rgcn", dict(num_bases=0), "num_bases must be a positive integer"),
    ("learned", dict(mask="yes"), "mask must be true or false"),
])
def test_bad_options_are_refused(name, options, message):
    with pytest.raises(InputError, match=message):
        make(name, **options)


@pytest.mark.parametrize("channels", [(0, OUT), (IN, -1), (IN, 2.0)])
def test_bad_widths_are_refused(channels):
    with pytest.raises(InputError, match="must be a positive integer"):
        build_layer("gcn", *channels, random_topology(0))


def test_a_relation_graph_is_accepted_as_topology():
    layer = build_layer("gcn", IN, OUT, paper_graph("bp4d"))
    assert isinstance(layer.topology, GraphTopology) and layer.topology.num_nodes == R
    with pytest.raises(InputError, match="needs a GraphTopology or a RelationGraph, got dict"):
        build_layer("gcn", IN, OUT, {"edge_index": []})


def test_register_layer_refuses_duplicates_and_bad_builders():
    with pytest.raises(ValueError, match="already registered"):
        register_layer("gcn", description="again")(lambda in_channels, out_channels, topology: None)
    with pytest.raises(TypeError, match="takes in_channels, out_channels, topology first"):
        register_layer("not-registered", description="bad")(lambda a, b: None)
    assert "not-registered" not in RELATION_LAYERS


def test_a_newly_registered_layer_is_built_with_its_options():
    @register_layer("test-scaled-none", description="none, scaled")
    def build(in_channels, out_channels, topology, scale=1.0):
        layer = RELATION_LAYERS["none"].build(in_channels, out_channels, topology)
        layer.scale = scale
        return layer
    try:
        assert RELATION_LAYERS["test-scaled-none"].options == {"scale": 1.0}
        assert make("test-scaled-none", scale=2.0).scale == 2.0
    finally:
        del RELATION_LAYERS["test-scaled-none"]
