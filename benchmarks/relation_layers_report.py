"""The results of the relation-layers benchmark: per-layer summaries and paired comparisons with ``gcn`` and
``none``, the spread over fold assignments, the cost of selecting on the test fold, and their tables
(Markdown) and plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.common import pm, pyplot, save_figure
from benchmarks.paired_stats import compare

PROTOCOLS = ("frozen", "end-to-end")
REFERENCES = ("gcn", "none")  # every layer is compared with these two
LEARNED_AUC = 0.6  # below it a run has not learned to rank faces (e.g. one predicting every AU everywhere)
QUICK_NOTE = "--quick: a tiny synthetic store and a 1-3 epoch budget; it checks the pipeline and proves nothing about accuracy."


# --- statistics ----------------------------------------------------------------------------------------
def scores_by_run(rows, protocol, layer, fold_seed=-1, key="mean_f1") -> dict:
    return {(r["fold"], r["seed"]): r[key] for r in rows
            if r["protocol"] == protocol and r["layer"] == layer and r["fold_seed"] == fold_seed}


def paired(rows, protocol, layer, ref, folds: int, key="mean_f1") -> dict | None:
    """paired_stats.compare of ``layer`` against ``ref`` over the runs both have, whole repetitions only."""
    a, b = scores_by_run(rows, protocol, layer, key=key), scores_by_run(rows, protocol, ref, key=key)
    seeds = sorted({s for (_, s) in a} & {s for (_, s) in b})
    # a repetition counts only when both models have every fold of it
    seeds = [s for s in seeds if all((f, s) in a and (f, s) in b for f in range(1, folds + 1))]
    keys = [(f, s) for s in seeds for f in range(1, folds + 1)]
    if len(keys) < 2 or layer == ref:
        return None
    return compare([a[k] for k in keys], [b[k] for k in keys], folds=folds, rope=0.01).to_dict()


def summarise(rows, protocol, layers, aus, folds, speeds) -> list[dict]:
    """Per layer: mean ± std of the average and per-AU scores, parameters, times, and the paired tests."""
    out = []
    for layer in layers:
        mine = [r for r in rows if r["protocol"] == protocol and r["layer"] == layer and r["fold_seed"] == -1]
        if not mine:
            continue
        col = lambda k: np.array([r[k] for r in mine], float)  # noqa: E731
        walls = [r["wall_seconds"] for r in mine if r["wall_seconds"] is not None]
        s = {"layer": layer, "runs": len(mine), "f1_mean": col("mean_f1").mean(), "f1_std": col("mean_f1").std(ddof=1) if len(mine) > 1 else 0.0,
             "auc_mean": np.nanmean(col("mean_auc")), "auc_std": np.nanstd(col("mean_auc"), ddof=1) if len(mine) > 1 else 0.0,
             "params_total": int(mine[0]["params_total"] or 0), "params_relation": int(mine[0]["params_relation"] or 0),
             "params_classifier": int(mine[0]["params_classifier"] or 0),
             "train_seconds_mean": col("train_seconds").mean(), "wall_seconds_mean": float(np.mean(walls)) if walls else None,
             "per_au_f1": {f"AU{au}": [float(np.nanmean(col(f"f1_AU{au}"))), float(np.nanstd(col(f"f1_AU{au}")))] for au in aus},
             "per_au_auc": {f"AU{au}": [float(np.nanmean(col(f"auc_AU{au}"))), float(np.nanstd(col(f"auc_AU{au}")))] for au in aus},
             **{f"speed_{k}": v for k, v in speeds.get((protocol, layer), {}).items()}}
        for ref in REFERENCES:
            s[f"vs_{ref}"] = paired(rows, protocol, layer, ref, folds)
            s[f"vs_{ref}_auc"] = paired(rows, protocol, layer, ref, folds, key="mean_auc")
        out.append({k: (float(v) if isinstance(v, np.floating) else v) for k, v in s.items()})
    return out


def fold_assignment_spread(rows, layers, seeds_per_assignment) -> list[dict]:
    """Per layer: the average F1 over the folds of each assignment (standard and random), and its spread."""
    out = []
    for layer in layers:
        per = {}
        for fs in sorted({r["fold_seed"] for r in rows}):
            mine = [r for r in rows if r["protocol"] == "frozen" and r["layer"] == layer and r["fold_seed"] == fs
                    and r["seed"] in seeds_per_assignment]
            if mine:
                per[fs] = float(np.mean([r["mean_f1"] for r in mine]))
        if len(per) < 2:
            continue
        v = np.array(list(per.values()))
        out.append({"layer": layer, "per_assignment": {str(k): x for k, x in per.items()}, "assignments": len(per),
                    "mean": float(v.mean()), "std": float(v.std(ddof=1)), "min": float(v.min()), "max": float(v.max()),
                    "range": float(v.max() - v.min())})
    return out


def selection_summary(rows) -> list[dict]:
    """Points of average F1 that choosing on the test fold adds over choosing on validation subjects."""
    groups = {}
    for r in rows:
        keys = [(r["protocol"], r["layer"]), (r["protocol"], "all layers")]
        # a collapsed run (near-chance ranking) gains most from a threshold chosen on the test fold
        if r["mean_auc"] >= LEARNED_AUC:
            keys.append((r["protocol"], f"all runs with AUC >= {LEARNED_AUC}"))
        for key in keys:
            groups.setdefault(key, []).append(r)
    out = []
    for (protocol, layer), rs in groups.items():
        epoch = 100 * (np.array([r["test_selected_f1"] for r in rs]) - np.array([r["recorded_val_selected_f1"] for r in rs]))
        thr = 100 * (np.array([r["test_selected_with_threshold_f1"] for r in rs]) - np.array([r["recorded_val_selected_f1"] for r in rs]))
        out.append({"protocol": protocol, "layer": layer, "runs": len(rs),
                    "epoch_gain_mean": float(epoch.mean()), "epoch_gain_std": float(epoch.std(ddof=1)) if len(rs) > 1 else 0.0,
                    "epoch_gain_max": float(epoch.max()),
                    "threshold_gain_mean": float(thr.mean()), "threshold_gain_std": float(thr.std(ddof=1)) if len(rs) > 1 else 0.0,
                    "threshold_gain_min": float(thr.min()), "threshold_gain_max": float(thr.max())})
    return out


# --- writing -----------------------------------------------------------------------------------------------
def cmp_cell(c) -> str:
    """'+1.2 [-0.3, 2.7] p=0.11 · 0.62/0.30/0.08 · unsure' in F1 points; P(better/equal/worse) from baycomp."""
    if not c:
        return "—"
    return (f"{100 * c['mean_diff']:+.1f} [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}] p={c['p']:.2f} · "
            f"{c['p_a_better']:.2f}/{c['p_equal']:.2f}/{c['p_b_better']:.2f} · **{c['verdict']}**")


def layer_table(summary) -> list[str]:
    lines = ["| layer | runs | F1 | AUC | params (relation + classifier / total) | train s/run | faces/s full / head | vs gcn (F1) | vs none (F1) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in sorted(summary, key=lambda s: -s["f1_mean"]):
        speed = (f"{s['speed_full_faces_per_s']:,.0f} / {s['speed_head_faces_per_s']:,.0f}"
                 if s.get("speed_full_faces_per_s") else "—")
        lines.append(f"| {s['layer']} | {s['runs']} | {pm(s['f1_mean'], s['f1_std'])} | {pm(s['auc_mean'], s['auc_std'])} | "
                     f"{s['params_relation'] + s['params_classifier']:,} / {s['params_total']:,} | {s['train_seconds_mean']:.1f} | "
                     f"{speed} | {cmp_cell(s['vs_gcn'])} | {cmp_cell(s['vs_none'])} |")
    return lines


def per_au_table(summary, aus, key="per_au_f1") -> list[str]:
    lines = ["| layer | " + " | ".join(f"AU{a}" for a in aus) + " | avg |", "|---" * (len(aus) + 2) + "|"]
    for s in sorted(summary, key=lambda s: -s["f1_mean"]):
        avg = pm(s["f1_mean"], s["f1_std"]) if key == "per_au_f1" else pm(s["auc_mean"], s["auc_std"])
        lines.append(f"| {s['layer']} | " + " | ".join(pm(*s[key][f"AU{a}"]) for a in aus) + f" | {avg} |")
    return lines


def plots(out: Path, name: str, summaries: dict, spread: list[dict]) -> list[str]:
    plt = pyplot()
    written = []
    order = [s["layer"] for s in sorted(summaries.get("frozen", []), key=lambda s: -s["f1_mean"])]
    # per-layer F1 with error bars (std over runs), both protocols
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, (protocol, marker) in enumerate(zip(PROTOCOLS, "os")):
        ss = {s["layer"]: s for s in summaries.get(protocol, [])}
        xs = [order.index(l) + (0.15 if i else -0.15) for l in ss if l in order]
        ax.errorbar(xs, [100 * ss[l]["f1_mean"] for l in ss if l in order], [100 * ss[l]["f1_std"] for l in ss if l in order],
                    fmt=marker, capsize=3, label=protocol)
    ax.set_xticks(range(len(order)), order, rotation=30)
    ax.set_ylabel("average F1 (%) on test subjects, mean ± std")
    ax.set_title(f"{name}: relation layers (selection on validation subjects)")
    ax.legend()
    save_figure(fig, out / f"relation_layers_{name}_f1.png")
    written.append(f"relation_layers_{name}_f1.png")
    # paired differences with their corrected 95% intervals
    LIM = 25
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, ref in zip(axes, REFERENCES):
        for i, (protocol, marker) in enumerate(zip(PROTOCOLS, "os")):
            ss = [s for s in summaries.get(protocol, []) if s.get(f"vs_{ref}") and s["layer"] in order]
            ys = [order.index(s["layer"]) + (0.15 if i else -0.15) for s in ss]
            d = np.array([100 * s[f"vs_{ref}"]["mean_diff"] for s in ss])
            lo = np.array([100 * s[f"vs_{ref}"]["ci_low"] for s in ss])
            hi = np.array([100 * s[f"vs_{ref}"]["ci_high"] for s in ss])
            if len(ss):
                # a collapsed layer would squeeze the rest: intervals are cut at ±LIM, the mean written beside
                c = np.clip(d, -LIM, LIM)
                ax.errorbar(c, ys, xerr=[c - np.clip(lo, -LIM, LIM), np.clip(hi, -LIM, LIM) - c], fmt=marker, capsize=3,
                            label=protocol)
                for x, y, v in zip(c, ys, d):
                    if abs(v) > LIM:
                        ax.annotate(f"{v:+.0f}", (x, y), textcoords="offset points", xytext=(8 if v < 0 else -22, 4), fontsize=8)
        ax.set_xlim(-LIM - 2, LIM + 2)
        ax.axvspan(-1, 1, color="0.85", label="ROPE ±1 point")
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_title(f"F1 difference: layer − {ref} (95% corrected interval)")
        ax.set_xlabel("F1 points")
        ax.legend(fontsize=8)
    axes[0].set_yticks(range(len(order)), order)
    save_figure(fig, out / f"relation_layers_{name}_paired.png")
    written.append(f"relation_layers_{name}_paired.png")
    if spread:
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, s in enumerate(spread):
            for fs, v in s["per_assignment"].items():
                ax.plot(i, 100 * v, "D" if fs == "-1" else "o", color="C3" if fs == "-1" else "C0", alpha=0.8)
            ax.vlines(i, 100 * s["min"], 100 * s["max"], color="0.6")
        ax.set_xticks(range(len(spread)), [s["layer"] for s in spread])
        ax.set_ylabel("average F1 (%) over the 3 folds")
        ax.set_title(f"{name}: fold assignments (red: standard folds)")
        save_figure(fig, out / f"relation_layers_{name}_folds.png")
        written.append(f"relation_layers_{name}_folds.png")
    return written


def part_wall_lines(history: list[dict]) -> list[str]:
    """The whole part's wall time, as each invocation that trained part of it measured it."""
    if not history:
        return []
    out = ["Wall time of the whole part, per invocation that trained in it (stage-1 models it needed included):", "",
           "| date | runs trained / in the part | stage-1 models trained | jobs | wall | load before → after |",
           "|---|---|---|---|---|---|"]
    for h in history:
        load = " → ".join("?" if v is None else f"{v:.1f}" for v in h["load"])
        out.append(f"| {h['date']} | {h['runs_trained']} / {h['runs']} | {h.get('stage1_models_trained', '?')} | "
                   f"{h['jobs']} | {h['wall_s'] / 60:.1f} min | {load} |")
    return out + [""]


def markdown(name, doc) -> str:
    aus = doc["aus"]
    lines = [f"# Relation layers on {name}", ""]
    if doc["quick"]:
        lines += [f"**{QUICK_NOTE}**", ""]
    lines += [f"Store `{doc['store']}`, {doc['folds']} folds, seeds {doc['seeds']}, budget `{doc['budget']}`: "
              f"`{json.dumps(doc['budget_overrides'])}`; selection on validation subjects, threshold 0.5. "
              f"Machine: {doc['machine']['machine']}, {doc['machine']['cpus']} CPUs, torch {doc['machine']['torch']}, "
              f"git {doc['machine']['git']}, {doc['machine']['date']}.", "",
              "Comparison cells: mean F1 difference (points) [corrected 95% interval], corrected t-test p, "
              "baycomp P(layer better / equal within ±1 point / worse), verdict ('a' = this layer better, 'b' = the "
              "reference better, 'equal', or 'unsure'). 'faces/s full' = uint8 crops to probabilities, 'head' = "
              "latents to probabilities (relation layers + classifier), one thread, fold 1 seed 0 model.", ""]
    for protocol in PROTOCOLS:
        summary = doc["summary"].get(protocol, [])
        if not summary:
            lines += [f"## {protocol}", "", "no finished runs", ""]
            continue
        t = doc["timing"][protocol]
        lines += [f"## {protocol}", "", *layer_table(summary), "",
                  f"Wall time of the layer runs (sum over {t['runs_timed']} of {t['runs']} runs trained by this script; "
                  f"stage-1 models excluded): {t['wall_s']:.0f} s; load average during them {t['load']}.", "",
                  *part_wall_lines(doc["timing"].get("part_walls", {}).get(protocol, [])),
                  f"Per-AU F1 ({protocol})", "", *per_au_table(summary, aus), "",
                  f"Per-AU AUC ({protocol})", "", *per_au_table(summary, aus, "per_au_auc"), ""]
    s1 = doc["timing"]["stage1"]
    lines += [f"Stage-1 models: {s1['models']} finished, training time {s1['train_seconds']:.0f} s in all "
              f"(sum of epoch times).", ""]
    if doc["fold_assignments"]:
        lines += ["## Fold assignments (frozen)", "",
                  f"Average F1 over the 3 folds of each assignment (seeds {doc['fold_assignment_seeds']}): the standard "
                  "folds (-1) and random subject-exclusive ones (fold seed >= 0).", "",
                  "| layer | assignments | " + " | ".join(f"fold seed {k}" for k in doc["fold_assignments"][0]["per_assignment"])
                  + " | mean ± std | range |", "|---" * (4 + len(doc["fold_assignments"][0]["per_assignment"])) + "|"]
        for s in doc["fold_assignments"]:
            lines.append(f"| {s['layer']} | {s['assignments']} | " + " | ".join(f"{100 * v:.1f}" for v in s["per_assignment"].values())
                         + f" | {pm(s['mean'], s['std'])} | {100 * s['range']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def selection_markdown(name, summary, quick) -> str:
    lines = [f"# Cost of selecting on the test fold: {name}", ""]
    if quick:
        lines += [f"**{QUICK_NOTE}**", ""]
    lines += ["Points of average F1 (test subjects) added over the honest choice (epoch with the best validation F1, "
              "threshold 0.5) by the public codebases' choices made on the test fold itself: the best epoch at 0.5, and "
              "the best epoch with the best global threshold (0.05 … 0.95). Mean ± std over runs, and the extremes.", "",
              "| protocol | layer | runs | best epoch: mean ± std (max) | best epoch + threshold: mean ± std (min … max) |",
              "|---|---|---|---|---|"]
    for s in sorted(summary, key=lambda s: (s["protocol"], not s["layer"].startswith("all "), s["layer"])):
        lines.append(f"| {s['protocol']} | {s['layer']} | {s['runs']} | {s['epoch_gain_mean']:+.2f} ± {s['epoch_gain_std']:.2f} "
                     f"({s['epoch_gain_max']:+.2f}) | {s['threshold_gain_mean']:+.2f} ± {s['threshold_gain_std']:.2f} "
                     f"({s['threshold_gain_min']:+.2f} … {s['threshold_gain_max']:+.2f}) |")
    return "\n".join(lines) + "\n"
