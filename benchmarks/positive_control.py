"""Does the comparison read a known positive? The relation signal of every design on a SynthAU preset whose
local evidence is missing by construction, against its control (the same preset with ``--relations
independent``), with the generator's oracle bounds (docs/synthau.md, "Oracle bounds").

    python -m benchmarks.relation_layers --data store_occ --parts frozen --layers local,none,gcn,gat --budget 8
    python -m benchmarks.relation_layers --data store_occ_ind --parts frozen --layers local,none,gcn,gat --budget 8
    python -m benchmarks.positive_control --preset store_occ --preset-root synth_occ \\
        --control store_occ_ind --control-root synth_occ_ind

It reads the two comparisons' result rows (``relation_layers_<store>.csv`` in ``--results``) and pairs runs by
(fold assignment, seed, fold): the two stores hold the same subjects, so a fold assignment is the same test set
on both. Per design it reports

* its gain over ``local`` on each store (what reading other ROIs is worth there; on the control that is
  overlap between ROIs, not relations);
* the **difference in differences** (design - local) on the preset minus (design - local) on the control: the
  relation signal, with the corrected resampled t interval and the comparison's verdict rule
  (``paired_stats``, n_test / n_train of the subjects fitted on);
* the same difference in differences against ``none`` (what an explicit graph adds to a model that already
  reads every ROI);
* its share of the available relation gain, corrected the same way with the oracles of both stores
  (``oracles.relation_signal``), and the same over the oracles' own difference in differences (the share of the
  oracles' gap), and the local and relation oracles per test set, also with the occluders alone
  hiding evidence (weakly shown AUs counted as visible): which of the generator's two sources the known positive
  comes from;
* the gains and the difference in differences again in each run's mean AUC (threshold-free; F1 at 0.5 moves from
  run to run with where a model's scores sit, AUC does not).

Results: ``benchmarks/results/positive_control_<preset>.{json,md}``.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.data.splits import run_splits
from augcn_pyg.data.store import ROIStore
from augcn_pyg.data.synthau.oracles import (
    local_evidence,
    local_oracle,
    missing_share,
    read_manifest,
    relation_oracle,
    relation_signal,
)
from benchmarks.common import RESULTS, machine_info, run_cli, write_report
from benchmarks.paired_stats import PRIMARY_RATIO, compare, plausible_ratios, smallest_real, spread_of
from benchmarks.relation_layers_report import paired_keys, run_splits_of, scores_by_run, set_flags

#: the relation-free reference every design is measured from, and the implicit-relation one
LOCAL, NONE = "local", "none"
#: the threshold-free score the signal is also read in (each run's mean AUC over AUs)
AUC = "mean_auc"
PROTOCOL = "frozen"
FOLDS = 3
ROPE = 0.01  # one point of F1, as in the comparison


def read_rows(path: Path) -> list[dict]:
    """A comparison's result rows (``relation_layers_<store>.csv``), numbers as numbers."""
    if not path.exists():
        raise InputError(f"{path}: no comparison result; run benchmarks.relation_layers on that store first")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))

    def num(v):
        try:
            x = float(v)
        except (TypeError, ValueError):
            return v
        return int(x) if x.is_integer() and "." not in v and "e" not in v.lower() else x

    return [{k: num(v) for k, v in r.items()} for r in rows]


def fold_oracles(store_path: Path, dataset_root: Path, assignments) -> dict:
    """{(fold_seed, fold): {"local": F1, "relation": F1, "occluders": {"local": F1, "relation": F1}}} (0-1, mean
    over AUs) on each test set: the oracles fitted on the subjects outside the test part (training and
    validation), scored on the test part; under ``occluders`` the same with only the occluders hiding evidence
    (weakly shown AUs counted as visible), to tell the two sources of the known positive apart."""
    store, labels, visible, unoccluded = _evidence(store_path, dataset_root)
    out = {}
    for fold_seed, fold in assignments:
        test = set(run_splits(store, fold, fold_seed=fold_seed).test_subjects)
        train = [s for s in store.subjects if s not in test]
        both = {name: {"local": float(local_oracle(labels, v, store.subject, train).mean()),
                       "relation": float(relation_oracle(labels, v, store.subject, train).mean())}
                for name, v in (("all", visible), ("occluders", unoccluded))}
        out[(fold_seed, fold)] = {**both["all"], "occluders": both["occluders"]}
    return out


def _evidence(store_path: Path, dataset_root: Path):
    """(store, labels (N, C) NaN unknown, visible (N, C), visible with the occluders alone (N, C)) of a SynthAU
    store: which AUs have local evidence in each frame, from its manifest."""
    store = ROIStore(store_path)
    if not (Path(dataset_root) / "synthau.json").exists():
        raise InputError(f"{dataset_root}: not a SynthAU dataset (no synthau.json): the oracles read its weak AUs "
                         "and occluders")
    cover, weak = read_manifest(dataset_root, store.protocol, store.subject, store.video, store.frame)
    # the store's own manifest where it carries one; a set rendered without occluders has none: nothing covered
    cover = store.occlusion if store.occlusion is not None else cover
    labels = np.asarray(store.labels, float)
    return store, labels, local_evidence(cover, weak, store.protocol), local_evidence(cover, None, store.protocol)


def missing_by_au(store_path: Path, dataset_root: Path) -> dict[int, float]:
    """AU -> the share of its occurrences (over all the store's frames) without local evidence: where the
    generator hid it (occluders and weakly shown AUs)."""
    store, labels, visible, _ = _evidence(store_path, dataset_root)
    return {int(au): missing_share(labels[:, [c]], visible[:, [c]]) for c, au in enumerate(store.protocol.aus)}


def signal(preset_rows, control_rows, design: str, ref: str, ratio: float, key: str = "mean_f1") -> dict | None:
    """(design - ref) on the preset, on the control, and their difference, over the runs all four share; ``key``
    is the score read from each run's row (``mean_f1``, ``mean_auc``)."""
    runs = [_scores(rows, name, key) for rows in (preset_rows, control_rows) for name in (design, ref)]
    keys = paired_keys(runs[0], runs[1], FOLDS)
    keys = [k for k in keys if k in runs[2] and k in runs[3]]
    if len(keys) < 2:
        return None
    gain_p = np.array([runs[0][k] - runs[1][k] for k in keys])  # (J,)
    gain_c = np.array([runs[2][k] - runs[3][k] for k in keys])
    zero = np.zeros(len(keys))
    return {"keys": keys,
            "preset": compare(gain_p, zero, FOLDS, ROPE, ratio).to_dict(),
            "control": compare(gain_c, zero, FOLDS, ROPE, ratio).to_dict(),
            "did": compare(gain_p, gain_c, FOLDS, ROPE, ratio).to_dict()}


def growth(low: tuple, high: tuple, design: str, ref: str, ratio: float, key: str = "mean_f1") -> dict | None:
    """How much the difference in differences grows from one variant of a preset to another whose stores hold the
    same subjects and labels (``low`` and ``high``: (preset_rows, control_rows) each; the masked preset's rates
    differ only in the masks drawn): per run, DiD(high) - DiD(low), paired by (fold assignment, seed, fold) over
    the runs all eight share, with the comparison's interval and verdict."""
    runs = [_scores(rows, name, key) for pair in (low, high) for rows in pair for name in (design, ref)]
    shared = set.intersection(*(set(r) for r in runs))
    keys = paired_keys(*({k: r[k] for k in shared} for r in runs[:2]), FOLDS)  # whole repetitions only
    if len(keys) < 2:
        return None

    def did(r):  # (J,): (design - ref) on the preset minus the same on the control
        return np.array([(r[0][k] - r[1][k]) - (r[2][k] - r[3][k]) for k in keys])

    return {"keys": keys, "did": compare(did(runs[4:]), did(runs[:4]), FOLDS, ROPE, ratio).to_dict()}


def aus_of(rows) -> list[int]:
    """The AUs with a per-AU F1 column in a comparison's rows, in their order."""
    return [int(k[len("f1_AU"):]) for k in rows[0] if k.startswith("f1_AU")]


def per_au(preset_rows, control_rows, layers) -> list[dict]:
    """Per AU: how well ``local`` reads it from its own ROIs (F1, AUC) on each store, and each design's gain over
    ``local`` on each store and their difference (means over the runs all share; no intervals): where the
    relation signal comes from."""
    def by_run(rows, layer, key):
        return {(r["fold_seed"], r["seed"], r["fold"]): r[key] for r in rows
                if r["protocol"] == PROTOCOL and r["layer"] == layer and isinstance(r.get(key), (int, float))}

    out = []
    for au in aus_of(preset_rows):
        f1, auc = f"f1_AU{au}", f"auc_AU{au}"
        lp, lc = by_run(preset_rows, LOCAL, f1), by_run(control_rows, LOCAL, f1)
        row = {"au": au, "local_f1": {"preset": float(np.mean(list(lp.values()))),
                                      "control": float(np.mean(list(lc.values())))},
               "local_auc": {side: float(np.nanmean(list(by_run(rows, LOCAL, auc).values())))
                             for side, rows in (("preset", preset_rows), ("control", control_rows))},
               "designs": {}}
        for layer in layers:
            if layer == LOCAL:
                continue
            dp, dc = by_run(preset_rows, layer, f1), by_run(control_rows, layer, f1)
            keys = [k for k in dp if k in dc and k in lp and k in lc]
            if not keys:
                continue
            gp = float(np.mean([dp[k] - lp[k] for k in keys]))
            gc = float(np.mean([dc[k] - lc[k] for k in keys]))
            row["designs"][layer] = {"gain_preset": gp, "gain_control": gc, "did": gp - gc, "runs": len(keys)}
        out.append(row)
    return out


def report(preset_rows, control_rows, oracles_p, oracles_c) -> dict:
    in_control = {r["layer"] for r in control_rows if r["protocol"] == PROTOCOL}
    # the designs both comparisons hold (one may hold more, e.g. every layer on the preset)
    layers = list(dict.fromkeys(r["layer"] for r in preset_rows if r["protocol"] == PROTOCOL and r["layer"] in in_control))
    if LOCAL not in layers:
        raise InputError(f"the preset's comparison has no '{LOCAL}' runs: compare with --layers {LOCAL},...")
    local_p, local_c = scores_by_run(preset_rows, PROTOCOL, LOCAL), scores_by_run(control_rows, PROTOCOL, LOCAL)
    keys = paired_keys(local_p, local_c, FOLDS)
    ratios = plausible_ratios(run_splits_of(preset_rows, PROTOCOL, LOCAL, keys), FOLDS)
    ratio = ratios.get(PRIMARY_RATIO, ratios["nominal"])
    designs = []
    for layer in layers:
        if layer == LOCAL:
            continue
        entry = {"layer": layer,
                 "f1_preset": float(np.mean(list(scores_by_run(preset_rows, PROTOCOL, layer).values()))),
                 "f1_control": float(np.mean(list(scores_by_run(control_rows, PROTOCOL, layer).values())))}
        s = signal(preset_rows, control_rows, layer, LOCAL, ratio)
        if s is None:
            continue
        k = s.pop("keys")
        entry["vs_local"] = s
        d_p = [scores_by_run(preset_rows, PROTOCOL, layer)[x] for x in k]
        d_c = [scores_by_run(control_rows, PROTOCOL, layer)[x] for x in k]
        rel_p = [oracles_p[(x[0], x[2])]["relation"] for x in k]
        rel_c = [oracles_c[(x[0], x[2])]["relation"] for x in k]
        share = relation_signal(d_p, [local_p[x] for x in k], d_c, [local_c[x] for x in k], rel_p, rel_c,
                                test_train_ratio=ratio,
                                local_oracle=[oracles_p[(x[0], x[2])]["local"] for x in k],
                                local_oracle_control=[oracles_c[(x[0], x[2])]["local"] for x in k])
        entry["share"] = share.get("share")
        entry["share_of_oracle_gap"] = share.get("share_of_oracle_gap")
        # the same signal read in AUC: threshold-free, so free of the run-to-run noise that a fixed 0.5 threshold
        # adds to F1 (the oracles are F1 bounds: no share in AUC)
        auc = signal(preset_rows, control_rows, layer, LOCAL, ratio, key=AUC)
        if auc is not None:
            auc.pop("keys")
            entry["auc"] = {"preset": _mean(preset_rows, layer, AUC), "control": _mean(control_rows, layer, AUC),
                            "vs_local": auc}
        if layer != NONE and NONE in layers:
            entry["vs_none"] = signal(preset_rows, control_rows, layer, NONE, ratio)
            if entry["vs_none"] is not None:
                entry["vs_none"].pop("keys")
        designs.append(entry)
    mean = lambda d, key: float(np.mean([v[key] for v in d.values()]))  # noqa: E731
    return {"runs": len(keys), "test_train_ratio": ratio, "ratio_name": PRIMARY_RATIO if PRIMARY_RATIO in ratios
            else "nominal", "rope": ROPE,
            "local_auc": {"preset": _mean(preset_rows, LOCAL, AUC), "control": _mean(control_rows, LOCAL, AUC)},
            "local_f1": {"preset": float(np.mean(list(local_p.values()))),
                         "control": float(np.mean(list(local_c.values())))},
            "oracles": {"preset": {"local": mean(oracles_p, "local"), "relation": mean(oracles_p, "relation")},
                        "control": {"local": mean(oracles_c, "local"), "relation": mean(oracles_c, "relation")},
                        **({"occluders": {side: {k: mean({x: v["occluders"] for x, v in o.items()}, k)
                                                 for k in ("local", "relation")}
                                          for side, o in (("preset", oracles_p), ("control", oracles_c))}}
                           if all("occluders" in v for v in [*oracles_p.values(), *oracles_c.values()]) else {}),
                        "per_test_set": [{"fold_seed": fs, "fold": f, "preset": oracles_p[(fs, f)],
                                          "control": oracles_c[(fs, f)]} for fs, f in sorted(oracles_p)]},
            "designs": designs, "per_au": per_au(preset_rows, control_rows, layers)}


def _scores(rows, layer: str, key: str) -> dict:
    """{(fold_seed, seed, fold): score} of a layer's runs that recorded ``key`` as a number (rows written before a
    column existed, or a run whose score is undefined, are left out)."""
    return {(r["fold_seed"], r["seed"], r["fold"]): r[key] for r in rows
            if r["protocol"] == PROTOCOL and r["layer"] == layer and isinstance(r.get(key), (int, float))
            and not math.isnan(r[key])}


def _mean(rows, layer: str, key: str) -> float:
    """A layer's mean ``key`` over its runs (NaN where no run recorded it)."""
    v = list(_scores(rows, layer, key).values())
    return float(np.mean(v)) if v else float("nan")


def oracle_gap(oracles: dict, side: str) -> float:
    """relation oracle - local oracle on one store (``side``: preset or control) of a report's oracle means."""
    return oracles[side]["relation"] - oracles[side]["local"]


def oracle_did(oracles: dict) -> float:
    """The oracles' difference in differences: their gap on the preset minus their gap on the control."""
    return oracle_gap(oracles, "preset") - oracle_gap(oracles, "control")


def design_of(report: dict, layer: str) -> dict:
    """One design's entry of a report (``report["designs"]``)."""
    return next(d for d in report["designs"] if d["layer"] == layer)


def _cell(c: dict | None) -> str:
    if c is None:
        return "-"
    return (f"{100 * c['mean_diff']:+.1f} [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}] "
            f"p {c['p']:.3f} {c['verdict']}")


def called_real_from(c: dict) -> str:
    """The smallest difference in differences the verdict would call real at this comparison's run-to-run spread:
    with its number of runs, and with any number of runs (``paired_stats.smallest_real``)."""
    spread = spread_of(c)
    at = [smallest_real(spread, n, c["test_train_ratio"], c["rope"]) for n in (c["runs"], math.inf)]
    return f"{100 * at[0]:+.1f} / {100 * at[1]:+.1f}"


def grid_overrides(results: Path, store_name: str) -> list[str]:
    """The ``--set`` overrides the store's comparison ran with (its ``relation_layers_<store>.json``; none if absent)."""
    path = results / f"relation_layers_{store_name}.json"
    return list(json.loads(path.read_text()).get("grid_overrides") or []) if path.exists() else []


def markdown(doc: dict) -> str:
    r = doc["report"]
    sets = doc.get("grid_overrides") or []
    settings = (f" Both comparisons trained every run, stage-1 models included, with "
                f"`{set_flags(sets)}`." if sets else "")
    lines = [f"# Positive control: `{doc['preset']}` against its control `{doc['control']}`", "",
             f"Frozen comparison, {r['runs']} paired runs (fold assignment x seed x fold) per design, "
             f"n_test/n_train {r['test_train_ratio']:.3f} ({r['ratio_name']}); F1 in points, mean "
             "[95% corrected interval], corrected-t p and the comparison's verdict (`a`: the first term is "
             f"larger, ROPE {100 * r['rope']:.0f} point). Commands: `{doc['command']}` after the two "
             "`benchmarks.relation_layers` runs named in the module's docstring." + settings, "", tables(doc),
             "The difference in differences is the relation signal: reading other ROIs gains on the control "
             "too (ROIs overlap), and only what it gains beyond that on the preset is relational. The share "
             "divides it by the same quantity for the relation oracle (perfect where an AU's own ROI is "
             "visible, elsewhere a logistic regression on the visible AUs' true labels) measured from the local "
             "model, so its room also holds the local model's perception gap on each store and is noisy where "
             "those nearly cancel; the share of the oracles' gap divides by the oracles' own difference in "
             "differences (relation oracle - local oracle, preset minus control). The oracles assume "
             "perfect perception wherever an ROI is visible, so relations can help them only where evidence is "
             "hidden; a model whose reading of visible ROIs also fails can gain more from relations than that, "
             "and its share then exceeds 1. 'Called real from' is the smallest difference in differences the "
             "verdict would call real at the spread these paired runs show, with their number of runs and with any "
             "number: the corrected interval keeps a floor of sqrt(n_test/n_train) times the spread however many "
             "times the same subjects are re-split, so beyond a few repetitions only a larger signal or less "
             "spread (more subjects) is called real.", ""]
    if any(d.get("auc") for d in r["designs"]):
        lines += ["## The same signal read in AUC", "",
                  "Each run's mean AUC over AUs instead of its mean F1, paired and tested the same way. AUC ranks "
                  "the test frames and needs no threshold; F1 counts them at 0.5, so where a model's scores shift "
                  "between runs (other training subjects, another epoch) F1 moves with the shift and AUC does not. "
                  "The oracles bound F1 only: no share here.", "", auc_table(doc)]
    if doc["report"].get("per_au"):
        lines += ["## Per AU", "", "Means over the paired runs (no intervals). An AU whose `local` AUC is near 50 "
                  "cannot be read from its own ROIs on that store, occluded or not; the relation signal "
                  "concentrates there.", "", per_au_table(doc)]
    return "\n".join(lines)


def tables(doc: dict) -> str:
    """The oracle table and the design table (also the README's block ``positive-control``)."""
    r = doc["report"]
    o = r["oracles"]
    occ = o.get("occluders")  # the oracles with the occluders alone hiding evidence (reports since it was added)
    gap = oracle_gap
    extra = lambda cell: f" {cell} |" if occ else ""  # noqa: E731
    lines = ["| | local model F1 | local oracle | relation oracle | oracle gap |" + extra("oracle gap, occluders alone"),
             "|---|---|---|---|---|" + ("---|" if occ else "")]
    for side in ("preset", "control"):
        lines.append(f"| {doc[side]} | {100 * r['local_f1'][side]:.1f} | {100 * o[side]['local']:.1f} | "
                     f"{100 * o[side]['relation']:.1f} | {100 * gap(o, side):+.1f} |"
                     + extra(f"{100 * gap(occ, side):+.1f}" if occ else ""))
    lines.append(f"| difference in differences | | | | {100 * oracle_did(o):+.1f} |"
                 + extra(f"{100 * oracle_did(occ):+.1f}" if occ else ""))
    of_gap = any("share_of_oracle_gap" in d for d in r["designs"])  # reports since it was added
    lines += ["", "| design | F1 preset | F1 control | - local on preset | - local on control | "
              "difference in differences | called real from: these runs / any number | share of the relation gain | "
              + ("share of the oracles' gap | " if of_gap else "") + "DiD against none |",
              "|---|---|---|---|---|---|---|---|---|" + ("---|" if of_gap else "")]

    def share_cell(s):
        return "-" if not s or s["n"] < 2 else f"{s['mean']:+.2f} [{s['low']:+.2f}, {s['high']:+.2f}]"

    for d in r["designs"]:
        v = d["vs_local"]
        vs_none = _cell(d["vs_none"]["did"]) if d.get("vs_none") else "-"
        lines.append(f"| {d['layer']} | {100 * d['f1_preset']:.1f} | {100 * d['f1_control']:.1f} | "
                     f"{_cell(v['preset'])} | {_cell(v['control'])} | {_cell(v['did'])} | {called_real_from(v['did'])} | "
                     f"{share_cell(d.get('share'))} | " + (f"{share_cell(d.get('share_of_oracle_gap'))} | " if of_gap
                                                          else "") + f"{vs_none} |")
    return "\n".join(lines) + "\n"


def auc_table(doc: dict) -> str:
    """The design table read in AUC (points): each design's AUC, its gain over ``local`` on both stores and the
    difference in differences, with what these runs could call real."""
    r = doc["report"]
    lines = ["| design | AUC preset | AUC control | - local on preset | - local on control | difference in differences | "
             "called real from: these runs / any number |", "|---|---|---|---|---|---|---|",
             f"| local | {100 * r['local_auc']['preset']:.1f} | {100 * r['local_auc']['control']:.1f} | | | | |"]
    for d in r["designs"]:
        a = d.get("auc")
        if not a:
            continue
        v = a["vs_local"]
        lines.append(f"| {d['layer']} | {100 * a['preset']:.1f} | {100 * a['control']:.1f} | {_cell(v['preset'])} | "
                     f"{_cell(v['control'])} | {_cell(v['did'])} | {called_real_from(v['did'])} |")
    return "\n".join(lines) + "\n"


def per_au_table(doc: dict) -> str:
    """Per AU: the share of its occurrences the generator hid on the preset (where the report has it), ``local``'s F1
    and AUC on both stores and each design's difference in differences (F1 points)."""
    rows = doc["report"].get("per_au")
    if not rows:
        return ""
    layers = [la for la in rows[0]["designs"]]
    lead = 1 if all("missing" in r for r in rows) else 0  # the hidden-share column; older reports lack it
    lines = ["| AU | " + ("occurrences without local evidence, preset | " if lead else "")
             + "local F1 preset | local AUC preset | local AUC control | "
             + " | ".join(f"{la} - local: preset / control / DiD" for la in layers) + " |",
             "|---|---|---|---|" + "---|" * (len(layers) + lead)]
    for r in rows:
        cells = [f"{100 * r['missing']['preset']:.0f} %"] if lead else []
        for la in layers:
            d = r["designs"].get(la)
            cells.append("-" if d is None else
                         f"{100 * d['gain_preset']:+.1f} / {100 * d['gain_control']:+.1f} / **{100 * d['did']:+.1f}**")
        lines.append(f"| AU{r['au']} | " + "".join(c + " | " for c in cells[:lead])
                     + f"{100 * r['local_f1']['preset']:.1f} | {100 * r['local_auc']['preset']:.1f} | "
                     f"{100 * r['local_auc']['control']:.1f} | " + " | ".join(cells[lead:]) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", type=Path, required=True, help="ROI store of the preset (relations realistic)")
    ap.add_argument("--preset-root", type=Path, required=True, help="the SynthAU dataset it was prepared from")
    ap.add_argument("--control", type=Path, required=True, help="ROI store of its control (relations independent)")
    ap.add_argument("--control-root", type=Path, required=True, help="the SynthAU dataset it was prepared from")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where the comparisons' result rows are")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    preset_rows = read_rows(args.results / f"relation_layers_{args.preset.resolve().name}.csv")
    control_rows = read_rows(args.results / f"relation_layers_{args.control.resolve().name}.csv")
    overrides = {side: grid_overrides(args.results, path.resolve().name)
                 for side, path in (("preset", args.preset), ("control", args.control))}
    if overrides["preset"] != overrides["control"]:
        raise InputError(f"the two comparisons ran with different --set overrides (preset: {overrides['preset'] or 'none'}; "
                         f"control: {overrides['control'] or 'none'}): a difference in differences needs the same "
                         "settings on both stores")
    sets = sorted({(r["fold_seed"], r["fold"]) for r in preset_rows if r["protocol"] == PROTOCOL})
    doc = {"preset": args.preset.resolve().name, "control": args.control.resolve().name,
           "command": "python -m benchmarks.positive_control " + " ".join(sys.argv[1:] if argv is None else argv),
           "machine": machine_info(), "grid_overrides": overrides["preset"],
           "revisions": sorted({str(r.get("git", "")) for r in preset_rows + control_rows} - {""}),
           "report": report(preset_rows, control_rows, fold_oracles(args.preset, args.preset_root, sets),
                            fold_oracles(args.control, args.control_root, sets))}
    missing = {side: missing_by_au(store, root) for side, store, root in
               (("preset", args.preset, args.preset_root), ("control", args.control, args.control_root))}
    for row in doc["report"]["per_au"]:
        row["missing"] = {side: missing[side].get(row["au"], float("nan")) for side in missing}
    write_report(args.out, f"positive_control_{doc['preset']}", doc, markdown(doc))
    return 0


if __name__ == "__main__":
    run_cli(main, "positive_control")
