r"""AU co-occurrence statistics and the relation measures computed from them.

The paper (§3.4) fits, over the training labels,

.. math::
    M_{ij} = P(\mathrm{AU}_j = 1 \mid \mathrm{AU}_i = 1), \quad
    M^{sym} = M + M^\top, \quad M^{bool}_{ij} = [M^{sym}_{ij} \ge h];

here :data:`MEASURES` holds that measure (``conditional``) and base-rate-corrected ones (lift, phi, PMI),
:data:`SYMMETRIZE` the ways a directed measure is made symmetric, and :data:`DEFAULT_THRESHOLDS` the
default :math:`h` of each measure.

Labels are an (N, C) matrix: 1 present, 0 absent, unknown as NaN, -1 or 9 (BP4D). Unknown entries are
left out pair by pair: the statistics of pair (i, j) use the frames where both are known. All counts
are matrix products over frames (no Python loop over frames).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.registry import Registry

# ---------------------------------------------------------------------------------------------------
# Pair counts
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairCounts:
    """Pairwise counts over frames where both AUs of the pair are known; all (C, C) float64.

    ``n11[i, j]``: frames with i and j present; ``n1x[i, j]``: i present (j known);
    ``n[i, j]``: frames where both are known. ``n1x.T`` is "j present (i known)".
    """

    n11: np.ndarray
    n1x: np.ndarray
    n: np.ndarray

    @property
    def nx1(self) -> np.ndarray:
        return self.n1x.T

    @property
    def rates(self) -> np.ndarray:
        """(C,) occurrence rate of each AU over the frames where it is known."""
        known = np.diag(self.n)
        return np.divide(np.diag(self.n11), known, out=np.zeros_like(known), where=known > 0)


def normalise_labels(labels, num_aus: int | None = None) -> np.ndarray:
    """(N, C) labels with 1/0/unknown (NaN, -1 or 9) -> float32 with NaN for unknown.

    Raises :class:`InputError` for a wrong shape, an empty matrix or other values.
    """
    arr = np.array(labels, dtype=np.float32)  # a copy: the caller's array is never modified
    if arr.ndim != 2:
        raise InputError(f"labels must be a 2-D (frames x AUs) matrix, got shape {arr.shape}")
    if num_aus is not None and arr.shape[1] != num_aus:
        raise InputError(f"labels have {arr.shape[1]} AU columns, the protocol has {num_aus}")
    if arr.shape[0] == 0:
        raise InputError("the label set is empty (no frames)")
    arr[(arr == -1) | (arr == 9)] = np.nan
    bad = (arr != 0) & (arr != 1) & ~np.isnan(arr)
    if bad.any():
        values = np.unique(arr[bad])[:5]
        raise InputError(f"labels must be 1, 0 or unknown (NaN, -1, 9); found {values.tolist()}")
    return arr


def pair_counts(labels) -> PairCounts:
    """Count co-occurrences with three (C, N) x (N, C) matrix products.

    ``labels`` as accepted by :func:`normalise_labels`. Products run in float32 (exact for counts below
    2**24 frames) and in float64 beyond.
    """
    arr = normalise_labels(labels)
    dtype = np.float32 if arr.shape[0] < 2**24 else np.float64
    known = (~np.isnan(arr)).astype(dtype)  # (N, C)
    present = (arr == 1).astype(dtype)  # (N, C) 1 where present (NaN compares unequal)
    return PairCounts(n11=(present.T @ present).astype(np.float64), n1x=(present.T @ known).astype(np.float64),
                      n=(known.T @ known).astype(np.float64))


# ---------------------------------------------------------------------------------------------------
# Measures (registry)
# ---------------------------------------------------------------------------------------------------

def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


def conditional(c: PairCounts) -> np.ndarray:
    """M[i, j] = P(j | i) (not symmetric; symmetrised afterwards)."""
    return _div(c.n11, c.n1x)


def lift(c: PairCounts) -> np.ndarray:
    """P(i, j) / (P(i) P(j)) = n11 n / (n1. n.1); 1 under independence."""
    return _div(c.n11 * c.n, c.n1x * c.nx1)


def phi(c: PairCounts) -> np.ndarray:
    """Phi (Matthews) coefficient of the 2x2 table of i and j; 0 under independence."""
    n10 = c.n1x - c.n11
    n01 = c.nx1 - c.n11
    n00 = c.n - c.n11 - n10 - n01
    den = np.sqrt(c.n1x * (c.n - c.n1x) * c.nx1 * (c.n - c.nx1))
    return _div(c.n11 * n00 - n10 * n01, den)


def pmi(c: PairCounts) -> np.ndarray:
    """log lift; 0 under independence, -inf for pairs never seen together (clipped to -10)."""
    lf = lift(c)
    with np.errstate(divide="ignore"):
        return np.where(lf > 0, np.log(np.maximum(lf, 1e-300)), -10.0).clip(min=-10.0)


@dataclass(frozen=True)
class Measure:
    """A pairwise relation measure: how to compute it, its value under independence, its range."""

    fn: Callable[[PairCounts], np.ndarray]
    #: score of pair (i, j) under independence, given the rates (C,) -> (C, C), before symmetrising
    independent: Callable[[np.ndarray], np.ndarray]
    low: float
    high: float
    #: needs symmetrising (only the paper's P(j | i))
    directed: bool = False


MEASURES: Registry[Measure] = Registry("measure")
# independent AUs: P(j | i) = r_j in every row
MEASURES.register("conditional", Measure(conditional, lambda r: np.tile(r, (len(r), 1)), 0.0, 1.0, directed=True))
MEASURES.register("lift", Measure(lift, lambda r: np.ones((len(r), len(r))), 0.0, np.inf))
MEASURES.register("phi", Measure(phi, lambda r: np.zeros((len(r), len(r))), -1.0, 1.0))
MEASURES.register("pmi", Measure(pmi, lambda r: np.zeros((len(r), len(r))), -10.0, np.inf))

#: how a directed measure M becomes symmetric; (function, range multiplier)
SYMMETRIZE: Registry[tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], float]] = Registry("symmetrize mode")
SYMMETRIZE.register("sum", (np.add, 2.0))  # the paper: Msym = M + M^T, in [0, 2]
SYMMETRIZE.register("mean", (lambda a, b: (a + b) / 2, 1.0))
SYMMETRIZE.register("max", (np.maximum, 1.0))
SYMMETRIZE.register("min", (np.minimum, 1.0))


#: The default threshold of each measure (the paper states none; docs/relation-graphs.md says how these
#: were chosen). ``conditional`` is given for the paper's ``symmetrize="sum"`` (Msym in [0, 2]) and scaled
#: to the other modes by :func:`default_threshold`: 1.0 is the middle of Msym's range (the mean of P(j | i)
#: and P(i | j) is at least one half), and SynthAU-BP4D, whose relations were fitted to Table 1 at 1.0,
#: gives Table 1 back there. lift 1.5, phi 0.1, pmi 0.4: co-occurrence clearly above independence (1, 0, 0).
DEFAULT_THRESHOLDS: dict[str, float] = {"conditional": 1.0, "lift": 1.5, "phi": 0.1, "pmi": 0.4}


def score_range(measure: str, symmetrize: str = "sum") -> tuple[float, float]:
    """The values the symmetrised measure can take: thresholds outside it are rejected."""
    m = MEASURES.lookup(measure)
    if m.directed:
        _, scale = SYMMETRIZE.lookup(symmetrize)
        return m.low * scale, m.high * scale
    return m.low, m.high


def default_threshold(measure: str = "conditional", symmetrize: str = "sum") -> float:
    """The threshold used when none is given: :data:`DEFAULT_THRESHOLDS`, for a directed measure scaled
    from ``sum``'s range to ``symmetrize``'s (conditional: sum 1.0, mean / max / min 0.5)."""
    m = MEASURES.lookup(measure)
    t = DEFAULT_THRESHOLDS[measure]
    if m.directed:
        t *= SYMMETRIZE.lookup(symmetrize)[1] / SYMMETRIZE["sum"][1]
    return t


def symmetric_score(measure: str, symmetrize: str, counts: PairCounts) -> np.ndarray:
    m = MEASURES.lookup(measure)
    raw = m.fn(counts)
    return SYMMETRIZE.lookup(symmetrize)[0](raw, raw.T) if m.directed else raw


def independence_score(measure: str, symmetrize: str, rates: np.ndarray) -> np.ndarray:
    """(C, C) the symmetrised score two AUs with these rates would get if they were independent.

    For the paper's measure this is ``r_i + r_j``: frequent independent AUs look related.
    """
    m = MEASURES.lookup(measure)
    raw = m.independent(np.asarray(rates, dtype=np.float64))
    return SYMMETRIZE.lookup(symmetrize)[0](raw, raw.T) if m.directed else raw
