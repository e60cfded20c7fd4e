"""Per-AU F1 and AUC and their averages, equal to scikit-learn's.

The field's convention (ME-GraphAU's ``utils.py``, the paper): F1 per AU at threshold 0.5, counted over
all test frames of a fold at once, then averaged over AUs; AUC per AU likewise. Frames whose label is
unknown are left out of that AU's scores only. An AU whose test frames are all of one class has no AUC
(NaN, left out of the average and named in ``undefined_auc``); its F1 is 0 when it never occurs and is
never predicted (scikit-learn's ``zero_division=0``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class AUScores:
    aus: list[int]
    f1: np.ndarray  # (C,)
    auc: np.ndarray  # (C,), NaN where undefined
    positives: np.ndarray  # (C,) positive test frames
    frames: np.ndarray  # (C,) known test frames
    undefined_auc: list[int] = field(default_factory=list)

    @property
    def mean_f1(self) -> float:
        return float(np.mean(self.f1))

    @property
    def mean_auc(self) -> float:
        defined = self.auc[~np.isnan(self.auc)]
        return float(defined.mean()) if len(defined) else float("nan")

    def to_dict(self) -> dict:
        return {"aus": list(self.aus), "f1": [float(v) for v in self.f1],
                "auc": [None if np.isnan(v) else float(v) for v in self.auc],
                "positives": [int(v) for v in self.positives], "frames": [int(v) for v in self.frames],
                "mean_f1": self.mean_f1, "mean_auc": None if np.isnan(self.mean_auc) else self.mean_auc,
                "undefined_auc": list(self.undefined_auc)}

    @classmethod
    def from_dict(cls, doc: dict) -> "AUScores":
        """The inverse of :meth:`to_dict` (e.g. a run's ``test_metrics.json``)."""
        return cls(list(doc["aus"]), np.array(doc["f1"], dtype=float),
                   np.array([np.nan if v is None else v for v in doc["auc"]], dtype=float),
                   np.array(doc["positives"]), np.array(doc["frames"]), list(doc["undefined_auc"]))

    def rows(self) -> list[dict]:
        """One dict per AU plus an ``avg`` row (for CSV tables)."""
        out = [{"au": f"AU{au}", "f1": float(f), "auc": float(a), "positives": int(p), "frames": int(n)}
               for au, f, a, p, n in zip(self.aus, self.f1, self.auc, self.positives, self.frames)]
        out.append({"au": "avg", "f1": self.mean_f1, "auc": self.mean_auc,
                    "positives": int(self.positives.sum()), "frames": int(self.frames.sum())})
        return out


def au_scores(probabilities, labels, known=None, aus=None, threshold: float = 0.5) -> AUScores:
    """Scores of (N, C) probabilities against (N, C) 0/1 labels; ``known`` (N, C) bool masks unknowns
    (default: labels that are NaN are unknown).

    Counted directly rather than through one scikit-learn call per AU: training validates every epoch,
    and scikit-learn's input checks made that ~0.3 s of a 0.5 s frozen-encoder epoch. The results equal
    ``f1_score(zero_division=0)`` and ``roc_auc_score`` (tested): F1 from the confusion counts, AUC as the
    Mann-Whitney statistic on average ranks, which is the trapezoidal ROC area with ties included.
    """
    from scipy.stats import rankdata

    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 2:
        raise ValueError(f"probabilities {p.shape} and labels {y.shape} must both be (N, C)")
    known = ~np.isnan(y) if known is None else np.asarray(known, dtype=bool)
    num_aus = p.shape[1]
    aus = list(aus) if aus is not None else list(range(num_aus))
    present = known & (np.nan_to_num(y) > 0.5)  # (N, C)
    absent = known & ~present
    predicted = p >= threshold
    tp = (predicted & present).sum(0)  # (C,)
    errors = (predicted & absent).sum(0) + (~predicted & present).sum(0)  # fp + fn
    f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + errors, 1), 0.0)
    positives = present.sum(0)
    frames = known.sum(0)
    auc = np.full(num_aus, np.nan)
    undefined = []
    for c in range(num_aus):
        if not 0 < positives[c] < frames[c]:
            undefined.append(aus[c])
            continue
        m = known[:, c]
        ranks = rankdata(p[m, c])  # average ranks: ties count one half
        n_pos, n_neg = positives[c], frames[c] - positives[c]
        auc[c] = (ranks[present[m, c]].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return AUScores(aus, f1.astype(np.float64), auc, positives.astype(np.int64), frames, undefined)
