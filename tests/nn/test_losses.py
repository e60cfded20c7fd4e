import math

import numpy as np
import pytest
import torch

from augcn_pyg.nn.losses import LossWarning, au_weights, roi_bce, weighted_bce, weighted_dice


def test_au_weights_eq7_and_unknowns_left_out():
    labels = np.array([[1, 0, 1], [0, 0, 1], [0, 1, np.nan], [0, 0, 1]], dtype=np.float32)
    w = au_weights(labels)
    rates = np.array([1 / 4, 1 / 4, 3 / 3])
    expected = (1 / rates) * 3 / (1 / rates).sum()
    assert np.allclose(w, expected)
    assert np.isclose(w.mean(), 1.0)


def test_absent_au_gets_a_finite_weight_and_a_warning():
    labels = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 0]], dtype=np.float32)
    with pytest.warns(LossWarning, match="AU2 never occur"):
        w = au_weights(labels, aus=[1, 2, 4])
    assert np.all(np.isfinite(w))
    assert w[1] == pytest.approx(w.max())  # as rare as the rarest that occurs


def test_weighted_bce_by_hand_with_masking():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 1.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    known = torch.tensor([[True, True], [True, False]])
    w = torch.tensor([2.0, 0.5])
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    terms = [2.0 * -math.log(sig(0.0)), 0.5 * -math.log(1 - sig(2.0)), 2.0 * -math.log(1 - sig(-1.0))]
    assert float(weighted_bce(logits, y, known, w)) == pytest.approx(sum(terms) / 3, rel=1e-6)


def test_weighted_dice_by_hand_with_masking():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 1.0], [3.0, 0.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    known = torch.tensor([[True, True], [True, False], [False, True]])
    w = torch.tensor([2.0, 0.5])
    p = torch.sigmoid(logits).numpy()
    eps = 1.0
    # AU 0 over frames 0, 1; AU 1 over frames 0, 2
    d0 = (2 * (p[0, 0] * 1) + eps) / (1 + p[0, 0] ** 2 + p[1, 0] ** 2 + eps)
    d1 = (2 * (p[2, 1] * 1) + eps) / (1 + p[0, 1] ** 2 + p[2, 1] ** 2 + eps)
    expected = (2.0 * (1 - d0) + 0.5 * (1 - d1)) / 2
    assert float(weighted_dice(logits, y, known, w, eps)) == pytest.approx(expected, rel=1e-6)


def test_roi_bce_counts_only_member_aus_that_are_known():
    roi_logits = torch.tensor([[[0.5, -0.5], [1.0, 2.0]]])  # (B=1, R=2, C=2)
    y = torch.tensor([[1.0, 0.0]])
    known = torch.tensor([[True, False]])
    membership = torch.tensor([[True, True], [False, True]])
    # counted: ROI 0 / AU 0 only (AU 1 unknown; ROI 1 does not hold AU 0); per ROI (1/C) sum_c, summed over
    # ROIs, averaged over the B = 1 face
    expected = -math.log(1 / (1 + math.exp(-0.5))) / 2
    assert float(roi_bce(roi_logits, y, known, membership)) == pytest.approx(expected, rel=1e-6)


def test_losses_have_no_nan_when_nothing_is_known():
    logits = torch.zeros(2, 3, requires_grad=True)
    y = torch.zeros(2, 3)
    known = torch.zeros(2, 3, dtype=torch.bool)
    w = torch.ones(3)
    total = weighted_bce(logits, y, known, w) + weighted_dice(logits, y, known, w)
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(logits.grad).all()
