"""GraphTopology: the adjacency convention, batching and its cache, node selection, bad input."""
import numpy as np
import pytest
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.graph.relations import RULES, paper_graph
from augcn_pyg.nn.topology import GraphTopology


@pytest.fixture
def three_nodes():
    # 0 -> 1 (weight 2, symmetric), 1 -> 2 (weight 3, cooccurrence), 2 -> 2 (weight 0.5, self)
    return GraphTopology([[0, 1, 2], [1, 2, 2]], [1, 3, 0], [2.0, 3.0, 0.5], num_nodes=3)


def test_adjacency_puts_the_target_in_the_row(three_nodes):
    expected = torch.tensor([[0.0, 0.0, 0.0],
                             [2.0, 0.0, 0.0],
                             [0.0, 3.0, 0.5]])
    assert torch.equal(three_nodes.adjacency(), expected)
    assert torch.equal(three_nodes.adjacency(weighted=False), (expected > 0).float())
    # A @ X aggregates incoming messages: node 1 receives 2 * x0
    x = torch.tensor([[1.0], [10.0], [100.0]])
    assert torch.equal(three_nodes.adjacency() @ x, torch.tensor([[0.0], [2.0], [80.0]]))


def test_relation_adjacency_splits_the_edges_by_type(three_nodes):
    A = three_nodes.relation_adjacency()
    assert A.shape == (len(RULES), 3, 3)
    assert torch.equal(A.sum(0), three_nodes.adjacency())
    assert A[RULES.index("symmetric"), 1, 0] == 2.0
    assert A[RULES.index("cooccurrence"), 2, 1] == 3.0
    assert A[RULES.index("self"), 2, 2] == 0.5
    assert A[RULES.index("global")].abs().sum() == 0
    assert torch.equal(three_nodes.relation_adjacency(weighted=False).sum(), torch.tensor(3.0))


def test_sizes(three_nodes):
    assert (three_nodes.num_nodes, three_nodes.num_edges, three_nodes.num_relations) == (3, 3, len(RULES))


def test_batched_offsets_each_face_by_r(three_nodes):
    edge_index, edge_type, edge_weight = three_nodes.batched(4)
    assert edge_index.shape == (2, 12) and edge_type.shape == (12,) and edge_weight.shape == (12,)
    for b in range(4):
        block = slice(3 * b, 3 * b + 3)
        assert torch.equal(edge_index[:, block], three_nodes.edge_index + 3 * b)
        assert torch.equal(edge_type[block], three_nodes.edge_type)
        assert torch.equal(edge_weight[block], three_nodes.edge_weight)


def test_batched_is_cached_per_batch_size(three_nodes):
    first = three_nodes.batched(5)
    assert all(a is b for a, b in zip(first, three_nodes.batched(5)))   # the same tensors, not rebuilt
    assert three_nodes.batched(2)[0].shape == (2, 6)
    three_nodes.double()                                                # a cast drops the stale copies
    assert three_nodes.batched(5)[2].dtype == torch.float64
    assert three_nodes.batched(5)[0] is not first[0]


def test_buffers_are_not_saved(three_nodes):
    assert three_nodes.state_dict() == {}
    assert {n for n, _ in three_nodes.named_buffers()} == {"edge_index", "edge_type", "edge_weight"}


def test_from_graph_matches_the_relation_graph():
    graph = paper_graph("bp4d")
    topo = GraphTopology.from_graph(graph)
    assert topo.num_nodes == 19 and topo.num_edges == graph.num_edges
    assert np.array_equal(topo.adjacency().numpy(), graph.dense_adjacency().T)


def test_from_graph_keep_drops_and_renumbers():
    # 4 nodes; keep nodes 3 and 1 (in that order) -> 3 becomes 0, 1 becomes 1
    class Graph:
        edge_index = np.array([[0, 1, 3, 3, 1, 2], [1, 3, 1, 3, 1, 3]])
        edge_type = np.array([1, 2, 2, 0, 0, 4])
        edge_weight = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        num_nodes = 4

    topo = GraphTopology.from_graph(Graph(), keep=[3, 1])
    assert topo.num_nodes == 2
    assert topo.edge_index.tolist() == [[1, 0, 0, 1], [0, 1, 0, 1]]
    assert topo.edge_type.tolist() == [2, 2, 0, 0]
    assert topo.edge_weight.tolist() == [2.0, 3.0, 4.0, 5.0]


def test_from_graph_without_the_global_node():
    graph = paper_graph("bp4d")
    is_global = [r["is_global"] for r in graph.rois]
    keep = [i for i, g in enumerate(is_global) if not g]
    topo = GraphTopology.from_graph(graph, keep=keep)
    assert topo.num_nodes == 18
    assert (topo.edge_type != RULES.index("global")).all()
    full = graph.dense_adjacency()[np.ix_(keep, keep)].T
    assert np.array_equal(topo.adjacency().numpy(), full)


@pytest.mark.parametrize("kwargs, message", [
    (dict(edge_index=[[0, 1]], edge_type=[0], edge_weight=[1.0], num_nodes=2), "shape (2, E)"),
    (dict(edge_index=[[0], [2]], edge_type=[0], edge_weight=[1.0], num_nodes=2), "outside 0..1"),
    (dict(edge_index=[[0], [1]], edge_type=[5], edge_weight=[1.0], num_nodes=2), "edge_type holds values"),
    (dict(edge_index=[[0], [1]], edge_type=[0, 1], edge_weight=[1.0], num_nodes=2), "one entry per edge"),
    (dict(edge_index=[[0, 0], [1, 1]], edge_type=[0, 1], edge_weight=[1.0, 1.0], num_nodes=2), "more than once"),
    (dict(edge_index=[[0], [1]], edge_type=[0], edge_weight=[float("nan")], num_nodes=2), "non-finite"),
    (dict(edge_index=[[0], [0]], edge_type=[0], edge_weight=[1.0], num_nodes=0), "at least one node"),
])
def test_bad_topologies_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GraphTopology(**kwargs)


@pytest.mark.parametrize("keep, message", [([], "non-empty"), ([0, 19], "outside"), ([1, 1], "more than once")])
def test_bad_keep_is_refused(keep, message):
    with pytest.raises(InputError, match=message):
        GraphTopology.from_graph(paper_graph("bp4d"), keep=keep)
