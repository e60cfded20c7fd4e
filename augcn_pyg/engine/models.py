"""Models from run configs and run folders: build one, load a trained one, check it fits a store.

A run folder's ``model.safetensors`` holds the weights and a document (the resolved config, the fitted
graph, the protocol, the ROI size): :func:`load_model` needs nothing else.
"""
from __future__ import annotations

from pathlib import Path

from augcn_pyg.core.errors import InputError
from augcn_pyg.data.dataset import open_store as open_roi_store
from augcn_pyg.engine import runs
from augcn_pyg.engine.checkpoint import load_checkpoint
from augcn_pyg.engine.config import RunConfig, config_from_dict
from augcn_pyg.graph.relations import RelationGraph
from augcn_pyg.nn.model import AUGCN


def open_store(path: str):
    if not path:
        raise InputError("no ROI store given (--data STORE, or data.store in the config)")
    return open_roi_store(path)


def model_document(model, cfg: RunConfig, graph, roi_size: int, extra: dict | None = None) -> dict:
    return {"kind": "model", "config": cfg.to_dict(), "graph": graph.to_dict(), "protocol": model.protocol.name,
            "aus": list(model.protocol.aus), "roi_size": roi_size, **(extra or {})}


def build_model(cfg: RunConfig, protocol, graph, roi_size: int):
    return AUGCN.from_config(protocol, graph, cfg.model, roi_size=roi_size)


def load_model(path: str | Path, device="cpu"):
    """(model, document) from a run folder or a ``model.safetensors`` file."""
    path = Path(path)
    file = path / runs.MODEL if path.is_dir() else path
    if path.is_dir() and not file.exists():
        raise InputError(f"{path} holds no trained model ({runs.MODEL}); has its training finished?")
    ckpt = load_checkpoint(file)
    doc = ckpt.doc
    if doc.get("kind") not in ("model", "checkpoint"):
        raise InputError(f"{file} holds no model weights")
    cfg = config_from_dict(doc["config"])
    graph = RelationGraph.from_dict(doc["graph"], where=str(file))
    try:  # a layer named MODULE:ATTR needs its module importable here too
        model = build_model(cfg, doc["protocol"], graph, int(doc["roi_size"]))
    except InputError as exc:
        raise InputError(f"{file}: {exc}") from None
    try:
        model.load_state_dict(ckpt.model)
    except RuntimeError as exc:
        raise InputError(f"{file}: the weights do not fit the model its config describes "
                         f"({str(exc).splitlines()[0][:160]})") from None
    return model.to(device).eval(), doc


def check_model_fits_store(doc: dict, store, where) -> None:
    if doc["protocol"] != store.protocol.name or int(doc["roi_size"]) != store.roi_size:
        raise InputError(f"{where} was trained on {doc['protocol']} faces with {doc['roi_size']}-pixel ROIs; the "
                         f"store {store.path} holds {store.protocol.name} faces with {store.roi_size}-pixel ROIs")
