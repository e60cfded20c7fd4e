"""A run's model as an ONNX file: ROI crops (B, R, 3, n, n) uint8 in, AU probabilities (B, C) out, and for a
model with an intensity head (``model.task`` intensity or both) a second output, intensities (B, C) on 0–5;
the batch dimension dynamic.

The exported graph is :class:`ProbabilityModel`: the same arithmetic as ``AUGCN.predict_proba``, with the
crops' layout written as plain reshapes (the model's inference path reuses a Python-held buffer, which a
tracer would freeze into a constant). The protocol, ROI size, AU order and threshold go into the file's
metadata, so ``predict --onnx`` needs nothing else. Exported with PyTorch's TorchScript-based exporter
(``dynamo=False``): the dynamo exporter needs ``onnxscript``, which is not a dependency.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import atomic_path
from augcn_pyg.inference.runtime import ONNX_META_KEY, THRESHOLD, TorchModel

OPSET = 17
INPUT_NAME, OUTPUT_NAME, INTENSITY_NAME = "crops", "probabilities", "intensities"


class ProbabilityModel(nn.Module):
    """crops (B, R_store, 3, n, n) uint8 -> (B, C) probabilities of a trained ``AUGCN``; with an intensity
    head, ((B, C) probabilities, (B, C) intensities on 0–5), as ``AUGCN.predict_both``."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.with_intensity = getattr(model, "intensity_head", None) is not None

    def forward(self, crops: torch.Tensor):
        m = self.model
        ae = m.autoencoders
        crops = m.select_rois(crops)  # (B, R, 3, n, n)
        b = crops.shape[0]
        pixels = crops.reshape(b, ae.num_rois, -1).transpose(0, 1).to(torch.float32)  # (R, B, 3*n*n)
        pixels = pixels.reshape(ae.num_rois, -1, ae.strip_width)  # (R, B*T, s*n) ROI-major strips
        latents = ae.encode_pixels(pixels).transpose(0, 1)  # (B, R, d0)
        if not self.with_intensity:
            return torch.sigmoid(m.head(latents))
        logits, intensity = m.head_outputs(latents)
        return torch.sigmoid(logits), intensity


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
    outputs = [OUTPUT_NAME] + ([INTENSITY_NAME] if wrapper.with_intensity else [])
    meta = {"protocol": p.name, "roi_size": n, "aus": list(p.aus), "threshold": THRESHOLD,
            "layer": model.layer, "input": f"(B, {p.num_rois}, 3, {n}, {n}) uint8 ROI crops",
            "output": f"(B, {p.num_aus}) AU probabilities", "outputs": outputs}
    if wrapper.with_intensity:
        meta["intensity_output"] = f"(B, {p.num_aus}) AU intensities on 0-5"
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        try:
            with _quiet_output():  # on failure the exporter prints its whole graph
                torch.onnx.export(wrapper, (example,), str(tmp), dynamo=False, opset_version=opset,
                                  input_names=[INPUT_NAME], output_names=outputs,
                                  dynamic_axes={name: {0: "batch"} for name in (INPUT_NAME, *outputs)})
        except Exception as exc:  # the exporter's errors name the operator it cannot express
            raise InputError(f"the {meta['layer']!r} relation layer cannot be exported to ONNX "
                             f"({' '.join(str(exc).split())[:200]})") from None
        _check_other_batches(wrapper, tmp, example, meta["layer"])
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_META_KEY, json.dumps(meta)
        onnx.save(proto, str(tmp))
    return meta


@contextlib.contextmanager
def _quiet_output():
    """Send file descriptors 1 and 2 to /dev/null for a while: the exporter's C++ log writes to them directly."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


def _check_other_batches(wrapper: nn.Module, path: Path, example: torch.Tensor, layer: str) -> None:
    """ONNX Runtime must give PyTorch's outputs at batch sizes other than the traced one: a layer whose
    traced graph holds the example's batch (a Python-side size frozen into a constant) is refused here, not
    when ``predict --onnx`` meets another batch size. Skipped when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return
    options = ort.SessionOptions()
    options.log_severity_level = 4  # its own errors come back as exceptions
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(0)
    for batch in (1, example.shape[0] + 1):
        crops = torch.randint(0, 256, (batch, *example.shape[1:]), dtype=torch.uint8, generator=gen)
        with torch.no_grad():
            expected = wrapper(crops)
        expected = expected if isinstance(expected, tuple) else (expected,)
        try:
            got = [torch.from_numpy(x) for x in session.run(None, {INPUT_NAME: crops.numpy()})]
        except Exception as exc:
            raise InputError(f"the {layer!r} relation layer does not export to ONNX for every batch size (ONNX "
                             f"Runtime fails at batch {batch}: {str(exc).splitlines()[0][:160]})") from None
        # probabilities within 1e-4; intensities (0-5) within the same relative tolerance
        for g, e, tol in zip(got, expected, (1e-4, 5e-4)):
            if g.shape != e.shape or not torch.allclose(g, e, atol=tol):
                raise InputError(f"the {layer!r} relation layer does not export to ONNX for every batch size (ONNX "
                                 f"Runtime's outputs differ from PyTorch's at batch {batch})")
