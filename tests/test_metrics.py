import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from augcn_pyg.metrics import AUScores, au_scores


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
