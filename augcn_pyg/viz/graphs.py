"""Pictures of relation graphs (NetworkX + matplotlib): the AU graph, the ROI graph on a face, heat maps.

Every function writes PNG, SVG or PDF, chosen by the output's extension, atomically.
matplotlib and networkx are imported inside the functions (optional heavy dependencies).
"""
from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import atomic_path
from augcn_pyg.face.align import TEMPLATE_68
from augcn_pyg.face.rois import au_centres
from augcn_pyg.graph.relations import RULES, RelationGraph

FORMATS = (".png", ".svg", ".pdf")

#: colour of each rule's edges
RULE_COLOURS = {
    "self": "#999999",
    "symmetric": "#1f77b4",
    "global": "#bbbbbb",
    "cooccurrence": "#d62728",
    "negative": "#2ca02c",
}

#: iBUG-68 contours drawn as the face outline: (first, last, closed)
FACE_CONTOURS = ((0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (31, 35, False),
                 (36, 41, True), (42, 47, True), (48, 59, True), (60, 67, True))


def check_output(path) -> Path:
    """The output path, if its extension is one we can write; else an :class:`InputError`."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InputError(f"{path}: unsupported picture format {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join(FORMATS)}")
    return path


def pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a core dependency
        raise InputError("plots need matplotlib: pip install matplotlib") from exc
    return plt


def save_figure(fig, path) -> Path:
    """Write ``fig`` to ``path`` (format from the extension) atomically and close it."""
    path = check_output(path)
    plt = pyplot()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:].lower(), dpi=150, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def _title(graph: RelationGraph) -> str:
    thr = "threshold not stated" if graph.threshold is None else f"threshold {graph.threshold:g}"
    return f"{graph.protocol.upper()} · {graph.source} · {graph.measure} · {thr}"


def plot_au_graph(graph: RelationGraph, path) -> Path:
    """The AU-level graph (the paper's Table 1 as a picture): nodes are AUs, edges the pairs in Mbool."""
    plt = pyplot()
    g = graph.to_networkx(level="au")
    pos = nx.circular_layout(sorted(g.nodes))
    fig, ax = plt.subplots(figsize=(6, 6))
    weights = np.array([d["weight"] for *_, d in g.edges(data=True)], dtype=float)
    widths = 1.0 + 2.5 * (weights - weights.min()) / (np.ptp(weights) or 1.0) if len(weights) else []
    nx.draw_networkx_edges(g, pos, ax=ax, width=widths, edge_color=RULE_COLOURS["cooccurrence"], alpha=0.6)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=900, node_color="#fde9c9", edgecolors="#444444")
    nx.draw_networkx_labels(g, pos, ax=ax, labels={n: f"AU{n}" for n in g.nodes}, font_size=10)
    ax.set_title(f"AU relation graph: {g.number_of_edges()} pairs\n{_title(graph)}", fontsize=10)
    ax.set_axis_off()
    ax.set_aspect("equal")
    return save_figure(fig, path)


def roi_positions(graph: RelationGraph, size: float = 200.0) -> tuple[np.ndarray, np.ndarray]:
    """(R, 2) node positions and (68, 2) face points in the canonical aligned frame.

    Local ROIs sit at their AU centres on the alignment template; the global node is set apart above
    the face.
    """
    p = graph.protocol_obj
    template = np.asarray(TEMPLATE_68, dtype=np.float64) * (size / 200.0)  # (68, 2)
    centres = np.asarray(au_centres(template[None], p))[0]  # (R-1, 2)
    pos = np.empty((p.num_rois, 2))
    local = [r for r in range(p.num_rois) if r != p.global_index]
    pos[local] = centres
    pos[p.global_index] = (template[:, 0].max() + 0.12 * size, template[:, 1].min() - 0.05 * size)
    return pos, template


def plot_roi_graph(graph: RelationGraph, path, show_global_edges: bool = True) -> Path:
    """The ROI-level graph: nodes at their mean positions on a face outline, edges coloured by rule."""
    from matplotlib.lines import Line2D

    plt = pyplot()
    p = graph.protocol_obj
    pos_arr, face = roi_positions(graph)
    pos = {r: (x, -y) for r, (x, y) in enumerate(pos_arr)}  # y up for drawing
    g = graph.to_networkx(level="roi")
    fig, ax = plt.subplots(figsize=(7, 7.5))
    for first, last, closed in FACE_CONTOURS:
        idx = list(range(first, last + 1)) + ([first] if closed else [])
        ax.plot(face[idx, 0], -face[idx, 1], color="#cfcfcf", lw=1.5, zorder=0)
    counts = graph.edge_counts()
    handles = []
    for rule in RULES:
        if rule == "self" or (rule == "global" and not show_global_edges):
            continue
        edges = [(u, v) for u, v, d in g.edges(data=True) if d["rule"] == rule and u != v]
        if not edges:
            continue
        style = "dashed" if rule in ("global", "negative") else "solid"
        nx.draw_networkx_edges(g, pos, edgelist=edges, ax=ax, edge_color=RULE_COLOURS[rule], style=style,
                               width=1.4 if rule != "global" else 0.8, alpha=0.75,
                               connectionstyle="arc3,rad=0.12", arrows=True, arrowstyle="-")
        handles.append(Line2D([], [], color=RULE_COLOURS[rule], ls="--" if style == "dashed" else "-",
                              label=f"{rule} ({len(edges)} pairs)"))
    local = [r for r in range(p.num_rois) if r != p.global_index]
    nx.draw_networkx_nodes(g, pos, nodelist=local, ax=ax, node_size=260, node_color="#fde9c9",
                           edgecolors="#444444")
    nx.draw_networkx_nodes(g, pos, nodelist=[p.global_index], ax=ax, node_size=900, node_shape="s",
                           node_color="#c9e3fd", edgecolors="#444444")
    labels = {r: ("global" if roi.is_global else "/".join(str(a) for a in roi.aus)) for r, roi in enumerate(p.rois)}
    nx.draw_networkx_labels(g, pos, labels=labels, ax=ax, font_size=7)
    if counts["self"]:
        handles.append(Line2D([], [], color=RULE_COLOURS["self"], marker="o", ls="", mfc="none",
                              label=f"self-loops on all {counts['self']} nodes (not drawn)"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8, frameon=False)
    ax.set_title(f"ROI graph: {p.num_rois} nodes, {graph.num_edges} directed edges (labels: AU numbers)\n"
                 f"{_title(graph)}", fontsize=10)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return save_figure(fig, path)


def plot_heatmap(graph: RelationGraph, path) -> Path:
    """A heat map of Msym with the threshold marked (cells at or above it outlined).

    Graphs that carry no statistics (the paper's Table 1) show their 0/1 AU matrix instead.
    """
    from matplotlib.patches import Rectangle

    plt = pyplot()
    names = [f"AU{a}" for a in graph.aus]
    score = graph.stats.get("score")
    fitted = score is not None
    values = np.asarray(score if fitted else graph.au_adjacency, dtype=float)
    fig, ax = plt.subplots(figsize=(6.8, 5.8))
    im = ax.imshow(values, cmap="viridis" if fitted else "Greys", vmin=None if fitted else 0, vmax=None if fitted else 1.4)
    related = np.asarray(graph.au_adjacency, dtype=bool)
    for i, j in zip(*np.nonzero(related)):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="#ff7f0e", lw=1.6))
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            text = f"{values[i, j]:.2f}" if fitted else f"{int(values[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5,
                    color="white" if (fitted and values[i, j] < np.nanmean(values)) or (not fitted and values[i, j] > 0.5)
                    else "black")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    if fitted:
        cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        cbar.set_label(f"{graph.measure} score (symmetrised)" if graph.measure == "conditional" else graph.measure)
        if graph.threshold is not None:
            cbar.ax.axhline(graph.threshold, color="#ff7f0e", lw=2)
        what = f"Msym ({graph.measure}); outlined: >= threshold {graph.threshold:g}"
    else:
        what = "AU matrix Mbool (no statistics stored); outlined: related"
    ax.set_title(f"{graph.protocol.upper()} {what}\n{graph.source}", fontsize=9)
    return save_figure(fig, path)


#: ``plot-graph --level`` registry
PLOTS = {"au": plot_au_graph, "roi": plot_roi_graph, "heatmap": plot_heatmap}


def plot_graph(graph: RelationGraph, path, level: str = "roi") -> Path:
    """Draw ``graph`` at ``level`` (``au``, ``roi`` or ``heatmap``) into ``path``."""
    try:
        fn = PLOTS[level]
    except KeyError:
        raise InputError(f"unknown plot level {level!r}; choose from {', '.join(PLOTS)}") from None
    check_output(path)
    return fn(graph, path)
