"""The intensity head beside the presence head: shapes, scale, an intensity-only model's presence, the
presence model unchanged, and the masked intensity loss."""
import numpy as np
import pytest
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.losses import intensity_loss
from augcn_pyg.nn.model import AUGCN, PRESENT_AT

TINY = dict(latent=8, hidden=[4], strip_channels=4, roi_size=10)


def model(task, seed=0, layer="gcn"):
    torch.manual_seed(seed)
    return AUGCN("bp4d", paper_graph("bp4d"), layer=layer, task=task, **TINY)


@pytest.mark.parametrize("layer", ["gcn", "none"])
def test_both_heads_share_the_relation_layers(layer):
    m = model("both", layer=layer).eval()
    crops = torch.randint(0, 255, (3, 19, 3, 10, 10), dtype=torch.uint8)
    out = m(crops)
    assert out.logits.shape == out.intensity.shape == (3, 12)
    assert ((out.intensity > 0) & (out.intensity < 5)).all()
    probs, inten = m.predict_both(crops)
    torch.testing.assert_close(probs, torch.sigmoid(out.logits))
    torch.testing.assert_close(inten, out.intensity)
    assert any(p is w for p in m.head_parameters() for w in m.intensity_head.parameters())
    assert m.parameter_counts()["intensity head"] == 4 * 19 * 12 + 12


def test_intensity_only_presence_is_intensity_at_least_two():
    m = model("intensity").eval()
    crops = torch.randint(0, 255, (5, 19, 3, 10, 10), dtype=torch.uint8)
    probs, inten = m.predict_both(crops)
    assert torch.equal(probs >= 0.5, inten >= PRESENT_AT)


def test_presence_model_is_unchanged():
    a, b = model("presence"), model("both")
    assert a.intensity_head is None and a(torch.zeros(1, 19, 3, 10, 10, dtype=torch.uint8)).intensity is None
    # the intensity head is made last: the shared weights are drawn exactly as a presence model's
    for name, w in a.state_dict().items():
        torch.testing.assert_close(w, b.state_dict()[name])
    assert not any(k.startswith("intensity_head") for k in a.state_dict())


def test_unknown_task_is_one_line():
    with pytest.raises(InputError, match="task must be one of presence, intensity, both"):
        model("ordinal")


def test_local_layer_masks_its_intensity_head_too():
    m = model("both", layer="local")
    assert torch.equal(m.intensity_head.mask, m.classifier.mask)


@pytest.mark.parametrize("kind", ["mse", "huber"])
def test_intensity_loss_masks_unknown(kind):
    pred = torch.tensor([[1.0, 4.0], [2.5, 0.0]])
    target = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    known = torch.tensor([[True, False], [False, False]])
    assert float(intensity_loss(pred, target, known, kind)) == 0.0  # the only known entry is exact
    known = torch.tensor([[True, True], [False, False]])
    expected = ((4 / 5) ** 2) / 2 if kind == "mse" else 0.2 * (0.8 - 0.5 * 0.2) / 2  # Huber, delta 0.2
    assert float(intensity_loss(pred, target, known, kind)) == pytest.approx(expected)
    with pytest.raises(ValueError):
        intensity_loss(pred, target, known, "l3")
    assert np.isfinite(float(intensity_loss(pred, target, torch.zeros_like(known), kind)))


def test_flops_count_the_intensity_head():
    from augcn_pyg.nn.model import count_flops

    both, presence = count_flops(model("both"), batch_size=2), count_flops(model("presence"), batch_size=2)
    assert both["intensity head"] == both["classifier"] > 0 and presence["intensity head"] == 0
