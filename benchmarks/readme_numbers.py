"""The numbers in the READMEs and docs, generated from the committed result files so that they cannot drift.

    python -m benchmarks.readme_numbers            # rewrites every marked block from benchmarks/results/
    python -m benchmarks.readme_numbers --check    # exit 1 and name the blocks that differ (run by the tests)

A block is marked in README.md, benchmarks/README.md or docs/*.md as

    <!-- numbers:NAME -->…<!-- /numbers -->

and everything between the two markers is :data:`BLOCKS`[NAME]'s output, written from
``benchmarks/results/*.json|csv`` and nothing else. A block may be a phrase inside a sentence or a whole
table (tables sit between blank lines). An unknown NAME is an error, and so is a block whose result file is
missing. To change a number, rerun the benchmark that writes its result file, then this script.

The relation-layer results committed now are from the protocol before repetitions re-split the subjects
(3 seeds on the standard folds, so 3 distinct test sets; the corrected test at n_test / n_train = 1/2 over
the 9 runs). Beside each recorded verdict the tables give the test on the per-fold means (the 3 distinct
test sets, seeds averaged), which is what those runs can honestly support; its ratio stays the recorded 1/2
(the result files do not record the subjects, and a larger ratio, e.g. the 8/12 of the subjects actually
fitted on, only raises p).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from benchmarks.common import REPO, RESULTS
from benchmarks.paired_stats import compare

MARKED = re.compile(r"(<!-- numbers:([\w.-]+) -->)(.*?)(<!-- /numbers -->)", re.S)
NOMINAL = 0.5  # the ratio the committed 3-fold results used


def documents() -> list[Path]:
    return [REPO / "README.md", REPO / "benchmarks" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


# --- reading the result files ---------------------------------------------------------------------------
#: the positive control rerun with stage 1 chosen on the occluded preset's validation subjects (lambda_recon 1,
#: 36 stage-1 epochs, lambda_roi 3): its comparisons, oracles and probes, under results/MENDED/
MENDED = "stage1_mended"


@lru_cache(maxsize=None)
def result_json(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise InputError(f"{path} is missing: rerun the benchmark that writes it")
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def result_rows(name: str):
    import pandas as pd

    path = RESULTS / f"{name}.csv"
    if not path.exists():
        raise InputError(f"{path} is missing: rerun the benchmark that writes it")
    return pd.read_csv(path)


def summary(store: str, protocol: str, folder: str = "") -> dict[str, dict]:
    """{layer: summary row} of results/<folder>/relation_layers_<store>.json for one protocol."""
    return {s["layer"]: s for s in result_json(f"{folder}relation_layers_{store}")["summary"][protocol]}


def per_fold_test(store: str, protocol: str, layer: str, ref: str):
    """The corrected test on per-fold means (seeds averaged: one score per distinct test set)."""
    rows = result_rows(f"relation_layers_{store}")
    rows = rows[(rows.protocol == protocol) & (rows.fold_seed == -1)]
    a = rows[rows.layer == layer].groupby("fold").mean_f1.mean().sort_index()
    b = rows[rows.layer == ref].groupby("fold").mean_f1.mean().sort_index()
    folds = sorted(set(a.index) & set(b.index))
    return compare(a[folds].to_numpy(), b[folds].to_numpy(), folds=len(folds), rope=0.01, test_train_ratio=NOMINAL)


# --- formatting -------------------------------------------------------------------------------------------
def name(layer: str) -> str:
    return {"none": "none (no graph)", "gcn": "gcn (AU-GCN)"}.get(layer, layer)


def num(v: float, digits: int = 1, sign: bool = True) -> str:
    """Points (0–1 scores × 100) with a true minus sign."""
    return f"{100 * v:{'+' if sign else ''}.{digits}f}".replace("-", "−")


def pm(mean: float, std: float) -> str:
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def verdict_word(v: str, a: str, b: str) -> str:
    return {"a": f"**{a} better**", "b": f"**{b} better**", "equal": "equal", "unsure": "unsure"}[v]


def cmp_cell(c: dict, a: str, b: str) -> str:
    """'−4.4 [−11.2, +2.4] unsure' from a recorded comparison dict (F1 points)."""
    return f"{num(c['mean_diff'])} [{num(c['ci_low'])}, {num(c['ci_high'])}] {verdict_word(c['verdict'], a, b)}"


def fold_cell(c, a: str, b: str) -> str:
    return f"p {c.p:.2f}, {verdict_word(c.verdict, a, b)}"


def table(head: list[str], rows: list[list[str]], right: tuple[int, ...] = ()) -> str:
    rule = ["---:" if i in right else "---" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(rule) + "|"] + ["| " + " | ".join(r) + " |" for r in rows]
    return "\n\n" + "\n".join(lines) + "\n\n"


# --- the blocks -------------------------------------------------------------------------------------------
def layers_vs_none_table(store: str, protocol: str, times: bool = True) -> str:
    s = summary(store, protocol)
    head = ["layer", "F1", "AUC", *(["train s/run"] if times else []), "vs none (F1), 9 runs as recorded",
            "vs none, per-fold means (3 test sets)"]
    rows = []
    for layer in sorted(s, key=lambda l: -s[l]["f1_mean"]):
        x = s[layer]
        ref = layer == "none"
        rows.append([name(layer), pm(x["f1_mean"], x["f1_std"]), pm(x["auc_mean"], x["auc_std"]),
                     *([f"{x['train_seconds_mean']:.1f}"] if times else []),
                     "—" if ref else cmp_cell(x["vs_none"], layer, "none"),
                     "—" if ref else fold_cell(per_fold_test(store, protocol, layer, "none"), layer, "none")])
    return table(head, rows, right=(3,) if times else ())


def e2e_table(store: str = "store_bp4d") -> str:
    s = summary(store, "end-to-end")
    head = ["layer", "F1", "AUC", "train s/run", "vs gcn (F1)", "vs none (F1)", "vs none, per-fold means"]
    rows = []
    for layer in sorted(s, key=lambda l: -s[l]["f1_mean"]):
        x = s[layer]
        rows.append([name(layer), pm(x["f1_mean"], x["f1_std"]), pm(x["auc_mean"], x["auc_std"]),
                     f"{x['train_seconds_mean']:.1f}",
                     "—" if layer == "gcn" else cmp_cell(x["vs_gcn"], layer, "gcn"),
                     "—" if layer == "none" else cmp_cell(x["vs_none"], layer, "none"),
                     "—" if layer == "none" else fold_cell(per_fold_test(store, "end-to-end", layer, "none"), layer, "none")])
    return table(head, rows, right=(3,))


#: the comparison rerun with an equal tuning budget and re-split repetitions (results/equal_budget/); its
#: untuned reading, trial 0 of the same runs (``--budget 1 --report-only``), in results/equal_budget/untuned/
EQUAL_BUDGET = "equal_budget"


def equal_budget_table(store: str = "store_bp4d", folder: str = EQUAL_BUDGET) -> str:
    """Every layer under the equal budget: F1 untuned and tuned, AUC, the paired comparisons with none and gcn
    over the distinct test sets, and in how many folds the configuration as given won its layer's trials."""
    doc = result_json(f"{folder}/relation_layers_{store}")
    tuned = summary(store, "frozen", f"{folder}/")
    untuned = summary(store, "frozen", f"{folder}/untuned/")
    as_given = {}
    for w in doc["tuning"]["wins"]:
        if w["protocol"] == "frozen" and w["as_given"]:
            as_given[w["point"]] = as_given.get(w["point"], 0) + w["chosen"]
    head = ["layer", "F1, untuned", "F1, tuned", "AUC, tuned", "vs none (F1)", "vs gcn (F1)", "vs none (AUC)",
            "as given kept"]
    rows = []
    for layer in sorted(tuned, key=lambda l: -tuned[l]["f1_mean"]):
        x = tuned[layer]
        u = untuned[layer]
        rows.append([name(layer), pm(u["f1_mean"], u["f1_std"]), pm(x["f1_mean"], x["f1_std"]),
                     pm(x["auc_mean"], x["auc_std"]),
                     "—" if layer == "none" else cmp_cell(x["vs_none"], layer, "none"),
                     "—" if layer == "gcn" else cmp_cell(x["vs_gcn"], layer, "gcn"),
                     "—" if layer == "none" else cmp_cell(x["vs_none_auc"], layer, "none"),
                     f"{as_given.get(layer, 0)} of {x['runs']}"])
    return table(head, rows, right=(7,))


def equal_budget_e2e(store: str = "store_bp4d", folder: str = EQUAL_BUDGET) -> str:
    """The end-to-end part of the equal-budget result (its layers untuned, chosen by frozen validation F1)."""
    s = summary(store, "end-to-end", f"{folder}/")
    rows = [[name(l), pm(s[l]["f1_mean"], s[l]["f1_std"]), pm(s[l]["auc_mean"], s[l]["auc_std"]),
             f"{s[l]['train_seconds_mean']:.1f}",
             "—" if l == "none" else cmp_cell(s[l]["vs_none"], l, "none"),
             "—" if l == "gcn" else cmp_cell(s[l]["vs_gcn"], l, "gcn")]
            for l in sorted(s, key=lambda l: -s[l]["f1_mean"])]
    return table(["layer", "F1", "AUC", "train s/run", "vs none (F1)", "vs gcn (F1)"], rows, right=(3,))


def equal_budget_extras(store: str = "store_bp4d", folder: str = EQUAL_BUDGET) -> str:
    """The equal-budget result's cost of selecting on the test fold (every kept run; its gains are in points,
    hence / 100 for ``num``) and the spread of none's and gcn's average F1 over the fold assignments."""
    doc = result_json(f"{folder}/relation_layers_{store}")
    cost = next(c for c in doc["selection_cost"] if c["protocol"] == "frozen" and c["layer"] == "all layers")
    spread = {s["layer"]: s for s in doc["fold_assignments"] if s["protocol"] == "frozen"}
    fold = "; ".join(
        f"{name(l)} " + " / ".join(f"{100 * v:.1f}" for _, v in sorted(spread[l]["per_assignment"].items(),
                                                                        key=lambda kv: int(kv[0])))
        + f" (range {100 * spread[l]['range']:.1f} points)" for l in ("none", "gcn") if l in spread)
    return (f"selecting the epoch on the test fold adds {num(cost['epoch_gain_mean'] / 100, 2)} ± "
            f"{cost['epoch_gain_std']:.2f} F1 points over the {cost['runs']} kept runs (at most "
            f"{num(cost['epoch_gain_max'] / 100)}), the epoch and a global threshold "
            f"{num(cost['threshold_gain_mean'] / 100, 2)} ± "
            f"{cost['threshold_gain_std']:.2f} (at most {num(cost['threshold_gain_max'] / 100)}); average F1 per fold "
            f"assignment: {fold}")


def equal_budget_summary(store: str = "store_bp4d", folder: str = EQUAL_BUDGET) -> str:
    """One sentence for the README: none against gcn and the best layer under the equal budget, and which layers
    the paired tests tell apart from none either way."""
    s = summary(store, "frozen", f"{folder}/")
    best = max((l for l in s if l != "none"), key=lambda l: s[l]["f1_mean"])
    better = [l for l in s if l != "none" and s[l]["vs_none"]["verdict"] == "a"]
    worse = [l for l in s if l != "none" and s[l]["vs_none"]["verdict"] == "b"]
    test_sets = result_json(f"{folder}/relation_layers_{store}")["test_sets"]
    return (f"`none` {100 * s['none']['f1_mean']:.1f} F1, AU-GCN {100 * s['gcn']['f1_mean']:.1f} "
            f"({cmp_cell(s['gcn']['vs_none'], 'gcn', 'none')}), the best other design {name(best)} "
            f"{100 * s[best]['f1_mean']:.1f} ({cmp_cell(s[best]['vs_none'], best, 'none')}) over {test_sets} "
            f"distinct test sets; called better than `none`: {joined(better) if better else 'no layer'}; called worse: "
            f"{joined(worse) if worse else 'no layer'}")


#: the README blocks of one store's equal-budget result: block-name part, the function that writes it
EQUAL_BUDGET_PARTS = (("", equal_budget_table), ("-extras", equal_budget_extras), ("-summary", equal_budget_summary),
                      ("-e2e", equal_budget_e2e))


def table4_tables(store: str = "store_bp4d", folder: str = f"{EQUAL_BUDGET}/table4") -> str:
    """Table 4's variants under the comparison's protocol beside the paper, per protocol (results/FOLDER/table4_<store>.json)."""
    from benchmarks.table4 import parts_markdown

    return "\n\n" + parts_markdown(result_json(f"{folder}/table4_{store}")["table"], level=4)


def table4_summary(store: str = "store_bp4d", folder: str = f"{EQUAL_BUDGET}/table4") -> str:
    """Each of the paper's steps in F1, per protocol: 'frozen: AU-Net → AU-Net+D +1.7 [−5.4, +8.9] unsure; …'."""
    from benchmarks.ablation_parts import VARIANTS

    label = {v.key: v.label for v in VARIANTS}
    parts = []
    for protocol, part in result_json(f"{folder}/table4_{store}")["table"].items():
        steps = []
        for step, c in part["steps"].items():
            if c:
                a, b = step.split(" -> ")
                steps.append(f"{label[a]} → {label[b]} {cmp_cell(c['mean_f1'], label[b], label[a])}")
        parts.append(f"{protocol}: " + "; ".join(steps))
    return "; ".join(parts)


def table4_selection_cost(store: str = "store_bp4d", folder: str = f"{EQUAL_BUDGET}/table4") -> str:
    """Points that picking the epoch and a threshold on the test fold adds to Table 4's variants, per protocol, with
    and without Dice: 'frozen: +1.5 to +4.2 with Dice, +2.8 to +3.8 without; …'."""
    from benchmarks.ablation_parts import VARIANTS

    dice = {v.key: v.dice for v in VARIANTS}
    parts = []
    for protocol, part in result_json(f"{folder}/table4_{store}")["table"].items():
        gain = {with_dice: [s["test_selected_f1"] - s["f1"] for k, s in part["variants"].items() if dice[k] == with_dice]
                for with_dice in (True, False)}
        parts.append(f"{protocol}: " + ", ".join(f"{num(min(g))} to {num(max(g))} {w}" for w, g in
                                                  (("with Dice", gain[True]), ("without", gain[False])) if g))
    return "; ".join(parts)


def layer_list(store: str, protocol: str = "frozen") -> str:
    """'graphconv 45.9 ± 3.7, sage 45.4 ± 3.3, …' (F1, every layer, best first)."""
    s = summary(store, protocol)
    return ", ".join(f"{name(l)} {pm(s[l]['f1_mean'], s[l]['f1_std'])}" for l in sorted(s, key=lambda l: -s[l]["f1_mean"]))


def diff(store: str, layer: str, ref: str = "none", protocol: str = "frozen") -> str:
    c = summary(store, protocol)[layer][f"vs_{ref}"]
    return f"{num(c['mean_diff'])} [{num(c['ci_low'])}, {num(c['ci_high'])}]"


def recorded_better(store: str, protocol: str = "frozen", ref: str = "none") -> list[str]:
    s = summary(store, protocol)
    return sorted((l for l in s if l != ref and (s[l].get(f"vs_{ref}") or {}).get("verdict") == "b"),
                  key=lambda l: s[l]["f1_mean"])


def surviving(store: str, layers, protocol: str = "frozen", ref: str = "none") -> list[str]:
    return [l for l in layers if per_fold_test(store, protocol, l, ref).verdict == "b"]


def joined(items: list[str]) -> str:
    return "none" if not items else items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def readme_summary() -> str:
    f, e = summary("store_bp4d", "frozen"), summary("store_bp4d", "end-to-end")
    worse = recorded_better("store_bp4d")
    kept = surviving("store_bp4d", worse)
    return (f"{100 * f['none']['f1_mean']:.1f} F1 against AU-GCN's {100 * f['gcn']['f1_mean']:.1f} with frozen "
            f"encoders, {100 * e['none']['f1_mean']:.1f} against {100 * e['gcn']['f1_mean']:.1f} end to end, "
            f"differences the statistics call unsure; {joined(worse)} were called worse over the 9 runs, and on "
            f"the 3 distinct test sets (per-fold means) only {joined(kept)} stays worse")


def losses_on_both() -> str:
    """How much gcn, dense-gcn and gat lose against none on the control and on SynthAU-BP4D."""
    layers = ("gcn", "dense-gcn", "gat")

    def span(store):
        d = sorted(-100 * summary(store, "frozen")[l]["vs_none"]["mean_diff"] for l in layers)
        return f"{d[0]:.1f}–{d[-1]:.1f}"

    return f"lose {span('store_ind')} points on the control and {span('store_bp4d')} on SynthAU-BP4D"


def ablation_part(part: str) -> dict:
    return result_json("ablation")["parts"][part]


def selection_cost_ablation() -> str:
    """Points that selecting on the test fold adds to the Table 4 variants with and without Dice."""
    from benchmarks.ablation_parts import VARIANTS

    dice = {v.key: v.dice for v in VARIANTS}
    gains = {True: [], False: []}
    for part in ("table-frozen", "table-e2e"):
        for key, v in ablation_part(part)["variants"].items():
            gains[dice[key]].append(100 * (v["test_selected_f1"] - v["f1"]))
    return (f"adds {min(gains[True]):.1f}–{max(gains[True]):.1f} points to the variants with Dice and "
            f"{min(gains[False]):.1f}–{max(gains[False]):.1f} to those without")


def rules_costs() -> str:
    sets = ablation_part("rules")["rule_sets"]

    def c(key):
        v = sets[key]["vs_none"]
        return f"{num(v['mean_diff'])} [{num(v['ci_low'])}, {num(v['ci_high'])}], {verdict_word(v['verdict'], key, 'none')}"

    return (f"co-occurrence edges {c('self+cooccurrence')}; the global node's hub {c('self+global')}; all four rules "
            f"{c(next(k for k in sets if k.startswith('all')))}")


def old_parts_revisions() -> str:
    return (f"git {ablation_part('table-e2e')['machine']['git']} for the end-to-end Table 4 and "
            f"{ablation_part('sweep')['machine']['git']} for the threshold sweep")


def relation_layers_revisions() -> str:
    return ", ".join(f"{store.removeprefix('store_')}: git {result_json(f'relation_layers_{store}')['machine']['git']}"
                     for store in ("store_bp4d", "store_ind", "store_disfa"))


def reference_scores() -> str:
    f, e = summary("store_bp4d", "frozen"), summary("store_bp4d", "end-to-end")
    return (f"{100 * f['none']['f1_mean']:.1f} F1 frozen, {100 * e['none']['f1_mean']:.1f} end to end; gcn "
            f"{100 * f['gcn']['f1_mean']:.1f} and {100 * e['gcn']['f1_mean']:.1f}")


def graphconv_gin() -> str:
    f = summary("store_bp4d", "frozen")
    return f"graphconv now reaches F1 {pm(f['graphconv']['f1_mean'], f['graphconv']['f1_std'])} and gin " \
           f"{pm(f['gin']['f1_mean'], f['gin']['f1_std'])}"


def gcn_vs_none_line() -> str:
    f, e = summary("store_bp4d", "frozen"), summary("store_bp4d", "end-to-end")
    return (f"`none` (no graph) {pm(f['none']['f1_mean'], f['none']['f1_std'])} against `gcn` "
            f"{pm(f['gcn']['f1_mean'], f['gcn']['f1_std'])} F1 with frozen encoders ({diff('store_bp4d', 'gcn')}, "
            f"{f['gcn']['vs_none']['verdict']}), {pm(e['none']['f1_mean'], e['none']['f1_std'])} against "
            f"{pm(e['gcn']['f1_mean'], e['gcn']['f1_std'])} end to end ({diff('store_bp4d', 'gcn', protocol='end-to-end')}, "
            f"{e['gcn']['vs_none']['verdict']})")


def rules_table() -> str:
    """The edge-rule ablation: frozen gcn on graphs of fewer ROI-graph rules, against none and the full graph."""
    sets = ablation_part("rules")["rule_sets"]
    rows = []
    for key, v in sets.items():
        vn = v["vs_none"]
        identical = vn["mean_diff"] == 0 and vn["ci_low"] == vn["ci_high"] == 0
        rows.append([key.replace("+", " + ").replace("cooccurrence", "co-occurrence"), f"{v['edges']:.0f}",
                     pm(v["f1"], v["f1_std"]),
                     "+0.0 (identical, run for run)" if identical else cmp_cell(vn, key, "none"),
                     cmp_cell(v["vs_paper_graph"], key, "the paper's graph") if v.get("vs_paper_graph") else "—"])
    return table(["rules", "ROI edges", "F1", "vs none (F1)", "vs the paper's graph (F1)"], rows, right=(1,))


def fold_assignments(store: str = "store_bp4d") -> str:
    """Average F1 over the 3 folds of each fold assignment (standard first), per layer."""
    out = []
    for s in result_json(f"relation_layers_{store}")["fold_assignments"]:
        per = s["per_assignment"]
        keys = sorted(per, key=lambda k: int(k))
        out.append(f"{s['layer']} {' / '.join(f'{100 * per[k]:.1f}' for k in keys)} ({pm(s['mean'], s['std'])}, "
                   f"range {100 * s['range']:.1f} points)")
    return ", ".join(out)


def e2e_choice(store: str = "store_bp4d") -> str:
    """Which two other layers the end-to-end part got (by frozen test F1, as then) and which validation F1 picks."""
    from benchmarks.relation_layers_report import REFERENCES, choose_e2e_layers

    rows = result_rows(f"relation_layers_{store}")
    rows = rows[rows.fold_seed == -1]
    layers = sorted(set(rows.layer))
    by_val = choose_e2e_layers(rows.to_dict("records"), layers, layers)[len(REFERENCES):]
    test = rows[rows.protocol == "frozen"].groupby("layer").mean_f1.mean()
    by_test = [l for l in test.sort_values(ascending=False).index if l not in REFERENCES][:2]
    same = "the same two" if by_val == by_test else joined(by_val)
    return f"{joined(by_test)} by frozen test F1; the mean validation F1 of the same runs picks {same}"


def e2e_gain(store: str = "store_bp4d") -> str:
    f, e = summary(store, "frozen"), summary(store, "end-to-end")
    g = sorted(100 * (e[l]["f1_mean"] - f[l]["f1_mean"]) for l in ("gcn", "none"))
    return f"{g[0]:.1f}–{g[1]:.1f}"


def synthau_evidence() -> str:
    """The occluded preset's missing local evidence and oracle bounds, preset and control
    (``benchmarks/synthau_evidence.py``)."""
    doc = result_json("synthau_evidence")
    rows = [[r["relations"], f"{100 * r['missing_share']:.1f} %", f"{100 * r['missing_share_occluders']:.1f} %",
             f"{100 * r['occluded_frames']:.1f} %", f"{100 * r['local_oracle_f1']:.1f}",
             f"{100 * r['relation_oracle_f1']:.1f}"] for r in doc["rows"]]
    p = doc["parameters"]
    return ("\n\n" + f"`{doc['command']}`: {p['protocol']}, {p['subjects']} subjects × 8 tasks × "
            f"{p['frames_per_video']} frames, seed {p['seed']}; oracles fitted on the first {p['train']} subjects."
            + table(["relations", "AU occurrences without local evidence", "of which occluders alone",
                     "frames with an occluder", "local oracle F1", "relation oracle F1"], rows))


def synthau_evidence_rates(preset: str = "masked", rates=("0.5", "0.9")) -> str:
    """A preset's missing local evidence and its oracles' difference in differences at each occluder rate
    (``benchmarks/synthau_evidence.py --preset P --occlusion R``)."""
    rows = []
    for rate in rates:
        doc = result_json(f"synthau_evidence_{preset}_r{rate}")
        by = {r["relations"]: r for r in doc["rows"]}
        gap = {k: r["relation_oracle_f1"] - r["local_oracle_f1"] for k, r in by.items()}
        rows.append([rate, f"{100 * by['realistic']['occluded_frames']:.1f} %",
                     f"{100 * by['realistic']['missing_share']:.1f} %", num(gap["realistic"]),
                     num(gap["independent"]), num(gap["realistic"] - gap["independent"])])
    p = doc["parameters"]
    return ("\n\n" + f"`python -m benchmarks.synthau_evidence --preset {preset} --occlusion R`: {p['protocol']}, "
            f"{p['subjects']} subjects × 8 tasks × {p['frames_per_video']} frames, seed {p['seed']}; oracles fitted on "
            f"the first {p['train']} subjects." + table(
                ["occluder rate", "frames with a mask", "AU occurrences without local evidence",
                 "oracles' gap, preset", "oracles' gap, control", "oracles' difference in differences"], rows))


def defaults_choice() -> str:
    """The training defaults chosen on validation subjects (results/defaults.json)."""
    doc = result_json("defaults")

    def val(key, value):
        rows = [r for r in doc["rows"] if r["dimension"] == key and r[key] == value]
        return f"{100 * float(np.mean([r['val_f1'] for r in rows])):.1f}"

    c = doc["chosen"]
    lr_others = ", ".join(f"{v:g}: {val('train.lr', v)}" for v in (0.05, 0.2))
    drop_others = ", ".join(f"{v:g}: {val('model.dropout', v)}" for v in doc["grids"]["model.dropout"] if v != c["model.dropout"])
    step = ("no learning-rate decay" if c["train.lr_step"] >= 1000 else f"a decay every {c['train.lr_step']:g} epochs")
    other_step = next(v for v in doc["grids"]["train.lr_step"] if v != c["train.lr_step"])
    other = "no decay" if other_step >= 1000 else f"a decay after {other_step:g} epochs"
    return (f"lr {c['train.lr']:g} (validation F1 {val('train.lr', c['train.lr'])}; {lr_others}), dropout "
            f"{c['model.dropout']:g} ({drop_others}), and, at that {doc['epochs'][1]}-epoch stage 2, {step} "
            f"({val('train.lr_step', c['train.lr_step'])} against {val('train.lr_step', other_step)} for {other})")


def search_choice(name: str) -> str:
    """A coordinate search of ``choose_defaults`` (results/NAME.json): its budget and each dimension's values with
    their validation F1 (mean over the folds), the chosen one first. A search that starts from another
    ``train.epochs_ae`` than its ``--epochs`` (and does not search it) names the stage-1 epochs its points trained."""
    from benchmarks.choose_defaults import stage1_epochs

    doc = result_json(name)
    c = doc["chosen"]

    def val(key, value):
        rows = [r for r in doc["rows"] if r["dimension"] == key and r[key] == value]
        return 100 * float(np.mean([r["val_f1"] for r in rows]))

    def value(key, v):
        return "no decay" if key == "train.lr_step" and v >= 1000 else f"{key.split('.')[1]} {v:g}"

    parts = []
    for key, grid in doc["grids"].items():
        others = ", ".join(f"{value(key, v)}: {val(key, v):.1f}" for v in grid if v != c[key])
        parts.append(f"{value(key, c[key])} (validation F1 {val(key, c[key]):.1f}; {others})")
    return f"at {stage1_epochs(doc):g} + {doc['epochs'][1]} epochs: " + ", then ".join(parts)


def store_gather() -> str:
    """The StoreRows benchmark's README cell (results/store_gather.json): minima, old -> new."""
    doc = result_json("store_gather")
    b, e = doc["batch"], doc["epoch"]
    ms = lambda key, path: f"{b[key][path]['min_ms']:.1f}"  # noqa: E731
    load = sorted(float(doc[k].split()[0]) for k in ("load_before", "load_after"))
    same = all(b[k]["equal"] for k in ("encode_no_flips", "encode_half_flipped")) and e["same_losses"]
    return (f"half-flipped batch → latents **{ms('encode_half_flipped', 'old')} → {ms('encode_half_flipped', 'new')} ms** "
            f"(input stage {ms('input_half_flipped', 'old')} → {ms('input_half_flipped', 'new')} ms); no flips "
            f"{ms('encode_no_flips', 'old')} vs {ms('encode_no_flips', 'new')} ms (no gain: the read is the same); "
            f"epoch **{e['old']['min_ms'] / 1e3:.2f} → {e['new']['min_ms'] / 1e3:.2f} s**; latents and losses "
            f"{'bit for bit' if same else 'DIFFER'} (minima; load average {load[0]:.1f}–{load[1]:.1f})")


def comparison_speed() -> str:
    """The frozen comparison's cost three ways (results/comparison_speed.json): walls, ratios, sameness."""
    doc = result_json("comparison_speed")
    s = doc["side_by_side"]
    w = {m: v["wall_s"] for m, v in s["walls"].items()}
    same = all(v["selected_epoch"] == v["runs"] and v["test_f1_max_abs_diff"] == 0.0
               for v in s["same_as_one_per_process"].values())
    loads = [v for m in s["walls"].values() for v in (m["load_before"], m["load_after"]) if v is not None]
    return (f"{s['runs']} gcn runs: one per process {w['one_per_process'] / 60:.1f} min, one process per stage-1 "
            f"model {w['per_group'] / 60:.1f} min, batched **{w['batched'] / 60:.1f} min**: **{s['ratio']:.2f}×** and "
            f"{s['ratio_per_group']:.2f}×; every run {'the same, bit for bit' if same else 'NOT the same'} "
            f"(load average {min(loads):.1f}–{max(loads):.1f})")


def comparison_cost_split() -> str:
    """Of a batched run's core-seconds, how many are its own training epochs (results/comparison_speed.json)."""
    s = result_json("comparison_speed")["side_by_side"]
    core_s = s["walls"]["batched"]["wall_s"] * s["jobs"] / s["runs"]
    return (f"the epochs alone take {s['mean_train_seconds']['batched']:.1f} of the {core_s:.1f} core-seconds a batched "
            f"run costs (mean selected epoch {s['mean_selected_epoch']:.1f})")


def comparison_bound() -> str:
    """The most batching could give: a run's core-seconds alone over its own epochs (results/comparison_speed.json)."""
    from benchmarks.comparison_speed import ratio_bound

    b = ratio_bound(result_json("comparison_speed")["side_by_side"])
    return (f"a run alone costs {b['alone_core_s']:.1f} core-seconds, of which {b['epochs_core_s']:.1f} are its own "
            f"epochs, so a batch with no other cost at all would be **{b['ratio']:.1f}×** faster")


def comparison_grid_estimate() -> str:
    """The whole built-in grid's wall time at the side-by-side's batched rate (results/comparison_speed.json)."""
    from augcn_pyg.nn.layers import layer_names

    s = result_json("comparison_speed")["side_by_side"]
    runs = len(layer_names()) * 9 * 8
    per_run = s["walls"]["batched"]["wall_s"] / s["runs"]
    return (f"at the batched rate above ({per_run:.1f} s of wall per gcn run on {s['jobs']} cores) the {runs}-run grid "
            f"would take about {runs * per_run / 60:.0f} minutes")


def grid_result() -> dict:
    """results/comparison_speed.json, which must hold a grid."""
    doc = result_json("comparison_speed")
    if "grid_runs" not in doc:
        raise InputError("results/comparison_speed.json has no grid: rerun comparison_speed.py --grid")
    return doc


def comparison_grid() -> str:
    """The whole equal-budget grid's wall time and memory (results/comparison_speed.json)."""
    doc = grid_result()
    return (f"**{doc['grid_wall_seconds'] / 60:.0f} min** for {doc['grid_runs']} runs, peak "
            f"{doc['peak_rss_mib']:,.0f} MiB (load average {doc['grid_load'][0]}–{doc['grid_load'][1]})")


def comparison_grid_scaled() -> str:
    """The whole grid's wall time scaled from a measured part of it (``--grid-repetitions`` below 3): the measured
    wall times the whole grid's rounds of ``--jobs`` processes over the part's (results/comparison_speed.json)."""
    from augcn_pyg.nn.layers import layer_names

    doc = grid_result()
    whole = 9
    # a group (one stage-1 model's members) runs in one process, --jobs side by side: the wall goes by rounds of
    # jobs groups, assumed of equal cost (a grid run before grid_jobs was recorded ran with the side-by-side's jobs)
    jobs = doc.get("grid_jobs") or doc["side_by_side"]["jobs"]
    scale = math.ceil(whole / jobs) / math.ceil(doc["grid_groups"] / jobs)
    return (f"the whole {len(layer_names()) * whole * 8}-run grid ({whole} groups, {math.ceil(whole / jobs)} rounds of "
            f"{jobs} processes) would take at least about **{doc['grid_wall_seconds'] * scale / 60:.0f} min** at that rate "
            f"({scale:.1f}× the part measured, {math.ceil(doc['grid_groups'] / jobs)} rounds)")


def positive_control_tables(preset: str = "store_occ", folder: str = "") -> str:
    """The positive control's oracle and design tables (results/positive_control_<preset>.json)."""
    from benchmarks.positive_control import tables

    return "\n\n" + tables(result_json(f"{folder}positive_control_{preset}")) + "\n"


def positive_control_summary(preset: str = "store_occ", folder: str = "") -> str:
    """'+13.3 (none, a), ...' the differences in differences against local, and against none, per design."""
    designs = result_json(f"{folder}positive_control_{preset}")["report"]["designs"]
    did = ", ".join(f"{num(d['vs_local']['did']['mean_diff'])} for {d['layer']} ({d['vs_local']['did']['verdict']})"
                    for d in designs)
    vs_none = ", ".join(f"{d['layer']} {num(d['vs_none']['did']['mean_diff'])} ({d['vs_none']['did']['verdict']})"
                        for d in designs if d.get("vs_none"))
    return f"{did}; against `none`: {vs_none}"


def positive_control_verdicts(preset: str = "store_occ", folder: str = "") -> str:
    """For a positive control over many designs: `none`'s difference in differences in F1 and in AUC, the designs
    whose difference in differences (F1, AUC) or whose difference against `none` (F1) is called real."""
    from benchmarks.positive_control import design_of

    report = result_json(f"{folder}positive_control_{preset}")["report"]
    none = design_of(report, "none")
    direction = {"a": "higher", "b": "lower"}

    def called(cells) -> str:
        named = [f"{layer} ({direction[c['verdict']]})" for layer, c in cells if c["verdict"] in direction]
        return ", ".join(named) or "no design"

    designs = report["designs"]
    f1 = [(d["layer"], d["vs_local"]["did"]) for d in designs]
    auc = [(d["layer"], d["auc"]["vs_local"]["did"]) for d in designs if d.get("auc")]
    vs_none = [(d["layer"], d["vs_none"]["did"]) for d in designs if d.get("vs_none")]
    return (f"`none` {did_cell(none['vs_local']['did'])} in F1, {did_cell(none['auc']['vs_local']['did'])} in AUC; "
            f"called real in F1: {called(f1)}; in AUC: {called(auc)}; told apart from `none`'s in F1: {called(vs_none)}")


def did_cell(c: dict) -> str:
    """'+13.3 [+7.0, +19.6] real' for a difference in differences (F1 points)."""
    word = {"a": "**real**", "b": "**real, negative**", "equal": "equal", "unsure": "unsure"}[c["verdict"]]
    return f"{num(c['mean_diff'])} [{num(c['ci_low'])}, {num(c['ci_high'])}] {word}"


#: the occluded preset's variants measured untuned (results/occlusion_rate/): occluder rate, weak share, store
EVIDENCE_POINTS = (("0", "0.2", "store_occ0"), ("0.5", "0.2", "store_occ"), ("0.5", "0", "store_occw0"))
#: the same measured with the mended stage 1 (results/stage1_mended/occlusion_rate/): the occluder rate varies
MENDED_RATES = (("0", "0.2", "store_occ0"), ("0.5", "0.2", "store_occ"), ("0.9", "0.2", "store_occ9"),
                ("0.5", "0.5 (drawn at 0.1)", "store_occw5"))


#: the masked preset's rate sweep (mended stage 1): its rate 0 renders the clean preset's images, so that point is
#: the clean comparison (results/stage1_mended/clean/); rate, weak share, store, folder
MASKED_RATES = (("0", "0", "store_clean", f"{MENDED}/clean"), ("0.5", "0", "store_m05", f"{MENDED}/masked"),
                ("0.9", "0", "store_m09", f"{MENDED}/masked"))


def occlusion_rates(points=EVIDENCE_POINTS, folder: str = "occlusion_rate") -> str:
    """The untuned local/none positive control on each variant of the occluded preset (results/<folder>/, or the
    point's own folder when it names one); the AUC reading and the oracles with the occluders alone where every
    report has them."""
    from benchmarks.positive_control import design_of, oracle_did

    reports = [result_json(f"{(rest or [folder])[0]}/positive_control_{preset}")["report"]
               for _, _, preset, *rest in points]
    nones = [design_of(r, "none") for r in reports]
    auc = all(n.get("auc") for n in nones)
    occ = all(r["oracles"].get("occluders") for r in reports)
    rows = []
    for (rate, weak, *_), r, none in zip(points, reports, nones):
        rows.append([rate, weak, f"{100 * r['local_f1']['preset']:.1f}", f"{100 * none['f1_preset']:.1f}",
                     f"{100 * r['local_f1']['control']:.1f}", f"{100 * none['f1_control']:.1f}",
                     did_cell(none["vs_local"]["did"]), num(oracle_did(r["oracles"]))]
                    + ([num(oracle_did(r["oracles"]["occluders"]))] if occ else [])
                    + ([did_cell(none["auc"]["vs_local"]["did"])] if auc else []))
    head = ["occluder rate", "weak share", "local, preset", "none, preset", "local, control", "none, control",
            "difference in differences (none − local)", "oracles' difference in differences"]
    head += ["oracles' difference in differences, occluders alone"] if occ else []
    head += ["difference in differences (none − local) in AUC"] if auc else []
    return table(head, rows)


def sweep_growth(base, point) -> list[dict]:
    """none's difference in differences over local at ``point`` minus the same at ``base`` (two points of a sweep
    whose stores hold the same subjects and labels: (rate, weak share, store, folder)), paired by test set and seed,
    in F1 and in AUC (``positive_control.growth`` on the comparisons' rows)."""
    from benchmarks.positive_control import AUC, design_of, growth, read_rows

    rows = [tuple(read_rows(RESULTS / folder / f"relation_layers_{name}.csv") for name in (store, f"{store}_ind"))
            for _, _, store, folder in (base, point)]
    ratio = design_of(result_json(f"{base[3]}/positive_control_{base[2]}")["report"], "none")["vs_local"]["did"][
        "test_train_ratio"]
    return [growth(*rows, "none", "local", ratio, key)["did"] for key in ("mean_f1", AUC)]


def masked_growth(points=MASKED_RATES) -> str:
    """How much none's difference in differences grows from the first point of a sweep to each other one."""
    out = [[f"{point[0]} − {points[0][0]}", *(did_cell(c) for c in sweep_growth(points[0], point))]
           for point in points[1:]]
    return table(["occluder rate", "growth of none's difference in differences, F1", "growth, AUC"], out)


def masked_summary(points=MASKED_RATES) -> str:
    """One sentence: none's difference in differences at the sweep's highest rate (F1 and AUC) beside the oracles',
    and how much it grew from the first point."""
    from benchmarks.positive_control import design_of, oracle_did

    base, top = points[0], points[-1]
    r = result_json(f"{top[3]}/positive_control_{top[2]}")["report"]
    none = design_of(r, "none")
    up = sweep_growth(base, top)
    return (f"at rate {top[0]} `none`'s difference in differences is {did_cell(none['vs_local']['did'])} F1 and "
            f"{did_cell(none['auc']['vs_local']['did'])} AUC points (the oracles' {num(oracle_did(r['oracles']))} F1), "
            f"grown from rate {base[0]} by {did_cell(up[0])} F1 and {did_cell(up[1])} AUC points, paired run by run")


#: the occluded preset (rate 0.5) at two numbers of subjects, mended stage 1: subjects, folder, store
SUBJECT_POINTS = (("24", f"{MENDED}/occlusion_rate", "store_occ"), ("48", f"{MENDED}/subjects48", "store_occ48"))


def subjects_rows(points=SUBJECT_POINTS) -> str:
    """none's difference in differences over local on the occluded preset with more subjects (less spread per
    run), in F1 and in AUC, with what each comparison's runs could call real (positive_control)."""
    from benchmarks.positive_control import called_real_from, design_of

    rows = []
    for subjects, folder, preset in points:
        r = result_json(f"{folder}/positive_control_{preset}")["report"]
        none = design_of(r, "none")
        f1, auc = none["vs_local"]["did"], none["auc"]["vs_local"]["did"]
        reach = {layer: result_json(f"{folder}/relation_reach_{preset}{suffix}")["report"]["metrics"]["auc"]["did"]
                 for layer, suffix in (("local", ""), ("none", "_none"))}
        rows.append([subjects, f"{100 * r['local_f1']['preset']:.1f}", f"{100 * none['f1_preset']:.1f}",
                     did_cell(f1), called_real_from(f1), did_cell(auc), called_real_from(auc),
                     did_cell(reach["local"]), did_cell(reach["none"])])
    return table(["subjects", "local, preset", "none, preset", "difference in differences, F1",
                  "called real from (F1): these runs / any number", "difference in differences, AUC",
                  "called real from (AUC): these runs / any number", "second stage on local, AUC",
                  "second stage on none (beyond none), AUC"], rows)


def relation_reach_rows(points=MENDED_RATES, folder: str = f"{MENDED}/occlusion_rate") -> str:
    """Per variant of the occluded preset: none's difference in differences over local (positive_control) beside
    what a second stage reaches from local's own predictions (relation_reach), in AUC and in F1."""
    from benchmarks.positive_control import design_of

    rows = []
    for rate, weak, preset, *_ in points:
        none = design_of(result_json(f"{folder}/positive_control_{preset}")["report"], "none")
        reach = result_json(f"{folder}/relation_reach_{preset}")["report"]["metrics"]
        rows.append([rate, weak, did_cell(none["auc"]["vs_local"]["did"]), did_cell(reach["auc"]["did"]),
                     did_cell(none["vs_local"]["did"]), did_cell(reach["f1_val_threshold"]["did"])])
    return table(["occluder rate", "weak share", "none − local, AUC", "second stage on local, AUC",
                  "none − local, F1 at 0.5", "second stage on local, F1 at thresholds chosen on validation"], rows)


def learning_curve_tables(preset: str = "store_occ", folder: str = "") -> str:
    """The learning curves' tables (results/<folder>learning_curves_<preset>.json), without their page's title."""
    from benchmarks.learning_curves import tables

    return "\n\n" + tables(result_json(f"{folder}learning_curves_{preset}")) + "\n"


def intensity_layers(store: str) -> str:
    """Presence and intensity side by side per layer, each against none, of a comparison trained with
    ``--set model.task=both`` (results/intensity/relation_layers_<store>.json)."""
    s = {x["layer"]: x for x in result_json(f"intensity/relation_layers_{store}")["summary"]["frozen"]}
    rows = []
    for layer in sorted(s, key=lambda l: -s[l]["f1_mean"]):
        x = s[layer]
        ref = layer == "none"
        rows.append([name(layer), pm(x["f1_mean"], x["f1_std"]),
                     "—" if ref else cmp_cell(x["vs_none"], layer, "none"),
                     f"{x['icc_mean']:.3f} ± {x['icc_std']:.3f}",
                     "—" if ref else cmp_cell(x["vs_none_icc"], layer, "none"),
                     f"{x['mae_mean']:.3f} ± {x['mae_std']:.3f}",
                     "—" if ref else mae_cell(x["vs_none_mae"])])
    return table(["layer", "F1", "vs none (F1)", "ICC(3,1)", "vs none (ICC × 100)", "MAE (0–5)",
                  "vs none (MAE × 100)"], rows)


def mae_cell(c: dict) -> str:
    """A comparison of MAE (lower is better): the verdict said as larger or smaller error."""
    word = {"a": "**larger error**", "b": "**smaller error**", "equal": "equal", "unsure": "unsure"}[c["verdict"]]
    return f"{num(c['mean_diff'])} [{num(c['ci_low'])}, {num(c['ci_high'])}] {word}"


def cross_dataset_tables(a: str = "store_bp4d", b: str = "store_disfa") -> str:
    """Both directions of the cross-dataset table (results/cross_dataset_<a>_<b>.json)."""
    from benchmarks.cross_dataset import tables

    return "\n\n" + tables(result_json(f"cross_dataset_{a}_{b}")) + "\n"


def positive_control_auc(preset: str = "store_occ", folder: str = "") -> str:
    """The positive control's design table read in AUC (results/positive_control_<preset>.json)."""
    from benchmarks.positive_control import auc_table

    return "\n\n" + auc_table(result_json(f"{folder}positive_control_{preset}")) + "\n"


def positive_control_per_au(preset: str = "store_occ", folder: str = "") -> str:
    """The positive control's per-AU table (results/positive_control_<preset>.json)."""
    from benchmarks.positive_control import per_au_table

    return "\n\n" + per_au_table(result_json(f"{folder}positive_control_{preset}")) + "\n"


def roi_evidence_table(name: str = "roi_evidence") -> str:
    """Pixel probe against local, per AU and store (results/NAME.json)."""
    from benchmarks.roi_evidence import table as probe_table

    return "\n\n" + probe_table(result_json(name)) + "\n"


BLOCKS = {
    "positive-control-per-au": positive_control_per_au,
    "roi-evidence": roi_evidence_table,
    "intensity-layers-bp4d": lambda: intensity_layers("store_bp4d"),
    "intensity-layers-disfa": lambda: intensity_layers("store_disfa"),
    "cross-dataset": cross_dataset_tables,
    "positive-control": positive_control_tables,
    "positive-control-summary": positive_control_summary,
    "occlusion-rates": occlusion_rates,
    "occlusion-rates-mended": lambda: occlusion_rates(MENDED_RATES, f"{MENDED}/occlusion_rate"),
    "masked-rates": lambda: occlusion_rates(MASKED_RATES),
    "masked-growth": masked_growth,
    "comparison-grid-scaled": comparison_grid_scaled,
    "masked-summary": masked_summary,
    "synthau-evidence-masked": synthau_evidence_rates,
    "relation-reach-mended": relation_reach_rows,
    "subjects-mended": subjects_rows,
    "learning-curves-mended": lambda: learning_curve_tables(folder=f"{MENDED}/"),
    # the clean SynthAU-BP4D preset and its independent-AU control (results/stage1_mended/clean/)
    "positive-control-clean": lambda: positive_control_tables("store_clean", f"{MENDED}/clean/"),
    "positive-control-auc-clean": lambda: positive_control_auc("store_clean", f"{MENDED}/clean/"),
    # the masked preset at rate 0.9 with local-labels and gcn beside local and none (results/stage1_mended/masked/)
    "positive-control-masked": lambda: positive_control_tables("store_m09", f"{MENDED}/masked/"),
    "positive-control-auc-masked": lambda: positive_control_auc("store_m09", f"{MENDED}/masked/"),
    "relation-reach-masked": lambda: relation_reach_rows(MASKED_RATES[1:], f"{MENDED}/masked"),
    "learning-curves-masked": lambda: learning_curve_tables("store_m09", f"{MENDED}/masked/"),
    # the 48-subject preset with the local-labels design beside local and none (results/stage1_mended/subjects48/)
    "positive-control-subjects48": lambda: positive_control_tables("store_occ48", f"{MENDED}/subjects48/"),
    "positive-control-auc-subjects48": lambda: positive_control_auc("store_occ48", f"{MENDED}/subjects48/"),
    "learning-curves": learning_curve_tables,
    "comparison-speed": comparison_speed,
    "comparison-grid": comparison_grid,
    "comparison-cost-split": comparison_cost_split,
    "comparison-grid-estimate": comparison_grid_estimate,
    "comparison-bound": comparison_bound,
    "defaults": defaults_choice,
    "defaults-full": lambda: search_choice("defaults_full"),
    "stage1-search-occ-ind": lambda: search_choice("stage1_occ_ind"),
    "stage1-latent-occ-ind": lambda: search_choice("stage1_latent_occ_ind"),
    "stage1-roi-occ": lambda: search_choice("stage1_roi_occ"),
    # the positive control rerun with stage 1 as chosen on the preset's validation subjects (results/stage1_mended/)
    "positive-control-mended": lambda: positive_control_tables(folder=f"{MENDED}/"),
    "positive-control-summary-mended": lambda: positive_control_summary(folder=f"{MENDED}/"),
    "positive-control-per-au-mended": lambda: positive_control_per_au(folder=f"{MENDED}/"),
    "positive-control-auc-mended": lambda: positive_control_auc(folder=f"{MENDED}/"),
    "roi-evidence-mended": lambda: roi_evidence_table(f"{MENDED}/roi_evidence"),
    "synthau-evidence": synthau_evidence,
    "e2e-gain": e2e_gain,
    "e2e-choice": e2e_choice,
    "ablation-rules-table": rules_table,
    "fold-assignments-bp4d": fold_assignments,
    "relation-layers-bp4d-frozen": lambda: layers_vs_none_table("store_bp4d", "frozen"),
    # each store's equal-budget grid: equal-budget{,-extras,-summary,-e2e}-<short name>
    **{f"equal-budget{part}-{short}": partial(block, f"store_{short}")
       for short in ("bp4d", "ind", "disfa") for part, block in EQUAL_BUDGET_PARTS},
    # the occluded preset and its control, frozen only, stage 1 as chosen on the preset's validation subjects
    # (results/stage1_mended/equal_budget/)
    **{f"equal-budget{part}-{short}": partial(block, f"store_{short}", f"{MENDED}/{EQUAL_BUDGET}")
       for short in ("occ", "occ_ind") for part, block in EQUAL_BUDGET_PARTS if part != "-e2e"},
    # the occluded preset against its control under the equal budget, and its learning curves with the grid's best
    # layers by validation F1 (results/stage1_mended/equal_budget/)
    "learning-curves-equal-budget-occ": lambda: learning_curve_tables("store_occ", f"{MENDED}/{EQUAL_BUDGET}/"),
    "positive-control-equal-budget-occ": lambda: positive_control_tables("store_occ", f"{MENDED}/{EQUAL_BUDGET}/"),
    "positive-control-auc-equal-budget-occ": lambda: positive_control_auc("store_occ", f"{MENDED}/{EQUAL_BUDGET}/"),
    "positive-control-verdicts-equal-budget-occ":
        lambda: positive_control_verdicts("store_occ", f"{MENDED}/{EQUAL_BUDGET}/"),
    # SynthAU-BP4D against its independent-AU control, every layer, both under the equal budget
    "positive-control-equal-budget": lambda: positive_control_tables("store_bp4d", f"{EQUAL_BUDGET}/"),
    "positive-control-summary-equal-budget": lambda: positive_control_summary("store_bp4d", f"{EQUAL_BUDGET}/"),
    "positive-control-auc-equal-budget": lambda: positive_control_auc("store_bp4d", f"{EQUAL_BUDGET}/"),
    # the paper's Table 4 crossed on gcn and none under the equal budget (results/equal_budget/table4/)
    "table4-equal-budget": table4_tables,
    "table4-steps-equal-budget": table4_summary,
    "table4-selection-cost-equal-budget": table4_selection_cost,
    "relation-layers-bp4d-e2e": e2e_table,
    "relation-layers-ind-frozen": lambda: layers_vs_none_table("store_ind", "frozen", times=False),
    "relation-layers-disfa-list": lambda: layer_list("store_disfa"),
    "relation-layers-disfa-gcn-none": lambda: diff("store_disfa", "gcn"),
    "relation-layers-revisions": relation_layers_revisions,
    "readme-summary": readme_summary,
    "losses-on-both": losses_on_both,
    "ablation-selection-cost": selection_cost_ablation,
    "ablation-rules-costs": rules_costs,
    "ablation-old-revisions": old_parts_revisions,
    "reference-scores": reference_scores,
    "graphconv-gin": graphconv_gin,
    "gcn-vs-none": gcn_vs_none_line,
    "store-gather": store_gather,
}


# --- rewriting --------------------------------------------------------------------------------------------
def render(text: str, where: str = "") -> str:
    """``text`` with every marked block regenerated."""
    def one(m):
        key = m.group(2)
        if key not in BLOCKS:
            raise InputError(f"{where}: unknown numbers block {key!r}; known: {', '.join(sorted(BLOCKS))}")
        return m.group(1) + BLOCKS[key]() + m.group(4)

    return MARKED.sub(one, text)


def stale(paths=None) -> list[str]:
    """'FILE: NAME' for every block whose text differs from what the result files give."""
    out = []
    for path in paths or documents():
        text = path.read_text()
        fresh = render(text, str(path))
        if fresh != text:
            old = {m.start(): (m.group(2), m.group(3)) for m in MARKED.finditer(text)}
            new = [m.group(3) for m in MARKED.finditer(fresh)]
            out += [f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {k}"
                    for (k, body), body_new in zip(old.values(), new) if body != body_new]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 naming the blocks that differ")
    p.add_argument("files", nargs="*", type=Path, help="documents (default: README.md, benchmarks/README.md, docs/*.md)")
    args = p.parse_args(argv)
    paths = args.files or documents()
    if args.check:
        bad = stale(paths)
        for line in bad:
            print(f"stale numbers: {line}", file=sys.stderr)
        return 1 if bad else 0
    changed = 0
    for path in paths:
        text = path.read_text()
        fresh = render(text, str(path))
        if fresh != text:
            path.write_text(fresh)
            changed += 1
            print(f"rewrote {path}")
    blocks = sum(len(MARKED.findall(path.read_text())) for path in paths)
    print(f"{blocks} numbers blocks in {len(paths)} files, {changed} files rewritten")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except InputError as exc:
        print(f"readme_numbers: {exc}", file=sys.stderr)
        sys.exit(2)
