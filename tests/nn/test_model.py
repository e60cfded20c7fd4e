import numpy as np
import pytest
import torch

from augcn_pyg.engine.config import ModelConfig
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.layers import RELATION_LAYERS
from augcn_pyg.nn.losses import roi_bce, weighted_bce, weighted_dice
from augcn_pyg.nn.model import AUGCN, count_flops

LAYERS = sorted(RELATION_LAYERS)


def small(layer: str, **kw) -> AUGCN:
    torch.manual_seed(0)
    cfg = ModelConfig(layer=layer, latent=16, hidden=[8, 4], strip_rows=5, strip_channels=4, dropout=0.0, **kw)
    return AUGCN.from_config("bp4d", paper_graph("bp4d"), cfg, roi_size=10)


def batch(b=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(b, 12, generator=g) < 0.4).float()
    crops = torch.randint(0, 100, (b, 19, 3, 10, 10), generator=g).float()
    membership = torch.from_numpy(AUGCN.from_config("bp4d", paper_graph("bp4d"), ModelConfig(latent=4, hidden=[2]),
                                        roi_size=10).membership.numpy().astype(np.float32))
    crops += 150 * (y @ membership.T / membership.sum(1)).clamp(max=1)[:, :, None, None, None]
    return crops.clamp(0, 255).to(torch.uint8), y, torch.ones_like(y, dtype=torch.bool)


def total_loss(model, crops, y, known):
    out = model(crops)
    w = torch.ones(12)
    return (weighted_bce(out.logits, y, known, w) + 4 * weighted_dice(out.logits, y, known, w)
            + roi_bce(out.roi_logits, y, known, model.membership) + 3 * out.reconstruction)


@pytest.mark.parametrize("layer", LAYERS)
def test_training_steps_lower_the_loss(layer):
    model = small(layer)
    crops, y, known = batch()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    first = total_loss(model, crops, y, known).item()
    for _ in range(8):
        opt.zero_grad()
        total_loss(model, crops, y, known).backward()
        opt.step()
    assert total_loss(model, crops, y, known).item() < first


@pytest.mark.parametrize("layer", LAYERS)
def test_output_follows_a_permutation_of_the_faces(layer):
    model = small(layer).eval()
    crops, _, _ = batch(b=6)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        out = model(crops).logits
        permuted = model(crops[perm]).logits
    assert torch.allclose(out[perm], permuted, atol=1e-5)


@pytest.mark.parametrize("layer", LAYERS)
def test_every_parameter_gets_a_gradient(layer):
    model = small(layer)
    crops, y, known = batch(b=4)
    total_loss(model, crops, y, known).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing


def test_default_size_is_near_the_papers_2_3_million():
    model = AUGCN("bp4d", paper_graph("bp4d"))
    counts = model.parameter_counts()
    assert 2.0e6 <= counts["total"] <= 2.6e6
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["encoders"] > 0 and counts["relation layers"] > 0


def test_without_the_global_node():
    model = AUGCN("bp4d", paper_graph("bp4d"), global_node=False, latent=8, hidden=[4], roi_size=10)
    assert model.num_rois == 18
    assert model.topology.num_nodes == 18
    out = model(batch(b=3)[0])
    assert out.roi_logits.shape == (3, 18, 12) and out.logits.shape == (3, 12)


def test_predict_proba_equals_the_forward_logits():
    model = small("gcn").eval()
    crops, _, _ = batch(b=5)
    with torch.no_grad():
        assert torch.allclose(model.predict_proba(crops), torch.sigmoid(model(crops).logits), atol=1e-6)


def test_flop_count_parts():
    model = AUGCN("bp4d", paper_graph("bp4d"))
    flops = count_flops(model)
    assert flops["encoders"] == model.autoencoders.flops_per_face()
    assert flops["decoders"] == 0
    assert count_flops(model, reconstruct=True)["decoders"] > 0
    assert flops["total"] == pytest.approx(sum(v for k, v in flops.items() if k != "total"))


def test_none_starts_from_the_weights_gcn_starts_from():
    # none vs gcn isolates message passing: with one seed both models begin identical
    models = {}
    for layer in ("gcn", "none"):
        torch.manual_seed(0)
        models[layer] = small(layer)
    gcn, none = (dict(models[k].named_parameters()) for k in ("gcn", "none"))
    for i in range(len(models["gcn"].relation)):
        assert torch.equal(gcn[f"relation.{i}.conv.lin.weight"], none[f"relation.{i}.lin.weight"])
    assert torch.equal(gcn["classifier.weight"], none["classifier.weight"])
