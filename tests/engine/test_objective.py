import pytest
import torch

from augcn_pyg.engine.config import LossConfig, ModelConfig
from augcn_pyg.engine.objective import Objective
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.model import AUGCN


def small_model() -> AUGCN:
    torch.manual_seed(0)
    cfg = ModelConfig(layer="gcn", latent=16, hidden=[8, 4], strip_channels=4, dropout=0.0)
    return AUGCN.from_config("bp4d", paper_graph("bp4d"), cfg, roi_size=10)


@pytest.mark.parametrize("lambda_roi, lambda_recon", [(1.0, 3.0), (10.0, 1.0), (0.0, 1.0)])
def test_stage1_loss_weighs_the_roi_heads_and_the_reconstruction(lambda_roi, lambda_recon):
    model = small_model()
    g = torch.Generator().manual_seed(1)
    crops = torch.randint(0, 256, (6, 19, 3, 10, 10), generator=g).to(torch.uint8)
    y = (torch.rand(6, 12, generator=g) < 0.4).float()
    known = torch.ones_like(y, dtype=torch.bool)
    loss = LossConfig(lambda_roi=lambda_roi, lambda_recon=lambda_recon)
    out = Objective(model, loss, "presence", torch.ones(12), lambda s: s).stage_losses("ae", crops, y, known)
    assert out["roi"] > 0 and out["recon"] > 0
    assert float(out["loss"]) == pytest.approx(lambda_roi * float(out["roi"]) + lambda_recon * float(out["recon"]),
                                               rel=1e-6)
