"""A run's model as an ONNX file: ROI crops (B, R, 3, n, n) uint8 in, AU probabilities (B, C) out,
the batch dimension dynamic.

The exported graph is :class:`ProbabilityModel`: the same arithmetic as ``AUGCN.predict_proba``, with the
crops' layout written as plain reshapes (the model's inference path reuses a Python-held buffer, which a
tracer would freeze into a constant). The protocol, ROI size, AU order and threshold go into the file's
metadata, so ``predict --onnx`` needs nothing else. Exported with PyTorch's TorchScript-based exporter
(``dynamo=False``): the dynamo exporter needs ``onnxscript``, which is not a dependency.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import atomic_path
from augcn_pyg.inference.runtime import ONNX_META_KEY, THRESHOLD, TorchModel

OPSET = 17
INPUT_NAME, OUTPUT_NAME = "crops", "probabilities"


class ProbabilityModel(nn.Module):
    """crops (B, R_store, 3, n, n) uint8 -> (B, C) probabilities of a trained ``AUGCN``."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        m = self.model
        ae = m.autoencoders
        crops = m.select_rois(crops)  # (B, R, 3, n, n)
        b = crops.shape[0]
        pixels = crops.reshape(b, ae.num_rois, -1).transpose(0, 1).to(torch.float32)  # (R, B, 3*n*n)
        pixels = pixels.reshape(ae.num_rois, -1, ae.strip_width)  # (R, B*T, s*n) ROI-major strips
        latents = ae.encode_pixels(pixels).transpose(0, 1)  # (B, R, d0)
        return torch.sigmoid(m.head(latents))


def export_onnx(run: str | Path, out: str | Path, opset: int = OPSET) -> dict:
    """Write the model of the run folder ``run`` to ``out`` (atomically); returns the file's metadata."""
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"the output's folder does not exist: {out.parent}")
    loaded = TorchModel(run)
    return export_model(loaded.model, out, opset)


def export_model(model, out: str | Path, opset: int = OPSET) -> dict:
    """Write a trained ``AUGCN`` to the ONNX file ``out`` (atomically); returns the file's metadata."""
    import onnx


    p, n = model.protocol, model.roi_size
    wrapper = ProbabilityModel(model).eval()
    example = torch.zeros(2, p.num_rois, 3, n, n, dtype=torch.uint8)
    meta = {"protocol": p.name, "roi_size": n, "aus": list(p.aus), "threshold": THRESHOLD,
            "layer": model.layer, "input": f"(B, {p.num_rois}, 3, {n}, {n}) uint8 ROI crops",
            "output": f"(B, {p.num_aus}) AU probabilities"}
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        try:
            torch.onnx.export(wrapper, (example,), str(tmp), dynamo=False, opset_version=opset,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
        except Exception as exc:  # the exporter's errors name the operator it cannot express
            raise InputError(f"the {meta['layer']!r} relation layer cannot be exported to ONNX "
                             f"({str(exc).splitlines()[0][:200]})") from None
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_META_KEY, json.dumps(meta)
        onnx.save(proto, str(tmp))
    return meta
