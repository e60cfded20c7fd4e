import math

import numpy as np
import pytest
from scipy import stats

from benchmarks.paired_stats import (
    bayesian_correlated,
    compare,
    corrected_t_test,
    plausible_ratios,
    smallest_real,
    spread_of,
    verdict,
    verdicts_by_ratio,
)


def test_the_correction_widens_the_plain_paired_t_test():
    rng = np.random.default_rng(0)
    a = rng.normal(0.60, 0.03, 9)
    b = a - 0.01 + rng.normal(0, 0.01, 9)
    mean, low, high, t, p = corrected_t_test(a, b, 0.5)
    plain = stats.ttest_rel(a, b)
    assert mean == pytest.approx(np.mean(a - b))
    assert abs(t) < abs(plain.statistic) and p > plain.pvalue
    # with no overlap correction it is the plain paired t-test
    assert corrected_t_test(a, b, 0.0)[4] == pytest.approx(plain.pvalue)
    assert low < mean < high


def test_a_large_consistent_gain_is_real_and_noise_is_not():
    rng = np.random.default_rng(1)
    base = rng.normal(0.6, 0.05, 9)
    gain = compare(base + 0.05 + rng.normal(0, 0.005, 9), base)
    assert gain.verdict == "a" and gain.p_a_better > 0.95 and gain.ci_low > 0
    assert compare(base, base + 0.05 + rng.normal(0, 0.005, 9)).verdict == "b"
    noise = compare(base + rng.normal(0, 0.02, 9), base)
    assert noise.verdict in ("unsure", "equal") and noise.ci_low < 0 < noise.ci_high


def test_practically_equal_models():
    rng = np.random.default_rng(2)
    base = rng.normal(0.6, 0.05, 9)
    same = compare(base + rng.normal(0, 0.0005, 9), base, rope=0.01)
    assert same.verdict == "equal" and same.p_equal > 0.95
    exact = compare(base + 0.02, base, rope=0.01)  # a constant difference: certain
    assert exact.p_a_better == 1.0 and exact.verdict == "a"


def test_runs_must_be_whole_repetitions_of_the_folds():
    with pytest.raises(ValueError, match="whole repetitions"):
        compare(np.arange(8.0), np.arange(8.0) + np.linspace(0, 1, 8))


# --- a hand-computed example: the corrected t-test, the posterior and the verdict rule -------------------
# Two repetitions of 3-fold CV (J = 6 runs); differences a - b in F1 (0-1 scale):
#     d = 0.025, 0.045, 0.035, 0.015, 0.055, 0.035
#     mean(d) = 0.210 / 6 = 0.035
#     deviations -0.010, 0.010, 0, -0.020, 0.020, 0 -> squares sum to 10e-4 -> s^2 = 10e-4 / 5 = 2e-4
# Nominal ratio n_test/n_train = 1/2 (3 folds):
#     se = sqrt((1/6 + 1/2) * 2e-4) = sqrt(1.3333e-4) = 0.011547
#     t  = 0.035 / 0.011547 = 3.0311, df 5: between t(5)'s 2.571 (p 0.05) and 3.365 (p 0.02); p = 0.0290
#     95% interval: 0.035 -/+ 2.5706 * 0.011547 = 0.035 -/+ 0.029683 = [0.005317, 0.064683]
#     posterior Student(5, 0.035, 0.011547), ROPE 0.01: P(a better) = P(T5 > (0.01 - 0.035) / 0.011547 = -2.165)
#     = 0.9587 >= 0.95 and p < 0.05 -> verdict "a"
# The subjects actually fitted on, 8 test against 12 training subjects: ratio 2/3:
#     se = sqrt((1/6 + 2/3) * 2e-4) = sqrt(1.6667e-4) = 0.012910; t = 0.035 / 0.012910 = 2.7111, p = 0.0422
#     P(a better) = P(T5 > -0.025 / 0.012910 = -1.9365) = 0.9447 < 0.95 -> verdict "unsure":
#     the ratio alone changes this verdict.
D = np.array([0.025, 0.045, 0.035, 0.015, 0.055, 0.035])
B = np.array([0.70, 0.72, 0.68, 0.71, 0.69, 0.73])


def test_corrected_t_test_by_hand():
    mean, low, high, t, p = corrected_t_test(B + D, B, 0.5)
    assert mean == pytest.approx(0.035)
    assert t == pytest.approx(3.0311, abs=1e-4) and p == pytest.approx(0.0290, abs=1e-4)
    assert (low, high) == (pytest.approx(0.005317, abs=1e-6), pytest.approx(0.064683, abs=1e-6))
    mean, low, high, t, p = corrected_t_test(B + D, B, 2 / 3)
    assert t == pytest.approx(2.7111, abs=1e-4) and p == pytest.approx(0.0422, abs=1e-4)


def test_the_verdict_rule_by_hand():
    nominal = compare(B + D, B, folds=3, rope=0.01)
    assert nominal.test_train_ratio == 0.5
    assert nominal.p_a_better == pytest.approx(0.9587, abs=1e-4) and nominal.verdict == "a"
    fitted = compare(B + D, B, folds=3, rope=0.01, test_train_ratio=2 / 3)
    assert fitted.p_a_better == pytest.approx(0.9447, abs=1e-4) and fitted.verdict == "unsure"
    assert compare(B, B + D, folds=3, rope=0.01).verdict == "b"  # the mirror image
    # the rule itself: both tests must agree on a side; "equal" needs 95% inside the ROPE
    assert verdict(0.04, 0.96, 0.03, 0.01) == "a"
    assert verdict(0.06, 0.99, 0.01, 0.00) == "unsure"  # the t-test does not reject
    assert verdict(0.01, 0.94, 0.05, 0.01) == "unsure"  # the posterior is not sure enough
    assert verdict(0.01, 0.01, 0.00, 0.99) == "b"
    assert verdict(0.50, 0.02, 0.96, 0.02) == "equal"
    changed = verdicts_by_ratio(B + D, B, 3, 0.01, {"nominal": 0.5, "subjects": 2 / 3})
    assert changed["changes"] and changed["by_ratio"]["subjects"]["verdict"] == "unsure"
    assert not verdicts_by_ratio(B + 2 * D, B, 3, 0.01, {"nominal": 0.5, "subjects": 2 / 3})["changes"]


def test_our_posterior_is_baycomps_at_baycomps_ratio():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.6, 0.03, 9), rng.normal(0.6, 0.03, 9)
    ours = bayesian_correlated(a, b, 3, 0.01, test_train_ratio=0.5)
    theirs = bayesian_correlated(a, b, 3, 0.01)  # baycomp.two_on_single, rho = 1/3
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_plausible_ratios_from_the_runs_splits():
    # SynthAU-BP4D's folds: 8 test subjects, 12 fitted on, 4 validating; 3840 / 5760 / 1920 faces
    split = {"train_subjects": 12, "val_subjects": 4, "test_subjects": 8, "train_faces": 5760, "val_faces": 1920,
             "test_faces": 3840}
    r = plausible_ratios([split, split], folds=3)
    assert r == pytest.approx({"subjects": 8 / 12, "subjects+val": 8 / 16, "faces": 3840 / 5760,
                               "faces+val": 3840 / 7680, "nominal": 0.5})


@pytest.mark.parametrize("runs,ratio", [(6, 0.5), (9, 2 / 3), (15, 2 / 3)])
def test_smallest_real_is_where_the_verdict_turns_real(runs, ratio):
    rng = np.random.default_rng(runs)
    noise = rng.normal(0, 0.03, runs)
    noise -= noise.mean()  # (J,) the spread alone; the mean is set below
    spread = float(noise.std(ddof=1))
    edge = smallest_real(spread, runs, ratio, rope=0.01)
    below = compare(noise + edge - 1e-4, np.zeros(runs), folds=3, rope=0.01, test_train_ratio=ratio)
    above = compare(noise + edge + 1e-4, np.zeros(runs), folds=3, rope=0.01, test_train_ratio=ratio)
    assert below.verdict != "a" and above.verdict == "a"
    assert spread_of(above) == pytest.approx(spread)
    assert spread_of(above.to_dict()) == pytest.approx(spread)


def test_more_runs_of_the_same_subjects_leave_a_floor():
    # at n_test/n_train 2/3 the interval cannot shrink below sqrt(2/3) of the spread, whatever the runs
    at = [smallest_real(0.03, j, 2 / 3, rope=0.01) for j in (9, 30, 300)]
    floor = smallest_real(0.03, math.inf, 2 / 3, rope=0.01)
    assert at[0] > at[1] > at[2] > floor
    assert floor == pytest.approx(max(1.959964 * 0.03 * math.sqrt(2 / 3), 0.01 + 1.644854 * 0.03 * math.sqrt(2 / 3)),
                                  rel=1e-5)
    assert at[0] / floor < 1.4  # 9 runs are already within 40% of as many as one likes
