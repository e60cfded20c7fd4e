"""ICC(3,1), MAE and Pearson r: a hand-computed case, masking, and pingouin's ICC3 as the reference."""
import numpy as np
import pytest

from augcn_pyg.core.intensity import icc3_1, intensity_scores, pearson_r


def test_hand_computed_case():
    # truth t = [0, 1, 2, 3], prediction p = [1, 1, 3, 2]; n = 4 frames, k = 2 raters.
    # grand mean m = 13/8 = 1.625; frame means 0.5, 1, 2.5, 2.5; rater means 1.5 (t), 1.75 (p).
    # SS_rows = 2 [(0.5-m)² + (1-m)² + 2 (2.5-m)²] = 2 [1.265625 + 0.390625 + 1.53125] = 6.375
    # SS_cols = 4 [(1.5-m)² + (1.75-m)²] = 4 · 0.03125 = 0.125
    # SS_total = 5.0625 (t) + 2.8125 (p) = 7.875; SS_err = 7.875 - 6.375 - 0.125 = 1.375
    # BMS = 6.375 / 3 = 2.125; EMS = 1.375 / 3 = 0.458333…
    # ICC(3,1) = (2.125 - 0.458333) / (2.125 + 0.458333) = (5/3) / (31/12) = 20/31
    # MAE = (1 + 0 + 1 + 1) / 4 = 0.75
    # r: deviations t' = [-1.5, -0.5, 0.5, 1.5], p' = [-0.75, -0.75, 1.25, 0.25];
    #    Σt'p' = 2.5, Σt'² = 5, Σp'² = 2.75, r = 2.5 / sqrt(13.75)
    t, p = [0, 1, 2, 3], [1, 1, 3, 2]
    assert icc3_1(t, p) == pytest.approx(20 / 31)
    assert pearson_r(t, p) == pytest.approx(2.5 / np.sqrt(13.75))
    s = intensity_scores(np.array([p]).T, np.array([t], dtype=float).T, aus=[6])
    assert s.icc[0] == pytest.approx(20 / 31) and s.mae[0] == pytest.approx(0.75)
    assert s.frames.tolist() == [4] and s.undefined == []


def test_offset_keeps_icc_but_not_mae_and_nan_masking():
    t = np.array([0, 1, 2, 3, 4, 5], dtype=float)
    y = np.stack([t, t], 1)
    y[2, 1] = np.nan  # unknown: left out of AU column 1 only
    p = np.stack([t + 1, t], 1)
    p[2, 1] = 99.0  # would wreck every score if it were counted
    s = intensity_scores(p, y, aus=[6, 12])
    assert s.icc[0] == pytest.approx(1.0) and s.mae[0] == pytest.approx(1.0)  # consistency ignores the offset
    assert s.icc[1] == pytest.approx(1.0) and s.mae[1] == 0.0 and s.frames.tolist() == [6, 5]
    assert s.mean_mae == pytest.approx(0.5) and s.rows()[-1]["au"] == "avg"


def test_undefined_au_left_out_of_averages():
    y = np.array([[0, 1], [0, 2], [0, 3]], dtype=float)
    p = np.zeros_like(y)  # AU 1: truth and prediction constant; AU 2: prediction constant
    s = intensity_scores(p, y, aus=[1, 2])
    assert np.isnan(s.icc[0]) and np.isnan(s.r[0]) and 1 in s.undefined
    assert np.isnan(s.r[1]) and 2 in s.undefined
    doc = s.to_dict()
    assert doc["icc"][0] is None
    assert type(s).from_dict(doc).aus == [1, 2]


def test_against_pingouin_and_scipy():
    pg = pytest.importorskip("pingouin")
    import pandas as pd
    from scipy.stats import pearsonr

    rng = np.random.default_rng(0)
    for trial in range(5):
        t = rng.integers(0, 6, 40).astype(float)
        p = np.clip(0.7 * t + rng.normal(0.3, 0.8, 40), 0, 5)
        long = pd.DataFrame({"frame": np.tile(np.arange(40), 2), "rater": ["truth"] * 40 + ["pred"] * 40,
                             "score": np.concatenate([t, p])})
        table = pg.intraclass_corr(long, targets="frame", raters="rater", ratings="score")
        by_type = table.set_index("Type")["ICC"]
        # pingouin < 0.7 names ICC(3,1) "ICC3"; 0.7 names it "ICC(C,1)" (consistency, single rater)
        reference = float(by_type["ICC3"] if "ICC3" in by_type.index else by_type["ICC(C,1)"])
        assert icc3_1(t, p) == pytest.approx(reference, abs=1e-10)
        assert pearson_r(t, p) == pytest.approx(pearsonr(t, p)[0], abs=1e-10)
