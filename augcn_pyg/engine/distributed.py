"""Training over several processes with PyTorch's own engine: torchrun, DistributedDataParallel, gloo/NCCL.

``torchrun --nproc-per-node N -m augcn_pyg train ...`` (or ``augcn-pyg train --nproc N``, which starts
exactly that through torchrun's launcher API) runs one process per rank. Each rank holds the same model
and takes a contiguous share of every global batch (:func:`shard`); the losses are computed from batch
*sums* all-reduced with autograd (:meth:`Distributed.total`), so every rank sees the global batch's loss
and DDP's averaged gradient is exactly the one-process gradient, up to the order of float additions.
The randomness that depends on faces (flips, dropout) is drawn for the whole global batch on every rank
and sliced, so N processes train on the same augmented faces as one.
"""
from __future__ import annotations

import logging
import os
import sys
import uuid
from dataclasses import dataclass

import torch
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.workers import end_with

#: torchrun's variables; WORLD_SIZE present means "started by torchrun"
_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@dataclass
class Distributed:
    """Where this process stands: rank 0 of 1 when not distributed."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    backend: str = ""  # "gloo" or "nccl"; "" when not distributed

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def total(self, t: torch.Tensor) -> torch.Tensor:
        """The sum of ``t`` over the ranks, differentiable (the backward sums the gradients likewise)."""
        return _SumOverRanks.apply(t) if self.enabled else t

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def broadcast_int(self, value: int, device="cpu") -> int:
        """Rank 0's ``value`` on every rank."""
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.long, device=device)
        torch.distributed.broadcast(t, src=0)
        return int(t.item())

    def gather_rows(self, local: torch.Tensor, total: int) -> torch.Tensor:
        """(total, ...) on every rank from each rank's (count, ...) contiguous share (see :func:`shard`)."""
        if not self.enabled:
            return local
        counts = [shard(total, self.world_size, r)[1] for r in range(self.world_size)]
        padded = local.new_zeros((max(counts), *local.shape[1:]))  # all_gather needs equal shapes
        padded[:len(local)] = local
        parts = [torch.empty_like(padded) for _ in counts]
        torch.distributed.all_gather(parts, padded)
        return torch.cat([part[:count] for part, count in zip(parts, counts)])

    def to_dict(self) -> dict:
        return {"world_size": self.world_size, "backend": self.backend or None,
                "processes_per_node": self.local_world_size}


class _SumOverRanks(torch.autograd.Function):
    """all_reduce(SUM) with its gradient: every rank's loss uses the summed value, so the gradient of a
    rank's share is the sum of every rank's gradient of it. (torch.distributed.nn's version is deprecated
    in this torch, and the functional collectives that replace it have no gradient for all_reduce.)"""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        torch.distributed.all_reduce(t)
        return t

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        torch.distributed.all_reduce(grad)
        return grad


def shard(total: int, world_size: int, rank: int) -> tuple[int, int]:
    """(offset, count) of ``rank``'s contiguous share of ``total`` items; shares differ by at most one."""
    base, extra = divmod(total, world_size)
    count = base + (rank < extra)
    return rank * base + min(rank, extra), count


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when torch sees one, else the CPU), ``cpu`` or ``cuda``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but torch sees no CUDA device")
    return torch.device(name)


def started_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device_name: str) -> tuple[Distributed, torch.device]:
    """Join the process group torchrun prepared (gloo on CPU, NCCL on CUDA, one GPU per local rank);
    a single process when torchrun did not start this one."""
    device = resolve_device(device_name)
    if not started_by_torchrun():
        return Distributed(), device
    end_with(os.getppid())  # a rank ends with its launcher (torchrun, --nproc), even one killed outright
    rank, world, local_rank, local_world = (int(os.environ[k]) for k in _ENV)
    if device.type == "cuda":
        if torch.cuda.device_count() < local_world:
            raise InputError(f"{local_world} processes per node need as many GPUs; this node has "
                             f"{torch.cuda.device_count()}")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend)
    return Distributed(rank, world, local_rank, local_world, backend), device


def teardown() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def launch(nproc: int, args: list[str]) -> None:
    """Run ``python -m augcn_pyg train ARGS`` as ``nproc`` ranks on this machine, through torchrun's
    launcher API (``torchrun --standalone --nproc-per-node nproc``). Raises InputError naming the failed
    ranks; their own messages are printed by them."""

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # the ranks report for themselves
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0)
    try:
        elastic_launch(config, entrypoint=sys.executable)("-m", "augcn_pyg", "train", *args)
    except ChildFailedError as exc:
        codes = {r: f.exitcode for r, f in exc.failures.items()}
        if set(codes.values()) == {1}:  # bad input, which rank 0 has already described
            raise SystemExit(1) from None
        failed = ", ".join(f"rank {r} (exit {c})" for r, c in sorted(codes.items()))
        raise InputError(f"{nproc}-process training stopped: {failed} failed") from None
