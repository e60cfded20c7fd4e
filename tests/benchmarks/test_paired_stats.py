import numpy as np
import pytest
from scipy import stats

from benchmarks.paired_stats import compare, corrected_t_test


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
