"""Per-AU intensity scores the field reports: ICC(3,1), MAE and Pearson r, and their averages.

ICC(3,1) (Shrout & Fleiss 1979; two-way mixed, consistency, single rater) treats prediction and truth
as k = 2 "raters" of the same n frames. With the n×k table ``X`` (column 0 the truth, column 1 the
prediction), grand mean ``m``, row (frame) means ``r_i`` and column means ``c_j``::

    SS_rows = k Σ_i (r_i − m)²            BMS = SS_rows / (n − 1)
    SS_cols = n Σ_j (c_j − m)²
    SS_err  = Σ (X − m)² − SS_rows − SS_cols   EMS = SS_err / ((n − 1)(k − 1))
    ICC(3,1) = (BMS − EMS) / (BMS + (k − 1) EMS)

A constant offset between prediction and truth does not lower ICC(3,1) (it is consistency, not absolute
agreement); MAE sees it. Frames whose truth (or prediction) is NaN are left out of that AU's scores only.
An AU with fewer than two known frames, or whose truth and prediction are both constant, has no ICC and
no r (NaN, left out of the averages and named in ``undefined``). Equal to ``pingouin.intraclass_corr``'s
ICC3 and ``scipy.stats.pearsonr`` (tested).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def icc3_1(truth, prediction) -> float:
    """ICC(3,1) of two (n,) vectors; NaN when undefined (n < 2 or no variance at all)."""
    x = np.stack([np.asarray(truth, dtype=np.float64), np.asarray(prediction, dtype=np.float64)], 1)  # (n, 2)
    n, k = x.shape
    if n < 2:
        return float("nan")
    m = x.mean()
    ss_rows = k * ((x.mean(1) - m) ** 2).sum()
    ss_cols = n * ((x.mean(0) - m) ** 2).sum()
    ss_err = ((x - m) ** 2).sum() - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    ems = max(ss_err, 0.0) / ((n - 1) * (k - 1))
    denominator = bms + (k - 1) * ems
    return float((bms - ems) / denominator) if denominator > 1e-12 else float("nan")


def pearson_r(truth, prediction) -> float:
    """Pearson r of two (n,) vectors; NaN when either is constant or n < 2."""
    a = np.asarray(truth, dtype=np.float64)
    b = np.asarray(prediction, dtype=np.float64)
    if len(a) < 2:
        return float("nan")
    a = a - a.mean()
    b = b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 1e-12 else float("nan")


@dataclass
class IntensityScores:
    aus: list[int]
    icc: np.ndarray  # (C,), NaN where undefined
    mae: np.ndarray  # (C,), NaN where the AU has no known frame
    r: np.ndarray  # (C,), NaN where undefined
    frames: np.ndarray  # (C,) known frames
    undefined: list[int] = field(default_factory=list)

    @staticmethod
    def _mean(values: np.ndarray) -> float:
        defined = values[~np.isnan(values)]
        return float(defined.mean()) if len(defined) else float("nan")

    @property
    def mean_icc(self) -> float:
        return self._mean(self.icc)

    @property
    def mean_mae(self) -> float:
        return self._mean(self.mae)

    @property
    def mean_r(self) -> float:
        return self._mean(self.r)

    def to_dict(self) -> dict:
        def clean(v):
            return None if np.isnan(v) else float(v)
        return {"aus": list(self.aus), "icc": [clean(v) for v in self.icc], "mae": [clean(v) for v in self.mae],
                "r": [clean(v) for v in self.r], "frames": [int(v) for v in self.frames],
                "mean_icc": clean(self.mean_icc), "mean_mae": clean(self.mean_mae), "mean_r": clean(self.mean_r),
                "undefined": list(self.undefined)}

    @classmethod
    def from_dict(cls, doc: dict) -> "IntensityScores":
        def arr(values):
            return np.array([np.nan if v is None else v for v in values], dtype=float)
        return cls(list(doc["aus"]), arr(doc["icc"]), arr(doc["mae"]), arr(doc["r"]), np.array(doc["frames"]),
                   list(doc["undefined"]))

    def rows(self) -> list[dict]:
        """One dict per AU plus an ``avg`` row (for CSV tables)."""
        out = [{"au": f"AU{au}", "icc": float(i), "mae": float(m), "r": float(r), "frames": int(n)}
               for au, i, m, r, n in zip(self.aus, self.icc, self.mae, self.r, self.frames)]
        out.append({"au": "avg", "icc": self.mean_icc, "mae": self.mean_mae, "r": self.mean_r,
                    "frames": int(self.frames.sum())})
        return out


def intensity_scores(predictions, intensities, aus=None) -> IntensityScores:
    """Scores of (N, C) predicted intensities against (N, C) true intensities (NaN = unknown), both 0–5."""
    p = np.asarray(predictions, dtype=np.float64)
    y = np.asarray(intensities, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 2:
        raise ValueError(f"predictions {p.shape} and intensities {y.shape} must both be (N, C)")
    aus = list(aus) if aus is not None else list(range(p.shape[1]))
    icc, mae, r, frames, undefined = [], [], [], [], []
    for c in range(p.shape[1]):
        known = ~np.isnan(y[:, c]) & ~np.isnan(p[:, c])
        yc, pc = y[known, c], p[known, c]
        frames.append(int(known.sum()))
        mae.append(float(np.abs(pc - yc).mean()) if len(yc) else float("nan"))
        icc.append(icc3_1(yc, pc))
        r.append(pearson_r(yc, pc))
        if np.isnan(icc[-1]) or np.isnan(r[-1]):
            undefined.append(aus[c])
    return IntensityScores(aus, np.array(icc), np.array(mae), np.array(r), np.array(frames), undefined)
