"""Checkpoints without pickle: one ``safetensors`` file of tensors plus a JSON document in its header.

Tensors: ``model/<parameter>``, ``optim/<param index>/<state key>`` (e.g. SGD's momentum buffers) and
``rng/<name>`` (torch's generator states as uint8 tensors). Everything else (the optimizer's and the
scheduler's scalar state, the epoch, the stage, the history of per-epoch rows, the config) lives in the
JSON document stored in the safetensors metadata under ``augcn-pyg``. Loading never unpickles: a
file that is not a safetensors file (a ``torch.save`` pickle, a truncated write) is refused with one
clear :class:`~augcn_pyg.core.errors.InputError`. Files are written atomically (a reader sees the old
checkpoint or the new one).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import atomic_path

FORMAT = "augcn-pyg/checkpoint"
FORMAT_VERSION = 1
META_KEY = "augcn-pyg"


def optimizer_to_flat(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer ``state_dict()`` as (tensors, JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{index}/{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_flat(tensors: dict[str, torch.Tensor], doc: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim/"):
            _, index, key = name.split("/", 2)
            state.setdefault(int(index), {})[key] = value
    for index, entry in doc.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entry)
    return {"state": state, "param_groups": doc["param_groups"]}


def save_checkpoint(path: str | os.PathLike, model_state: dict[str, torch.Tensor], doc: dict[str, Any],
                    optimizer_state: dict | None = None, rng: dict[str, torch.Tensor] | None = None) -> None:
    """Write ``model_state`` (+ optimizer, RNG tensors) and the JSON ``doc`` to one safetensors file."""
    tensors = {f"model/{k}": v.detach().contiguous().cpu() for k, v in model_state.items()}
    doc = dict(doc)
    if optimizer_state is not None:
        optim_tensors, optim_doc = optimizer_to_flat(optimizer_state)
        tensors.update({k: v.contiguous().cpu() for k, v in optim_tensors.items()})
        doc["optimizer"] = optim_doc
    for name, value in (rng or {}).items():
        tensors[f"rng/{name}"] = value.contiguous().cpu()
    meta = {"format": FORMAT, "version": FORMAT_VERSION, **doc}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})


class Checkpoint:
    """A loaded checkpoint: ``model`` (name -> tensor), ``doc`` (the JSON document), ``rng``, and
    :meth:`optimizer_state`."""

    def __init__(self, tensors: dict[str, torch.Tensor], doc: dict, path: Path):
        self.path = path
        self.doc = doc
        self.model = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
        self.rng = {k[len("rng/"):]: v for k, v in tensors.items() if k.startswith("rng/")}
        self._tensors = tensors

    def optimizer_state(self) -> dict | None:
        if "optimizer" not in self.doc:
            return None
        return optimizer_from_flat(self._tensors, self.doc["optimizer"])


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; anything else is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no checkpoint at {path}")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
        if len(head) < 8:
            raise InputError(f"{path} is not a checkpoint (empty or truncated)")

        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path} is not a readable augcn-pyg checkpoint (safetensors said: "
                         f"{str(exc).splitlines()[0][:120]}); pickled checkpoints are never loaded") from None
    try:
        doc = json.loads(meta[META_KEY])
    except (KeyError, json.JSONDecodeError):
        raise InputError(f"{path} is a safetensors file but not an augcn-pyg checkpoint (no {META_KEY!r} header)") from None
    if doc.get("format") != FORMAT:
        raise InputError(f"{path} is not an augcn-pyg checkpoint (format {doc.get('format')!r})")
    if doc.get("version") != FORMAT_VERSION:
        raise InputError(f"{path} is checkpoint version {doc.get('version')}; this augcn-pyg reads version "
                         f"{FORMAT_VERSION}")
    return Checkpoint(tensors, doc, path)
