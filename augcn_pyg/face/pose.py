"""Head pose from the 68 landmarks, in OpenFace 2's convention (``pose_Rx``, ``pose_Ry``, ``pose_Rz``).

An approximation: the 2-D landmarks are fitted (``cv2.solvePnP``: EPnP, then Levenberg-Marquardt) to one
generic rigid 3-D face, :data:`FACE_MODEL_68`, through a pinhole camera whose focal length is assumed to
be the image width (in pixels) with the principal point at the image centre and no lens distortion. The
face's own shape, its expression and a wrong focal length all bend the estimate: use it as OpenFace's
pose is used (to select or describe frames, a few degrees apart), not as a measurement.

**Axes and signs** (OpenFace 2's): camera coordinates with x to the image's right, y down, z away from
the camera; the generic face looks into the camera (its nose towards -z) when all three angles are 0.
The rotation that takes the face to its pose is ``R = Rx(pose_Rx) @ Ry(pose_Ry) @ Rz(pose_Rz)`` with the
right-handed elementary rotations about those axes, angles in radians:

- ``pose_Rx`` (pitch) > 0: the head tilts down (the nose moves down in the image);
- ``pose_Ry`` (yaw) > 0: the head turns towards the image's left (the subject's right);
- ``pose_Rz`` (roll) > 0: the face turns clockwise in the image as seen on screen.

**The generic face.** Ours, made for this: x and y are the canonical frame's mean shape
(:data:`~augcn_pyg.face.align.TEMPLATE_68`, a jaw 150 units wide, about the size in millimetres of an
adult's face); z is a hand-set depth profile in the same units (nose tip 63 in front of the outer eye
corners' plane minus 25, jaw ends 38 behind the chin's plane, see ``_DEPTH``), rough anthropometric
proportions, not a measured model. Only :data:`POSE_POINTS` are fitted (brows, nose, eyes and lips, the
points the alignment uses: the jaw's contour points slide along the face as it turns).
"""
from __future__ import annotations

import numpy as np

from augcn_pyg.face.align import TEMPLATE_68
from augcn_pyg.landmarks.layout import STABLE_POINTS

_W = 150.0  # the template's jaw width (points 0 to 16)


def _depth() -> np.ndarray:
    """(68,) how far each point lies in front of the face's back plane (z towards the camera), in template units."""
    d = np.zeros(68)
    t = (np.arange(17) - 8) / 8.0  # jaw: -1 (point 0) .. 0 (chin) .. 1 (point 16)
    d[:17] = 0.30 - 0.55 * np.abs(t) ** 1.5
    brow = [0.14, 0.20, 0.24, 0.27, 0.28]  # 17..21, outer to inner
    d[17:22], d[22:27] = brow, brow[::-1]
    d[27:31] = [0.31, 0.35, 0.39, 0.43]  # nose bridge (nasion) to tip
    d[31:36] = [0.30, 0.34, 0.37, 0.34, 0.30]  # nostrils
    eye = [0.17, 0.24, 0.24, 0.23, 0.23, 0.23]  # 36 outer corner, 37-38 upper lid, 39 inner corner, 40-41 lower
    d[36:42] = eye
    d[42:48] = [eye[3], eye[2], eye[1], eye[0], eye[5], eye[4]]  # mirrored: 42 inner .. 45 outer, 46-47 lower
    d[48:60] = [0.27, 0.33, 0.36, 0.37, 0.36, 0.33, 0.27, 0.32, 0.35, 0.36, 0.35, 0.32]  # outer lips
    d[60:68] = [0.28, 0.34, 0.35, 0.34, 0.28, 0.33, 0.34, 0.33]  # inner lips
    return d * _W


_DEPTH = _depth()

#: (68, 3) float64: the generic face in camera axes (x right, y down, z away from the camera), centred on its
#: points' mean; frontal (all pose angles 0) when looked at down the z axis.
FACE_MODEL_68: np.ndarray = np.column_stack([TEMPLATE_68.astype(np.float64), -_DEPTH])
FACE_MODEL_68 = FACE_MODEL_68 - FACE_MODEL_68.mean(0)

#: the points the pose is fitted on (the 49 stable points: brows, nose, eyes, lips)
POSE_POINTS: np.ndarray = STABLE_POINTS


def euler_to_matrix(angles) -> np.ndarray:
    """(3, 3) ``Rx(a) @ Ry(b) @ Rz(c)`` of ``angles`` = (a, b, c) in radians (OpenFace 2's convention)."""
    a, b, c = (float(v) for v in angles)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


def matrix_to_euler(rotation: np.ndarray) -> np.ndarray:
    """(3,) angles (a, b, c) with ``Rx(a) @ Ry(b) @ Rz(c) == rotation``, b in [-pi/2, pi/2]."""
    r = np.asarray(rotation, dtype=np.float64)
    b = np.arcsin(np.clip(r[0, 2], -1.0, 1.0))
    a = np.arctan2(-r[1, 2], r[2, 2])
    c = np.arctan2(-r[0, 1], r[0, 0])
    return np.array([a, b, c])


def camera_matrix(width: int, height: int) -> np.ndarray:
    """(3, 3) the assumed pinhole camera: focal length = the image width, principal point at the centre."""
    f = float(width)
    return np.array([[f, 0, width / 2.0], [0, f, height / 2.0], [0, 0, 1]])


def head_pose(landmarks: np.ndarray, image_size: tuple[int, int]) -> np.ndarray | None:
    """(3,) float64 ``pose_Rx, pose_Ry, pose_Rz`` (radians) of one face's (68, 2) landmarks in frame pixels;
    ``image_size`` = (height, width). None when too few points are finite or the fit fails."""
    import cv2

    points = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)[POSE_POINTS]
    model = FACE_MODEL_68[POSE_POINTS]
    ok = np.isfinite(points).all(1)
    if ok.sum() < 6:
        return None
    points, model = np.ascontiguousarray(points[ok]), np.ascontiguousarray(model[ok])
    height, width = image_size
    k = camera_matrix(width, height)
    try:
        found, rvec, tvec = cv2.solvePnP(model, points, k, None, flags=cv2.SOLVEPNP_EPNP)
        if not found:
            return None
        rvec, tvec = cv2.solvePnPRefineLM(model, points, k, None, rvec, tvec)
    except cv2.error:
        return None
    if not (np.isfinite(rvec).all() and float(np.ravel(tvec)[2]) > 0):  # the face must be in front of the camera
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    return matrix_to_euler(rotation)
