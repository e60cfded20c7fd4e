"""The results of the relation-layers benchmark: per-layer summaries and paired comparisons with ``gcn`` and
``none`` (at the n_test / n_train of the subjects fitted on, at the other plausible ratios, and on per-test-set
means), the spread over fold assignments, the provenance check, the cost of selecting on the test fold, and
their tables (Markdown) and plots.

Every standard deviation here is the sample one (ddof 1), as ``cv``'s are."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from benchmarks.common import pm, pyplot, save_figure
from benchmarks.paired_stats import PRIMARY_RATIO, RATIO_NAMES, compare, plausible_ratios, verdicts_by_ratio

PROTOCOLS = ("frozen", "end-to-end")
REFERENCES = ("gcn", "none")  # every layer is compared with these two
#: intensity scores of runs with an intensity head (model.task intensity or both), compared like F1
INTENSITY_KEYS = ("icc", "mae", "r")
LEARNED_AUC = 0.6  # below it a run has not learned to rank faces (e.g. one predicting every AU everywhere)
QUICK_NOTE = "--quick: a tiny synthetic store and a 1-3 epoch budget; it checks the pipeline and proves nothing about accuracy."


#: how tables name a layer: ``none`` is not the paper's AU-Net (it keeps the face node and the Dice loss)
DISPLAY = {"none": "none (no graph)"}


def display(layer: str) -> str:
    return DISPLAY.get(layer, layer)


def std1(values) -> float:
    """The sample standard deviation (ddof 1) of the finite values; 0 for fewer than two."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    return float(v.std(ddof=1)) if len(v) > 1 else 0.0


# --- statistics ----------------------------------------------------------------------------------------
def scores_by_run(rows, protocol, layer, key="mean_f1") -> dict:
    """{(fold_seed, seed, fold): score} of one layer's runs."""
    return {(r["fold_seed"], r["seed"], r["fold"]): r[key] for r in rows
            if r["protocol"] == protocol and r["layer"] == layer}


def paired_keys(a: dict, b: dict, folds: int) -> list[tuple]:
    """The (fold_seed, seed, fold) runs both have, whole repetitions (every fold of an assignment and seed) only."""
    reps = sorted({k[:2] for k in a} & {k[:2] for k in b})
    reps = [r for r in reps if all((*r, f) in a and (*r, f) in b for f in range(1, folds + 1))]
    return [(*r, f) for r in reps for f in range(1, folds + 1)]


def run_splits_of(rows, protocol, layer, keys) -> list[dict]:
    """The split counts (subjects, faces) recorded by ``layer``'s runs at ``keys``."""
    by = {(r["fold_seed"], r["seed"], r["fold"]): r for r in rows if r["protocol"] == protocol and r["layer"] == layer}
    names = ("train_subjects", "val_subjects", "test_subjects", "train_faces", "val_faces", "test_faces")

    def count(r, name):
        v = r.get(f"n_{name}")
        return float(v) if isinstance(v, (int, float, np.integer, np.floating)) and v == v else 0.0

    out = [{n: count(by.get(k, {}), n) for n in names} for k in keys]
    needed = ("train_subjects", "test_subjects", "train_faces", "test_faces")
    return out if all(c[n] > 0 for c in out for n in needed) else []  # older rows without counts: nominal ratio


def per_test_set(a: dict, b: dict, keys) -> tuple[list, list, int]:
    """Both models' scores averaged over the seeds that share a test set (fold assignment and fold), in
    assignment-major order, and the number of assignments."""
    sets = sorted({(k[0], k[2]) for k in keys})
    mean = lambda d, s: float(np.mean([d[k] for k in keys if (k[0], k[2]) == s]))  # noqa: E731
    return [mean(a, s) for s in sets], [mean(b, s) for s in sets], len({s[0] for s in sets})


def paired(rows, protocol, layer, ref, folds: int, key="mean_f1", rope: float = 0.01) -> dict | None:
    """paired_stats.compare of ``layer`` against ``ref`` over the runs both have, whole repetitions only, at the
    n_test / n_train of the subjects the runs fitted on; beside it the verdicts at the other plausible ratios
    (``ratios``, ``ratio_changes_verdict``) and the test on per-test-set means (``per_test_set``)."""
    a, b = scores_by_run(rows, protocol, layer, key=key), scores_by_run(rows, protocol, ref, key=key)
    keys = paired_keys(a, b, folds)
    if len(keys) < 2 or layer == ref:
        return None
    xa, xb = [a[k] for k in keys], [b[k] for k in keys]
    ratios = plausible_ratios(run_splits_of(rows, protocol, ref, keys), folds)
    name = PRIMARY_RATIO if PRIMARY_RATIO in ratios else "nominal"
    out = {**compare(xa, xb, folds=folds, rope=rope, test_train_ratio=ratios[name]).to_dict(), "ratio_name": name}
    by_ratio = verdicts_by_ratio(xa, xb, folds, rope, ratios)
    out["ratios"], out["ratio_changes_verdict"] = by_ratio["by_ratio"], by_ratio["changes"]
    ma, mb, assignments = per_test_set(a, b, keys)
    out["test_sets"], out["assignments"] = len(ma), assignments
    out["per_test_set"] = (compare(ma, mb, folds=folds, rope=rope, test_train_ratio=ratios[name]).to_dict()
                           if len(ma) < len(keys) and len(ma) >= 2 else None)  # None: one run per test set already
    return out


def summarise(rows, protocol, layers, aus, folds, speeds) -> list[dict]:
    """Per layer: mean ± std (ddof 1) of the average and per-AU scores over its runs, its mean validation F1,
    parameters, times, and the paired tests."""
    out = []
    for layer in layers:
        mine = [r for r in rows if r["protocol"] == protocol and r["layer"] == layer]
        if not mine:
            continue
        col = lambda k: np.array([r[k] for r in mine], float)  # noqa: E731
        walls = [r["wall_seconds"] for r in mine if r["wall_seconds"] is not None]
        s = {"layer": layer, "runs": len(mine), "f1_mean": col("mean_f1").mean(), "f1_std": std1(col("mean_f1")),
             "auc_mean": np.nanmean(col("mean_auc")), "auc_std": std1(col("mean_auc")),
             "val_f1_mean": float(np.nanmean(col("val_f1_at_selected"))),
             "params_total": int(mine[0]["params_total"] or 0), "params_relation": int(mine[0]["params_relation"] or 0),
             "params_classifier": int(mine[0]["params_classifier"] or 0),
             "train_seconds_mean": col("train_seconds").mean(), "wall_seconds_mean": float(np.mean(walls)) if walls else None,
             "per_au_f1": {f"AU{au}": [float(np.nanmean(col(f"f1_AU{au}"))), std1(col(f"f1_AU{au}"))] for au in aus},
             "per_au_auc": {f"AU{au}": [float(np.nanmean(col(f"auc_AU{au}"))), std1(col(f"auc_AU{au}"))] for au in aus},
             **{f"speed_{k}": v for k, v in speeds.get((protocol, layer), {}).items()}}
        for ref in REFERENCES:
            s[f"vs_{ref}"] = paired(rows, protocol, layer, ref, folds)
            s[f"vs_{ref}_auc"] = paired(rows, protocol, layer, ref, folds, key="mean_auc")
        if all(r.get("mean_icc") is not None for r in mine):  # runs with an intensity head: the same statistics
            for key in INTENSITY_KEYS:
                s[f"{key}_mean"], s[f"{key}_std"] = float(np.nanmean(col(f"mean_{key}"))), std1(col(f"mean_{key}"))
                for ref in REFERENCES:
                    s[f"vs_{ref}_{key}"] = paired(rows, protocol, layer, ref, folds, key=f"mean_{key}")
            s["per_au_icc"] = {f"AU{au}": [float(np.nanmean(col(f"icc_AU{au}"))), std1(col(f"icc_AU{au}"))]
                               for au in aus if f"icc_AU{au}" in mine[0]}
        out.append({k: (float(v) if isinstance(v, np.floating) else v) for k, v in s.items()})
    return out


def choose_e2e_layers(rows, layers, known, n_others: int = 2) -> list[str]:
    """The end-to-end layers: ``gcn`` and ``none``, then the ``n_others`` other frozen layers with the best mean
    *validation* F1 at their selected epochs (the test subjects never choose what is trained next)."""
    val = {}
    for layer in layers:
        mine = [r["val_f1_at_selected"] for r in rows if r["protocol"] == "frozen" and r["layer"] == layer
                and r["val_f1_at_selected"] is not None]
        if mine:
            val[layer] = float(np.mean(mine))
    others = sorted((l for l in val if l not in REFERENCES), key=lambda l: -val[l])
    return [l for l in REFERENCES if l in known] + others[:n_others]


def fold_assignment_spread(rows, protocol, layers) -> list[dict]:
    """Per layer: the average F1 over the folds (and seeds) of each fold assignment, and its spread."""
    out = []
    for layer in layers:
        per = {}
        for fs in sorted({r["fold_seed"] for r in rows}):
            mine = [r for r in rows if r["protocol"] == protocol and r["layer"] == layer and r["fold_seed"] == fs]
            if mine:
                per[fs] = float(np.mean([r["mean_f1"] for r in mine]))
        if len(per) < 2:
            continue
        v = np.array(list(per.values()))
        out.append({"protocol": protocol, "layer": layer, "per_assignment": {str(k): x for k, x in per.items()},
                    "assignments": len(per), "mean": float(v.mean()), "std": std1(v), "min": float(v.min()),
                    "max": float(v.max()), "range": float(v.max() - v.min())})
    return out


# --- provenance -------------------------------------------------------------------------------------------
def run_name(r) -> str:
    return f"{r['protocol']}/{r['layer']} fold-seed {r['fold_seed']} fold {r['fold']} seed {r['seed']}"


def provenance_check(rows, stage1: dict) -> dict:
    """What a comparison must not mix, and the runs that do:

    * ``revisions``: every run (and stage-1 model) trained by one revision of the code;
    * ``stage1``: the layer runs of a group started from the stage-1 model that is there now (same config
      digest), so that no layer run was started from a stage-1 model since retrained;
    * ``settings``: the runs of one (protocol, layer) have one config apart from fold, fold seed, seed and
      the stage-1 path (a budget changed mid-comparison shows here).

    Returns ``{"revisions": {revision: runs}, "problems": [lines]}``; runs that predate the digests (no
    recorded value) are not held against the checks they cannot answer."""
    problems = []
    revisions = {}
    for r in rows:
        revisions.setdefault(r.get("git") or "unknown", []).append(run_name(r))
    for g, doc in stage1.items():
        revisions.setdefault(doc.get("git") or "unknown", []).append(f"stage-1 fold-seed {g.fold_seed} fold {g.fold} seed {g.seed}")
    if len(revisions) > 1:
        main = max(revisions, key=lambda k: len(revisions[k]))
        problems.append(f"runs of {len(revisions)} revisions: {len(revisions[main])} by {main}; "
                        + "; ".join(f"by {rev}: {', '.join(names[:12])}{' …' if len(names) > 12 else ''}"
                                    for rev, names in revisions.items() if rev != main))
    for r in rows:
        g = next((g for g in stage1 if (g.fold_seed, g.seed, g.fold) == (r["fold_seed"], r["seed"], r["fold"])), None)
        now = stage1.get(g, {}) if g is not None else {}
        for key, what in (("config_digest", "config digest"), ("git", "revision"), ("finished", "finish time")):
            then, current = r.get(f"init_{key}"), now.get(key)
            if isinstance(then, str) and then and current and then.split(";")[0] != current.split(";")[0]:
                problems.append(f"{run_name(r)} started from a stage-1 model with {what} {then[:19]}, the one there "
                                f"now has {current[:19]} (retrained since)")
                break
    by_layer = {}
    for r in rows:
        if r.get("settings_digest"):
            by_layer.setdefault((r["protocol"], r["layer"]), {}).setdefault(r["settings_digest"], []).append(run_name(r))
    for (protocol, layer), digests in by_layer.items():
        if len(digests) > 1:
            problems.append(f"{protocol}/{layer}: runs with {len(digests)} different settings: "
                            + "; ".join(f"{d}: {', '.join(n[:6])}" for d, n in digests.items()))
    return {"revisions": {k: len(v) for k, v in revisions.items()}, "problems": problems}


def refuse_mixed(check: dict, allow_mixed: bool) -> None:
    """One clear error listing what differs, unless ``--allow-mixed``."""
    if check["problems"] and not allow_mixed:
        raise InputError("the comparison mixes runs that should not be mixed (--allow-mixed reports them anyway, "
                         "listed in the result): " + " | ".join(check["problems"]))


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
    """'+1.2 [-0.3, 2.7] p=0.11 · 0.62/0.30/0.08 · unsure' in F1 points; P(better/equal/worse) from the posterior;
    a dagger when another plausible n_test / n_train gives another verdict."""
    if not c:
        return "—"
    flag = " †" if c.get("ratio_changes_verdict") else ""
    return (f"{100 * c['mean_diff']:+.1f} [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}] p={c['p']:.2f} · "
            f"{c['p_a_better']:.2f}/{c['p_equal']:.2f}/{c['p_b_better']:.2f} · **{c['verdict']}**{flag}")


def layer_table(summary) -> list[str]:
    lines = ["| layer | runs | F1 | AUC | val F1 | params (relation + classifier / total) | train s/run | "
             "faces/s full / head | vs gcn (F1) | vs none (F1) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in sorted(summary, key=lambda s: -s["f1_mean"]):
        speed = (f"{s['speed_full_faces_per_s']:,.0f} / {s['speed_head_faces_per_s']:,.0f}"
                 if s.get("speed_full_faces_per_s") else "—")
        lines.append(f"| {display(s['layer'])} | {s['runs']} | {pm(s['f1_mean'], s['f1_std'])} | "
                     f"{pm(s['auc_mean'], s['auc_std'])} | {100 * s.get('val_f1_mean', float('nan')):.1f} | "
                     f"{s['params_relation'] + s['params_classifier']:,} / {s['params_total']:,} | {s['train_seconds_mean']:.1f} | "
                     f"{speed} | {cmp_cell(s['vs_gcn'])} | {cmp_cell(s['vs_none'])} |")
    return lines


def intensity_table(summary) -> list[str]:
    """ICC(3,1), MAE and Pearson r (means over AUs) per layer, and the paired ICC and MAE comparisons (ICC and r
    in hundredths, MAE in hundredths of an intensity step: the cells' units are the scores' x 100)."""
    if not any("icc_mean" in s for s in summary):
        return []
    lines = ["| layer | runs | ICC(3,1) | MAE (0-5) | r | vs gcn (ICC) | vs none (ICC) | vs gcn (MAE) | vs none (MAE) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in sorted((s for s in summary if "icc_mean" in s), key=lambda s: -s["icc_mean"]):
        lines.append(f"| {display(s['layer'])} | {s['runs']} | {s['icc_mean']:.3f} ± {s['icc_std']:.3f} | "
                     f"{s['mae_mean']:.3f} ± {s['mae_std']:.3f} | {s['r_mean']:.3f} ± {s['r_std']:.3f} | "
                     f"{cmp_cell(s.get('vs_gcn_icc'))} | {cmp_cell(s.get('vs_none_icc'))} | "
                     f"{cmp_cell(s.get('vs_gcn_mae'))} | {cmp_cell(s.get('vs_none_mae'))} |")
    return lines + ["", "Intensity cells: the difference in ICC, r or MAE × 100 with the F1 cells' statistics "
                        "(for MAE, lower is better: 'a' means this layer's MAE is larger).", ""]


def comparisons(summary) -> list[tuple[str, str, dict]]:
    """(layer, reference, comparison) of a summary, best layer first, each pair once (not also its mirror image)."""
    seen, out = set(), []
    for s in sorted(summary, key=lambda s: -s["f1_mean"]):
        for ref in REFERENCES:
            if s.get(f"vs_{ref}") and frozenset((s["layer"], ref)) not in seen:
                seen.add(frozenset((s["layer"], ref)))
                out.append((s["layer"], ref, s[f"vs_{ref}"]))
    return out


def ratio_table(summary) -> list[str]:
    """Every comparison's verdict at each plausible n_test / n_train, and whether it changes."""
    rows = comparisons(summary)
    if not rows:
        return []
    names = list(rows[0][2]["ratios"])
    lines = ["| layer − reference | " + " | ".join(f"{n} ({rows[0][2]['ratios'][n]['ratio']:.3f})" for n in names)
             + " | changes |", "|---" * (len(names) + 2) + "|"]
    for layer, ref, c in rows:
        lines.append(f"| {display(layer)} − {display(ref)} | "
                     + " | ".join(f"p={c['ratios'][n]['p']:.3f} {c['ratios'][n]['verdict']}" for n in names)
                     + f" | {'**yes**' if c['ratio_changes_verdict'] else 'no'} |")
    return lines


def per_test_set_table(summary) -> list[str]:
    """The comparisons on per-test-set means (seeds sharing a fold assignment and fold averaged first)."""
    rows = comparisons(summary)
    if not rows:
        return []
    if all(c["per_test_set"] is None for _, _, c in rows):
        return [f"Each of the {rows[0][2]['test_sets']} test sets ({rows[0][2]['assignments']} fold assignments × "
                "their folds) holds one run per layer, so the per-test-set-mean test is the test above.", ""]
    lines = ["| layer − reference | test sets | per-run test | per-test-set-mean test |", "|---|---|---|---|"]
    for layer, ref, c in rows:
        lines.append(f"| {display(layer)} − {display(ref)} | {c['test_sets']} | {cmp_cell(c)} | "
                     f"{cmp_cell(c['per_test_set'])} |")
    return lines + [""]


def per_au_table(summary, aus, key="per_au_f1") -> list[str]:
    lines = ["| layer | " + " | ".join(f"AU{a}" for a in aus) + " | avg |", "|---" * (len(aus) + 2) + "|"]
    for s in sorted(summary, key=lambda s: -s["f1_mean"]):
        avg = pm(s["f1_mean"], s["f1_std"]) if key == "per_au_f1" else pm(s["auc_mean"], s["auc_std"])
        lines.append(f"| {display(s['layer'])} | " + " | ".join(pm(*s[key][f"AU{a}"]) for a in aus) + f" | {avg} |")
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
    ax.set_xticks(range(len(order)), [display(l) for l in order], rotation=30)
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
    axes[0].set_yticks(range(len(order)), [display(l) for l in order])
    save_figure(fig, out / f"relation_layers_{name}_paired.png")
    written.append(f"relation_layers_{name}_paired.png")
    if spread:
        fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(spread)), 4))
        for i, s in enumerate(spread):
            for fs, v in s["per_assignment"].items():
                ax.plot(i, 100 * v, "D" if fs == "-1" else "o", color="C3" if fs == "-1" else "C0", alpha=0.8)
            ax.vlines(i, 100 * s["min"], 100 * s["max"], color="0.6")
        ax.set_xticks(range(len(spread)), [f"{display(s['layer'])}\n{s['protocol']}" for s in spread], rotation=30,
                      fontsize=7)
        ax.set_ylabel("average F1 (%) over the folds of an assignment")
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


def repetitions_line(doc) -> str:
    assignments = doc["assignments"]
    random_ = [a for a in assignments if a >= 0]
    parts = []
    if random_:
        parts.append(f"{len(random_)} random subject-exclusive {doc['folds']}-fold assignment"
                     f"{'s' if len(random_) > 1 else ''} (fold seed{'s' if len(random_) > 1 else ''} "
                     f"{', '.join(map(str, random_))})")
    if -1 in assignments:
        parts.append("the standard folds")
    seeds = doc.get("seeds_of", {})
    tied = all(v == [max(int(k), 0)] for k, v in seeds.items())
    return (" and ".join(parts) + f": {doc.get('test_sets', '?')} distinct test sets; training seeds "
            + ("tied to the repetition (fold seed k trains with seed k, the standard folds with 0)" if tied else
               "; ".join(f"fold seed {k}: {', '.join(map(str, v))}" for k, v in seeds.items())))


def provenance_lines(doc) -> list[str]:
    prov = doc.get("provenance")
    if not prov:
        return []
    lines = ["## Provenance", "",
             "Revisions that trained the runs (a `-dirty.<digest>` suffix: uncommitted package changes, digest of the "
             "diff): " + "; ".join(f"`{k}` ({v} runs)" for k, v in prov["revisions"].items()) + ".", ""]
    if prov["problems"]:
        lines += ["**Mixed (reported with `--allow-mixed`):**", "", *[f"* {p}" for p in prov["problems"]], ""]
    else:
        lines += ["One revision, one stage-1 model per group as started from, one configuration per layer: "
                  "nothing mixed.", ""]
    return lines


def set_flags(sets) -> str:
    """``["a.b=1", "c.d=2"]`` -> ``--set a.b=1 --set c.d=2``: grid overrides as the command line gave them."""
    return " ".join(f"--set {s}" for s in sets)


def grid_overrides_line(doc) -> str:
    """The ``--set`` overrides every run of the grid (stage-1 models included) trained with, if any."""
    sets = doc.get("grid_overrides") or []
    return f"; every run, stage-1 models included, with `{set_flags(sets)}`" if sets else ""


def markdown(name, doc) -> str:
    aus = doc["aus"]
    lines = [f"# Relation layers on {name}", ""]
    if doc["quick"]:
        lines += [f"**{QUICK_NOTE}**", ""]
    ratio = doc.get("ratios", {})
    lines += [f"Store `{doc['store']}`, {repetitions_line(doc)}; budget `{doc['budget']}`: "
              f"`{json.dumps(doc['budget_overrides'])}`" + grid_overrides_line(doc)
              + "; selection on validation subjects, threshold 0.5. "
              f"Machine: {doc['machine']['machine']}, {doc['machine']['cpus']} CPUs, torch {doc['machine']['torch']}, "
              f"report written at git {doc['machine']['git']}, {doc['machine']['date']}.", "",
              "Comparison cells: mean F1 difference (points) [corrected 95% interval], corrected t-test p, "
              "P(layer better / equal within ±1 point / worse) from the Bayesian correlated t-test, verdict ('a' = "
              "this layer better, 'b' = the reference better, 'equal', or 'unsure'); † = another plausible "
              "n_test / n_train gives another verdict (table below). Both tests use n_test / n_train = "
              + (f"{ratio[PRIMARY_RATIO]:.3f}, {RATIO_NAMES[PRIMARY_RATIO]}" if PRIMARY_RATIO in ratio else
                 "1 / (folds − 1) (the runs do not record their subjects)")
              + ". `none (no graph)` is the model without a relation graph (G = I); it keeps the whole-face node and "
              "the Dice loss, so it is not the paper's AU-Net. 'val F1' = mean validation F1 at the selected epochs "
              "(what chose the end-to-end layers). 'faces/s full' = uint8 crops to probabilities, 'head' = latents to "
              "probabilities (relation layers + classifier), one thread. Standard deviations are over runs, ddof 1.", "",
              "The plausible ratios n_test / n_train: " + "; ".join(f"*{k}*: {v}" for k, v in RATIO_NAMES.items())
              + ". Subjects without the validation ones are the default: subjects are what the folds resample and "
              "validation subjects only choose the epoch (benchmarks/paired_stats.py).", ""]
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
                  f"Does a verdict depend on n_test / n_train? ({protocol})", "", *ratio_table(summary), "",
                  f"Per-test-set means ({protocol})", "", *per_test_set_table(summary),
                  f"Per-AU F1 ({protocol})", "", *per_au_table(summary, aus), "",
                  f"Per-AU AUC ({protocol})", "", *per_au_table(summary, aus, "per_au_auc"), "",
                  *([f"Intensity ({protocol})", "", *intensity_table(summary)] if intensity_table(summary) else [])]
    s1 = doc["timing"]["stage1"]
    lines += [f"Stage-1 models: {s1['models']} finished, training time {s1['train_seconds']:.0f} s in all "
              f"(sum of epoch times).", ""]
    if doc["fold_assignments"]:
        keys = list(doc["fold_assignments"][0]["per_assignment"])
        lines += ["## Fold assignments", "",
                  "Average F1 over the folds of each assignment: random subject-exclusive ones (fold seed >= 0) and, "
                  "if run, the standard folds (-1). How much the assignment of subjects to folds alone moves a score.", "",
                  "| protocol | layer | " + " | ".join(f"fold seed {k}" for k in keys) + " | mean ± std | range |",
                  "|---" * (4 + len(keys)) + "|"]
        for s in doc["fold_assignments"]:
            lines.append(f"| {s['protocol']} | {display(s['layer'])} | "
                         + " | ".join(f"{100 * s['per_assignment'][k]:.1f}" if k in s["per_assignment"] else "—" for k in keys)
                         + f" | {pm(s['mean'], s['std'])} | {100 * s['range']:.1f} |")
        lines.append("")
    lines += provenance_lines(doc)
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
