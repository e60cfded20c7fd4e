"""Ablations of AU-GCN on one store: the paper's Table 4, the relation-graph threshold sweep, fixed vs
learned graphs, and what the learned relations look like next to the true ones.

    .venv/bin/python -m benchmarks.ablation --data /work/data/store_bp4d
    .venv/bin/python -m benchmarks.ablation --data /work/data/store_bp4d --parts table-e2e --seeds 0
    .venv/bin/python -m benchmarks.ablation --quick          # plumbing only, < 1 minute

Every run goes through ``bench_protocol`` (one shared stage-1 model per (fold, seed), selection on the
validation subjects, locked reusable run folders under ``--root``), so a part that stopped resumes and
runs the relation-layers benchmark trained already (``gcn``, ``none``, ``learned``, ``gat``) are reused.
Each part (``--parts``) writes its own section of ``ablation.json``; the other outputs are rebuilt from
whatever parts are there:

* ``table-frozen`` / ``table-e2e``: Table 4's six variants (GCN: ``gcn`` vs ``none``; D: ``loss.dice``;
  F: ``model.global_node``) under the frozen and the end-to-end protocol, with paired comparisons
  (``paired_stats.compare``) of every variant against the full model and of each step the paper claims.
* ``sweep``: average F1 of frozen ``gcn`` against the co-occurrence threshold of every measure.
* ``learned``: frozen ``learned`` and ``gat`` against ``gcn`` (paired), and their learned adjacency /
  mean test-face attention against the fitted graph and the generator's true relations.
* ``rules``: frozen ``gcn`` on graphs of fewer ROI-graph rules (self-loops alone, plus one rule at a time),
  each paired against ``none`` and the paper's graph: which kind of edge costs or buys accuracy.

This module is the command line and the run of each part; the parts themselves are in ``ablation_parts``, the
tables and pictures in ``ablation_report``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from augcn_pyg.core.errors import InputError
from benchmarks import bench_protocol as bp
from benchmarks.ablation_parts import (
    QUICK_RULE_SETS,
    QUICK_SWEEP,
    RULE_SETS,
    SWEEP,
    VARIANTS,
    Setup,
    learned_part,
    rules_part,
    sweep_part,
    table_part,
)
from benchmarks.ablation_report import QUICK_NOTE, write_outputs
from benchmarks.common import RESULTS, load_average

PARTS = ("table-frozen", "sweep", "learned", "table-e2e", "rules")


# ---------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------

def parse_measures(text: str, grid: dict) -> dict:
    """``conditional,phi=0.1/0.2`` -> {measure: thresholds}: a whole measure of ``grid`` or chosen points."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        measure, _, values = item.partition("=")
        if measure not in grid:
            raise InputError(f"unknown measure {measure!r}; the sweep has {', '.join(grid)}")
        try:
            out[measure] = tuple(float(v) for v in values.split("/")) if values else grid[measure]
        except ValueError:
            raise InputError(f"--measures {item!r}: thresholds must be numbers separated by /") from None
    return out


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="ROI store (e.g. /work/data/store_bp4d)")
    ap.add_argument("--out", help="results folder (default benchmarks/results; --quick: a new temporary folder)")
    ap.add_argument("--root", help="run root (default: DATA/../bench/<store name>, shared with the other benchmarks)")
    ap.add_argument("--quick", action="store_true", help="tiny store, tiny budget, few variants: plumbing only")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, from {', '.join(PARTS)}")
    ap.add_argument("--seeds", type=_ints, help="default 0,1,2 (--quick: 0)")
    ap.add_argument("--sweep-seeds", type=_ints, help="seeds of the sweep (default --seeds)")
    ap.add_argument("--measures", help=f"sweep only these measures (from {', '.join(SWEEP)}), optionally at chosen "
                                       "thresholds: conditional=0.8/1.2,phi; earlier points are kept")
    ap.add_argument("--learned-e2e", action="store_true", help="learned part: also train learned and gcn end to end")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch threads of this process (0: torch's default). Not part of the run configs, so "
                         "runs stay shared; 1 is faster on a machine other jobs keep busy")
    args = ap.parse_args(argv)
    try:
        return run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args) -> int:
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise InputError(f"unknown part(s) {', '.join(bad)}; choose from {', '.join(PARTS)}")
    if args.quick:
        from benchmarks.fixtures import make_store

        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="ablation-quick-"))
        store = out / "tiny-store"
        if not (store / "store.json").exists():
            make_store(store)
        root, budget = Path(args.root) if args.root else out / "runs", "quick"
        print(QUICK_NOTE)
    else:
        if not args.data:
            raise InputError("--data STORE is required (or --quick)")
        store = Path(args.data).resolve()
        if not (store / "store.json").exists():
            raise InputError(f"{store} is not a ROI store (no store.json)")
        out = Path(args.out) if args.out else RESULTS
        root, budget = (Path(args.root) if args.root else store.parent / "bench" / store.name), "full"
    out.mkdir(parents=True, exist_ok=True)
    args.seeds = args.seeds or ((0,) if args.quick else (0, 1, 2))
    setup = Setup(store, root, budget, (1, 2, 3), tuple(args.seeds))  # whole 3-fold CVs: what the tests assume
    from augcn_pyg.engine.models import open_store as open_roi_store

    doc_path = out / "ablation.json"
    doc = json.loads(doc_path.read_text()) if doc_path.exists() else {"parts": {}}
    doc.update(store=str(store), protocol=open_roi_store(store).protocol.name, root=str(root))
    variants = [v for v in VARIANTS if v.key in ("au-net", "gcn")] if args.quick else VARIANTS  # quick: 2 of 6
    for part in parts:
        print(f"{part}: folds {setup.folds}, seeds {setup.seeds}, budget {budget}", flush=True)
        t0, load0 = time.perf_counter(), load_average().split()[0]
        def finish(result):  # record the part (so far) and rebuild every output
            train = result.get("variants") or result.get("runs") or {}
            result.update(machine=bp.machine(), budget=budget, budget_overrides=bp.BUDGETS[budget], quick=args.quick,
                          folds=list(setup.folds),
                          seeds=list(args.sweep_seeds if part == "sweep" and args.sweep_seeds else setup.seeds),
                          wall_seconds=time.perf_counter() - t0, load_start=load0, load_end=load_average().split()[0],
                          train_seconds=float(sum(s.get("train_seconds", 0.0) for s in train.values()))
                          if part != "sweep" else float(sum(p["train_seconds"] for p in result["points"])))
            doc["parts"][part] = result
            for path in write_outputs(doc, out):
                print(f"wrote {path}")

        if part in ("table-frozen", "table-e2e"):
            table_part(setup, "frozen" if part == "table-frozen" else "end-to-end", variants, finish)
            continue
        if part == "sweep":
            grid = QUICK_SWEEP if args.quick else SWEEP
            if args.measures:
                grid = parse_measures(args.measures, grid)
            result = sweep_part(setup, grid, args.sweep_seeds, doc["parts"].get("sweep"))
        elif part == "rules":
            result = rules_part(setup, QUICK_RULE_SETS if args.quick else RULE_SETS)
        else:
            result = learned_part(setup, train_e2e=args.learned_e2e)
        finish(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
