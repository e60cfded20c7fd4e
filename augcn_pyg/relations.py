r"""AU relation graphs: co-occurrence statistics, thresholding, the ROI-graph rules, graph files.

The paper (§3.4) fits, over the training labels,

.. math::
    M_{ij} = P(\mathrm{AU}_j = 1 \mid \mathrm{AU}_i = 1), \quad
    M^{sym} = M + M^\top, \quad M^{bool}_{ij} = [M^{sym}_{ij} \ge h],

then joins ROIs: (1) self-loops, (2) left/right (upper/lower) partners, (3) every ROI of AU *i* to every
ROI of AU *j* when :math:`M^{bool}_{ij} = 1`, (4) the global ROI to every node. Beyond the paper:
base-rate-corrected measures (lift, phi, PMI) and a ``negative`` rule (pairs that almost never co-occur).

Labels are an (N, C) matrix: 1 present, 0 absent, unknown as NaN, -1 or 9 (BP4D). Unknown entries are
left out pair by pair: the statistics of pair (i, j) use the frames where both are known. All counts
are matrix products over frames (no Python loop over frames).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .aus import Protocol, get_protocol
from .errors import InputError

#: ROI-graph rules in precedence order: an edge made by several rules carries the first one's type.
RULES: tuple[str, ...] = ("self", "symmetric", "global", "cooccurrence", "negative")
PAPER_RULES: tuple[str, ...] = ("self", "symmetric", "cooccurrence", "global")

GRAPH_FORMAT = "augcn-pyg/relation-graph"
GRAPH_FORMAT_VERSION = 1


class RelationWarning(UserWarning):
    """A fitted statistic that deserves the user's attention (e.g. an AU that never occurs)."""


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


MEASURES: dict[str, Measure] = {
    # independent AUs: P(j | i) = r_j in every row
    "conditional": Measure(conditional, lambda r: np.tile(r, (len(r), 1)), 0.0, 1.0, directed=True),
    "lift": Measure(lift, lambda r: np.ones((len(r), len(r))), 0.0, np.inf),
    "phi": Measure(phi, lambda r: np.zeros((len(r), len(r))), -1.0, 1.0),
    "pmi": Measure(pmi, lambda r: np.zeros((len(r), len(r))), -10.0, np.inf),
}

#: how a directed measure M becomes symmetric; (function, range multiplier)
SYMMETRIZE: dict[str, tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], float]] = {
    "sum": (np.add, 2.0),  # the paper: Msym = M + M^T, in [0, 2]
    "mean": (lambda a, b: (a + b) / 2, 1.0),
    "max": (np.maximum, 1.0),
    "min": (np.minimum, 1.0),
}


#: The default threshold of each measure (the paper states none; docs/relation-graphs.md says how these
#: were chosen). ``conditional`` is given for the paper's ``symmetrize="sum"`` (Msym in [0, 2]) and scaled
#: to the other modes by :func:`default_threshold`: 1.0 is the middle of Msym's range (the mean of P(j | i)
#: and P(i | j) is at least one half), and SynthAU-BP4D, whose relations were fitted to Table 1 at 1.0,
#: gives Table 1 back there. lift 1.5, phi 0.1, pmi 0.4: co-occurrence clearly above independence (1, 0, 0).
DEFAULT_THRESHOLDS: dict[str, float] = {"conditional": 1.0, "lift": 1.5, "phi": 0.1, "pmi": 0.4}


def _choice(registry: dict, name: str, what: str):
    try:
        return registry[name]
    except KeyError:
        raise InputError(f"unknown {what} {name!r}; choose from {', '.join(registry)}") from None


def score_range(measure: str, symmetrize: str = "sum") -> tuple[float, float]:
    """The values the symmetrised measure can take: thresholds outside it are rejected."""
    m = _choice(MEASURES, measure, "measure")
    if m.directed:
        _, scale = _choice(SYMMETRIZE, symmetrize, "symmetrize mode")
        return m.low * scale, m.high * scale
    return m.low, m.high


def default_threshold(measure: str = "conditional", symmetrize: str = "sum") -> float:
    """The threshold used when none is given: :data:`DEFAULT_THRESHOLDS`, for a directed measure scaled
    from ``sum``'s range to ``symmetrize``'s (conditional: sum 1.0, mean / max / min 0.5)."""
    m = _choice(MEASURES, measure, "measure")
    t = DEFAULT_THRESHOLDS[measure]
    if m.directed:
        t *= _choice(SYMMETRIZE, symmetrize, "symmetrize mode")[1] / SYMMETRIZE["sum"][1]
    return t


def symmetric_score(measure: str, symmetrize: str, counts: PairCounts) -> np.ndarray:
    m = _choice(MEASURES, measure, "measure")
    raw = m.fn(counts)
    return _choice(SYMMETRIZE, symmetrize, "symmetrize mode")[0](raw, raw.T) if m.directed else raw


def independence_score(measure: str, symmetrize: str, rates: np.ndarray) -> np.ndarray:
    """(C, C) the symmetrised score two AUs with these rates would get if they were independent.

    For the paper's measure this is ``r_i + r_j``: frequent independent AUs look related.
    """
    m = _choice(MEASURES, measure, "measure")
    raw = m.independent(np.asarray(rates, dtype=np.float64))
    return _choice(SYMMETRIZE, symmetrize, "symmetrize mode")[0](raw, raw.T) if m.directed else raw


# ---------------------------------------------------------------------------------------------------
# ROI graph rules
# ---------------------------------------------------------------------------------------------------

def rule_edges(protocol: Protocol, rule: str, au_adjacency: np.ndarray | None = None,
               au_negative: np.ndarray | None = None) -> np.ndarray:
    """(R, R) bool: the directed ROI pairs that one rule joins (both directions, as PyG expects)."""
    p = protocol
    R = p.num_rois
    g = p.global_index
    local = np.ones(R, dtype=bool)
    local[g] = False
    mask = np.zeros((R, R), dtype=bool)
    if rule == "self":
        np.fill_diagonal(mask, True)
    elif rule == "symmetric":
        partner = np.array([r.partner for r in p.rois])
        mask[np.arange(R), partner] = True
        np.fill_diagonal(mask, False)
    elif rule == "global":
        mask[g, local] = True
        mask[local, g] = True
    elif rule in ("cooccurrence", "negative"):
        au_mask = au_adjacency if rule == "cooccurrence" else au_negative
        if au_mask is None:
            return mask
        member = p.membership().astype(np.int64)  # (R, C)
        member[g] = 0  # the global ROI is joined by its own rule
        # ROI u ~ ROI v when some AU of u is related to some AU of v: (R, C) (C, C) (C, R)
        mask = (member @ np.asarray(au_mask, dtype=np.int64) @ member.T) > 0
        np.fill_diagonal(mask, False)  # self-loops are the `self` rule's job
    else:
        raise InputError(f"unknown rule {rule!r}; choose from {', '.join(RULES)}")
    return mask


def parse_rules(rules: str | Sequence[str]) -> tuple[str, ...]:
    """``"self,global"`` or a sequence -> a tuple in precedence order; unknown names are an error."""
    names = [r.strip() for r in (rules.split(",") if isinstance(rules, str) else rules) if r.strip()]
    unknown = [r for r in names if r not in RULES]
    if unknown:
        raise InputError(f"unknown rule(s) {', '.join(unknown)}; choose from {', '.join(RULES)}")
    return tuple(r for r in RULES if r in names)


def roi_edges(protocol: Protocol, rules: Sequence[str], au_adjacency: np.ndarray,
              au_score: np.ndarray | None = None, au_negative: np.ndarray | None = None):
    """Build the ROI graph's edges.

    Returns ``edge_index`` (2, E) int64, ``edge_type`` (E,) int64 (index into :data:`RULES`),
    ``edge_weight`` (E,) float32 (the largest AU-pair score for co-occurrence edges, 1 otherwise),
    sorted by (source, target). An ROI pair joined by several rules takes the first rule's type.
    """
    p = protocol
    R = p.num_rois
    rule_of = np.full((R, R), -1, dtype=np.int64)
    for rule in parse_rules(rules):
        mask = rule_edges(p, rule, au_adjacency, au_negative) & (rule_of < 0)
        rule_of[mask] = RULES.index(rule)
    src, dst = np.nonzero(rule_of >= 0)  # row-major: sorted by (source, target)
    edge_type = rule_of[src, dst]
    weight = np.ones(len(src), dtype=np.float32)
    co = edge_type == RULES.index("cooccurrence")
    if au_score is not None and co.any():
        member = p.membership()  # (R, C)
        related = np.where(np.asarray(au_adjacency, dtype=bool), au_score, -np.inf)  # (C, C)
        # ROI pair (u, v): the largest score over AU pairs (i of u, j of v) that are related
        pairs = member[:, None, :, None] & member[None, :, None, :]  # (R, R, C, C)
        roi_score = np.where(pairs, related, -np.inf).max(axis=(2, 3))  # (R, R)
        weight[co] = roi_score[src[co], dst[co]]
    return np.stack([src, dst]).astype(np.int64), edge_type, weight


# ---------------------------------------------------------------------------------------------------
# The graph
# ---------------------------------------------------------------------------------------------------

@dataclass
class RelationGraph:
    """An AU relation graph and the ROI graph derived from it.

    ``au_adjacency`` (C, C) 0/1 is the paper's Mbool; ``edge_index`` (2, E), ``edge_type`` (E,) and
    ``edge_weight`` (E,) are the ROI graph (R nodes, PyG convention: both directions listed).
    ``stats`` holds the fitted statistics when the graph came from labels (``rates`` (C,),
    ``conditional`` M (C, C), ``score`` Msym (C, C), ``independence_score`` (C, C), ``pair_frames``
    (C, C), ``num_frames``); it is empty for the paper's Table 1 graphs.
    """

    protocol: str
    aus: list[int]
    au_adjacency: np.ndarray
    edge_index: np.ndarray
    edge_type: np.ndarray
    edge_weight: np.ndarray
    threshold: float | None
    source: str
    measure: str = "conditional"
    symmetrize: str = "sum"
    rules: tuple[str, ...] = PAPER_RULES
    au_negative: np.ndarray | None = None
    stats: dict = field(default_factory=dict)

    @property
    def protocol_obj(self) -> Protocol:
        return get_protocol(self.protocol)

    @property
    def rois(self) -> list[dict]:
        return [{"name": r.name, "aus": list(r.aus), "region": r.region, "side": r.side,
                 "landmarks": list(r.landmarks), "offset": r.offset, "is_global": r.is_global}
                for r in self.protocol_obj.rois]

    @property
    def num_nodes(self) -> int:
        return self.protocol_obj.num_rois

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    @property
    def edge_rules(self) -> list[str]:
        return [RULES[t] for t in self.edge_type]

    def edge_counts(self) -> dict[str, int]:
        """Directed edges per rule (an undirected pair counts twice, a self-loop once)."""
        types = np.bincount(self.edge_type, minlength=len(RULES))
        return {rule: int(types[i]) for i, rule in enumerate(RULES)}

    def degree(self) -> np.ndarray:
        """(R,) number of neighbours of each ROI, self-loop excluded."""
        src, dst = self.edge_index
        return np.bincount(src[src != dst], minlength=self.num_nodes)

    def density(self) -> float:
        """Share of the R(R-1)/2 distinct ROI pairs that are joined."""
        src, dst = self.edge_index
        pairs = np.count_nonzero(src < dst)
        R = self.num_nodes
        return pairs / (R * (R - 1) / 2)

    def dense_adjacency(self) -> np.ndarray:
        """(R, R) float32 weighted adjacency (the paper's G)."""
        adj = np.zeros((self.num_nodes, self.num_nodes), dtype=np.float32)
        adj[self.edge_index[0], self.edge_index[1]] = self.edge_weight
        return adj

    def explained_by_independence(self) -> np.ndarray | None:
        """(C, C) bool: AU pairs in Mbool that independence alone (base rates) would also have joined."""
        indep = self.stats.get("independence_score")
        if indep is None or self.threshold is None:
            return None
        return np.asarray(self.au_adjacency, dtype=bool) & (np.asarray(indep) >= self.threshold)

    # --- conversions -------------------------------------------------------------------------------

    def to_data(self):
        """A PyG ``Data`` holding the ROI graph's topology (no node features)."""
        import torch
        from torch_geometric.data import Data

        return Data(edge_index=torch.as_tensor(self.edge_index, dtype=torch.long),
                    edge_type=torch.as_tensor(self.edge_type, dtype=torch.long),
                    edge_weight=torch.as_tensor(self.edge_weight, dtype=torch.float32),
                    num_nodes=self.num_nodes)

    def to_networkx(self, level: str = "roi"):
        """An undirected NetworkX graph of the ROIs (``level="roi"``) or of the AUs (``"au"``)."""
        import networkx as nx

        g = nx.Graph(protocol=self.protocol, threshold=self.threshold, source=self.source)
        if level == "au":
            score = self.stats.get("score")
            for c, au in enumerate(self.aus):
                g.add_node(au, name=f"AU{au}")
            for i, j in zip(*np.nonzero(np.triu(self.au_adjacency, 1))):
                w = float(score[i][j]) if score is not None else 1.0
                g.add_edge(self.aus[i], self.aus[j], weight=w)
            return g
        if level != "roi":
            raise InputError(f"unknown level {level!r}; choose from roi, au")
        for r, roi in enumerate(self.rois):
            g.add_node(r, **roi)
        for (s, t), rule, w in zip(self.edge_index.T.tolist(), self.edge_rules, self.edge_weight.tolist()):
            if s <= t:
                g.add_edge(s, t, rule=rule, weight=w)
        return g

    def to_dict(self) -> dict:
        """The JSON document (plain lists and numbers)."""
        doc = {
            "format": GRAPH_FORMAT,
            "format_version": GRAPH_FORMAT_VERSION,
            "protocol": self.protocol,
            "aus": list(self.aus),
            "source": self.source,
            "threshold": self.threshold,
            "measure": self.measure,
            "symmetrize": self.symmetrize,
            "rules": list(self.rules),
            "au_adjacency": np.asarray(self.au_adjacency, dtype=int).tolist(),
            "rois": self.rois,
            "edge_index": self.edge_index.tolist(),
            "edge_type": self.edge_rules,
            "edge_weight": [round(float(w), 6) for w in self.edge_weight],
        }
        if self.au_negative is not None:
            doc["au_negative"] = np.asarray(self.au_negative, dtype=int).tolist()
        if self.stats:
            doc["stats"] = {k: (np.round(np.asarray(v, dtype=float), 6).tolist() if np.ndim(v) else v)
                            for k, v in self.stats.items()}
        return doc

    def save(self, path) -> None:
        """Write the JSON file atomically."""
        from .io import write_json_atomic

        write_json_atomic(path, self.to_dict(), indent=None)

    @classmethod
    def from_dict(cls, doc: dict, where: str = "graph") -> "RelationGraph":
        if not isinstance(doc, dict) or doc.get("format") != GRAPH_FORMAT:
            raise InputError(f"{where}: not an augcn-pyg relation graph (no \"format\": \"{GRAPH_FORMAT}\")")
        if doc.get("format_version") != GRAPH_FORMAT_VERSION:
            raise InputError(f"{where}: graph format version {doc.get('format_version')} is not supported "
                             f"(this version reads {GRAPH_FORMAT_VERSION})")
        try:
            protocol = get_protocol(doc["protocol"])
            edge_index = np.asarray(doc["edge_index"], dtype=np.int64).reshape(2, -1)
            graph = cls(
                protocol=protocol.name,
                aus=[int(a) for a in doc["aus"]],
                au_adjacency=np.asarray(doc["au_adjacency"], dtype=np.int8),
                edge_index=edge_index,
                edge_type=np.array([RULES.index(t) for t in doc["edge_type"]], dtype=np.int64),
                edge_weight=np.asarray(doc["edge_weight"], dtype=np.float32),
                threshold=doc.get("threshold"),
                source=str(doc.get("source", "")),
                measure=doc.get("measure", "conditional"),
                symmetrize=doc.get("symmetrize", "sum"),
                rules=tuple(doc.get("rules", PAPER_RULES)),
                au_negative=(np.asarray(doc["au_negative"], dtype=np.int8) if "au_negative" in doc else None),
                stats={k: (np.asarray(v) if isinstance(v, list) else v) for k, v in doc.get("stats", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{where}: malformed relation graph ({type(exc).__name__}: {exc})") from None
        C, R = len(protocol.aus), protocol.num_rois
        if (tuple(graph.aus) != protocol.aus or graph.au_adjacency.shape != (C, C)
                or len(graph.edge_type) != graph.num_edges or len(graph.edge_weight) != graph.num_edges
                or (graph.num_edges and (edge_index.min() < 0 or edge_index.max() >= R))):
            raise InputError(f"{where}: relation graph does not match protocol {protocol.name!r} "
                             f"({C} AUs, {R} ROIs)")
        return graph

    @classmethod
    def load(cls, path) -> "RelationGraph":
        """Read a graph file written by :meth:`save`; anything else is an :class:`InputError`."""
        import json
        from pathlib import Path

        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{path}: no such graph file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read graph file ({exc})") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not a JSON graph file ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(doc, where=str(path))


# ---------------------------------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------------------------------

class RelationBuilder:
    """Fit an AU relation graph on training labels (scikit-learn style: parameters here, state in fit).

    Args:
        protocol: ``"bp4d"``, ``"disfa"`` or a :class:`~augcn_pyg.aus.Protocol`.
        threshold: keep AU pairs whose symmetrised score is ``>= threshold``; None (the default): the
            measure's :func:`default_threshold` (the paper's measure: P(j|i) + P(i|j) >= 1.0).
        measure: ``"conditional"`` (the paper's P(j | i)), ``"lift"``, ``"phi"`` or ``"pmi"``.
        symmetrize: how P(j | i) is made symmetric: ``"sum"`` (the paper), ``"mean"``, ``"max"``, ``"min"``;
            ignored by the other, already symmetric, measures.
        rules: ROI-graph rules to apply (see :data:`RULES`).
        negative_threshold: the ``negative`` rule joins AUs with ``max(P(j|i), P(i|j)) <= this``.

    Fitted attributes: ``threshold_`` (the threshold used), ``counts_`` (:class:`PairCounts`), ``rates_`` (C,),
    ``conditional_`` (C, C),
    ``score_`` (C, C), ``independence_score_`` (C, C), ``au_adjacency_`` (C, C) bool,
    ``au_negative_`` (C, C) bool, ``graph_`` (:class:`RelationGraph`).
    """

    def __init__(self, protocol: str | Protocol = "bp4d", threshold: float | None = None,
                 measure: str = "conditional",
                 symmetrize: str = "sum", rules: str | Sequence[str] = PAPER_RULES,
                 negative_threshold: float = 0.05):
        self.protocol = protocol
        self.threshold = threshold
        self.measure = measure
        self.symmetrize = symmetrize
        self.rules = rules
        self.negative_threshold = negative_threshold

    def _validate(self) -> tuple[Protocol, tuple[str, ...], float]:
        protocol = get_protocol(self.protocol)
        low, high = score_range(self.measure, self.symmetrize)
        threshold = default_threshold(self.measure, self.symmetrize) if self.threshold is None else self.threshold
        if not (low <= threshold <= high):
            raise InputError(f"threshold {threshold} is outside the range of measure {self.measure!r} "
                             f"({'symmetrize=' + self.symmetrize + ', ' if MEASURES[self.measure].directed else ''}"
                             f"[{low:g}, {high:g}])")
        if not (0.0 <= self.negative_threshold <= 1.0):
            raise InputError(f"negative_threshold {self.negative_threshold} is outside [0, 1]")
        return protocol, parse_rules(self.rules), float(threshold)

    def fit(self, labels, source: str = "labels") -> "RelationBuilder":
        """Fit on (N, C) training labels (1, 0, unknown as NaN/-1/9)."""
        protocol, rules, threshold = self._validate()
        labels = np.asarray(labels)
        if labels.ndim != 2 or labels.shape[1] != protocol.num_aus:
            raise InputError(f"labels have shape {labels.shape}; protocol {protocol.name!r} needs "
                             f"(frames, {protocol.num_aus})")
        counts = pair_counts(labels)
        rates = counts.rates
        never = np.diag(counts.n11) == 0
        unknown = np.diag(counts.n) == 0  # never labelled at all: not the same as "absent everywhere"
        for mask, what in ((unknown, "have no known label (all unknown)"), (never & ~unknown, "never occur")):
            if mask.any():
                names = ", ".join(f"AU{protocol.aus[c]}" for c in np.nonzero(mask)[0])
                warnings.warn(f"{names} {what} in the labels: no co-occurrence edges for them",
                              RelationWarning, stacklevel=2)
        cond = conditional(counts)  # rows of never-occurring AUs are 0
        score = symmetric_score(self.measure, self.symmetrize, counts)
        adjacency = (score >= threshold) & (counts.n > 0)
        adjacency[never, :] = False
        adjacency[:, never] = False
        np.fill_diagonal(adjacency, ~never)  # an AU is related to itself once it occurs at all
        # negative: both directions rarely co-occur, among AUs that do occur
        negative = ((np.maximum(cond, cond.T) <= self.negative_threshold) & (counts.n > 0)
                    & ~never[:, None] & ~never[None, :])
        np.fill_diagonal(negative, False)

        self.threshold_ = threshold
        self.counts_ = counts
        self.rates_ = rates
        self.conditional_ = cond
        self.score_ = score
        self.independence_score_ = independence_score(self.measure, self.symmetrize, rates)
        self.au_adjacency_ = adjacency
        self.au_negative_ = negative
        edge_index, edge_type, edge_weight = roi_edges(protocol, rules, adjacency, score, negative)
        self.graph_ = RelationGraph(
            protocol=protocol.name, aus=list(protocol.aus), au_adjacency=adjacency.astype(np.int8),
            edge_index=edge_index, edge_type=edge_type, edge_weight=edge_weight,
            threshold=threshold, source=source, measure=self.measure, symmetrize=self.symmetrize,
            rules=rules, au_negative=negative.astype(np.int8) if "negative" in rules else None,
            stats={"num_frames": int(labels.shape[0]), "rates": rates, "conditional": cond, "score": score,
                   "independence_score": self.independence_score_, "pair_frames": counts.n},
        )
        return self


def graph_from_adjacency(protocol: str | Protocol, au_adjacency, rules: str | Sequence[str] = PAPER_RULES,
                         threshold: float | None = None, source: str = "adjacency") -> RelationGraph:
    """A ROI graph from a given (C, C) 0/1 AU matrix (e.g. the paper's Table 1); weights are 1."""
    protocol = get_protocol(protocol)
    adjacency = np.asarray(au_adjacency, dtype=np.int8)
    if adjacency.shape != (protocol.num_aus, protocol.num_aus):
        raise InputError(f"AU matrix has shape {adjacency.shape}, protocol {protocol.name!r} needs "
                         f"({protocol.num_aus}, {protocol.num_aus})")
    rules = parse_rules(rules)
    edge_index, edge_type, edge_weight = roi_edges(protocol, rules, adjacency)
    return RelationGraph(protocol=protocol.name, aus=list(protocol.aus), au_adjacency=adjacency,
                         edge_index=edge_index, edge_type=edge_type, edge_weight=edge_weight,
                         threshold=threshold, source=source, rules=rules)


def paper_graph(protocol: str | Protocol, rules: str | Sequence[str] = PAPER_RULES) -> RelationGraph:
    """The paper's Table 1 graph for ``protocol`` with the four paper rules (threshold not stated)."""
    from .paper import TABLE1

    protocol = get_protocol(protocol)
    return graph_from_adjacency(protocol, TABLE1[protocol.name], rules, source="paper:table1")
