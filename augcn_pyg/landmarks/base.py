"""The landmark-backend interface and its registry.

A backend turns an RGB image into the faces it finds, each with a box, a score and 68 points in the
iBUG layout (image pixels, x right, y down, pixel centres at integer coordinates). Backends are chosen
by name from :data:`LANDMARK_BACKENDS`; ``"auto"`` takes the first one that can run here.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.registry import Registry


@dataclass
class Face:
    """One detected face: ``box`` (4,) float32 x0, y0, x1, y1; ``score``, the detector's own score (what
    faces are ranked by; dlib's is an SVM margin, often 1-2.5); ``landmarks`` (68, 2) float32; and
    ``confidence``, the score as a value in [0, 1] (what ``predict`` writes, as OpenFace 2 does): a backend
    whose score is not already in [0, 1] passes its own mapping (dlib: a logistic of the margin); left out,
    it is the score clipped to [0, 1]."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray
    confidence: float | None = None

    def __post_init__(self) -> None:
        self.box = np.asarray(self.box, dtype=np.float32).reshape(4)
        self.score = float(self.score)
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32).reshape(68, 2)
        confidence = self.score if self.confidence is None else float(self.confidence)
        self.confidence = min(max(confidence, 0.0), 1.0)


class LandmarkBackend:
    """Base class: subclasses set ``name`` and implement :meth:`_detect` and :meth:`is_available`."""

    name: str = ""

    def __init__(self, all_faces: bool = False) -> None:
        self.all_faces = all_faces

    @classmethod
    def is_available(cls, **kwargs) -> bool:
        """True when the backend's packages and model files are present (no import errors, no downloads)."""
        raise NotImplementedError

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in ``image`` (H, W, 3) uint8 RGB, best score first; only the best one unless ``all_faces``."""
        image = check_image(image)
        faces = sorted(self._detect(image), key=lambda f: -f.score)
        return faces if self.all_faces else faces[:1]

    def _detect(self, image: np.ndarray) -> list[Face]:
        raise NotImplementedError


def check_image(image) -> np.ndarray:
    """A C-contiguous (H, W, 3) uint8 RGB array, or ValueError saying what is wrong."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB image (H, W, 3) uint8, got {image.shape} {image.dtype}")
    return np.ascontiguousarray(image)


#: name -> backend class. Registered by the backend modules (imported at the end of ``__init__``).
LANDMARK_BACKENDS: Registry[type[LandmarkBackend]] = Registry("landmark backend")
#: the order in which ``"auto"`` tries the backends (the design's landmark source first)
AUTO_ORDER = ("insightface", "dlib")


def register_backend(cls: type[LandmarkBackend]) -> type[LandmarkBackend]:
    return LANDMARK_BACKENDS.register(cls.name, cls)


def get_backend(name: str = "auto", **kwargs) -> LandmarkBackend:
    """The backend called ``name`` built with ``kwargs``, cached per process (model loading is slow).

    ``"auto"`` = the first of ``AUTO_ORDER`` whose :meth:`is_available` is true. Each backend gets only the
    options it accepts (``model_root`` means nothing to dlib), so one set of options serves every name.
    Unknown names raise an :class:`InputError` listing the choices.
    """
    key = name.lower()
    if key == "auto":
        for candidate in AUTO_ORDER:
            if LANDMARK_BACKENDS[candidate].is_available(**_availability_kwargs(kwargs)):
                return _cached_backend(candidate, _freeze(_accepted(LANDMARK_BACKENDS[candidate], kwargs)))
        raise InputError(
            "no landmark backend can run here: install one with `pip install augcn-pyg[insightface]` "
            "(and put a model pack in INSIGHTFACE_HOME) or `pip install augcn-pyg[dlib]`"
        )
    if key not in LANDMARK_BACKENDS:
        raise InputError(f"unknown landmark backend {name!r}; choose from {['auto', *sorted(LANDMARK_BACKENDS)]}")
    return _cached_backend(key, _freeze(_accepted(LANDMARK_BACKENDS[key], kwargs)))


def _accepted(cls: type[LandmarkBackend], kwargs: dict) -> dict:
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in kwargs.items() if k in params}


def _availability_kwargs(kwargs: dict) -> dict:
    # only the options that say where models are matter for availability
    return {k: v for k, v in kwargs.items() if k in ("model_root", "pack")}


def _freeze(kwargs: dict) -> tuple:
    return tuple(sorted((k, str(v) if not isinstance(v, (int, float, bool, type(None))) else v)
                        for k, v in kwargs.items()))


@functools.lru_cache(maxsize=8)
def _cached_backend(name: str, frozen: tuple) -> LandmarkBackend:
    return LANDMARK_BACKENDS[name](**dict(frozen))


def resolve_backend(name: str = "auto", **kwargs) -> str:
    """The name of the backend that ``get_backend(name, **kwargs)`` would build, checked without loading
    any model: an unknown name, a ``model_root`` that does not exist, or a backend that cannot run here
    raises the same :class:`InputError` that building it would (so a long job can refuse before it starts).
    """
    model_root = kwargs.get("model_root")
    if model_root is not None and not Path(model_root).expanduser().exists():
        raise InputError(f"model root not found: {model_root}")
    key = name.lower()
    if key == "auto":
        for candidate in AUTO_ORDER:
            if LANDMARK_BACKENDS[candidate].is_available(**_availability_kwargs(kwargs)):
                return candidate
        get_backend("auto", **kwargs)  # raises the "no backend can run here" error
    if key not in LANDMARK_BACKENDS:
        get_backend(key, **kwargs)  # raises the "unknown backend" error listing the choices
    cls = LANDMARK_BACKENDS[key]
    if not cls.is_available(**_availability_kwargs(kwargs)):
        get_backend(key, **kwargs)  # an unavailable backend fails in its constructor, before any model loads
    return key


#: detection runs on a copy whose longer side is at most this many pixels (see :func:`detect_downscaled`)
DETECT_MAX_SIDE = 1280


def downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``(copy, scale)``: ``image`` (H, W, 3) shrunk by area averaging so that its longer side is at most
    ``max_side``, and the factor used; the image itself and 1.0 when it is small enough."""
    import cv2

    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def detect_downscaled(backend: LandmarkBackend, image: np.ndarray,
                      max_side: int = DETECT_MAX_SIDE) -> tuple[list[Face], float]:
    """``(faces, scale)``: ``backend.detect`` run on :func:`downscale`'s copy of ``image``, with boxes and
    landmarks mapped back to ``image``'s pixels; ``scale`` < 1 says that a copy was used.

    Detectors cost time and memory in proportion to the pixels (dlib's HOG upsamples them first), while
    the landmarks only feed a 200 x 200 aligned face: a face that is 200 px wide in the copy loses nothing.
    """
    small, scale = downscale(check_image(image), max_side)
    faces = backend.detect(small)
    if scale == 1.0:
        return faces, 1.0
    # pixel centres sit at integer coordinates: the copy's pixel u covers the original's (u + 0.5) / s - 0.5
    fx, fy = image.shape[1] / small.shape[1], image.shape[0] / small.shape[0]
    factor = np.array([fx, fy], np.float32)  # (2,)

    def back(points: np.ndarray) -> np.ndarray:  # (..., 2) copy pixels -> original pixels
        return (points + 0.5) * factor - 0.5

    return [Face(box=back(f.box.reshape(2, 2)).reshape(4), score=f.score, landmarks=back(f.landmarks),
                 confidence=f.confidence) for f in faces], scale


def missing_extra(package: str, extra: str) -> InputError:
    return InputError(f"the {package!r} package is not installed: `pip install augcn-pyg[{extra}]`")

