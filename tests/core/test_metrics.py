import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from augcn_pyg.core.metrics import AUScores, au_scores


def by_hand_f1(y, p):
    pred = p >= 0.5
    tp = np.sum(pred & (y == 1))
    fp = np.sum(pred & (y == 0))
    fn = np.sum(~pred & (y == 1))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def test_scores_equal_counting_and_scikit_learn_with_unknowns_left_out():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 4)) < 0.3).astype(np.float32)
    p = np.clip(0.6 * y + 0.5 * rng.random((200, 4)), 0, 1)
    y[rng.random(y.shape) < 0.1] = np.nan
    s = au_scores(p, y, aus=[1, 2, 4, 6])
    for c in range(4):
        m = ~np.isnan(y[:, c])
        assert s.f1[c] == pytest.approx(by_hand_f1(y[m, c], p[m, c]))
        assert s.f1[c] == pytest.approx(f1_score(y[m, c], p[m, c] >= 0.5))
        assert s.auc[c] == pytest.approx(roc_auc_score(y[m, c], p[m, c]))
        assert s.frames[c] == m.sum() and s.positives[c] == y[m, c].sum()
    assert s.mean_f1 == pytest.approx(np.mean(s.f1))
    assert s.mean_auc == pytest.approx(np.mean(s.auc))
    assert s.rows()[-1]["au"] == "avg"


def test_single_class_au_has_no_auc_and_is_named():
    y = np.array([[1, 0], [0, 0], [1, 0]], dtype=np.float32)
    p = np.array([[0.9, 0.1], [0.2, 0.7], [0.6, 0.2]])
    s = au_scores(p, y, aus=[1, 2])
    assert np.isnan(s.auc[1]) and s.undefined_auc == [2]
    assert s.f1[1] == 0.0  # never present, once predicted
    assert s.mean_auc == pytest.approx(s.auc[0])
    assert s.to_dict()["auc"][1] is None
    back = AUScores.from_dict(s.to_dict())
    assert back.to_dict() == s.to_dict() and np.isnan(back.auc[1])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("levels", [0, 4, 20])  # 0: continuous probabilities; k: k tied values
def test_scores_equal_scikit_learn_with_ties_rare_aus_and_a_given_mask(seed, levels):
    rng = np.random.default_rng(seed)
    rates = np.array([0.5, 0.2, 0.02, 0.0, 1.0, 0.3])  # includes never-present and always-present AUs
    y = (rng.random((300, 6)) < rates).astype(np.float32)
    p = np.clip(0.4 * y + 0.6 * rng.random(y.shape), 0, 1)
    if levels:
        p = np.round(p * levels) / levels  # many equal scores, and scores exactly at the threshold
    known = rng.random(y.shape) > 0.15
    s = au_scores(p, y, known=known)
    for c in range(6):
        m = known[:, c]
        assert s.f1[c] == pytest.approx(f1_score(y[m, c], p[m, c] >= 0.5, zero_division=0), abs=1e-12)
        if 0 < y[m, c].sum() < m.sum():
            assert s.auc[c] == pytest.approx(roc_auc_score(y[m, c], p[m, c]), abs=1e-12)
        else:
            assert np.isnan(s.auc[c]) and c in s.undefined_auc
