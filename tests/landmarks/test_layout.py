import numpy as np
import pytest

from augcn_pyg.landmarks import FLIP_68, IBUG68_FROM_106, LAYOUT_49, LAYOUT_66, from_106, to_68


def test_flip_68_is_an_involution_pairing_mirror_points():
    assert sorted(FLIP_68.tolist()) == list(range(68))
    np.testing.assert_array_equal(FLIP_68[FLIP_68], np.arange(68))
    pairs = {0: 16, 17: 26, 21: 22, 31: 35, 36: 45, 39: 42, 37: 44, 41: 46, 48: 54, 50: 52, 55: 59, 60: 64,
             61: 63, 65: 67}
    for a, b in pairs.items():
        assert FLIP_68[a] == b and FLIP_68[b] == a
    for midline in (8, 27, 28, 29, 30, 33, 51, 57, 62, 66):
        assert FLIP_68[midline] == midline


def test_to_68_lifts_66_points_and_rebuilds_the_inner_mouth_corners():
    rng = np.random.default_rng(0)
    full = rng.uniform(0, 200, (3, 68, 2)).astype(np.float32)
    lifted = to_68(full[:, LAYOUT_66])
    keep = [i for i in range(68) if i not in (60, 64)]
    np.testing.assert_array_equal(lifted[:, keep], full[:, keep])
    # corner = half the outer corner + a quarter of each neighbouring inner-lip point
    np.testing.assert_allclose(lifted[:, 60], 0.5 * full[:, 48] + 0.25 * (full[:, 61] + full[:, 67]), rtol=1e-6)
    np.testing.assert_allclose(lifted[:, 64], 0.5 * full[:, 54] + 0.25 * (full[:, 63] + full[:, 65]), rtol=1e-6)


def test_to_68_lifts_49_points_with_a_nan_jaw():
    full = np.arange(136, dtype=np.float32).reshape(68, 2)
    lifted = to_68(full[LAYOUT_49])
    assert np.isnan(lifted[:17]).all()
    np.testing.assert_array_equal(lifted[LAYOUT_49], full[LAYOUT_49])
    assert np.isfinite(lifted[17:]).all()


def test_to_68_rejects_unknown_layouts():
    with pytest.raises(ValueError, match="unsupported landmark layout with 51 points"):
        to_68(np.zeros((51, 2)))


def test_from_106_takes_the_listed_points_or_their_mean():
    assert len(IBUG68_FROM_106) == 68
    assert all(0 <= i < 106 for entry in IBUG68_FROM_106 for i in entry)
    points = np.random.default_rng(1).uniform(0, 100, (106, 2)).astype(np.float32)
    mapped = from_106(points)
    np.testing.assert_allclose(mapped[8], points[0])  # chin
    np.testing.assert_allclose(mapped[36], points[35])  # outer corner of the image-left eye
    np.testing.assert_allclose(mapped[37], (points[41] + points[40]) / 2, rtol=1e-6)  # upper lid
    np.testing.assert_allclose(mapped[2], (points[12] + points[13]) / 2, rtol=1e-6)  # jaw: left5/left6
    np.testing.assert_allclose(mapped[14], (points[28] + points[29]) / 2, rtol=1e-6)  # right5/right6
