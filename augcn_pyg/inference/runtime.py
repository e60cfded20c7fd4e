"""A trained model as one function, ROI crops (B, R, 3, n, n) uint8 -> AU probabilities (B, C): from a
run folder (PyTorch) or from an exported ONNX file (ONNX Runtime, no torch in the loop).

Both kinds say what faces they expect (``protocol``, ``roi_size``) and which AUs they score (``aus``),
so a pipeline needs nothing else. The ONNX file carries those in its metadata (written by
:func:`augcn_pyg.inference.export.export_onnx`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.engine.models import load_model

#: an AU is present (``AUxx_c`` = 1) at or above this probability: the evaluation's threshold (metrics.py)
THRESHOLD = 0.5
#: ONNX metadata key holding {"protocol", "roi_size", "aus", "threshold"}
ONNX_META_KEY = "augcn_pyg"


class TorchModel:
    """A run folder's ``model.safetensors`` run by PyTorch."""

    kind = "torch"

    def __init__(self, run: str | Path, device: str = "cpu"):
        self.model, self.doc = load_model(run, device)
        self.device = device
        self.protocol = get_protocol(self.doc["protocol"])
        self.roi_size = int(self.doc["roi_size"])
        self.aus = tuple(int(a) for a in self.doc["aus"])
        self.threshold = THRESHOLD
        #: the model has an intensity head (model.task intensity or both): :meth:`both` gives 0–5 intensities
        self.has_intensity = getattr(self.model, "intensity_head", None) is not None

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """(B, R, 3, n, n) uint8 -> (B, C) float32."""
        return self.model.predict_proba(torch.from_numpy(crops).to(self.device)).cpu().numpy()

    def both(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(B, R, 3, n, n) uint8 -> ((B, C) probabilities, (B, C) intensities on 0–5 or None)."""
        probs, inten = self.model.predict_both(torch.from_numpy(crops).to(self.device))
        return probs.cpu().numpy(), (inten.cpu().numpy() if inten is not None else None)


class OnnxModel:
    """An ONNX file written by ``augcn-pyg export``, run by ONNX Runtime on the CPU."""

    kind = "onnx"

    def __init__(self, path: str | Path):
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError("the 'onnxruntime' package is not installed: `pip install onnxruntime` "
                             "(or augcn-pyg[insightface])") from None
        path = Path(path)
        if not path.is_file():
            raise InputError(f"ONNX model not found: {path}")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for files it cannot load
            raise InputError(f"{path}: not an ONNX model ONNX Runtime can load ({str(exc).splitlines()[0][:160]})") from None
        meta = self.session.get_modelmeta().custom_metadata_map.get(ONNX_META_KEY)
        if meta is None:
            raise InputError(f"{path}: not exported by `augcn-pyg export` (no {ONNX_META_KEY!r} metadata)")
        info = json.loads(meta)
        self.protocol = get_protocol(info["protocol"])
        self.roi_size = int(info["roi_size"])
        self.aus = tuple(int(a) for a in info["aus"])
        self.threshold = float(info.get("threshold", THRESHOLD))
        self.input_name = self.session.get_inputs()[0].name
        #: the file has a second output, intensities on 0–5 (exported from a model with an intensity head)
        self.has_intensity = len(self.session.get_outputs()) > 1

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """(B, R, 3, n, n) uint8 -> (B, C) float32."""
        return self.both(crops)[0]

    def both(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(B, R, 3, n, n) uint8 -> ((B, C) probabilities, (B, C) intensities on 0–5 or None)."""
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(crops, dtype=np.uint8)})
        return out[0], (out[1] if self.has_intensity else None)


def load_inference(checkpoint: str | Path | None = None, onnx: str | Path | None = None,
                   device: str = "cpu") -> TorchModel | OnnxModel:
    """The model of a run folder (``checkpoint``) or of an exported ONNX file (``onnx``): exactly one."""
    if (checkpoint is None) == (onnx is None):
        raise InputError("give the model as exactly one of --checkpoint RUN or --onnx MODEL.onnx")
    if onnx is not None:
        return OnnxModel(onnx)
    run = Path(checkpoint)
    if not run.exists():
        raise InputError(f"checkpoint not found: {run}")
    return TorchModel(run, device)
