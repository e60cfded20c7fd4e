"""The ``local-labels`` layer: ``local``'s per-AU logits, then each AU corrected by the other AUs' logits
through a learned C x C matrix that starts at zero and never uses its diagonal."""
import pytest
import torch

from augcn_pyg.engine.config import ModelConfig
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.model import AUGCN, LabelRelations, MaskedLinear


def small(layer: str, task: str = "presence") -> AUGCN:
    torch.manual_seed(0)
    cfg = ModelConfig(layer=layer, latent=16, hidden=[8, 4], strip_rows=5, strip_channels=4, dropout=0.0, task=task)
    return AUGCN.from_config("bp4d", paper_graph("bp4d"), cfg, roi_size=10).eval()


def latents(model, b=5):
    return torch.randn(b, model.num_rois, model.latent, generator=torch.Generator().manual_seed(1))  # (B, R, d0)


def test_it_starts_as_the_local_model():
    local, labels = small("local"), small("local-labels")
    assert isinstance(labels.classifier, LabelRelations) and isinstance(labels.classifier.local, MaskedLinear)
    assert torch.equal(labels.classifier.local.weight, local.classifier.weight)  # the same draws
    z = latents(local)
    with torch.no_grad():
        assert torch.equal(labels.head(z), local.head(z))


def test_each_au_is_corrected_by_the_others_logits_only():
    model = small("local-labels")
    z = latents(model)
    with torch.no_grad():
        own = model.classifier.local(model.relate(z).flatten(1))  # (B, C): the local stage
        model.classifier.relations.weight.copy_(5 * torch.eye(12))  # the diagonal: never used
        assert torch.equal(model.head(z), own)
        model.classifier.relations.weight.zero_()
        model.classifier.relations.weight[0, 1] = 0.5  # AU1's logit reads half of AU2's
        out = model.head(z)
    assert torch.allclose(out[:, 0], own[:, 0] + 0.5 * own[:, 1]) and torch.equal(out[:, 1:], own[:, 1:])


def test_the_relations_learn_and_the_masked_weights_stay_put():
    model = small("local-labels").train()
    z = latents(model, b=32)
    y = (torch.rand(32, 12, generator=torch.Generator().manual_seed(2)) < 0.4).float()
    y[:, 1] = y[:, 0]  # AU2 whenever AU1
    masked = model.classifier.local.weight.detach().clone() * (1 - model.classifier.mask)
    opt = torch.optim.SGD(model.head_parameters(), lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model.head(z), y).backward()
        opt.step()
    off = model.classifier.relations.weight * model.classifier.others
    assert off.abs().sum() > 0
    assert torch.equal(model.classifier.local.weight.detach() * (1 - model.classifier.mask), masked)


@pytest.mark.parametrize("task", ["intensity", "both"])
def test_its_intensity_head_reads_the_same_rois_as_local(task):
    model = small("local-labels", task=task)
    assert isinstance(model.intensity_head, MaskedLinear)
    assert torch.equal(model.intensity_head.mask, model.classifier.mask)
