"""Paired comparisons of two models over the same cross-validation runs, corrected for their correlation.

Runs that share training subjects are not independent, so a plain paired t-test over (fold, seed) runs
calls too many differences real. Two tests made for this case:

* the Nadeau–Bengio corrected resampled t-test (Nadeau & Bengio, Machine Learning 2003): the variance of
  the mean difference is inflated by n_test / n_train, the overlap of the training sets;
* the Bayesian correlated t-test of ``baycomp`` (Corani & Benavoli 2015), a Student posterior with the
  same correction, with a region of practical equivalence (ROPE): it says how probable it is that one
  model is better by more than the ROPE, that both are practically equal, or that the other is better.
  baycomp fixes n_test / n_train at 1 / (folds − 1); with another ratio the same posterior is computed
  here (tested equal to baycomp's at baycomp's ratio).

Both take the per-run scores of the two models in the same (fold, repetition) order. Both assume that
each repetition re-partitions the subjects (Bouckaert & Frank 2004): r seeds on one fold assignment give
only k distinct test sets, so the benchmarks repeat over random subject-exclusive assignments.

**The ratio n_test / n_train.** 3-fold cross-validation suggests 1/2, but a run fits on fewer subjects
than the two other parts hold: validation subjects (held out of the training parts to choose the epoch)
are not fitted on. The benchmarks therefore use the subjects a run actually fitted on:
n_test / n_train = test subjects / training subjects without the validation ones, averaged over the
runs (:func:`plausible_ratios`): on SynthAU-BP4D's 24 subjects, 8 test subjects against the 12 fitted on
(the 16 of the other two parts less 4 validation subjects), 8/12 rather than 1/2. Subjects, not faces: the faces of one subject are strongly correlated, so the
subject is the unit the correction is about (the resampling draws subjects, not faces); and with parts
balanced by frame count the two differ little anyway. Because the choice is a judgement, every report
also gives the verdict under the other plausible ratios (faces; with and without the validation
subjects; the nominal 1 / (k − 1)) and says whether it changes (:func:`verdicts_by_ratio`).
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
    p_a_better: float  # Bayesian correlated t-test: P(a - b > rope)
    p_equal: float  # P(|a - b| <= rope)
    p_b_better: float
    runs: int
    rope: float
    test_train_ratio: float = 0.5  # the n_test / n_train both tests used

    @property
    def verdict(self) -> str:
        """'a', 'b' when the corrected t-test finds a difference at 5% *and* the posterior puts >= 95% on
        that side; 'equal' when the posterior puts >= 95% inside the ROPE; otherwise 'unsure'."""
        return verdict(self.p, self.p_a_better, self.p_equal, self.p_b_better)

    def to_dict(self) -> dict:
        return {**asdict(self), "verdict": self.verdict}


#: the verdict rule's levels: the corrected t-test's p below ALPHA and a posterior of at least SURE
ALPHA, SURE = 0.05, 0.95


def verdict(p: float, p_a_better: float, p_equal: float, p_b_better: float, alpha: float = ALPHA,
            sure: float = SURE) -> str:
    """The verdict rule (see :attr:`PairedComparison.verdict`): both tests must agree for a winner."""
    if p < alpha and p_a_better >= sure:
        return "a"
    if p < alpha and p_b_better >= sure:
        return "b"
    if p_equal >= sure:
        return "equal"
    return "unsure"


def corrected_t_test(a, b, test_train_ratio: float) -> tuple[float, float, float, float, float]:
    """(mean diff, ci low, ci high, t, p) of the Nadeau–Bengio corrected resampled t-test.

    t = mean(d) / sqrt((1/J + n_test/n_train) · s²(d)), J runs, s² with ddof 1, J − 1 degrees of freedom.
    ``test_train_ratio`` is n_test / n_train of one run (nominally 1/2 for 3-fold cross-validation)."""
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


def bayesian_correlated(a, b, folds: int, rope: float, test_train_ratio: float | None = None
                        ) -> tuple[float, float, float]:
    """(P(a better), P(equal within rope), P(b better)) of the Bayesian correlated t-test; the runs are
    ``folds``-fold cross-validations repeated len(a) / folds times.

    With ``test_train_ratio`` None this is baycomp's ``two_on_single`` (n_test / n_train = 1 / (folds − 1));
    otherwise its posterior, Student(J − 1, mean(d), sqrt((1/J + ratio) · s²(d))), with that ratio."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) % folds:
        raise ValueError(f"{len(a)} runs are not whole repetitions of {folds} folds")
    d = a - b
    if np.allclose(d, d[0]):  # the posterior's scale is 0: a constant difference is certain
        m = float(d[0])
        return (float(m > rope), float(abs(m) <= rope), float(m < -rope))
    if test_train_ratio is None:
        from baycomp import two_on_single

        left, middle, right = two_on_single(b, a, rope=rope, runs=len(a) // folds)  # left: b better, right: a better
        return float(right), float(middle), float(left)
    j = len(d)
    posterior = stats.t(j - 1, loc=float(d.mean()), scale=math.sqrt((1.0 / j + test_train_ratio) * d.var(ddof=1)))
    low, high = float(posterior.cdf(-rope)), float(posterior.cdf(rope))
    return 1.0 - high, high - low, low


def compare(a, b, folds: int = 3, rope: float = 0.01, test_train_ratio: float | None = None) -> PairedComparison:
    """Paired comparison of per-run scores ``a`` and ``b`` (same (fold, repetition) order) from ``folds``-fold
    cross-validation; ``rope`` in the scores' units (0.01 = one point of F1 on a 0–1 scale).

    ``test_train_ratio`` None: the nominal 1 / (folds − 1), each run testing on one part and training on the
    others; pass the ratio of the subjects the runs fitted on (:func:`plausible_ratios`) instead."""
    ratio = 1.0 / (folds - 1) if test_train_ratio is None else float(test_train_ratio)
    mean, low, high, t, p = corrected_t_test(a, b, ratio)
    pa, pe, pb = bayesian_correlated(a, b, folds, rope, ratio)
    return PairedComparison(mean, low, high, t, p, pa, pe, pb, len(a), rope, ratio)


def smallest_real(spread: float, runs: float, test_train_ratio: float, rope: float,
                  alpha: float = ALPHA, sure: float = SURE) -> float:
    """The smallest mean difference the verdict rule calls real ('a') when the per-run differences spread by
    ``spread`` (their standard deviation, ddof 1) over ``runs`` J runs: the corrected t-test's two-sided p below
    ``alpha`` needs mean > t(1 − alpha/2) · se, the posterior's P(difference > rope) >= ``sure`` needs
    mean > rope + t(sure) · se, with se = sqrt((1/J + n_test/n_train) · spread²).

    ``runs`` = ``math.inf``: as many runs as one likes. The correction n_test / n_train still keeps se above
    0 then: re-splitting the same subjects more often cannot remove the overlap of the training sets."""
    inv_j, dist = (0.0, stats.norm) if math.isinf(runs) else (1.0 / runs, stats.t(runs - 1))
    se = math.sqrt(inv_j + test_train_ratio) * spread
    return max(float(dist.ppf(1 - alpha / 2)) * se, rope + float(dist.ppf(sure)) * se)


def spread_of(c: dict) -> float:
    """The standard deviation (ddof 1) of the per-run differences behind a comparison (``PairedComparison``
    or its ``to_dict()``), read back from its interval."""
    get = c.get if isinstance(c, dict) else lambda k: getattr(c, k)
    j, ratio = get("runs"), get("test_train_ratio")
    se = (get("ci_high") - get("mean_diff")) / float(stats.t.ppf(0.975, j - 1))
    return se / math.sqrt(1.0 / j + ratio)


#: the ratio a comparison uses; the others are shown beside it
PRIMARY_RATIO = "subjects"
RATIO_NAMES = {
    "subjects": "test subjects / training subjects fitted on (validation subjects excluded)",
    "subjects+val": "test subjects / training and validation subjects",
    "faces": "test faces / training faces fitted on",
    "faces+val": "test faces / training and validation faces",
    "nominal": "1 / (folds - 1), as if every subject of the other parts were fitted on",
}


def plausible_ratios(splits: list[dict], folds: int) -> dict[str, float]:
    """n_test / n_train under each reading of :data:`RATIO_NAMES`, averaged over the runs' splits.

    ``splits``: per run, the counts ``train_subjects``, ``val_subjects``, ``test_subjects``,
    ``train_faces`` (the faces fitted on), ``val_faces``, ``test_faces``."""
    if not splits:
        return {"nominal": 1.0 / (folds - 1)}

    def mean(f):
        return float(np.mean([f(s) for s in splits]))

    return {"subjects": mean(lambda s: s["test_subjects"] / s["train_subjects"]),
            "subjects+val": mean(lambda s: s["test_subjects"] / (s["train_subjects"] + s["val_subjects"])),
            "faces": mean(lambda s: s["test_faces"] / s["train_faces"]),
            "faces+val": mean(lambda s: s["test_faces"] / (s["train_faces"] + s["val_faces"])),
            "nominal": 1.0 / (folds - 1)}


def verdicts_by_ratio(a, b, folds: int, rope: float, ratios: dict[str, float]) -> dict:
    """``{"by_ratio": {name: {ratio, p, verdict}}, "changes": bool}``: does the verdict depend on the ratio?"""
    by = {}
    for name, ratio in ratios.items():
        c = compare(a, b, folds, rope, ratio)
        by[name] = {"ratio": ratio, "p": c.p, "ci_low": c.ci_low, "ci_high": c.ci_high, "verdict": c.verdict}
    return {"by_ratio": by, "changes": len({v["verdict"] for v in by.values()}) > 1}
