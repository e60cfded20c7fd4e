"""How far SynthAU's relations are from the paper's Table 1 (for tuning, tests and docs).

The statistics come from :mod:`augcn_pyg.graph.relations` (the same code the ``build-graph`` command runs):
``msym`` is the paper's ``Msym = M + M^T`` with ``M[i, j] = P(j | i)``, ``phi`` the base-rate-corrected
correlation.
"""
from __future__ import annotations

import numpy as np

from augcn_pyg.graph.relations import MEASURES, pair_counts, symmetric_score


def msym(labels: np.ndarray) -> np.ndarray:
    """(C, C) the paper's ``M + M^T`` from (N, C) labels."""
    return symmetric_score("conditional", "sum", pair_counts(labels))


def phi(labels: np.ndarray) -> np.ndarray:
    """(C, C) phi coefficient of every AU pair (0 for a constant column)."""
    return MEASURES["phi"].fn(pair_counts(labels))


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
