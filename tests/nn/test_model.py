import numpy as np
import pytest
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine.config import ModelConfig
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.layers import RELATION_LAYERS
from augcn_pyg.nn.losses import roi_bce, weighted_bce, weighted_dice
from augcn_pyg.nn.model import AUGCN, NORMS, SKIPS, count_flops

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


# --- the design space (skip, norm, depth and widths) ----------------------------------------------------
def design(layer="gcn", hidden=(4,), seed=0, **kw) -> AUGCN:
    torch.manual_seed(seed)
    return AUGCN("bp4d", paper_graph("bp4d"), layer=layer, latent=8, hidden=hidden, roi_size=10, strip_channels=4,
                 **kw)


#: every skip with every norm at depth 2 (widths that differ), and every skip at depths 1, 3 and 4
POINTS = ([(skip, norm, [4, 6]) for skip in SKIPS for norm in NORMS.choices()]
          + [(skip, "none", hidden) for skip in SKIPS for hidden in ([4], [6, 6, 4], [4, 4, 4, 4])])


@pytest.mark.parametrize("skip, norm, hidden", POINTS, ids=[f"{s}-{n}-depth{len(h)}" for s, n, h in POINTS])
def test_every_design_point_builds_runs_and_gets_gradients(skip, norm, hidden):
    model = design(hidden=hidden, skip=skip, norm=norm, dropout=0.2)
    crops, y, known = batch(b=4)
    widths = model.input_widths()
    assert len(model.relation) == len(hidden) and widths[0] == 8
    assert widths[-1] == (8 + sum(hidden) if skip == "concat" else hidden[-1])
    latents = model.autoencoders.encode(crops)  # (B, R, d0)
    assert model.relate(latents).shape == (4, 19, widths[-1])
    out = model(crops)
    assert out.logits.shape == (4, 12) and out.roi_logits.shape == (4, 19, 12)
    total_loss(model, crops, y, known).backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    head = {id(p) for p in model.head_parameters()}
    assert all(id(p) in head for n, p in model.named_parameters() if n.startswith(("relation", "classifier")))
    counts = model.parameter_counts()  # every new parameter belongs to a part
    assert counts["relation layers"] == sum(p.numel() for n, p in model.named_parameters() if n.startswith("relation"))


def test_the_default_point_is_the_papers_head_with_the_old_parameter_names():
    model = small("gcn").eval()
    assert (model.skip, model.norm) == ("none", "none")
    # the names checkpoints of earlier versions hold: no design module adds a tensor to the default point
    assert [k for k in model.state_dict() if not k.startswith("autoencoders.")] == [
        "roi_head_weight", "roi_head_bias", "relation.0.conv.bias", "relation.0.conv.lin.weight",
        "relation.1.conv.bias", "relation.1.conv.lin.weight", "classifier.weight", "classifier.bias"]
    latents = model.autoencoders.encode(batch(b=3)[0])
    z = latents
    for layer in model.relation:  # eq. 6 as the paper writes it, dropout off in eval mode
        z = torch.relu(layer(z))
    with torch.no_grad():
        assert torch.equal(model.head(latents), model.classifier(z.flatten(1)))


def test_design_points_start_from_the_default_points_weights():
    # a paired comparison of design points starts every point from the same layer and classifier weights
    base = dict(design(hidden=[4, 6]).named_parameters())
    for kw in ({"skip": "sum"}, {"skip": "initial"}, {"norm": "layer"}, {"norm": "batch"}):
        other = dict(design(hidden=[4, 6], **kw).named_parameters())
        assert all(torch.equal(base[k], other[k]) for k in base), kw


@pytest.mark.parametrize("hidden", [[4], [4, 6, 4], [8, 8]])
def test_initial_residual_with_alpha_0_equals_none(hidden):
    crops, _, _ = batch(b=3)
    none = design(hidden=hidden, dropout=0.0)
    initial = design(hidden=hidden, dropout=0.0, skip="initial", skip_alpha=0.0)
    with torch.no_grad():
        assert torch.equal(none(crops).logits, initial(crops).logits)


def test_initial_residual_mixes_the_latents_into_every_layer_but_the_first():
    crops, _, _ = batch(b=3)
    points = ({}, {"skip": "initial", "skip_alpha": 0.5})
    with torch.no_grad():
        one = [design(hidden=[4], dropout=0.0, **kw)(crops).logits for kw in points]
        two = [design(hidden=[4, 6], dropout=0.0, **kw)(crops).logits for kw in points]
    assert torch.equal(*one)  # at i = 0 the mix is h_0 itself
    assert not torch.allclose(*two)
    m = design(hidden=[8, 6], skip="initial")  # Q_1 is the identity where d_1 = d0, a projection where not
    assert isinstance(m.relation_skips[1], torch.nn.Identity) and isinstance(design(hidden=[4, 6], skip="initial")
                                                                              .relation_skips[1], torch.nn.Linear)


def test_sum_and_concat_follow_their_equations():
    model = design(hidden=[8, 6], skip="sum", dropout=0.0).eval()
    assert isinstance(model.relation_skips[0], torch.nn.Identity)  # 8 -> 8: P_0 = I
    assert model.relation_skips[1].weight.shape == (6, 8)  # 8 -> 6: a learned projection
    h0 = model.autoencoders.encode(batch(b=2)[0])
    with torch.no_grad():
        h1 = torch.relu(model.relation[0](h0)) + h0
        h2 = torch.relu(model.relation[1](h1)) + h1 @ model.relation_skips[1].weight.T
        assert torch.allclose(model.relate(h0), h2, atol=1e-6)
    cat = design(hidden=[4, 6], skip="concat", dropout=0.0).eval()
    with torch.no_grad():
        h1 = torch.cat([torch.relu(cat.relation[0](h0)), h0], -1)  # (B, R, 4 + 8)
        h2 = torch.cat([torch.relu(cat.relation[1](h1)), h1], -1)  # (B, R, 6 + 12)
        assert torch.equal(cat.relate(h0), h2)
    assert cat.classifier.in_features == 19 * 18


def test_layer_norm_keeps_faces_apart_and_batch_norm_normalises_over_faces_and_rois():
    crops, _, _ = batch(b=6)
    layer = design(norm="layer", dropout=0.0).train()
    with torch.no_grad():
        assert torch.allclose(layer(crops).logits[:2], layer(crops[:2]).logits, atol=1e-5)
    bn = design(norm="batch", dropout=0.0).train()
    latents = bn.autoencoders.encode(crops)
    with torch.no_grad():
        u = bn.relation_norms[0](bn.relation[0](latents))  # (B, R, d1)
        flat = u.reshape(-1, u.shape[-1])  # statistics over the B·R nodes, per feature
        assert torch.allclose(flat.mean(0), torch.zeros(4), atol=1e-5)
        var = flat.var(0, unbiased=False)  # (x - mean) / sqrt(var_x + eps) has variance var_x / (var_x + eps)
        assert ((var > 0.95) & (var <= 1.0)).all()
        bn.eval()  # running statistics: a face's output no longer depends on its batch
        assert torch.allclose(bn(crops).logits[:2], bn(crops[:2]).logits, atol=1e-5)


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_takes_the_concatenated_widths(layer):
    model = design(layer=layer, hidden=[4, 6], skip="concat", norm="batch")
    crops, y, known = batch(b=3)
    total_loss(model, crops, y, known).backward()
    assert model(crops).logits.shape == (3, 12)


@pytest.mark.parametrize("kw, message", [
    ({"skip": "residual"}, "skip must be one of none, sum, concat, initial; got 'residual'"),
    ({"norm": "group"}, "unknown normalisation 'group'; choose from none, layer, batch"),
    ({"skip_alpha": 1.5}, r"skip_alpha must be in \[0, 1\]"),
    ({"hidden": []}, "hidden must list one or more widths"),
])
def test_bad_design_values_are_refused(kw, message):
    with pytest.raises(InputError, match=message):
        design(**kw)
