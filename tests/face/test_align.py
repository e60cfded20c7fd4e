import numpy as np
import pytest

from augcn_pyg.face.align import (
    TEMPLATE_68,
    TEMPLATE_SIZE,
    align_faces,
    similarity_transforms,
    template_for,
    transform_points,
)
from augcn_pyg.landmarks import FLIP_68

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _similarity(angle, scale, tx, ty):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def test_template_is_a_symmetric_upright_face_inside_the_frame():
    assert TEMPLATE_68.shape == (68, 2) and TEMPLATE_68.dtype == np.float32
    assert (TEMPLATE_68 > 0).all() and (TEMPLATE_68 < TEMPLATE_SIZE - 1).all()
    mirrored = TEMPLATE_68[FLIP_68].copy()
    mirrored[:, 0] = TEMPLATE_SIZE - 1 - mirrored[:, 0]
    np.testing.assert_allclose(mirrored, TEMPLATE_68, atol=1e-4)
    assert TEMPLATE_68[36, 0] < TEMPLATE_68[45, 0] and TEMPLATE_68[19, 1] < TEMPLATE_68[30, 1] < TEMPLATE_68[8, 1]
    assert abs(TEMPLATE_68[39, 0] - TEMPLATE_68[42, 0]) == pytest.approx(38.9, abs=0.1)  # the ROI ruler


def test_the_template_maps_to_itself():
    np.testing.assert_allclose(similarity_transforms(TEMPLATE_68[None])[0], IDENTITY, atol=1e-10)
    np.testing.assert_allclose(similarity_transforms(TEMPLATE_68, points=None), IDENTITY, atol=1e-10)


def test_a_moved_copy_of_the_template_is_recovered_exactly():
    rng = np.random.default_rng(0)
    moves = np.stack([_similarity(rng.uniform(-np.pi, np.pi), rng.uniform(0.3, 4), *rng.uniform(-300, 300, 2))
                      for _ in range(16)])  # (B, 2, 3) template -> face
    faces = np.einsum("bij,pj->bpi", moves[:, :, :2], TEMPLATE_68.astype(np.float64)) + moves[:, None, :, 2]
    fitted = similarity_transforms(faces)  # face -> template
    assert fitted.shape == (16, 2, 3)
    for move, fit in zip(moves, fitted):  # fit is the inverse of move
        inverse = np.linalg.inv(np.vstack([move, [0, 0, 1]]))[:2]
        np.testing.assert_allclose(fit, inverse, atol=1e-9)
    np.testing.assert_allclose(transform_points(faces, fitted), np.broadcast_to(TEMPLATE_68, faces.shape), atol=1e-3)


def test_nan_points_are_ignored_and_a_face_without_points_gets_nan():
    face = TEMPLATE_68 * 2 + 10
    face[:17] = np.nan  # a 49-point set lifted to 68 has no jaw
    face[30] = np.nan
    empty = np.full((68, 2), np.nan, dtype=np.float32)
    fitted = similarity_transforms(np.stack([face, empty]))
    np.testing.assert_allclose(fitted[0], [[0.5, 0, -5], [0, 0.5, -5]], atol=1e-5)  # float32 input
    assert np.isnan(fitted[1]).all()
    with pytest.raises(ValueError, match=r"faces \[1\] have too few finite landmarks"):
        align_faces(np.zeros((2, 50, 50, 3), np.uint8), np.stack([face, empty]))


def test_mirror_image_landmarks_never_give_a_reflection():
    mirrored = TEMPLATE_68.copy()
    mirrored[:, 0] *= -1  # not renumbered: a reflection would fit it exactly
    m = similarity_transforms(mirrored)
    assert np.linalg.det(m[:, :2]) > 0


def test_align_faces_undoes_a_known_warp():
    import cv2

    rng = np.random.default_rng(1)
    canonical = cv2.GaussianBlur(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8), (0, 0), 3)  # smooth
    move = _similarity(0.3, 1.5, 200.0, 20.0)  # canonical -> photo, inside both photos
    photos = [cv2.warpAffine(canonical, move, (640, 480), flags=cv2.INTER_CUBIC), None]
    photos[1] = np.ascontiguousarray(photos[0][:400, :500])  # a second, differently sized image
    landmarks = np.broadcast_to(transform_points(TEMPLATE_68[None], move[None])[0], (2, 68, 2))
    aligned, aligned_landmarks = align_faces(photos, landmarks)
    assert aligned.shape == (2, 200, 200, 3) and aligned.dtype == np.uint8
    np.testing.assert_allclose(aligned_landmarks, np.broadcast_to(TEMPLATE_68, (2, 68, 2)), atol=1e-3)
    inner = (slice(20, 180), slice(20, 180))
    for face in aligned:
        error = np.abs(face[inner].astype(int) - canonical[inner].astype(int))
        assert error.mean() < 1.5  # two bilinear/cubic resamplings of a smooth image


def test_align_faces_to_another_size_uses_the_scaled_template():
    photo = np.zeros((300, 300, 3), np.uint8)
    landmarks = TEMPLATE_68[None] * 1.3 + 5
    aligned, aligned_landmarks = align_faces(photo[None], landmarks, size=100)
    assert aligned.shape == (1, 100, 100, 3)
    np.testing.assert_allclose(aligned_landmarks[0], template_for(100), atol=1e-3)
    np.testing.assert_allclose(template_for(200), TEMPLATE_68)


@pytest.mark.parametrize("image", [np.full((60, 60), 90, np.uint8), np.full((60, 60, 4), 90, np.uint8),
                                   np.full((60, 60, 3), 90, np.float32)], ids=["grey", "rgba", "float"])
def test_images_that_are_not_rgb_uint8_are_refused(image):
    # cv2 would warp them into a new array and leave the output slot uninitialised
    good = np.full((60, 60, 3), 90, np.uint8)
    with pytest.raises(ValueError, match=r"images \[1\] are not \(H, W, 3\) uint8 RGB"):
        align_faces([good, image], np.stack([TEMPLATE_68 * 0.2 + 10] * 2))
