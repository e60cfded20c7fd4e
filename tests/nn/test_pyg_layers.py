"""Any PyG convolution by name (``pyg:<ClassName>``) and a user's own layer (``MODULE:ATTR``): the adapter,
the probe's listing, and one optimisation step of the model for every class the listing says trains."""
import sys
from pathlib import Path

import pytest
import torch
import torch_geometric.nn.conv as pyg_conv
from torch.nn import functional as F

from augcn_pyg.core.errors import InputError
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.layers import build_layer, conv_spec, get_layer, layer_rows, probe_pyg, pyg_conv_names
from augcn_pyg.nn.layers.listing import DOC_BEGIN, DOC_END, markdown, pyg_rows
from augcn_pyg.nn.layers.pyg import probe_topology
from augcn_pyg.nn.layers.registry import signature_flags
from augcn_pyg.nn.model import AUGCN
from augcn_pyg.nn.topology import GraphTopology

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
DOC = EXAMPLES.parent / "relation-layers.md"
ROWS = pyg_rows()  # the listing: one probe per class, once per process
TRAINS = [r.name for r in ROWS if r.trains]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny products: on a shared machine more threads only wait on each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def crops_and_labels(b=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    crops = torch.randint(0, 256, (b, 19, 3, 10, 10), dtype=torch.uint8, generator=g)
    return crops, (torch.rand(b, 12, generator=g) < 0.4).float()


def test_the_listing_covers_every_pyg_convolution_and_enough_train():
    assert [r.name for r in ROWS] == [f"pyg:{n}" for n in pyg_conv_names()]
    assert set(pyg_conv_names()) == set(pyg_conv.__all__) - {"MessagePassing"}
    assert len(TRAINS) >= 40
    for r in ROWS:
        assert r.trains or r.note, f"{r.name}: no reason given"  # every one that does not train says why


@pytest.mark.parametrize("name", TRAINS)
def test_a_pyg_layer_takes_one_optimisation_step_in_the_model(name):
    torch.manual_seed(0)
    model = AUGCN("bp4d", paper_graph("bp4d"), layer=name, latent=8, hidden=[4], dropout=0.0, strip_channels=4,
                  roi_size=10)
    crops, y = crops_and_labels()
    out = model(crops, reconstruct=False)
    assert out.logits.shape == (4, 12) and out.latents.shape == (4, 19, 8)
    assert model.relation[0](out.latents).shape == (4, 19, 4)
    # only the AU logits' loss: its gradient reaches the encoders through the relation layer alone
    F.binary_cross_entropy_with_logits(out.logits, y).backward()
    encoders = dict((n, p) for n, p in model.named_parameters() if n.startswith("autoencoders.enc_"))
    assert encoders and all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoders.values())
    relation = [p for p in model.relation.parameters()]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in relation)
    before = [p.detach().clone() for p in relation]
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert any(not torch.equal(a, p) for a, p in zip(before, relation))
    assert torch.isfinite(model(crops, reconstruct=False).logits).all()


@pytest.mark.parametrize("name", TRAINS)
def test_what_the_signature_passes_is_what_the_probe_measures(name):
    """The forward signature says what the adapter passes; the probe measures whether it changes the output
    (the same but for optional inputs a class refused in its trial pass), and the registry flags are that."""
    entry, probe = get_layer(name), probe_pyg(name[4:])
    weight, types = signature_flags(conv_spec(getattr(pyg_conv, name[4:])))
    if "edge_weight" in probe.refused:
        weight = False
    assert (weight, types) == (probe.uses_edge_weight, probe.uses_edge_type)
    assert (entry.uses_edge_weight, entry.uses_edge_type) == (probe.uses_edge_weight, probe.uses_edge_type)
    assert not entry.dense and entry.pyg_layer == f"torch_geometric.nn.{name[4:]}"


def test_reasons_come_from_the_signatures_or_the_probe():
    why = {r.name: r.note for r in ROWS if not r.trains}
    assert why["pyg:PointNetConv"].startswith("needs node positions (pos): forward(x, pos, edge_index)")
    assert why["pyg:HypergraphConv"].startswith("needs hyperedges")
    assert why["pyg:HGTConv"].startswith("needs a heterogeneous graph")
    assert why["pyg:SignedConv"].startswith("needs a signed graph")
    assert why["pyg:DynamicEdgeConv"].startswith("builds its own graph")
    assert "Feature shape must be" in why["pyg:DNAConv"]  # PyG's own exception, from the probe


def test_the_docs_table_is_the_generated_one():
    text = DOC.read_text()
    committed = text[text.index(DOC_BEGIN) + len(DOC_BEGIN):text.index(DOC_END)].strip()
    assert committed == markdown(layer_rows()).strip(), \
        "docs/relation-layers.md's PyG table is stale: regenerate it with python docs/pyg_layers_table.py"


# --- the adapter -----------------------------------------------------------------------------------------

def test_the_adapter_fills_widths_and_the_graph_and_passes_what_forward_takes():
    topology = probe_topology()
    gat = build_layer("pyg:GATConv", 8, 4, topology, heads=3)  # concatenated heads: a Linear back to out
    assert gat.conv.edge_dim == 1 and gat.forward_args == ("edge_attr",) and gat.out_lin.in_features == 12
    rgcn = build_layer("pyg:RGCNConv", 8, 4, topology)
    assert rgcn.conv.num_relations == topology.num_relations and rgcn.forward_args == ("edge_type",)
    ggnn = build_layer("pyg:GatedGraphConv", 8, 4, topology)  # no in/out pair: Linear(in, out) first
    assert ggnn.lin.out_features == 4 and ggnn.conv.out_channels == 4 and ggnn.conv.num_layers == 2
    gcn2 = build_layer("pyg:GCN2Conv", 8, 4, topology)
    assert gcn2.forward_args == ("edge_weight", "x_0")
    both = build_layer("pyg:GMMConv", 8, 4, topology, edge_attr="both")
    assert both.conv.dim == 1 + topology.num_relations
    x = torch.randn(3, topology.num_nodes, 8)
    for layer in (gat, rgcn, ggnn, gcn2, both):
        assert torch.equal(layer(x), layer.forward_sparse(x))
        assert layer(x).shape == (3, topology.num_nodes, 4)


def test_each_face_is_its_own_graph():
    """Batched faces do not see each other: a face's output is the same alone or in a batch."""
    topology = GraphTopology.from_graph(paper_graph("disfa"))
    torch.manual_seed(0)
    layer = build_layer("pyg:GENConv", 8, 4, topology, norm="layer").eval()
    x = torch.randn(5, topology.num_nodes, 8)
    assert torch.allclose(layer(x)[2:3], layer(x[2:3]), atol=1e-6)


def test_options_are_the_constructor_defaults_and_edge_attr():
    entry = get_layer("pyg:GATConv")
    assert entry.options["heads"] == 1 and entry.options["edge_attr"] == "weight"
    assert "in_channels" not in entry.options and "edge_dim" not in entry.options
    assert get_layer("pyg:APPNP").options["K"] == 2  # a required argument PyG gives no default
    assert "cached" not in get_layer("pyg:GCNConv").options  # the batched graph changes with the batch size
    with pytest.raises(InputError, match="has no option 'head'; it takes heads"):
        build_layer("pyg:GATConv", 8, 4, probe_topology(), head=2)
    with pytest.raises(InputError, match="edge_attr must be one of weight, type, both, none"):
        build_layer("pyg:GATConv", 8, 4, probe_topology(), edge_attr="all")
    with pytest.raises(InputError, match=r"pyg:GATConv cannot be built with options \{'heads': 'two'\}"):
        build_layer("pyg:GATConv", 8, 4, probe_topology(), heads="two")


def test_a_signature_that_rules_a_class_out():
    spec = conv_spec(pyg_conv.PointNetConv)
    assert spec.reason.startswith("needs node positions")
    with pytest.raises(InputError, match="'pyg:PointNetConv' cannot run on the relation graph: needs node positions"):
        get_layer("pyg:PointNetConv")


# --- names that are not layers ---------------------------------------------------------------------------

def one_error(name) -> str:
    with pytest.raises(InputError) as err:
        build_layer(name, 8, 4, probe_topology())
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_an_unknown_pyg_class_is_one_clear_error():
    message = one_error("pyg:Nope")
    assert message.startswith("unknown PyG convolution pyg:Nope") and "augcn-pyg layers --all" in message
    assert "did you mean pyg:GATConv" in one_error("pyg:GatConv")
    assert "pyg:MessagePassing" in one_error("pyg:MessagePassing")


@pytest.mark.parametrize("name, text", [
    ("not_a_module_anywhere:build", "no module 'not_a_module_anywhere' can be imported; put the folder"),
    ("my_layer:nothing", "module 'my_layer'"),
    ("my_layer:GatedNeighbourMean", "the class GatedNeighbourMean is no torch_geometric MessagePassing subclass"),
    ("json:dumps", "a layer builder takes in_channels, out_channels, topology first"),
    ("os:sep", "is a str; name a builder function"),
    ("my layer:build", "neither a registered name, pyg:<ClassName>, nor MODULE:ATTR"),
    ("gcnn", "unknown relation layer 'gcnn'; choose from gcn"),
])
def test_a_bad_module_attr_is_one_clear_error(name, text, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    assert text in one_error(name)


def test_a_module_that_fails_to_import_is_one_clear_error(tmp_path, monkeypatch):
    (tmp_path / "broken_layers.py").write_text("import torch\nraise RuntimeError('no GPU here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "importing 'broken_layers' failed (RuntimeError: no GPU here)" in one_error("broken_layers:build")
    monkeypatch.delitem(sys.modules, "broken_layers", raising=False)


def test_a_user_builder_and_a_user_message_passing_class(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    topology = probe_topology()
    x = torch.randn(3, topology.num_nodes, 8)
    mine = build_layer("my_layer:build", 8, 4, topology, gate_bias=0.5)
    assert get_layer("my_layer:build").options == {"gate_bias": -1.0} and get_layer("my_layer:build").uses_edge_weight
    assert torch.allclose(mine(x), mine.forward_sparse(x), atol=1e-5)
    with pytest.raises(InputError, match="has no option 'gate'"):
        build_layer("my_layer:build", 8, 4, topology, gate=0.5)
    conv = build_layer("my_layer:MeanMaxConv", 8, 4, topology)  # through the adapter
    assert conv.forward_args == ("edge_weight",) and conv(x).shape == (3, topology.num_nodes, 4)
    assert get_layer("my_layer:MeanMaxConv").pyg_layer is None
