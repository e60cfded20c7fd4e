"""The results of the ablation benchmark: every table (Markdown), CSV and picture, rebuilt from whatever
parts ``ablation.json`` holds."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.ablation_parts import FULL, VARIANTS
from benchmarks.common import pm, pyplot, save_figure, write_csv, write_json, write_text

QUICK_NOTE = "quick mode: a tiny synthetic store and a few epochs; it proves nothing about accuracy."


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def _verdict(c: dict, a: str = "a", b: str = "b") -> str:
    """One comparison of a against b in words: ``a``/``b`` name the better side when the tests agree."""
    word = {"a": f"{a} better", "b": f"{b} better", "equal": "practically equal", "unsure": "unsure"}[c["verdict"]]
    return (f"{100 * c['mean_diff']:+.1f} [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}], p {c['p']:.3f}, "
            f"P(a better / equal / b better) {c['p_a_better']:.2f}/{c['p_equal']:.2f}/{c['p_b_better']:.2f}: **{word}**")


def variants_table(part: dict, name=lambda key, s: key) -> list[str]:
    """Table 4's rows beside the paper's: ``part["variants"]`` {key: summary}; ``name(key, summary)`` is the run
    name shown beside each variant's label."""
    by_key = {v.key: v for v in VARIANTS}
    head = ("| variant | GCN | D | F | paper F1 | paper AUC | our F1 | our AUC | our F1, test-fold selected | "
            "ΔF1 vs full (ours / paper) |")
    lines = [head, "|---|:-:|:-:|:-:|---:|---:|---:|---:|---:|---:|"]
    full = part["variants"].get(FULL)
    mark = lambda b: "✓" if b else "×"  # noqa: E731
    for key, s in part["variants"].items():
        v = by_key[key]
        delta = (f"{100 * (s['f1'] - full['f1']):+.1f} / {v.paper_f1 - by_key[FULL].paper_f1:+.1f}" if full else "")
        lines.append(f"| {v.label} (`{name(key, s)}`) | {mark(v.gcn)} | {mark(v.dice)} | {mark(v.face)} | "
                     f"{v.paper_f1:.1f} | {v.paper_auc:.1f} | {pm(s['f1'], s['f1_std'])} | {pm(s['auc'], s['auc_std'])} | "
                     f"{_pct(s['test_selected_f1'])} | {delta} |")
    return lines


def table_markdown(part: dict) -> list[str]:
    full = part["variants"].get(FULL)
    lines = variants_table(part)
    if part.get("missing"):
        lines += ["", f"**Not run yet** (cut short by time; the runs resume): {', '.join(f'`{k}`' for k in part['missing'])}."]
    lines += ["", f"Paired tests on F1 ({part['variants'][FULL]['runs'] if full else '?'} runs: a minus b in F1 points, "
              "95% interval of the corrected resampled t-test, its p, baycomp's posterior with a 1-point ROPE; a side "
              "is called better only when both tests agree):", ""]
    lines += [f"* a = `{k}`, b = full `gcn`: {_verdict(c['f1'], 'variant', 'full')}" for k, c in part["vs_full"].items()]
    lines += [f"* step `{k}`, a = after, b = before: {_verdict(c['f1'], 'after', 'before')}" for k, c in part["steps"].items()]
    return lines


def sweep_markdown(part: dict) -> list[str]:
    none = part["none"]
    lines = [f"No graph (`none`, frozen): F1 {pm(none['f1'], none['f1_std'])} over {none['runs']} runs.", "",
             "| measure | threshold | AU pairs joined (mean over folds) | F1 | AUC | vs none (F1) |",
             "|---|---:|---:|---:|---:|---|"]
    for p in part["points"]:
        c = p["vs_none"]
        word = {"a": "graph better", "b": "none better", "equal": "equal", "unsure": "unsure"}[c["verdict"]]
        lines.append(f"| {p['measure']} | {p['threshold']:g} | {p['au_pairs']:.1f} | {pm(p['f1'], p['f1_std'])} | "
                     f"{pm(p['auc'], p['auc_std'])} | {100 * c['mean_diff']:+.1f} ({word}) |")
    return lines


def rules_markdown(part: dict) -> list[str]:
    none = part["none"]
    lines = [f"No graph (`none`, frozen): F1 {pm(none['f1'], none['f1_std'])} over {none['runs']} runs. "
             "Each row is frozen `gcn` on the graph those rules make (a minus b in F1 points, corrected 95% interval, "
             "verdict of both tests).", "",
             "| rules | ROI edges (mean) | F1 | AUC | vs none | vs the paper's graph |", "|---|---:|---:|---:|---|---|"]
    word = {"a": "this better", "b": "other better", "equal": "equal", "unsure": "unsure"}
    for label, r in part["rule_sets"].items():
        cells = []
        for key in ("vs_none", "vs_paper_graph"):
            c = r.get(key)
            cells.append(f"{100 * c['mean_diff']:+.1f} [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}] "
                         f"{word[c['verdict']]}" if c else "—")
        lines.append(f"| {label} | {r['edges']:.0f} | {pm(r['f1'], r['f1_std'])} | "
                     f"{pm(r['auc'], r['auc_std'])} | {cells[0]} | {cells[1]} |")
    return lines


def learned_markdown(part: dict) -> list[str]:
    return relation_markdown(part) + [""] + fixed_vs_learned_markdown(part)


def relation_markdown(part: dict) -> list[str]:
    lines = [f"Truth: {part['truth_source']}; true edges: phi >= 0.1, {part['true_edges']} of {part['pairs']} AU pairs "
             f"(precision by chance {part['chance_precision']:.2f}); Table 1 has {part['table1_pairs']} pairs "
             f"(chance {part['chance_precision_table1']:.2f}).", "",
             "| AU-pair weights | Spearman ρ with true phi (mean ± std over runs) | precision@k, true edges | "
             "precision@k, Table 1 |", "|---|---:|---:|---:|"]
    for k, s in part["scores"].items():
        lines.append(f"| {k} | {s['spearman']:.2f} ± {s['spearman_std']:.2f} | {s['precision_at_k']:.2f} | "
                     f"{s['precision_at_k_table1']:.2f} |")
    return lines


def fixed_vs_learned_markdown(part: dict) -> list[str]:
    lines = ["| layer | F1 | AUC |", "|---|---:|---:|"]
    lines += [f"| `{k}` | {pm(s['f1'], s['f1_std'])} | {pm(s['auc'], s['auc_std'])} |"
              for k, s in part["runs"].items()]
    lines += [f"| `{k}` end-to-end | {pm(s['f1'], s['f1_std'])} | {pm(s['auc'], s['auc_std'])} |"
              for k, s in part["end_to_end"].items()]
    lines += [""] + [f"* {k} (a = {k.split()[0]}, b = gcn): {_verdict(c['f1'], k.split()[0], 'gcn')}"
                     for k, c in part["tests"].items()]
    return lines


def _header(part: dict) -> list[str]:
    m = part["machine"]
    return [f"{m['date']}, git {m['git']}, {m['cpus']} CPUs, torch {m['torch']}; budget `{part['budget']}` "
            f"{json.dumps(part['budget_overrides'])}; folds {part['folds']}, seeds {part['seeds']}; this invocation's wall "
            f"{part['wall_seconds'] / 60:.1f} min; the runs' own training time {part['train_seconds'] / 60:.1f} min "
            f"(runs trained before, here or by another benchmark, are reused); load average {part['load_start']} at "
            f"the start, {part['load_end']} at the end."
            + (f" **{QUICK_NOTE}**" if part["quick"] else ""), ""]


def write_outputs(doc: dict, out: Path) -> list[Path]:
    """Rebuild every table and picture from the parts in ``doc``."""
    parts, written = doc["parts"], []
    md = ["# Ablations (benchmarks/ablation.py)", "",
          f"Store `{doc['store']}`. SynthAU is not BP4D: the paper's numbers are on BP4D and selected on the test "
          "fold; ours are selected on validation subjects (the 'test-fold selected' column shows what peeking "
          "would add).", ""]
    rows = []
    for key in ("table-frozen", "table-e2e"):
        if key in parts:
            p = parts[key]
            md += [f"## Table 4, {p['protocol']} protocol", ""] + _header(p) + table_markdown(p) + [""]
            for k, s in p["variants"].items():
                rows.append({"protocol": p["protocol"], "variant": k, **{c: s[c] for c in s}})
    if "learned" in parts:
        p = parts["learned"]
        md += ["## Fixed vs learned graphs", ""] + _header(p) + fixed_vs_learned_markdown(p) + [""]
    if "rules" in parts:
        p = parts["rules"]
        md += ["## Which edges cost accuracy: frozen gcn on graphs of fewer rules", ""] + _header(p) + rules_markdown(p) + [""]
    if rows:
        written.append(write_csv(out / "ablation.csv", rows, float_format="%.4f"))
        written.append(plot_table([parts[k] for k in ("table-frozen", "table-e2e") if k in parts], out / "ablation.png"))
    written.append(write_text(out / "ablation.md", "\n".join(md) + "\n"))
    written.append(write_json(out / "ablation.json", doc))
    if "sweep" in parts:
        p = parts["sweep"]
        flat = [{k: v for k, v in pt.items() if k not in ("rows", "vs_none")} | {"vs_none_f1": pt["vs_none"]["mean_diff"],
                "vs_none_verdict": pt["vs_none"]["verdict"]} for pt in p["points"]]
        written.append(write_csv(out / "threshold_sweep.csv", flat, float_format="%.4f"))
        written.append(write_text(out / "threshold_sweep.md", "\n".join(
            ["# Threshold sweep: frozen gcn, average F1 against the relation graph's threshold", ""] + _header(p)
            + sweep_markdown(p)) + "\n"))
        written.append(_plot_sweep(p, out / "threshold_sweep.png"))
    if "learned" in parts:
        p = parts["learned"]
        written.append(write_text(out / "learned_relations.md", "\n".join(
            ["# The learned relations against the true ones", ""] + _header(p) + learned_markdown(p)
            + ["", "![learned relations](learned_relations.png)"]) + "\n"))
        written.append(_plot_learned(p, doc["protocol"], out / "learned_relations.png"))
    return written


def plot_table(parts: list[dict], path: Path) -> Path:
    """Table 4's variants beside the paper's, F1 and AUC; ``parts``: one ``{"protocol", "variants": {key: {f1, f1_std,
    auc, auc_std}}}`` per protocol (mean ± std over its runs)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    x = np.arange(len(VARIANTS))
    series = [("paper (BP4D)", None)] + [(part["protocol"], part) for part in parts]
    width = 0.8 / len(series)
    for ax, metric in zip(axes, ("f1", "auc")):
        for i, (label, part) in enumerate(series):
            if part is None:
                vals = [getattr(v, f"paper_{metric}") for v in VARIANTS]
                err = None
            else:
                vals = [100 * part["variants"].get(v.key, {}).get(metric, np.nan) for v in VARIANTS]
                err = [100 * part["variants"].get(v.key, {}).get(f"{metric}_std", np.nan) for v in VARIANTS]
            ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, yerr=err, capsize=2, label=label)
        ax.set_xticks(x, [v.label for v in VARIANTS], rotation=25, ha="right", fontsize=8)
        ax.set_ylabel(f"{metric.upper()} (%)")
        ax.set_ylim(40 if metric == "f1" else 60, 100)
        ax.set_title(f"Table 4 variants: {metric.upper()} (ours: mean ± std over runs)", fontsize=9)
    axes[0].legend(fontsize=8)
    return save_figure(fig, path)


def _plot_sweep(part: dict, path: Path) -> Path:
    plt = pyplot()
    measures = list(dict.fromkeys(p["measure"] for p in part["points"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(4 * len(measures), 3.6), squeeze=False, sharey=True)
    none = part["none"]
    for ax, measure in zip(axes[0], measures):
        pts = [p for p in part["points"] if p["measure"] == measure]
        t = [p["threshold"] for p in pts]
        ax.errorbar(t, [100 * p["f1"] for p in pts], yerr=[100 * p["f1_std"] for p in pts], marker="o", capsize=3)
        for p in pts:
            ax.annotate(f"{p['au_pairs']:.0f}", (p["threshold"], 100 * p["f1"]), textcoords="offset points",
                        xytext=(4, 6), fontsize=7, color="#555555")
        ax.axhline(100 * none["f1"], color="#999999", ls="--", lw=1, label="no graph (none)")
        ax.set_xlabel(f"{measure} threshold")
        ax.set_title(f"{measure} (numbers: AU pairs joined)", fontsize=9)
    axes[0][0].set_ylabel("average F1 (%), mean ± std over runs")
    axes[0][0].legend(fontsize=8)
    return save_figure(fig, path)


def _plot_learned(part: dict, protocol_name: str, path: Path) -> Path:
    """Top: AU x AU matrices (true phi, fitted label score, learned adjacency, GAT attention). Bottom: the
    strongest ROI relations drawn on the face like the paper's Table 1 graph."""
    from augcn_pyg.core.aus import get_protocol
    from augcn_pyg.graph.relations import paper_graph
    from augcn_pyg.viz.graphs import FACE_CONTOURS, roi_positions

    plt = pyplot()
    protocol = get_protocol(protocol_name)
    names = [str(a) for a in protocol.aus]
    mats = part["matrices"]
    panels = [("truth", "true relations (phi)"), ("fitted graph (label score)", "fitted from labels (Msym)"),
              ("learned adjacency", "learned adjacency (AU level)"), ("GAT attention (test-face mean)", "GAT attention (AU level)")]
    fig, axes = plt.subplots(2, 4, figsize=(19, 9.5))
    for ax, (key, title) in zip(axes[0], panels):
        m = np.array(mats[key], float)
        np.fill_diagonal(m, np.nan)
        lim = np.nanmax(np.abs(m)) or 1.0
        im = ax.imshow(m, cmap="RdBu_r" if np.nanmin(m) < 0 else "viridis", vmin=-lim if np.nanmin(m) < 0 else 0, vmax=lim)
        score = part["scores"].get(key)
        ax.set_title(title + (f"\nρ {score['spearman']:.2f}, precision@k {score['precision_at_k']:.2f}" if score else
                              f"\n{part['true_edges']} pairs with phi >= 0.1"), fontsize=9)
        ax.set_xticks(range(len(names)), names, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    roi = part["roi"]
    pos, face = roi_positions(paper_graph(protocol))
    learned, start = np.array(roi["learned"], float), np.array(roi["fitted"], float)
    bottom = [(start, "keep", "fitted graph, GCN-normalised (the learned layer's start)"),
              (learned, "keep", "learned adjacency, layer 1"),
              (learned - start, "keep", "learned minus its start, layer 1 (blue: weakened)"),
              (np.array(roi["gat"], float), "gat_keep", "GAT attention, layer 1, test-face mean")]
    for ax, (matrix, keep_key, title) in zip(axes[1], bottom):
        _draw_roi_relations(ax, matrix, np.array(roi[keep_key]), pos, face, FACE_CONTOURS, protocol)
        ax.set_title(f"{title}\n({roi['run']}; the 30 strongest pairs of local ROIs, width ∝ |weight|)", fontsize=9)
    return save_figure(fig, path, dpi=90)


def _draw_roi_relations(ax, matrix, keep, pos, face, contours, protocol, top: int = 30) -> None:
    """The ``top`` strongest distinct pairs of local ROIs of an (R', R') matrix on the face outline
    (red positive, blue negative); the whole-face node's edges faint grey beside it."""
    for first, last, closed in contours:
        idx = list(range(first, last + 1)) + ([first] if closed else [])
        ax.plot(face[idx, 0], -face[idx, 1], color="#cfcfcf", lw=1.2, zorder=0)
    sym = (matrix + matrix.T) / 2
    iu = np.triu_indices(len(keep), 1)
    local = (keep[iu[0]] != protocol.global_index) & (keep[iu[1]] != protocol.global_index)
    values = np.where(local, sym[iu], 0.0)
    order = [k for k in np.argsort(-np.abs(values))[:top] if values[k] != 0]  # no edge: nothing to draw
    strongest = np.abs(values[order[0]]) if len(order) else 1.0
    for k in order:
        u, v = keep[iu[0][k]], keep[iu[1][k]]
        ax.plot([pos[u, 0], pos[v, 0]], [-pos[u, 1], -pos[v, 1]], color="#d62728" if values[k] > 0 else "#1f77b4",
                lw=0.5 + 3.5 * abs(values[k]) / (strongest or 1.0), alpha=0.7, zorder=1)
    for k in np.nonzero(~local)[0]:
        u, v = keep[iu[0][k]], keep[iu[1][k]]
        ax.plot([pos[u, 0], pos[v, 0]], [-pos[u, 1], -pos[v, 1]], color="#dddddd", lw=0.5, zorder=0)
    ax.scatter(pos[keep, 0], -pos[keep, 1], s=160, c="#fde9c9", edgecolors="#444444", zorder=2)
    for r in keep:
        roi = protocol.rois[r]
        ax.text(pos[r, 0], -pos[r, 1], "F" if roi.is_global else "/".join(str(a) for a in roi.aus), fontsize=6,
                ha="center", va="center", zorder=3)
    ax.set_aspect("equal")
    ax.set_axis_off()
