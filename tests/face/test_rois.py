import numpy as np
import pytest
import torch

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.face.align import TEMPLATE_68
from augcn_pyg.face.rois import au_centres, crop_starts, extract_rois, flip_faces, global_roi, needed_points
from augcn_pyg.landmarks import LAYOUT_49, to_68


def _hand_landmarks() -> np.ndarray:
    """Only the points the ROI rules read are set; the rest are NaN (and must not be needed)."""
    lm = np.full((68, 2), np.nan, dtype=np.float32)
    lm[39], lm[42] = (80, 70), (120, 70)  # ruler = |80 - 120| = 40
    lm[21], lm[22] = (90, 50), (110, 52)
    lm[18], lm[25] = (60, 48), (140, 45)
    lm[19], lm[24] = (70, 46), (130, 47)
    lm[41], lm[46] = (70, 74), (130, 75)
    lm[38], lm[43] = (74, 66), (126, 66)
    lm[32], lm[34] = (94, 110), (107, 111)
    lm[61], lm[63] = (95, 130), (106, 131)
    lm[48], lm[54] = (80, 135), (121, 136)
    lm[56], lm[58] = (108, 150), (93, 151)
    lm[51], lm[57] = (100, 128), (101, 152)
    return lm


# hand-computed: anchor + offset * 40 vertically (y down)
BP4D_CENTRES = [
    (90, 50 - 20), (110, 52 - 20),  # AU1 inner brow, -ruler/2
    (60, 48 - 40 / 3), (140, 45 - 40 / 3),  # AU2 outer brow, -ruler/3
    (70, 46 + 40 / 3), (130, 47 + 40 / 3),  # AU4 brow lowerer, +ruler/3
    (70, 74 + 40), (130, 75 + 40),  # AU6 cheek, +ruler
    (74, 66), (126, 66),  # AU7 lid
    (95, 130), (106, 131),  # AU10 upper lip
    (80, 135), (121, 136),  # AU12/14/15 lip corners
    (93, 151 + 20), (108, 150 + 20),  # AU17 chin, +ruler/2 (image-left point 58 first)
    (100, 128), (101, 152),  # AU23/24 upper, lower lip
]
DISFA_CENTRES = BP4D_CENTRES[:8] + [((94 + 107) / 2, (110 + 111) / 2 - 20)] + BP4D_CENTRES[12:14] + BP4D_CENTRES[16:]


@pytest.mark.parametrize("name, expected", [("bp4d", BP4D_CENTRES), ("disfa", DISFA_CENTRES)])
def test_au_centres_equal_hand_computed_values(name, expected):
    lm = _hand_landmarks()
    centres = au_centres(lm, name)
    assert centres.shape == (get_protocol(name).num_rois - 1, 2)
    np.testing.assert_allclose(centres, expected, rtol=1e-6)
    batch = au_centres(torch.from_numpy(np.stack([lm, lm + 1])), name)  # tensors in, tensors out
    assert torch.is_tensor(batch) and batch.shape == (2, len(expected), 2)
    np.testing.assert_allclose(batch[1].numpy(), np.array(expected) + 1, rtol=1e-6)
    assert set(needed_points(name).tolist()) <= set(np.flatnonzero(np.isfinite(lm).all(1)).tolist())


def test_crops_are_the_pixels_around_each_centre_and_the_global_roi_is_the_block_mean():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 200, 200, 3), dtype=np.uint8)
    lm = _hand_landmarks()
    rois = extract_rois(image, lm[None], "bp4d", size=25)
    assert rois.shape == (1, 19, 3, 25, 25) and rois.dtype == torch.uint8
    # AU1 left: centre (90, 30) -> rows 18..42, columns 78..102
    np.testing.assert_array_equal(rois[0, 0].numpy(), image[0, 18:43, 78:103].transpose(2, 0, 1))
    # AU2 left: centre (60, 34.67) -> start (48, 22.67 -> 23)
    np.testing.assert_array_equal(rois[0, 2].numpy(), image[0, 23:48, 48:73].transpose(2, 0, 1))
    blocks = image[0].reshape(25, 8, 25, 8, 3).astype(np.float64).mean((1, 3))  # 200 / 25 = 8
    np.testing.assert_array_equal(rois[0, -1].numpy(), np.round(blocks).transpose(2, 0, 1))
    np.testing.assert_array_equal(global_roi(torch.from_numpy(image))[0], rois[0, -1])


def test_crops_past_the_border_are_zero_padded_and_stay_n_by_n():
    image = np.full((1, 200, 200, 3), 200, dtype=np.uint8)
    lm = _hand_landmarks()
    lm[21] = (3, 25)  # AU1 left centre (3, 5): crop columns -9..15, rows -7..17
    lm[56] = (196, 500)  # AU17 right centre far below: clamped, so its crop lies wholly outside
    rois = extract_rois(image, lm[None], "bp4d").numpy()[0]
    crop = rois[0]
    assert crop.shape == (3, 25, 25)
    assert (crop[:, :7, :] == 0).all() and (crop[:, :, :9] == 0).all()
    assert (crop[:, 7:, 9:] == 200).all()
    assert (rois[15] == 0).all()
    assert (rois[1] == 200).all()  # an inner ROI is untouched


def test_rounding_is_symmetric_about_the_vertical_midline():
    centres = np.array([[[12.5, 3.5], [186.5, 3.5], [99.2, 0], [99.8, 0]]])
    starts = crop_starts(centres, 200, 25)
    # real starts 0.5 and 174.5 are ties: each rounds towards the midline (87.5), to 1 and 174
    assert starts[0, 0, 0] == 1 and starts[0, 1, 0] == 174
    assert starts[0, 0, 0] + 24 == 199 - starts[0, 1, 0]  # mirrored centres -> mirrored crops
    assert starts[0, 2, 0] + 24 == 199 - starts[0, 3, 0]
    assert starts[0, 0, 1] == -8  # vertically plain half-up rounding: 3.5 - 12 = -8.5 -> -8
    assert crop_starts(np.array([[[-100.0, 900.0]]]), 200, 25).tolist() == [[[-25, 200]]]


def test_flip_twice_is_the_identity():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (3, 200, 200, 3), dtype=np.uint8)
    lm = TEMPLATE_68[None] + rng.normal(0, 2, (3, 68, 2)).astype(np.float32)
    once = flip_faces(images, lm)
    twice = flip_faces(*once)
    np.testing.assert_array_equal(twice[0], images)
    np.testing.assert_allclose(twice[1], lm, atol=1e-4)
    np.testing.assert_array_equal(once[0][:, :, 0], images[:, :, -1])
    np.testing.assert_allclose(once[1][:, 36, 0], 199 - lm[:, 45, 0], atol=1e-4)  # 36 is again image-left
    tensors = flip_faces(torch.from_numpy(images), torch.from_numpy(lm))
    assert torch.equal(tensors[0], torch.from_numpy(once[0]))
    assert torch.is_tensor(tensors[1]) and torch.equal(tensors[1], torch.from_numpy(once[1]))


@pytest.mark.parametrize("name", ["bp4d", "disfa"])
def test_every_roi_of_the_template_lies_inside_the_frame(name):
    starts = crop_starts(au_centres(TEMPLATE_68[None], name), 200, 25)  # (1, K, 2)
    assert starts.min() >= 0 and starts.max() <= 200 - 25


@pytest.mark.parametrize("name, swapped", [("bp4d", 16), ("disfa", 10)])
def test_a_flipped_face_holds_the_mirrored_regions(name, swapped):
    protocol = get_protocol(name)
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (4, 200, 200, 3), dtype=np.uint8)  # no symmetry to hide mistakes
    lm = TEMPLATE_68[None] + rng.normal(0, 3, (4, 68, 2)).astype(np.float32)
    lm[1] += (0, -30)  # brows near the top border: padded crops flip too
    lm[2] = (lm[2] - 99.5) * 1.4 + 99.5
    rois = extract_rois(images, lm, protocol)
    flipped = extract_rois(*flip_faces(images, lm), protocol)
    perm = protocol.mirror_permutation()
    # ROI r of the flipped face = the mirror image of the original's partner ROI: the same AU region
    assert torch.equal(flipped, rois[:, perm].flip(-1))
    assert (perm != np.arange(protocol.num_rois)).sum() == swapped  # left/right pairs; lips, nose, global stay


def test_landmarks_lifted_from_49_points_are_enough():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (2, 200, 200, 3), dtype=np.uint8)
    lm = TEMPLATE_68[None] + rng.normal(0, 1, (2, 68, 2)).astype(np.float32)
    lifted = to_68(lm[:, LAYOUT_49])  # jaw NaN
    assert torch.equal(extract_rois(images, lifted, "bp4d"), extract_rois(images, lm, "bp4d"))


def test_nan_in_a_needed_point_is_named():
    lm = np.stack([TEMPLATE_68, TEMPLATE_68])
    lm[1, 39] = np.nan  # the ruler
    with pytest.raises(ValueError, match=r"faces \[1\] have NaN landmarks"):
        extract_rois(np.zeros((2, 200, 200, 3), np.uint8), lm, "bp4d")
    with pytest.raises(ValueError, match="must be \\(B, S, S, 3\\) uint8"):
        extract_rois(np.zeros((2, 200, 200, 3), np.float32), lm, "bp4d")


def test_usable_faces_flags_the_ones_that_cannot_be_cut():
    from augcn_pyg.face.rois import usable_faces

    lm = np.stack([TEMPLATE_68] * 4)
    lm[1, :17] = np.nan  # no jaw: fine
    lm[2, 42] = np.nan  # the ruler: not usable
    lm[3, 32] = np.nan  # nose: only DISFA's AU9 needs it
    np.testing.assert_array_equal(usable_faces(lm, "bp4d"), [True, True, False, True])
    np.testing.assert_array_equal(usable_faces(torch.from_numpy(lm), "disfa"), [True, True, False, False])
