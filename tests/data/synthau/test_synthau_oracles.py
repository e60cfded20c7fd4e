"""Oracle bounds from the generator, on tiny hand-made cases whose answers are worked out in the comments."""
import json

import numpy as np
import pytest

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.data.synthau.oracles import (
    corrected_interval,
    gain_share,
    local_evidence,
    local_oracle,
    missing_share,
    read_manifest,
    relation_oracle,
    relation_signal,
)

# Two AUs, AU1 always equal to AU0 (a perfect relation). Training subject A (8 frames), test subject B (4).
#   A: y0 = y1 = 1 1 1 1 0 0 0 0; AU0 visible in frames 0 2 4 6; AU1 always visible
#   B: y0 = y1 = 1 1 0 0;         AU0 visible in frames 0 2;     AU1 always visible
Y = np.array([[1, 1]] * 4 + [[0, 0]] * 4 + [[1, 1]] * 2 + [[0, 0]] * 2, float)
V = np.ones_like(Y, bool)
V[[1, 3, 5, 7, 9, 11], 0] = False
S = np.array(["A"] * 8 + ["B"] * 4)


def test_local_oracle_by_hand():
    # AU0 on B, guessing "present" with A's rate r = 0.5 where hidden: visible frame 0 (a hit) and 2 (a
    # correct "absent"); hidden frames 9 (present) and 11 (absent) give expected TP 0.5, FN 0.5, FP 0.5.
    # F1 = 2(1 + 0.5) / (2(1 + 0.5) + 0.5 + 0.5) = 3 / 4. AU1 is always visible: F1 = 1.
    np.testing.assert_allclose(local_oracle(Y, V, S, {"A"}), [0.75, 1.0])
    # "best": on A, always "present" where hidden gives TP 4, FP 2: F1 = 8/10; always "absent" TP 2, FN 2:
    # 4/6. So "present"; on B: TP 2, FP 1, FN 0 -> F1 = 4/5.
    np.testing.assert_allclose(local_oracle(Y, V, S, {"A"}, guess="best"), [0.8, 1.0])


def test_relation_oracle_by_hand():
    # AU0 where hidden is read off AU1's visible label (y1 = y0): a logistic regression on A separates it,
    # so B's hidden frames are right too: F1 = 1 for both AUs.
    np.testing.assert_allclose(relation_oracle(Y, V, S, {"A"}), [1.0, 1.0])
    # with AU1 hidden wherever AU0 is, nothing relational is left: the oracle falls to a constant guess,
    # chosen on A: "present" (F1 8/10 on A beats 4/6), so on B F1 = 4/5 (= the local "best" oracle)
    v = V.copy()
    v[~V[:, 0], 1] = False
    np.testing.assert_allclose(relation_oracle(Y, v, S, {"A"})[0], 0.8)


def test_shares_and_the_difference_in_differences():
    # a design at 0.9 on AU0 with local 0.75 and relation 1.0 took (0.9 - 0.75) / 0.25 = 60 % of the gain
    assert gain_share(0.9, 0.75, 1.0) == pytest.approx(0.6)
    assert np.isnan(gain_share(0.9, 0.75, 0.75))
    # two paired runs: design - local = 0.10 and 0.20 on the preset, 0.05 and 0.04 on the control
    # (overlap): DiD = 0.05 and 0.16, mean 0.105; the oracles' room: (1.0 - 0.5) - (0.6 - 0.5) = 0.4 both runs,
    # so the shares are 0.125 and 0.4, mean 0.2625
    out = relation_signal([0.6, 0.7], [0.5, 0.5], [0.55, 0.54], [0.5, 0.5], relation=[1.0, 1.0],
                          relation_control=[0.6, 0.6])
    assert out["did"]["mean"] == pytest.approx(0.105) and out["did"]["n"] == 2
    assert out["share"]["mean"] == pytest.approx(0.2625) and "share_of_oracle_gap" not in out
    # with the local oracles (0.8 on the preset, 0.55 on the control) the room is the oracles' own difference in
    # differences, (1.0 - 0.8) - (0.6 - 0.55) = 0.15, whatever the local model scored: shares 1/3 and 16/15
    both = relation_signal([0.6, 0.7], [0.5, 0.5], [0.55, 0.54], [0.5, 0.5], relation=[1.0, 1.0],
                           relation_control=[0.6, 0.6], local_oracle=[0.8, 0.8], local_oracle_control=[0.55, 0.55])
    assert both["share"] == out["share"]
    assert both["share_of_oracle_gap"]["mean"] == pytest.approx((0.05 / 0.15 + 0.16 / 0.15) / 2)
    # plain paired t with J = 2: half width = t(0.975, 1) * s / sqrt(2), s = std(0.05, 0.16) = 0.0778
    half = 12.7062 * np.std([0.05, 0.16], ddof=1) / np.sqrt(2)
    assert out["did"]["high"] - out["did"]["mean"] == pytest.approx(half, rel=1e-3)
    # the corrected t widens it: variance (1/J + n_test/n_train) s^2
    wide = corrected_interval([0.05, 0.16], test_train_ratio=0.5)
    assert wide["high"] - wide["mean"] == pytest.approx(half * np.sqrt((0.5 + 0.5) / 0.5), rel=1e-3)


def test_local_evidence_from_covers_and_weak_aus():
    p = get_protocol("bp4d")
    cover = np.zeros((3, p.num_rois))
    left, right = p.roi_names.index("inner_brow_left"), p.roi_names.index("inner_brow_right")
    cover[0, [left, right]] = [0.9, 0.3]  # one side of AU1 still visible: evidence
    cover[1, [left, right]] = [0.6, 0.5]  # both covered half or more: none
    cover[2, p.global_index] = 1.0  # the whole-face ROI does not count
    weak = np.zeros((3, p.num_aus), bool)
    weak[2, p.aus.index(12)] = True  # AU12 shown weakly: no evidence
    v = local_evidence(cover, weak, p)
    au1, au12 = p.aus.index(1), p.aus.index(12)
    assert v[0, au1] and not v[1, au1] and v[2, au1]
    assert v[1, au12] and not v[2, au12]
    assert v[0].sum() == 12 and v[1].sum() == 11 and v[2].sum() == 11
    # occurrences without local evidence: AU1 present in frames 0, 1 and AU12 in frame 2: 2 of 3 missing
    labels = np.zeros((3, 12))
    labels[[0, 1], au1] = 1
    labels[2, au12] = 1
    assert missing_share(labels, v) == pytest.approx(2 / 3)


def test_read_manifest(tmp_path):
    p = get_protocol("bp4d")
    (tmp_path / "Occlusion").mkdir()
    header = "frame,occluder," + ",".join(p.roi_names)
    row = ["0.000"] * p.num_rois
    row[p.roi_names.index("lid_left")] = "0.750"
    (tmp_path / "Occlusion" / "F001_T1.csv").write_text(f"{header}\n10,sunglasses,{','.join(row)}\n"
                                                       f"11,none,{','.join(['0.000'] * p.num_rois)}\n")
    (tmp_path / "synthau.json").write_text(json.dumps({"weak_aus": {"F001": {"7": 0.3, "26": 0.3},
                                                                    "M011": {"12": 0.8}}}))
    cover, weak = read_manifest(tmp_path, p, ["F001", "F001", "M011"], ["T1", "T1", "T1"], [10, 11, 10])
    assert cover[0, p.roi_names.index("lid_left")] == pytest.approx(0.75) and cover[1:].sum() == 0
    assert weak[:2, p.aus.index(7)].all() and weak.sum() == 2  # AU26 is not BP4D's; 0.8 is not weak
