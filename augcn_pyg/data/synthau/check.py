"""The paper's graph rule on labels, and how far a graph is from Table 1 (for tuning, tests and docs).

``M[i, j] = P(AU_j = 1 | AU_i = 1)`` over frames, ``Msym = M + M^T``, ``Mbool = Msym >= threshold`` with
the diagonal set to 1 (paper section 3.4). Kept here in a few lines of numpy so SynthAU does not depend on
the relation builder; the tests also check it against :class:`augcn_pyg.relations.RelationBuilder`.
"""
from __future__ import annotations

import numpy as np


def conditional(labels: np.ndarray) -> np.ndarray:
    """(C, C) ``M[i, j] = P(j | i)`` from (N, C) 0/1 labels (0 where AU i never occurs)."""
    y = np.asarray(labels, dtype=np.float64)
    joint = y.T @ y  # (C, C) co-occurrence counts
    n = np.diag(joint)
    return np.divide(joint, n[:, None], out=np.zeros_like(joint), where=n[:, None] > 0)


def msym(labels: np.ndarray) -> np.ndarray:
    m = conditional(labels)
    return m + m.T


def phi(labels: np.ndarray) -> np.ndarray:
    """(C, C) phi coefficient (Pearson correlation of 0/1 labels); 0 for a constant column."""
    y = np.asarray(labels, dtype=np.float64)
    y = y - y.mean(0)
    sd = np.sqrt((y ** 2).mean(0))
    cov = y.T @ y / len(y)
    den = np.outer(sd, sd)
    return np.divide(cov, den, out=np.zeros_like(cov), where=den > 0)


def differing_pairs(score: np.ndarray, table: np.ndarray, threshold: float) -> int:
    """Upper-triangle pairs where ``score >= threshold`` disagrees with ``table``."""
    iu = np.triu_indices(len(table), 1)
    return int(((score[iu] >= threshold) != (np.asarray(table)[iu] > 0)).sum())


def best_threshold(score: np.ndarray, table: np.ndarray,
                   thresholds: np.ndarray | None = None) -> tuple[float, int]:
    """``(threshold, differing pairs)`` at the threshold (lowest among ties) that best matches ``table``."""
    if thresholds is None:
        thresholds = np.round(np.arange(0.05, 2.0001, 0.01), 2)
    diffs = [differing_pairs(score, table, t) for t in thresholds]
    i = int(np.argmin(diffs))
    return float(thresholds[i]), diffs[i]
