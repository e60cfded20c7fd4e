"""Per-AU F1 and AUC and their averages, through scikit-learn.

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
    (default: labels that are NaN are unknown)."""
    from sklearn.metrics import f1_score, roc_auc_score

    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 2:
        raise ValueError(f"probabilities {p.shape} and labels {y.shape} must both be (N, C)")
    known = ~np.isnan(y) if known is None else np.asarray(known, dtype=bool)
    num_aus = p.shape[1]
    aus = list(aus) if aus is not None else list(range(num_aus))
    f1 = np.zeros(num_aus)
    auc = np.full(num_aus, np.nan)
    positives = np.zeros(num_aus, dtype=np.int64)
    frames = known.sum(0)
    undefined = []
    for c in range(num_aus):
        m = known[:, c]
        yc = y[m, c].astype(np.int64)
        pc = p[m, c]
        positives[c] = int(yc.sum())
        if m.any():
            f1[c] = f1_score(yc, (pc >= threshold).astype(np.int64), zero_division=0)
        if 0 < positives[c] < len(yc):
            auc[c] = roc_auc_score(yc, pc)
        else:
            undefined.append(aus[c])
    return AUScores(aus, f1, auc, positives, frames, undefined)
