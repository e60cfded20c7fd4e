"""Plain-text summaries of a :class:`~augcn_pyg.graph.relations.RelationGraph` (what ``graph-info`` prints)."""
from __future__ import annotations

import textwrap

import numpy as np

from augcn_pyg.graph.relations import RULES, RelationGraph


def _matrix(rows: list[str], cols: list[str], cells: np.ndarray, fmt: str) -> list[str]:
    width = max(max(len(c) for c in cols), max(len(fmt.format(v)) for v in cells.ravel()), 2)
    head = " " * 6 + " ".join(c.rjust(width) for c in cols)
    return [head] + [r.ljust(6) + " ".join(fmt.format(v).rjust(width) for v in row) for r, row in zip(rows, cells)]


def au_matrix_lines(graph: RelationGraph) -> list[str]:
    names = [f"AU{a}" for a in graph.aus]
    return _matrix(names, names, np.asarray(graph.au_adjacency, dtype=int), "{:d}")


def au_pair_lines(graph: RelationGraph) -> list[str]:
    """One line per related AU pair: its score and whether independence alone would have joined it."""
    score = graph.stats.get("score")
    indep = graph.stats.get("independence_score")
    explained = graph.explained_by_independence()
    adj = np.asarray(graph.au_adjacency, dtype=bool)
    pairs = [(i, j, f"AU{graph.aus[i]}-AU{graph.aus[j]}") for i, j in zip(*np.nonzero(np.triu(adj, 1)))]
    if score is None:  # no statistics: a compact wrapped list

        return textwrap.wrap(", ".join(p for *_, p in pairs), width=96, initial_indent="  ", subsequent_indent="  ")
    lines = []
    for i, j, pair in pairs:
        verdict = "yes" if explained[i, j] else "no"
        lines.append(f"  {pair:<11} score {float(score[i][j]):7.3f}   if independent {float(indep[i][j]):7.3f}"
                     f"   independence alone gives this edge: {verdict}")
    return lines


def describe(graph: RelationGraph) -> str:
    """The AU matrix, edge counts per rule, density, degree per ROI and the AU pairs."""
    p = graph.protocol_obj
    thr = "not stated" if graph.threshold is None else f"{graph.threshold:g}"
    lines = [
        f"protocol {p.name}: {p.num_aus} AUs, {graph.num_nodes} ROI nodes, {graph.num_edges} directed edges",
        f"source {graph.source}; measure {graph.measure}"
        + (f" (symmetrize {graph.symmetrize})" if graph.measure == "conditional" else "")
        + f"; threshold {thr}; rules {','.join(graph.rules)}",
    ]
    if "num_frames" in graph.stats:
        known = np.diag(np.asarray(graph.stats.get("pair_frames", np.ones((len(graph.aus),) * 2)))) > 0
        rates = ", ".join(f"AU{a} {100 * r:.0f}%" if k else f"AU{a} unknown"
                          for a, r, k in zip(graph.aus, graph.stats["rates"], known))
        lines.append(f"fitted on {int(graph.stats['num_frames'])} frames; occurrence rates: {rates}")
    lines += ["", "AU matrix (Mbool):"] + au_matrix_lines(graph)
    n_pairs = int(np.count_nonzero(np.triu(np.asarray(graph.au_adjacency, dtype=bool), 1)))
    lines += ["", f"related AU pairs ({n_pairs}):"] + (au_pair_lines(graph) or ["  none"])
    counts = graph.edge_counts()
    lines += ["", "edges per rule (directed; a pair counts twice, a self-loop once):"]
    lines += [f"  {rule:<13}{counts[rule]:5d}" for rule in RULES if counts[rule] or rule in graph.rules]
    lines.append(f"density (distinct ROI pairs joined): {graph.density():.3f}")
    lines += ["", "degree per ROI (neighbours, self-loop excluded):"]
    degree = graph.degree()
    for roi, d in zip(p.rois, degree):
        aus = "all" if roi.is_global else ",".join(f"AU{a}" for a in roi.aus)
        lines.append(f"  {roi.name:<20}{d:3d}   ({aus})")
    return "\n".join(lines)
