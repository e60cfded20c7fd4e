"""The two paths of the throughput benchmark as timed steps: the obvious PyG implementation against ours.

Each ``*_steps`` function returns ``{path: step}``: a callable per path that runs one batch through the same
part (the relation layers, or the whole model), for inference or for one training step, so that
:func:`benchmarks.timing.alternate` can time the two in turns. Beside them: the check that both paths compute
the same function, the FLOP count of one step and the roofline (a large matrix product) to set them against.
"""
from __future__ import annotations

import statistics

import torch

from benchmarks.timing import alternate

MODES = ("inference", "train")
PATHS = ("obvious", "ours")


class Cycle:
    """``next()``: the next batch of ``loader``, a new shuffled epoch whenever one ends."""

    def __init__(self, loader):
        self.loader, self.it = loader, iter(loader)

    def __call__(self):
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            return next(self.it)


def crops_of(batch, num_rois: int):
    """The model's input of a batch: a PyG ``Batch``'s (B*R, 3, n, n) x as (B, R, 3, n, n) uint8, or a
    ``RowBatch``'s StoreRows as it is (the encoders read its rows themselves)."""
    if hasattr(batch, "crops"):
        return batch.crops
    return batch.x.view(batch.num_graphs, num_rois, *batch.x.shape[1:])


def encoder_input_steps(model, loaders: dict) -> dict:
    """{path: step}: one batch from the path's loader up to its auto-encoders' float input.

    The obvious path collates ``Data`` objects and converts the (B, R, 3, n, n) uint8 crops as its forward
    does (``float() / 255``); ours makes a ``RowBatch`` and lets the auto-encoders fill their ROI-major float
    input from the store rows (``pixels``: read, flip and convert in one pass). Grad mode stays on, so both
    allocate a fresh input per batch, as a training step does."""
    r = model.num_rois
    ae = model.autoencoders

    def obvious():
        crops_of(loaders["obvious"](), r).float() / 255

    def ours():
        ae.pixels(model.select_rois(loaders["ours"]().crops))

    return {"obvious": obvious, "ours": ours}


def paper_loss(logits, roi_logits, recon, y, known, membership) -> torch.Tensor:
    """The stage-2 loss both paths minimise: ROI BCE + 3 L1 + weighted BCE + 4 Dice (unit AU weights)."""
    from augcn_pyg.nn.losses import roi_bce, weighted_bce, weighted_dice

    weights = torch.ones(y.shape[1])
    return (roi_bce(roi_logits, y, known, membership) + 3.0 * recon + weighted_bce(logits, y, known, weights)
            + 4.0 * weighted_dice(logits, y, known, weights))


def relation_stack(layers, dropout, z: torch.Tensor, sparse: bool) -> torch.Tensor:
    """(B, R, d0) -> (B, R, d_L): the model's relation layers, dense fast path or PyG's sparse layers."""
    for layer in layers:
        z = torch.relu(dropout(layer.forward_sparse(z) if sparse else layer(z)))
    return z


def relation_steps(model, obvious, batch: int, mode: str) -> dict:
    """{path: step} for the relation layers on random latents (B, R, d0)."""
    latents = torch.randn(batch, model.num_rois, model.latent)
    stacks = {"obvious": (obvious.relation, obvious.dropout, True), "ours": (model.relation, model.dropout, False)}
    steps = {}
    for path, (layers, dropout, sparse) in stacks.items():
        if mode == "inference":
            layers.eval()

            def step(layers=layers, dropout=dropout, sparse=sparse):
                with torch.no_grad():
                    relation_stack(layers, dropout, latents, sparse)
        else:
            layers.train()
            opt = torch.optim.SGD(layers.parameters(), lr=1e-3, momentum=0.9)
            z = latents.clone().requires_grad_(True)  # the encoders' gradient flows back through here

            def step(layers=layers, dropout=dropout, sparse=sparse, opt=opt, z=z):
                opt.zero_grad(set_to_none=True)
                z.grad = None
                relation_stack(layers, dropout, z, sparse).square().mean().backward()
                opt.step()
        steps[path] = step
    return steps


def model_steps(model, obvious, loaders: dict, mode: str) -> dict:
    """{path: step}: one batch from the path's loader, then inference or one training step."""
    nets = {"obvious": obvious, "ours": model}
    r = model.num_rois
    steps = {}
    for path, net in nets.items():
        next_batch = loaders[path]
        if mode == "inference":
            net.eval()

            def step(net=net, next_batch=next_batch):
                net.predict_proba(crops_of(next_batch(), r))
        else:
            net.train()
            opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)

            def step(net=net, next_batch=next_batch, opt=opt, path=path):
                b = next_batch()
                crops = crops_of(b, r)
                if path == "ours":
                    out = net(crops)
                    logits, roi_logits, recon = out.logits, out.roi_logits, out.reconstruction
                else:
                    logits, roi_logits, recon = net(crops)
                opt.zero_grad(set_to_none=True)
                paper_loss(logits, roi_logits, recon, b.y, b.y_mask, net.membership).backward()
                opt.step()
        steps[path] = step
    return steps


def roofline(size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a size x size float32 matrix product (median of ``repeats`` after one warm-up)."""
    a = torch.randn(size, size)
    seconds = statistics.median(alternate({"mm": lambda: a @ a}, 1, repeats)["mm"])
    return 2 * size ** 3 / seconds / 1e9


def same_outputs(model, obvious, batch: int = 4) -> float:
    """Largest |difference| of the two paths' relation layers + classifier on the same latents (eval mode)."""
    latents = torch.randn(batch, model.num_rois, model.latent)
    model.eval(), obvious.eval()
    with torch.no_grad():
        return float((model.head(latents) - obvious.head(latents)).abs().max())


def flops_per_face(step, batch: int) -> float:
    """FLOPs of one run of ``step`` (matrix products and convolutions) divided by ``batch``."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / batch
