"""The renderer: landmarks follow the AUs and match what is drawn; conditions; identities."""
import numpy as np
import pytest

from augcn_pyg.data.synthau.effects import DISPLACEMENT_FIELDS, FLIP_68, cue_strengths, displace
from augcn_pyg.data.synthau.face import MEAN_SHAPE, sample_identity
from augcn_pyg.data.synthau.render import (
    NEUTRAL_CONDITIONS,
    FaceRenderer,
    FrameConditions,
    conditions,
    sample_video_conditions,
)

SIZE = 128


@pytest.fixture(scope="module")
def renderer():
    return FaceRenderer(sample_identity(np.random.default_rng(0)), SIZE)


def test_mean_shape_is_canonical_and_symmetric():
    eyes = MEAN_SHAPE[36:42].mean(0), MEAN_SHAPE[42:48].mean(0)
    assert np.linalg.norm(eyes[1] - eyes[0]) == pytest.approx(1.0, abs=0.01)  # the IOD unit
    np.testing.assert_allclose(MEAN_SHAPE[FLIP_68] * [-1, 1], MEAN_SHAPE, atol=1e-9)
    assert sorted(FLIP_68) == list(range(68))


def test_effect_fields_are_mirror_symmetric():
    for au, d in DISPLACEMENT_FIELDS.items():
        np.testing.assert_allclose(d[FLIP_68] * [-1, 1], d, atol=1e-12, err_msg=f"AU{au}")
    # AU12 pulls the corners outwards and up; AU15 down
    assert DISPLACEMENT_FIELDS[12][48, 0] < 0 < DISPLACEMENT_FIELDS[12][54, 0]
    assert DISPLACEMENT_FIELDS[12][48, 1] < 0 < DISPLACEMENT_FIELDS[15][48, 1]
    assert cue_strengths({4: 2.0})["glabella"] == pytest.approx(0.5)
    assert cue_strengths({1: 10.0})["forehead_central"] == 1.0


def _mouth_gap(lm):
    return lm[66, 1] - lm[62, 1]


@pytest.mark.parametrize("au", [25, 26])
def test_mouth_opening_grows_with_au25_au26(renderer, au):
    gaps = [_mouth_gap(renderer.render({au: v} if v else {})[1]) for v in (0, 2, 4)]
    assert gaps[0] < gaps[1] < gaps[2]
    assert gaps[2] - gaps[0] > 0.1 * renderer.iod / 2  # > 0.1 IOD in output pixels


def test_open_mouth_is_drawn_where_the_landmarks_say(renderer):
    closed, lm0 = renderer.render({})
    opened, lm = renderer.render({26: 5.0, 25: 3.0})
    # 65% of the way from the upper to the lower inner lip (below the upper teeth): the mouth cavity's
    # dark red when open, lips or skin when closed
    p = lm[62] + 0.65 * (lm[66] - lm[62])
    x, y = int(round(p[0])), int(round(p[1]))
    cavity = np.array([70, 22, 25])
    assert np.abs(opened[y, x].astype(int) - cavity).max() < 25
    assert np.abs(closed[y, x].astype(int) - cavity).max() > 40
    # the jaw drops with AU26
    assert lm[8, 1] - lm0[8, 1] > 0.15 * renderer.iod / 2


def _brow_centre_row(img, x, lo, hi):
    """Mean row of the dark (brow) pixels of column ``x`` between rows ``lo`` and ``hi``."""
    column = img[lo:hi, x].astype(int).sum(1)
    dark = np.nonzero(column < 0.5 * column.max())[0]
    assert len(dark), "no brow pixels in the window"
    return lo + dark.mean()


def test_brows_rise_with_au1_au2(renderer):
    img0, lm0 = renderer.render({})
    img1, lm1 = renderer.render({1: 4.0})
    _, lm2 = renderer.render({2: 4.0})
    assert (lm0[21, 1] - lm1[21, 1]) > (lm0[17, 1] - lm1[17, 1]) > -0.01  # inner brows rise most
    assert (lm0[17, 1] - lm2[17, 1]) > 2.0  # outer brows rise (pixels)
    np.testing.assert_allclose(lm0[36:48], lm1[36:48], atol=1e-4)  # eyes unaffected by AU1
    # the drawn brow moves with its landmark: in the column of landmark 20, the brow's dark pixels sit on
    # the landmark's row (it is on the brow's centre line) before and after AU1 lifts it
    x = int(round(lm0[20, 0]))
    lo, hi = int(lm1[20, 1]) - 4, int(lm0[20, 1]) + 5  # both brows, below the hair fringe
    before, after = _brow_centre_row(img0, x, lo, hi), _brow_centre_row(img1, x, lo, hi)
    assert before == pytest.approx(lm0[20, 1], abs=1.0) and after == pytest.approx(lm1[20, 1], abs=1.0)
    assert before - after > 2.0


def test_pose_moves_the_landmarks_with_the_pixels(renderer):
    cond = FrameConditions(rotation=12.0, scale=0.9, shift=(0.05, -0.03), light_angle=0, light=0, blur=0,
                           noise=0)
    img, lm = renderer.render({}, cond)
    eyes = lm[36:42].mean(0), lm[42:48].mean(0)
    angle = np.degrees(np.arctan2(eyes[1][1] - eyes[0][1], eyes[1][0] - eyes[0][0]))
    assert angle == pytest.approx(-12.0, abs=0.2)  # OpenCV's positive angle turns counter-clockwise
    _, lm_ref = renderer.render({})
    iod = np.linalg.norm(eyes[1] - eyes[0])
    iod_ref = np.linalg.norm(lm_ref[42:48].mean(0) - lm_ref[36:42].mean(0))
    assert iod / iod_ref == pytest.approx(0.9, abs=0.01)
    # the iris (darkest blob) sits at the eye centre the landmarks give
    e = lm[36:42].mean(0)
    x, y = int(round(e[0])), int(round(e[1]))
    assert img[y - 1:y + 2, x - 1:x + 2].mean() < 0.5 * img.mean()


def test_face_size_suits_200px_alignment(renderer):
    _, lm = renderer.render({})
    width = lm[16, 0] - lm[0, 0]
    assert 0.45 * SIZE < width < 0.8 * SIZE


def test_conditions_and_knobs():
    assert conditions("easy").rotation < conditions("medium").rotation < conditions("hard").rotation
    assert conditions("medium", rotation=20.0, blur=None).rotation == 20.0
    with pytest.raises(ValueError, match="difficulty"):
        conditions("extreme")
    with pytest.raises(ValueError, match="blur, scale"):
        conditions("medium", blur=-1.0, scale=1.0)
    with pytest.raises(ValueError, match="noise, rotation"):
        conditions("medium", rotation=float("nan"), noise=float("inf"))
    conds = sample_video_conditions(np.random.default_rng(0), conditions("medium"), 50)
    rot = np.array([c.rotation for c in conds])
    assert np.abs(rot).max() <= 15.0 and np.abs(np.diff(rot)).max() < 3.0  # smooth head motion


def test_identities_differ_and_images_are_valid():
    a = FaceRenderer(sample_identity(np.random.default_rng(1)), 96).render({})[0]
    b = FaceRenderer(sample_identity(np.random.default_rng(2)), 96).render({})[0]
    assert a.shape == (96, 96, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(int) - b).mean() > 5
    rng = np.random.default_rng(0)
    noisy = FaceRenderer(sample_identity(np.random.default_rng(1)), 96).render(
        {}, conditions_to_frame(), rng)[0]
    assert np.abs(noisy.astype(int) - a).mean() > 1


def conditions_to_frame():
    return FrameConditions(0.0, 1.0, (0.0, 0.0), 0.5, 0.3, 1.0, 6.0)


def test_displace_adds_fields():
    lm = displace(MEAN_SHAPE, {12: 2.0, 6: 1.0})
    np.testing.assert_allclose(lm, MEAN_SHAPE + 2 * DISPLACEMENT_FIELDS[12] + DISPLACEMENT_FIELDS[6])
    assert NEUTRAL_CONDITIONS.rotation == 0


@pytest.mark.parametrize("protocol", ["bp4d", "disfa"])
def test_every_au_is_drawn_inside_its_own_rois(protocol):
    """The ROI rules look for an AU in its own regions; SynthAU must draw it there, or no model that reads
    an AU's own ROIs can see it. Strong AU (4.5) against none: a share of the own ROIs' pixels changes."""
    from augcn_pyg.core.aus import get_protocol
    from augcn_pyg.face.pipeline import align_usable, crop_rois

    proto = get_protocol(protocol)
    own: dict[int, list[int]] = {}
    for i, roi in enumerate(proto.rois):
        for au in () if roi.is_global else roi.aus:
            own.setdefault(au, []).append(i)
    assert sorted(own) == sorted(proto.aus)
    for seed in (0, 1):
        rend = FaceRenderer(sample_identity(np.random.default_rng(seed)), 256)
        for au, rois in own.items():
            imgs, pts = zip(*[rend.render({au: v}) for v in (0.0, 4.5)])
            faces = align_usable(list(imgs), np.stack(pts), proto)
            crops = crop_rois(faces.aligned, faces.points, proto, 25).float()[:, rois]  # (2, k, 3, n, n)
            changed = ((crops[1] - crops[0]).abs().amax(1) > 12).float().mean()  # share of the k ROIs' pixels
            assert changed > 0.03, f"AU{au} barely shows in its own ROIs {rois} (identity {seed}: {changed:.3f})"
