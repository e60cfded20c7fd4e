"""Latents of frozen encoders, remembered within a process.

Every relation layer trained on the frozen latents of one shared stage-1 model encodes the same faces with
the same weights; encoding takes ~3 s of a ~10 s frozen run. The memo keys an encoding by a fingerprint of
the auto-encoders' weights (not by a file name, so a changed model can never be served stale latents), the
store, the rows, the flip and the device, and keeps the few most recent encodings only.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import torch

from augcn_pyg.data.store import ROIS_FILE

#: encodings kept: a frozen run remembers its training faces (beside their flips as one table when it flips:
#: one shared copy for every run of a batch), its validation and its test faces; 5 leaves room for one more
KEEP = 5
_memo: OrderedDict[tuple, torch.Tensor] = OrderedDict()


def fingerprint(module: torch.nn.Module) -> str:
    """A digest of every tensor in ``module.state_dict()`` (names, shapes, dtypes and values)."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}{tuple(t.shape)}{t.dtype}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def remembered(model, store, rows: np.ndarray, device, flip: bool | str, encode) -> torch.Tensor:
    """``encode()``'s (M, R, d0) latents of ``rows``, or the ones computed before for the same encoders.

    ``flip``: False (the faces), True (their flips) or ``"both"`` (a (2M, R, d0) table of the faces, then
    their flips).

    The returned tensor is shared: callers must not change it in place."""
    rois = (store.path / ROIS_FILE).stat() if (store.path / ROIS_FILE).exists() else None
    key = (fingerprint(model.autoencoders), tuple(model.keep.tolist()), str(store.path.resolve()),
           (rois.st_size, rois.st_mtime_ns) if rois else None,
           hashlib.blake2b(np.ascontiguousarray(rows, dtype=np.int64).tobytes(), digest_size=16).hexdigest(),
           flip if isinstance(flip, str) else bool(flip), str(device))
    if key in _memo:
        _memo.move_to_end(key)
        return _memo[key]
    latents = encode()
    _memo[key] = latents
    while len(_memo) > KEEP:
        _memo.popitem(last=False)
    return latents


def forget() -> None:
    _memo.clear()
