"""InsightFace backend: a detector + landmark model pack run by ``insightface.app.FaceAnalysis``.

A *model pack* is a folder of ``.onnx`` files (InsightFace's ``buffalo_l`` holds ``det_10g.onnx`` and
``1k3d68.onnx`` among others). It is looked for, in order, as the ``model_root`` folder itself, as
``<model_root>/models/<pack>`` and as ``<model_root>/<pack>``; ``model_root`` defaults to
``$INSIGHTFACE_HOME`` then ``~/.insightface``. Nothing is ever downloaded: with no pack on disk the
backend raises one :class:`InputError` saying which files to put where.

Landmarks: ``landmark_3d_68[:, :2]`` when the pack has ``1k3d68`` (already iBUG-68), otherwise the
``2d106det`` points mapped to 68 by :data:`augcn_pyg.landmarks.layout.IBUG68_FROM_106`.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .base import Face, LandmarkBackend, missing_extra, register_backend
from .layout import from_106

#: the FaceAnalysis tasks we load (recognition, gender/age, ... are skipped)
MODULES = ["detection", "landmark_3d_68", "landmark_2d_106"]


def default_model_root() -> Path:
    return Path(os.environ.get("INSIGHTFACE_HOME") or "~/.insightface").expanduser()


def _has_onnx(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.onnx"))


def find_pack(model_root: str | Path | None = None, pack: str | None = None) -> Path | None:
    """The model-pack folder (see the module docstring), or None when there is none on disk."""
    root = Path(model_root).expanduser() if model_root else default_model_root()
    if pack is None and _has_onnx(root):
        return root.resolve()
    for base in (root / "models", root):
        if pack is not None:
            if _has_onnx(base / pack):
                return (base / pack).resolve()
        elif base.is_dir():
            for folder in sorted(p for p in base.iterdir() if _has_onnx(p)):
                return folder.resolve()
    return None


def _no_pack_error(model_root, pack) -> InputError:
    root = Path(model_root).expanduser() if model_root else default_model_root()
    where = f"{root}/models/{pack or '<pack>'}/"
    return InputError(
        f"no InsightFace model pack found under {root}: put a detector (det_10g.onnx or scrfd_*.onnx) and a "
        f"landmark model (1k3d68.onnx, or 2d106det.onnx) in {where} (e.g. unzip buffalo_l.zip there), or "
        f"pass --model-root / set INSIGHTFACE_HOME to the folder that holds them"
    )


@register_backend
class InsightFaceBackend(LandmarkBackend):
    """SCRFD/RetinaFace detection + ``1k3d68`` or ``2d106det`` landmarks, on the CPU with onnxruntime.

    ``det_size``: the detector's input size; ``det_thresh``: minimum detection score.
    """

    name = "insightface"

    def __init__(self, all_faces: bool = False, model_root: str | Path | None = None, pack: str | None = None,
                 det_size: int = 640, det_thresh: float = 0.5) -> None:
        super().__init__(all_faces)
        if importlib.util.find_spec("insightface") is None or importlib.util.find_spec("onnxruntime") is None:
            raise missing_extra("insightface", "insightface")
        folder = find_pack(model_root, pack)
        if folder is None:
            raise _no_pack_error(model_root, pack)
        from insightface.app import FaceAnalysis

        try:
            # An absolute `name` is used as the pack folder as it is: FaceAnalysis joins it onto
            # `root`/models (os.path.join keeps the absolute part), finds it there and downloads nothing.
            app = FaceAnalysis(name=str(folder), root=str(folder.parent), allowed_modules=MODULES,
                               providers=["CPUExecutionProvider"])
        except AssertionError:  # FaceAnalysis asserts that a detector was found
            raise InputError(f"the InsightFace pack {folder} has no face detector model "
                             f"(det_10g.onnx or scrfd_*.onnx)") from None
        if "landmark_3d_68" in app.models:
            self.landmark_model = "1k3d68"
            # FaceAnalysis.get runs every loaded model on every face: drop the one we would not read
            app.models.pop("landmark_2d_106", None)
        elif "landmark_2d_106" in app.models:
            self.landmark_model = "2d106det"
        else:
            raise InputError(f"the InsightFace pack {folder} has no landmark model (1k3d68.onnx or 2d106det.onnx)")
        app.prepare(ctx_id=-1, det_size=(int(det_size), int(det_size)), det_thresh=float(det_thresh))
        self.pack = folder
        self._app = app

    @classmethod
    def is_available(cls, model_root=None, pack=None, **kwargs) -> bool:
        return (importlib.util.find_spec("insightface") is not None
                and importlib.util.find_spec("onnxruntime") is not None
                and find_pack(model_root, pack) is not None)

    def _detect(self, image: np.ndarray) -> list[Face]:
        bgr = np.ascontiguousarray(image[:, :, ::-1])  # InsightFace models take OpenCV's BGR order
        faces = []
        for face in self._app.get(bgr):
            if self.landmark_model == "1k3d68":
                points = np.asarray(face.landmark_3d_68)[:, :2]
            else:
                points = from_106(face.landmark_2d_106)
            faces.append(Face(box=face.bbox, score=face.det_score, landmarks=points))
        return faces
