"""Paired comparisons of two models over the same cross-validation runs, corrected for their correlation.

Runs that share training subjects are not independent, so a plain paired t-test over (fold, seed) runs
calls too many differences real. Two tests made for this case:

* the Nadeau–Bengio corrected resampled t-test (Nadeau & Bengio, Machine Learning 2003): the variance of
  the mean difference is inflated by n_test / n_train, the overlap of the training sets;
* the Bayesian correlated t-test of ``baycomp`` (Corani & Benavoli 2015), whose correlation is
  1 / folds, with a region of practical equivalence (ROPE): it says how probable it is that one model is
  better by more than the ROPE, that both are practically equal, or that the other is better.

Both take the per-run scores of the two models in the same (fold, seed) order.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass
class PairedComparison:
    mean_diff: float  # mean of (a - b) over the runs
    ci_low: float  # 95% interval of the mean difference, corrected
    ci_high: float
    t: float
    p: float  # two-sided, corrected resampled t-test
    p_a_better: float  # baycomp: P(a - b > rope)
    p_equal: float  # P(|a - b| <= rope)
    p_b_better: float
    runs: int
    rope: float

    @property
    def verdict(self) -> str:
        """'a', 'b' when the corrected t-test finds a difference at 5% *and* the posterior puts >= 95% on
        that side; 'equal' when the posterior puts >= 95% inside the ROPE; otherwise 'unsure'."""
        if self.p < 0.05 and self.p_a_better >= 0.95:
            return "a"
        if self.p < 0.05 and self.p_b_better >= 0.95:
            return "b"
        if self.p_equal >= 0.95:
            return "equal"
        return "unsure"

    def to_dict(self) -> dict:
        return {**asdict(self), "verdict": self.verdict}


def corrected_t_test(a, b, test_train_ratio: float) -> tuple[float, float, float, float, float]:
    """(mean diff, ci low, ci high, t, p) of the Nadeau–Bengio corrected resampled t-test.

    ``test_train_ratio`` is n_test / n_train of one run (1/2 for 3-fold cross-validation)."""
    d = np.asarray(a, float) - np.asarray(b, float)  # (J,)
    j = len(d)
    if j < 2:
        raise ValueError("a paired test needs at least two runs")
    mean, var = float(d.mean()), float(d.var(ddof=1))
    se = math.sqrt((1.0 / j + test_train_ratio) * var)
    half = float(stats.t.ppf(0.975, j - 1)) * se
    if se == 0.0:
        t, p = (0.0, 1.0) if mean == 0.0 else (math.copysign(math.inf, mean), 0.0)
    else:
        t = mean / se
        p = float(2 * stats.t.sf(abs(t), j - 1))
    return mean, mean - half, mean + half, t, p


def bayesian_correlated(a, b, folds: int, rope: float) -> tuple[float, float, float]:
    """(P(a better), P(equal within rope), P(b better)) of baycomp's correlated t-test; the runs are
    ``folds``-fold cross-validations repeated len(a) / folds times."""
    from baycomp import two_on_single

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) % folds:
        raise ValueError(f"{len(a)} runs are not whole repetitions of {folds} folds")
    d = a - b
    if np.allclose(d, d[0]):  # baycomp divides by the variance: a constant difference is certain
        m = float(d[0])
        return (float(m > rope), float(abs(m) <= rope), float(m < -rope))
    left, middle, right = two_on_single(b, a, rope=rope, runs=len(a) // folds)  # left: b better, right: a better
    return float(right), float(middle), float(left)


def compare(a, b, folds: int = 3, rope: float = 0.01) -> PairedComparison:
    """Paired comparison of per-run scores ``a`` and ``b`` (same (fold, seed) order) from ``folds``-fold
    cross-validation; ``rope`` in the scores' units (0.01 = one point of F1 on a 0–1 scale)."""
    ratio = 1.0 / (folds - 1)  # each run tests on one part and trains on the other folds - 1
    mean, low, high, t, p = corrected_t_test(a, b, ratio)
    pa, pe, pb = bayesian_correlated(a, b, folds, rope)
    return PairedComparison(mean, low, high, t, p, pa, pe, pb, len(a), rope)
