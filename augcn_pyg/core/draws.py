"""Random draws that do not depend on how a batch is split between processes.

Training over N processes gives each a contiguous share of every global batch. A draw per face (a flip,
a dropout mask) must then be the same whichever process holds the face: every process draws the whole
batch's numbers and keeps its own rows. Modules that draw this way (``nn.model.FaceDropout``,
``data.loader.FlipROIs``) carry a ``share`` attribute, ``(offset, total)`` of this process's rows in the
global batch, which the trainer sets before each batch and clears after (None = the whole batch).
"""
from __future__ import annotations

import torch


def batch_rand(count: int, tail=(), share: tuple[int, int] | None = None, generator=None, device=None):
    """(count, *tail) U(0, 1) draws for the faces at rows [offset, offset + count) of a global batch of
    ``total`` (``share`` = (offset, total); None = the whole batch): every rank draws the whole batch's
    numbers and keeps its rows, so a face's draw does not depend on which process holds it."""
    offset, total = share if share is not None else (0, count)
    return torch.rand((total, *tail), generator=generator, device=device)[offset:offset + count]
