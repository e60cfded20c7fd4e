"""Facial landmarks: detector backends behind one interface, readers of shipped landmark files, and
the iBUG-68 layout (mirror permutation, lifting 66/49-point sets, mapping InsightFace's 106 points).

>>> backend = get_backend("auto")          # insightface if a model pack is on disk, else dlib
>>> faces = backend.detect(rgb_image)      # [Face(box, score, landmarks (68, 2))], best first
"""
from augcn_pyg.landmarks.base import (
                   DETECT_MAX_SIDE,
                   LANDMARK_BACKENDS,
                   Face,
                   LandmarkBackend,
                   detect_downscaled,
                   downscale,
                   get_backend,
                   resolve_backend,
)
from augcn_pyg.landmarks.files import (
                   LANDMARK_FILE_READERS,
                   read_disfa_mat,
                   read_landmarks_file,
                   read_npy,
                   read_openface_csv,
)
from augcn_pyg.landmarks.layout import FLIP_68, IBUG68_FROM_106, LAYOUT_49, LAYOUT_66, STABLE_POINTS, from_106, to_68

# The backend modules register themselves; their heavy imports (dlib, insightface) wait until use.
from augcn_pyg.landmarks import dlib_backend as _dlib_backend  # noqa: E402,F401  isort: skip
from augcn_pyg.landmarks import insightface_backend as _insightface_backend  # noqa: E402,F401  isort: skip

__all__ = [
    "Face", "LandmarkBackend", "LANDMARK_BACKENDS", "get_backend", "resolve_backend",
    "DETECT_MAX_SIDE", "detect_downscaled", "downscale",
    "FLIP_68", "IBUG68_FROM_106", "LAYOUT_49", "LAYOUT_66", "STABLE_POINTS", "from_106", "to_68",
    "LANDMARK_FILE_READERS", "read_landmarks_file", "read_openface_csv", "read_disfa_mat", "read_npy",
]
