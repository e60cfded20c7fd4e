"""Head pose from the 68 landmarks: a known rotation of the generic face, projected by OpenCV, is recovered,
in OpenFace 2's convention (R = Rx Ry Rz; x right, y down, z away from the camera)."""
import numpy as np
import pytest

from augcn_pyg.face.pose import FACE_MODEL_68, camera_matrix, euler_to_matrix, head_pose, matrix_to_euler

cv2 = pytest.importorskip("cv2")
SIZE = (480, 640)  # height, width


def project(angles, translation=(15.0, -25.0, 900.0)) -> np.ndarray:
    rvec, _ = cv2.Rodrigues(euler_to_matrix(angles))
    points, _ = cv2.projectPoints(FACE_MODEL_68, rvec, np.array(translation, float), camera_matrix(SIZE[1], SIZE[0]),
                                  None)
    return points.reshape(68, 2)


@pytest.mark.parametrize("seed", range(6))
def test_a_known_rotation_of_the_generic_face_is_recovered(seed):
    angles = np.random.default_rng(seed).uniform(-0.6, 0.6, 3)  # up to about 34 degrees on each axis
    assert np.allclose(matrix_to_euler(euler_to_matrix(angles)), angles)
    assert np.allclose(head_pose(project(angles), SIZE), angles, atol=1e-6)


def test_a_frontal_face_is_zero_and_the_signs_are_openfaces():
    assert np.allclose(head_pose(project([0, 0, 0]), SIZE), 0, atol=1e-6)
    frontal = project([0, 0, 0])
    nose, left_eye_outer = 30, 45  # the subject's left eye is on the image's right
    down = project([0.3, 0, 0])
    assert down[nose, 1] > frontal[nose, 1] + 5  # pose_Rx > 0: pitch, the head tilts down
    turned = project([0, 0.3, 0])
    assert turned[nose, 0] < frontal[nose, 0] - 5  # pose_Ry > 0: yaw, the nose goes to the image's left
    rolled = project([0, 0, 0.3])
    assert rolled[left_eye_outer, 1] > frontal[left_eye_outer, 1] + 5  # pose_Rz > 0: clockwise on screen
    r = euler_to_matrix([0.1, 0.2, 0.3])
    rx, ry, rz = (euler_to_matrix(v) for v in ([0.1, 0, 0], [0, 0.2, 0], [0, 0, 0.3]))
    assert np.allclose(r, rx @ ry @ rz)


def test_missing_points_are_left_out_and_too_few_give_none():
    angles = np.array([0.2, -0.3, 0.1])
    points = project(angles)
    points[[27, 28, 36, 48]] = np.nan
    assert np.allclose(head_pose(points, SIZE), angles, atol=1e-6)
    assert head_pose(np.full((68, 2), np.nan), SIZE) is None
