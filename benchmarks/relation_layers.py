"""Every registered relation layer (and ``none``) on one store, compared with honest statistics.

    python -m benchmarks.relation_layers --data /work/data/store_bp4d              # frozen, end-to-end, fold assignments
    python -m benchmarks.relation_layers --data STORE --parts frozen               # one part
    python -m benchmarks.relation_layers --data STORE --report-only                # tables from the finished runs only
    python -m benchmarks.relation_layers --quick --out /tmp/q                      # plumbing check, < 1 minute

Everything follows ``bench_protocol``: the same folds, seeds, budget (``BUDGETS["full"]``) and selection on
validation subjects for every layer; one shared stage-1 model per (fold, seed); finished runs under
``--root`` (default: the store's folder's bench/<store name>) are reused, so an interrupted benchmark resumes.

Parts:

* ``frozen``: every layer on the frozen latents of the shared stage-1 model, folds x ``--seeds``.
* ``end-to-end``: ``gcn``, ``none`` and the best two other layers of the frozen comparison, trained end to
  end from the same stage-1 model (the paper's second stage).
* ``folds``: ``--fold-layers`` (frozen) on ``--fold-seeds`` random subject-exclusive fold assignments, to
  measure how much the average F1 moves with the assignment of subjects to folds alone.

Each layer is compared with ``gcn`` and with ``none`` over the same (fold, seed) runs by
``paired_stats.compare`` (corrected t-test + baycomp). ``bench_protocol.selection_cost`` gives what
choosing the epoch (and a global threshold) on the test fold would add. Writes under ``--out``:
relation_layers_<store>.{csv,json,md}, selection_cost_<store>.{csv,md} and three PNG plots.

One torch thread per process: on two cores shared with other jobs, two threads make the small
relation-layer ops about 20x slower. The thread count is set here, not in the run config, so the runs
stay the same runs as the other benchmarks' on the shared root.

This module is the command line and the order of the parts; the runs (trained, resumed or read back) are
in ``relation_layers_runs``, the statistics, tables and plots in ``relation_layers_report``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import runs
from benchmarks import bench_protocol as bp
from benchmarks.common import RESULTS, loadavg, run_root, write_csv, write_json, write_text
from benchmarks.relation_layers_report import (
    PROTOCOLS,
    QUICK_NOTE,
    REFERENCES,
    fold_assignment_spread,
    markdown,
    plots,
    selection_markdown,
    selection_summary,
    summarise,
)
from benchmarks.relation_layers_runs import inference_speed, part_walls, run_set


# --- the benchmark ----------------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="ROI store (default: a tiny synthetic one with --quick)")
    p.add_argument("--out", default=str(RESULTS), help="folder for the result files")
    p.add_argument("--root", help="run root (default: DATA/../bench/<store name>, shared with ablation.py)")
    p.add_argument("--quick", action="store_true", help="tiny store and budget: checks the pipeline, proves nothing")
    p.add_argument("--parts", default="frozen,end-to-end,folds", help="comma list of frozen, end-to-end, folds")
    p.add_argument("--layers", help="comma list of layers for the frozen part (default: every registered layer)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per fold")
    p.add_argument("--e2e-layers", help="end-to-end layers (default gcn, none and the best two other frozen layers)")
    p.add_argument("--fold-seeds", type=int, default=3, help="random fold assignments (fold seeds 0..k-1)")
    p.add_argument("--fold-layers", default="gcn,none", help="layers trained on the random fold assignments")
    p.add_argument("--fold-assignment-seeds", type=int, default=1, help="seeds per fold on the random assignments")
    p.add_argument("--report-only", action="store_true", help="train nothing; tables from the finished runs")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs side by side, one process with one thread each, grouped by stage-1 model (2 on 2 cores)")
    return p.parse_args(argv)


def check_store(path) -> Path:
    path = Path(path)
    meta = path / "store.json"
    if not meta.exists():
        raise InputError(f"{path} is not a prepared ROI store (no store.json)")
    if not json.loads(meta.read_text()).get("complete", False):
        raise InputError(f"{path} is not complete yet (store.json says complete: false)")
    return path


def main(argv=None) -> int:
    from augcn_pyg.data.folds import FOLDS
    from augcn_pyg.nn.layers import layer_names

    args = parse_args(argv)
    known = layer_names()
    for layer in sum((v.split(",") for v in (args.layers, args.e2e_layers, args.fold_layers) if v), []):
        if layer not in known:
            raise InputError(f"unknown relation layer {layer!r}; registered: {', '.join(known)}")
    parts = args.parts.split(",")
    for part in parts:
        if part not in ("frozen", "end-to-end", "folds"):
            raise InputError(f"unknown part {part!r}; choose from frozen, end-to-end, folds")
    torch.set_num_threads(1)
    from augcn_pyg.core.allocator import keep_freed_memory

    keep_freed_memory()  # as the commands do
    t_start = time.perf_counter()
    out = Path(args.out)
    tmp = None
    if args.quick:
        from benchmarks.fixtures import make_store  # tiny stores with a learnable signal

        tmp = tempfile.TemporaryDirectory(prefix="relation_layers_quick_")
        store = Path(args.data) if args.data else Path(tmp.name) / "store"
        if not args.data:
            make_store(store)
        root = Path(args.root) if args.root else Path(tmp.name) / "runs"
        budget, layers_default, n_seeds, fold_seeds = "quick", ["gcn", "none"], 1, 1
    else:
        if not args.data:
            raise InputError("--data STORE is needed (or --quick)")
        store, budget, layers_default, n_seeds, fold_seeds = (Path(args.data).resolve(), "full", layer_names(),
                                                              args.seeds, args.fold_seeds)
        root = Path(args.root) if args.root else store.parent / "bench" / store.name  # beside the store, as ablation.py
    store = check_store(store)
    layers = args.layers.split(",") if args.layers else list(layers_default)
    meta = json.loads((store / "store.json").read_text())
    n_folds = len(FOLDS[meta["protocol"]])
    folds, seeds = list(range(1, n_folds + 1)), list(range(n_seeds))
    name = "quick" if args.quick else store.resolve().name
    train = not args.report_only
    out.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(m, flush=True)  # noqa: E731
    log(f"relation layers on {store} (runs under {root}), budget {budget}, load {loadavg()}")
    if args.quick:
        log(QUICK_NOTE)

    if args.jobs < 1:
        raise InputError(f"--jobs must be 1 or more, got {args.jobs}")
    rows = run_set(store, root, "frozen", layers, folds, seeds, -1, budget, train and "frozen" in parts, log, args.jobs)
    frozen_f1 = {l: np.mean([r["mean_f1"] for r in rows if r["layer"] == l]) for l in layers
                 if any(r["layer"] == l for r in rows)}
    if args.e2e_layers:
        e2e_layers = args.e2e_layers.split(",")
    else:  # the paper's two, then the best two others of the frozen comparison
        others = sorted((l for l in frozen_f1 if l not in REFERENCES), key=lambda l: -frozen_f1[l])
        e2e_layers = [l for l in REFERENCES if l in known] + others[:2]
    rows += run_set(store, root, "end-to-end", e2e_layers, folds, seeds, -1, budget, train and "end-to-end" in parts, log,
                    args.jobs)
    fold_layers = ["gcn"] if args.quick else args.fold_layers.split(",")
    fa_seeds = list(range(args.fold_assignment_seeds if not args.quick else 1))
    for fs in range(fold_seeds):
        rows += run_set(store, root, "frozen", fold_layers, folds, fa_seeds, fs, budget, train and "folds" in parts, log,
                        args.jobs)
    if not rows:
        raise InputError(f"no finished runs under {root} (and --report-only given)")

    aus = [int(c[5:]) for c in rows[0] if c.startswith("f1_AU")]
    speeds = {}
    for protocol, ls in (("frozen", layers), ("end-to-end", e2e_layers)):
        for layer in ls:
            speeds[(protocol, layer)] = inference_speed(root, protocol, layer, store, faces=128 if args.quick else 512)
    summaries = {p: summarise(rows, p, layers if p == "frozen" else e2e_layers, aus, n_folds, speeds) for p in PROTOCOLS}
    spread = fold_assignment_spread(rows, fold_layers, fa_seeds)
    selection = selection_summary([r for r in rows if r["fold_seed"] == -1])

    def timing(protocol):
        mine = [r for r in rows if r["protocol"] == protocol and r["fold_seed"] == -1]
        timed = [r for r in mine if r["wall_seconds"] is not None]
        loads = [x for r in timed for x in r["load"] if x is not None]
        return {"runs": len(mine), "runs_timed": len(timed), "wall_s": float(sum(r["wall_seconds"] for r in timed)),
                "train_seconds": float(sum(r["train_seconds"] for r in mine)),
                "load": f"{min(loads):.1f} … {max(loads):.1f}" if loads else "?"}

    stage1_dirs = [d for d in (run_root(root, -1) / "stage1").glob("fold*-seed*") if (d / runs.TEST_METRICS).exists()]
    doc = {"store": str(store), "name": name, "quick": args.quick, "budget": budget, "budget_overrides": bp.BUDGETS[budget],
           "folds": n_folds, "seeds": seeds, "layers": layers, "e2e_layers": e2e_layers, "aus": aus,
           "fold_assignment_seeds": fa_seeds, "machine": bp.machine(), "load_at_report": loadavg(),
           "summary": summaries, "fold_assignments": spread, "selection_cost": selection,
           "timing": {"frozen": timing("frozen"), "end-to-end": timing("end-to-end"),
                      "part_walls": {p: part_walls(root, p) for p in PROTOCOLS},
                      "stage1": {"models": len(stage1_dirs), "train_seconds": float(sum(
                          json.loads((d / runs.TEST_METRICS).read_text())["train_seconds"] for d in stage1_dirs))},
                      "this_invocation_wall_s": time.perf_counter() - t_start},
           "recorder_check_max_abs_diff": float(max(abs(r["mean_f1"] - r["recorded_val_selected_f1"]) for r in rows))}
    write_csv(out / f"relation_layers_{name}.csv", rows)
    write_json(out / f"relation_layers_{name}.json", doc, default=float)
    write_text(out / f"relation_layers_{name}.md", markdown(name, doc))
    write_csv(out / f"selection_cost_{name}.csv", selection)
    write_text(out / f"selection_cost_{name}.md", selection_markdown(name, selection, args.quick))
    written = plots(out, name, summaries, spread)
    log(f"wrote relation_layers_{name}.{{csv,json,md}}, selection_cost_{name}.{{csv,md}}, {', '.join(written)} in {out} "
        f"({time.perf_counter() - t_start:.0f} s, load {loadavg()})")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except InputError as exc:
        print(f"relation_layers: {exc}", file=sys.stderr)
        sys.exit(2)
