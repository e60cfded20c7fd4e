"""The paper's Table 4 under the comparison's protocol: its six variants (GCN or not, Dice "D", the whole-face
node "F") read from a ``relation_layers.py`` result whose design crossed ``loss.dice`` and
``model.global_node`` on ``gcn`` and ``none``, laid out beside the paper's numbers, with paired tests of each
variant against the full model and of each step the paper claims.

    python -m benchmarks.relation_layers --data STORE --layers gcn,none --design loss.dice=true,false \\
        --design model.global_node=true,false --budget 8 --repetitions 3 --jobs 2 --out OUT
    python -m benchmarks.table4 --result OUT/relation_layers_<store>.json     # writes OUT/table4_<store>.{md,json,png}

The variants and the steps are ``ablation_parts.VARIANTS`` and ``STEPS`` (the same six as ``ablation.py``'s
table parts, which train them on the standard folds without tuning); the statistics are the comparison's
(``relation_layers_report.paired``: runs paired by fold assignment, seed and fold). ``none`` with the face node
and without Dice is a point of the crossed design but not a row of Table 4; it stays in the comparison's own
tables.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from augcn_pyg.core.errors import InputError
from benchmarks.ablation_parts import FULL, STEPS, VARIANTS, summary
from benchmarks.ablation_report import plot_table, variants_table
from benchmarks.common import write_json, write_text
from benchmarks.relation_layers_report import PROTOCOLS, cmp_cell, paired

#: the crossed design a result must hold: Table 4's "D" and "F"
KEYS = ("loss.dice", "model.global_node")
#: ``ablation_parts.summary``'s row keys and the comparison's columns that hold them
ROW_KEYS = {"f1": "mean_f1", "auc": "mean_auc", "test_selected_f1": "test_selected_with_threshold_f1",
            "train_seconds": "train_seconds"}


def variant_points(design: dict) -> dict[str, str]:
    """{variant key: the design point (run name) that trains it}, from the result's ``design`` section."""
    keys = [d["key"] for d in design["dimensions"]]
    if sorted(keys) != sorted(KEYS):
        raise InputError(f"the result's design crosses {', '.join(keys) or 'nothing'}; Table 4 needs exactly "
                         f"{' and '.join(KEYS)} (--design loss.dice=true,false --design model.global_node=true,false)")
    out = {}
    for v in VARIANTS:
        want = {"loss.dice": str(v.dice).lower(), "model.global_node": str(v.face).lower()}
        points = design["points"].get(v.layer, {})
        name = next((n for n, settings in points.items() if settings == want), None)
        if name is None:
            raise InputError(f"the result has no point for {v.label} ({v.layer} with "
                             f"{', '.join(f'{k}={x}' for k, x in want.items())}): train --layers gcn,none")
        out[v.key] = name
    return out


def table4(doc: dict, rows: list[dict]) -> dict:
    """Per protocol: each variant's runs, F1 and AUC (mean ± std over runs), test-fold-selected F1, and paired
    comparisons against the full model and along the paper's steps, in F1 and AUC."""
    points = variant_points(doc["design"])
    folds = int(doc["folds"])
    out = {}
    for protocol in PROTOCOLS:
        mine = [r for r in rows if r["protocol"] == protocol]
        if not any(r["layer"] == points[FULL] for r in mine):
            continue
        variants = {}
        for v in VARIANTS:
            runs = [r for r in mine if r["layer"] == points[v.key]]
            if not runs:
                continue
            # ablation.py's per-variant summary, its row keys read from the comparison's columns
            variants[v.key] = {"point": points[v.key], **summary([{key: r[column] for key, column in ROW_KEYS.items()}
                                                                   for r in runs])}

        def compared(a, b):
            if a not in variants or b not in variants:
                return None
            return {key: paired(rows, protocol, points[a], points[b], folds, key=key) for key in ("mean_f1", "mean_auc")}

        out[protocol] = {"variants": variants,
                         "vs_full": {v.key: compared(v.key, FULL) for v in VARIANTS if v.key != FULL},
                         "steps": {f"{a} -> {b}": compared(b, a) for a, b in STEPS}}
    return out


def markdown(doc: dict, table: dict) -> str:
    trials = (doc.get("tuning") or {}).get("trials_per_part", {})
    count = lambda part: f"{trials.get(part, 1)} trial{'s' if trials.get(part, 1) != 1 else ''}"  # noqa: E731
    lines = [f"# Table 4 on {doc['name']} under the comparison's protocol", "",
             f"{doc['test_sets']} test sets ({len(doc['assignments'])} subject-exclusive fold assignments x "
             f"{doc['folds']} folds); frozen part: {count('frozen')} per variant and fold, the kept one chosen by "
             f"validation F1; end to end: {count('end-to-end')}. Every variant starts from its group's shared "
             "stage-1 model. Paper: BP4D, its Table 4. Cells of the comparisons: a minus b in points, 95% interval "
             "of the corrected resampled t-test, p, P(a better / equal / b better) with a 1-point ROPE, verdict.", ""]
    return "\n".join([*lines, parts_markdown(table)])


def parts_markdown(table: dict, level: int = 2) -> str:
    """Per protocol: a heading of the given level, the variants beside the paper, then the comparisons."""
    by_key = {v.key: v for v in VARIANTS}
    lines = []
    for protocol, part in table.items():
        lines += [f"{'#' * level} {protocol}", "", *variants_table(part, name=lambda key, s: s["point"])]
        lines += ["", "| comparison (a vs b) | F1 | AUC |", "|---|---|---|"]
        for key, c in part["vs_full"].items():
            if c:
                lines.append(f"| {by_key[key].label} vs AU-GCN | {cmp_cell(c['mean_f1'])} | {cmp_cell(c['mean_auc'])} |")
        for step, c in part["steps"].items():
            a, b = step.split(" -> ")
            if c:
                lines.append(f"| step: {by_key[b].label} vs {by_key[a].label} | {cmp_cell(c['mean_f1'])} | "
                             f"{cmp_cell(c['mean_auc'])} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--result", required=True, help="relation_layers_<store>.json of the crossed design (its .csv beside it)")
    ap.add_argument("--out", help="folder for table4_<store>.{md,json,png} (default: the result's folder)")
    args = ap.parse_args(argv)
    try:
        result = Path(args.result)
        if not result.is_file() or not result.with_suffix(".csv").is_file():
            raise InputError(f"{result}: not a relation_layers result (its .json and .csv are needed)")
        doc = json.loads(result.read_text())
        if "design" not in doc:
            raise InputError(f"{result}: the result has no design; train it with --design loss.dice=true,false "
                             "--design model.global_node=true,false")
        rows = pd.read_csv(result.with_suffix(".csv")).to_dict("records")
        table = table4(doc, rows)
    except InputError as exc:
        print(f"table4: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else result.parent
    out.mkdir(parents=True, exist_ok=True)
    name = doc["name"]
    write_json(out / f"table4_{name}.json", {"result": str(result), "store": doc["store"], "provenance": doc.get("provenance"),
                                             "machine": doc.get("machine"), "table": table}, default=float)
    write_text(out / f"table4_{name}.md", markdown(doc, table) + f"\n![Table 4 beside the paper](table4_{name}.png)\n")
    plot_table([{"protocol": protocol, **part} for protocol, part in table.items()], out / f"table4_{name}.png")
    print(f"wrote table4_{name}.{{md,json,png}} in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
