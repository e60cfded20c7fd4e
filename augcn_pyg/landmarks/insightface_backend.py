"""InsightFace backend: a face detector and a landmark model of a model pack, run by InsightFace's model
zoo (``insightface.model_zoo.get_model``) on onnxruntime.

A *model pack* is a folder of ``.onnx`` files (InsightFace's ``buffalo_l`` holds ``det_10g.onnx`` and
``1k3d68.onnx`` among others). It is looked for, in order, as the ``model_root`` folder itself, as
``<model_root>/models/<pack>`` and as ``<model_root>/<pack>``; ``model_root`` defaults to
``$INSIGHTFACE_HOME`` then ``~/.insightface``. Nothing is ever downloaded: with no pack on disk the
backend raises one :class:`InputError` saying which files to put where.

Only the two files the backend needs are loaded, chosen by name (:data:`DETECTOR_PATTERNS`,
:data:`LANDMARK_FILES`), each candidate in name order until one loads as that kind of model; the folder's
other files (recognition, gender/age, helper graphs) are never opened, so a folder holding other ONNX
files works (``insightface.app.FaceAnalysis`` loads every file and fails on one its zoo cannot route).
A candidate that cannot be loaded is named, with why, in the one-line error when no candidate loads.

Landmarks: ``landmark_3d_68[:, :2]`` when the pack has ``1k3d68`` (already iBUG-68), otherwise the
``2d106det`` points mapped to 68 by :data:`augcn_pyg.landmarks.layout.IBUG68_FROM_106`. The detection
score is SCRFD's face probability, so a face's ``confidence`` is its ``score``.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.landmarks.base import Face, LandmarkBackend, missing_extra, register_backend
from augcn_pyg.landmarks.layout import from_106

#: the face detector files of a pack (``det_10g.onnx`` of buffalo_l, ``scrfd_10g_bnkps.onnx`` of antelopev2)
DETECTOR_PATTERNS = ("det_*.onnx", "scrfd_*.onnx")
#: the landmark files, in order of preference, and the InsightFace task each must load as
LANDMARK_FILES = {"1k3d68.onnx": "landmark_3d_68", "2d106det.onnx": "landmark_2d_106"}


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


def _load_first(candidates: list[tuple[Path, str]], what: str, folder: Path, wanted: str):
    """The first of ``(file, task)`` that InsightFace's zoo loads as ``task``, or one InputError naming every
    candidate and why it could not be used (``wanted``: the file names the pack should hold)."""
    from insightface.model_zoo import get_model

    if not candidates:
        raise InputError(f"the InsightFace pack {folder} has no {what} ({wanted})")
    failures = []
    for file, task in candidates:
        try:
            model = get_model(str(file), providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001  onnxruntime and the zoo raise many kinds on a bad file
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            failures.append(f"{file.name} could not be loaded ({type(exc).__name__}: {reason})")
            continue
        if model is not None and getattr(model, "taskname", None) == task:
            return file, model
        found = getattr(model, "taskname", None)
        failures.append(f"{file.name} loads as {found!r}, not {task!r}" if found
                        else f"{file.name} is not a model InsightFace recognises")
    raise InputError(f"the InsightFace pack {folder} has no {what} that loads: {'; '.join(failures)}")


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
        import onnxruntime

        onnxruntime.set_default_logger_severity(3)  # as FaceAnalysis does: no warnings per loaded graph
        detectors = sorted({f for pattern in DETECTOR_PATTERNS for f in folder.glob(pattern) if f.is_file()})
        self.detector_file, detector = _load_first([(f, "detection") for f in detectors], "face detector model",
                                                   folder, "det_10g.onnx or scrfd_*.onnx")
        landmark_files = [(folder / name, task) for name, task in LANDMARK_FILES.items() if (folder / name).is_file()]
        self.landmark_file, landmarker = _load_first(landmark_files, "landmark model", folder,
                                                     "1k3d68.onnx or 2d106det.onnx")
        self.landmark_model = self.landmark_file.stem  # "1k3d68" or "2d106det"
        detector.prepare(-1, input_size=(int(det_size), int(det_size)), det_thresh=float(det_thresh))
        landmarker.prepare(-1)
        self.pack = folder
        #: the loaded models by InsightFace task (only these two run on a face)
        self.models = {"detection": detector, landmarker.taskname: landmarker}
        self._detector, self._landmarker = detector, landmarker

    @classmethod
    def is_available(cls, model_root=None, pack=None, **kwargs) -> bool:
        return (importlib.util.find_spec("insightface") is not None
                and importlib.util.find_spec("onnxruntime") is not None
                and find_pack(model_root, pack) is not None)

    def _detect(self, image: np.ndarray) -> list[Face]:
        from insightface.app.common import Face as InsightFace

        bgr = np.ascontiguousarray(image[:, :, ::-1])  # InsightFace models take OpenCV's BGR order
        boxes, keypoints = self._detector.detect(bgr, max_num=0, metric="default")
        faces = []
        for i in range(boxes.shape[0]):  # what FaceAnalysis.get does, with our two models only
            face = InsightFace(bbox=boxes[i, :4], kps=None if keypoints is None else keypoints[i],
                               det_score=boxes[i, 4])
            self._landmarker.get(bgr, face)
            if self.landmark_model == "1k3d68":
                points = np.asarray(face.landmark_3d_68)[:, :2]
            else:
                points = from_106(face.landmark_2d_106)
            faces.append(Face(box=face.bbox, score=face.det_score, landmarks=points, confidence=face.det_score))
        return faces
