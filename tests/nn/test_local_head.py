"""The ``local`` layer: each AU's logit reads only the latents of its own ROIs (the relation-free point)."""
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.core.aus import get_protocol
from augcn_pyg.engine.config import ModelConfig
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.losses import weighted_bce
from augcn_pyg.nn.model import AUGCN, MaskedLinear, local_mask
from benchmarks.fixtures import make_store


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny products: on a shared machine more threads only wait on each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small(layer="local", **kw):
    torch.manual_seed(0)
    cfg = ModelConfig(layer=layer, latent=16, hidden=[8, 4], strip_rows=5, strip_channels=4, dropout=0.0, **kw)
    return AUGCN.from_config("bp4d", paper_graph("bp4d"), cfg, roi_size=10)


def own_rois(protocol="bp4d"):
    p = get_protocol(protocol)
    own = p.membership().copy()
    own[p.global_index] = False  # the whole-face ROI shows every AU: local leaves it out
    return own  # (R, C)


def test_local_mask_by_hand():
    # 3 ROIs (the last the whole face), 2 AUs, width 2: AU0 in ROI0, AU1 in ROI0 and ROI1
    membership = np.array([[1, 1], [0, 1], [1, 1]], bool)
    mask = local_mask(membership, np.array([False, False, True]), 2)
    assert mask.tolist() == [[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]]


@pytest.mark.parametrize("skip", ["none", "concat"])
def test_an_au_does_not_see_the_latents_of_other_rois(skip):
    model = small(skip=skip).eval()
    assert isinstance(model.classifier, MaskedLinear)
    own = own_rois()
    latents = torch.randn(3, model.num_rois, model.latent, requires_grad=True)  # (B, R, d0)
    logits = model.head(latents)  # (B, C)
    for c in range(logits.shape[1]):
        (grad,) = torch.autograd.grad(logits[:, c].sum(), latents, retain_graph=True)
        per_roi = grad.abs().sum(dim=(0, 2))  # (R,)
        assert (per_roi[~own[:, c]] == 0).all(), c
        assert (per_roi[own[:, c]] > 0).all(), c
    # perturbation: change every latent outside AU c's ROIs; AU c's logit stays, the others move
    c = model.protocol.aus.index(12)
    changed = latents.detach().clone()
    changed[:, ~torch.from_numpy(own[:, c])] += 5 * torch.randn_like(changed[:, ~torch.from_numpy(own[:, c])])
    with torch.no_grad():
        before, after = model.head(latents), model.head(changed)
    torch.testing.assert_close(after[:, c], before[:, c])
    assert not torch.allclose(after, before)


def test_none_sees_every_roi_and_starts_from_the_same_weights():
    local, none = small("local"), small("none")
    torch.testing.assert_close(local.classifier.weight, none.classifier.weight)
    latents = torch.randn(2, none.num_rois, none.latent, requires_grad=True)
    (grad,) = torch.autograd.grad(none.head(latents)[:, 0].sum(), latents)
    assert (grad.abs().sum(dim=(0, 2)) > 0).all()


def test_local_trains_and_its_masked_weights_stay_put():
    model = small()
    g = torch.Generator().manual_seed(1)
    latents = torch.randn(64, model.num_rois, model.latent, generator=g)
    own = torch.from_numpy(own_rois()).float()  # (R, C)
    # each AU present when its own ROIs' first latent feature is high on average
    y = ((latents[:, :, 0] @ own) / own.sum(0) > 0).float()  # (B, C)
    known, w = torch.ones_like(y, dtype=torch.bool), torch.ones(y.shape[1])
    masked = model.classifier.mask == 0
    start = model.classifier.weight.detach()[masked].clone()
    opt = torch.optim.Adam(model.head_parameters(), lr=0.05)
    first = weighted_bce(model.head(latents), y, known, w).item()
    for _ in range(60):
        opt.zero_grad()
        weighted_bce(model.head(latents), y, known, w).backward()
        opt.step()
    assert weighted_bce(model.head(latents), y, known, w).item() < 0.5 * first
    torch.testing.assert_close(model.classifier.weight.detach()[masked], start)


def test_train_layer_local_from_the_cli(tmp_path):
    store = make_store(tmp_path / "store").path
    sets = [a for s in ("model.latent=8", "model.hidden=4", "model.strip_channels=4", "train.batch_size=32",
                        "train.threads=1") for a in ("--set", s)]
    result = CliRunner().invoke(main, ["train", "--data", str(store), "--layer", "local", "--epochs", "0,1", "-q",
                                       "-o", str(tmp_path / "run"), *sets])
    assert result.exit_code == 0, result.output
    assert "average F1" in result.output
