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

The statistics and measures are in :mod:`augcn_pyg.graph.measures`, the ROI-graph rules in
:mod:`augcn_pyg.graph.rules`; this module fits the graph (:class:`RelationBuilder`), holds it
(:class:`RelationGraph`), reads and writes its files, and re-exports both modules' public names.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import networkx as nx
import numpy as np
import torch
from torch_geometric.data import Data

from augcn_pyg.core.aus import Protocol, get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import write_json_atomic
from augcn_pyg.graph.measures import (
    DEFAULT_THRESHOLDS,
    MEASURES,
    SYMMETRIZE,
    Measure,
    PairCounts,
    conditional,
    default_threshold,
    independence_score,
    lift,
    normalise_labels,
    pair_counts,
    phi,
    pmi,
    score_range,
    symmetric_score,
)
from augcn_pyg.graph.paper import TABLE1
from augcn_pyg.graph.rules import PAPER_RULES, RULES, parse_rules, roi_edges, rule_edges

__all__ = [
    # the graph, its file and its builder (this module)
    "GRAPH_FORMAT", "GRAPH_FORMAT_VERSION", "RelationWarning", "RelationGraph", "RelationBuilder",
    "graph_from_adjacency", "paper_graph",
    # co-occurrence statistics and measures (augcn_pyg.graph.measures)
    "PairCounts", "normalise_labels", "pair_counts", "conditional", "lift", "phi", "pmi", "Measure", "MEASURES",
    "SYMMETRIZE", "DEFAULT_THRESHOLDS", "score_range", "default_threshold", "symmetric_score",
    "independence_score",
    # ROI-graph rules (augcn_pyg.graph.rules)
    "RULES", "PAPER_RULES", "rule_edges", "parse_rules", "roi_edges",
]

GRAPH_FORMAT = "augcn-pyg/relation-graph"
GRAPH_FORMAT_VERSION = 1


class RelationWarning(UserWarning):
    """A fitted statistic that deserves the user's attention (e.g. an AU that never occurs)."""


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
        return Data(edge_index=torch.as_tensor(self.edge_index, dtype=torch.long),
                    edge_type=torch.as_tensor(self.edge_type, dtype=torch.long),
                    edge_weight=torch.as_tensor(self.edge_weight, dtype=torch.float32),
                    num_nodes=self.num_nodes)

    def to_networkx(self, level: str = "roi"):
        """An undirected NetworkX graph of the ROIs (``level="roi"``) or of the AUs (``"au"``)."""
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
        protocol: ``"bp4d"``, ``"disfa"`` or a :class:`~augcn_pyg.core.aus.Protocol`.
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
    protocol = get_protocol(protocol)
    return graph_from_adjacency(protocol, TABLE1[protocol.name], rules, source="paper:table1")
