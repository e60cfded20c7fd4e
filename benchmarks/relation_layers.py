"""Every registered relation layer (and ``none``) on one store, compared with honest statistics.

    python -m benchmarks.relation_layers --data /work/data/store_bp4d              # frozen and end-to-end, 3 repetitions
    python -m benchmarks.relation_layers --data STORE --parts frozen --repetitions 5 --standard
    python -m benchmarks.relation_layers --data STORE --shard 3/8                  # machine 3 of 8 (a SLURM array task)
    python -m benchmarks.relation_layers --data STORE --report-only                # tables once every run has finished
    python -m benchmarks.relation_layers --quick --out /tmp/q                      # plumbing check, < 1 minute
    python -m benchmarks.relation_layers --data STORE --design skip=none,sum,concat,initial   # one design dimension
    python -m benchmarks.relation_layers --data STORE --parts frozen --budget 8               # 8 tuning trials per layer

Everything follows ``bench_protocol``: the same fold assignments, seeds, budget (``BUDGETS["full"]``) and
selection on validation subjects for every layer; one shared stage-1 model per (fold assignment, seed, fold);
finished runs under ``--root`` (default: the store's folder's bench/<store name>) are reused, so an interrupted
benchmark resumes.

**Repetitions re-split the subjects.** ``--repetitions N`` (default 3) random subject-exclusive 3-fold
assignments, fold seeds 0..N-1 (``data.fold_seed``), so there are N·3 distinct test sets; ``--standard`` adds
the protocol's standard folds as one more. Each assignment trains with the seed of its repetition (fold seed k
with ``train.seed`` k, the standard folds with 0) unless ``--seeds`` lists training seeds (``0,1,2``, as
``augcn-pyg cv --seeds`` does) to run on every assignment. A count of repetitions and a list of seeds: the
two options never mean the same thing.

Parts:

* ``frozen``: every layer on the frozen latents of the shared stage-1 models. The frozen runs of one stage-1
  model train together as the members of one batch (``augcn_pyg.engine.members``): one process, the faces
  encoded once, one small checkpoint per epoch for all; each member is the same run, bit for bit, as the
  same configuration trained alone (``--one-per-run`` trains them that way). Every row says in
  ``batch_members`` how many runs its batch held (0: trained alone).
* ``end-to-end``: ``gcn``, ``none`` and the two other layers with the best mean *validation* F1 in the frozen
  comparison, trained end to end from the same stage-1 models (the paper's second stage).

Each layer is compared with ``gcn`` and with ``none`` over the same runs by ``paired_stats.compare``
(corrected t-test + Bayesian correlated t-test) at the n_test / n_train of the subjects the runs fitted on;
the report adds the verdicts at the other plausible ratios, the test on per-test-set means, and the spread
over fold assignments. ``bench_protocol.selection_cost`` gives what choosing the epoch (and a global
threshold) on the test fold would add. Writes under ``--out``: relation_layers_<store>.{csv,json,md},
selection_cost_<store>.{csv,md} and three PNG plots. Every CSV row carries its run's ``git`` revision and
``config_digest``; the report refuses to mix revisions, stage-1 models or settings (``--allow-mixed`` reports
them anyway and lists the runs that differ).

**Many machines.** ``--shard I/N`` trains only the I-th of N deterministic shares of the grid's stage-1
groups (every N-th group), in a run root the machines share; ``--report-only`` then aggregates and, until
every run has finished, lists the missing ones. The end-to-end layers are chosen from the whole frozen
comparison, so with shards run the frozen part first (or name ``--e2e-layers``).

One torch thread per process: on two cores shared with other jobs, two threads make the small
relation-layer ops about 20x slower. The thread count is set here, not in the run config, so the runs
stay the same runs as the other benchmarks' on the shared root.

**Design dimensions.** ``--design KEY=V1,V2`` (a relation-head option: ``skip``, ``norm``, ``hidden``,
``skip_alpha``, ``dropout``, ``layer_options``; or a stage-2 setting: ``loss.dice``, ``loss.lambda_dice``,
``model.global_node``) replaces each layer of ``--layers`` (default ``gcn``) by its design points,
``gcn@skip=sum`` etc., trained and compared like layers, and adds each point's comparison with the same layer
at the default values (``relation_layers_design``). Several ``--design`` options cross (the paper's Table 4 is
``--layers gcn,none --design loss.dice=true,false --design model.global_node=true,false``; ``table4.py`` lays
it out beside the paper). Their rows carry the design values.

**An equal tuning budget.** ``--budget N`` gives every layer and design point of the frozen part the same N
trials in every (fold assignment, seed, fold): trial 0 the configuration as given, then seeded random draws over
lr, weight decay, dropout and the layer's own options (``--budget-space``, ``--budget-seed``); each fold keeps the
trial with the best *validation* F1 and only that trial's test scores are reported and compared
(``relation_layers_budget``). Every trial is an ordinary run folder, resumed, reused and sharded like the rest.
``--e2e-budget N`` tunes the end-to-end part the same way: each end-to-end layer gets the first N of the
same trials (the frozen part's space and seed, so trial k has the same values in both parts), and each fold
keeps the trial with the best validation F1; end-to-end runs cost minutes each, hence a budget of its own.
The defaults ``--budget 1`` and ``--e2e-budget 1`` are the untuned comparison.

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

import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import runs
from augcn_pyg.engine.training_log import summary_writer_class
from benchmarks import bench_protocol as bp
from benchmarks.common import RESULTS, loadavg, stage1_dir, write_csv, write_json, write_text
from benchmarks.relation_layers_budget import DEFAULT_SPACE, Budget, budget_markdown, parse_space, select, wins
from benchmarks.relation_layers_design import annotate, check_runs, design_markdown, design_points, summarise_design
from benchmarks.relation_layers_report import (
    PROTOCOLS,
    QUICK_NOTE,
    choose_e2e_layers,
    fold_assignment_spread,
    markdown,
    plots,
    provenance_check,
    refuse_mixed,
    selection_markdown,
    selection_summary,
    summarise,
)
from benchmarks.relation_layers_runs import (
    grid_groups,
    inference_speed,
    missing_runs,
    parse_shard,
    part_walls,
    run_set,
    shard_groups,
    stage1_provenance,
)


# --- the benchmark ----------------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="ROI store (default: a tiny synthetic one with --quick)")
    p.add_argument("--out", default=str(RESULTS), help="folder for the result files")
    p.add_argument("--root", help="run root (default: DATA/../bench/<store name>, shared with ablation.py)")
    p.add_argument("--quick", action="store_true", help="tiny store and budget: checks the pipeline, proves nothing")
    p.add_argument("--parts", default="frozen,end-to-end", help="comma list of frozen, end-to-end")
    p.add_argument("--layers", help="comma list of layers for the frozen part (default: every registered layer)")
    p.add_argument("--repetitions", type=int, default=None,
                   help="random subject-exclusive fold assignments, fold seeds 0..N-1 (default 3; 2 with --quick)")
    p.add_argument("--standard", action="store_true", help="add the protocol's standard folds as one more assignment")
    p.add_argument("--seeds", help="comma list of training seeds run on every assignment, as in `augcn-pyg cv --seeds "
                                   "0,1,2` (default: each assignment its repetition's seed)")
    p.add_argument("--design", metavar="KEY=V1,V2", action="append",
                   help="compare design points of the relation head along one dimension, e.g. skip=none,sum,concat,"
                        "initial or norm=none,layer,batch or 'hidden=[12],[30,12]', or of a stage-2 setting "
                        "(loss.dice, loss.lambda_dice, model.global_node); repeat it to cross dimensions (with "
                        "--layers, default gcn; the default values are always one point, the reference)")
    p.add_argument("--budget", type=int, default=1, metavar="N",
                   help="tuning trials per (layer or design point, fold assignment, seed, fold) in the frozen part, "
                        "each fold keeping the trial with the best validation F1 (default 1: the config as given, "
                        "no tuning; relation_layers_budget)")
    p.add_argument("--budget-space", metavar="SPACE",
                   help="what the trials draw from, e.g. 'lr=0.01:0.2:log,weight_decay=0:1e-3,dropout=0:0.5,heads=1|2|4' "
                        f"(default {DEFAULT_SPACE}); names other than lr, weight_decay, dropout are layer options, "
                        "drawn only for layers that take them")
    p.add_argument("--budget-seed", type=int, default=0, help="seed of the trials' draws (a rerun draws the same)")
    p.add_argument("--e2e-layers", help="end-to-end layers (default gcn, none and the best two others by validation F1)")
    p.add_argument("--e2e-budget", type=int, default=1, metavar="N",
                   help="tuning trials per end-to-end layer in every fold assignment, seed and fold: the first N "
                        "trials of the frozen part's space and seed, chosen the same way (default 1: the config as "
                        "given)")
    p.add_argument("--report-only", action="store_true", help="train nothing; tables once every run of the grid finished")
    p.add_argument("--allow-mixed", action="store_true",
                   help="report even when runs of other revisions, stage-1 models or settings are mixed (listed)")
    p.add_argument("--shard", metavar="I/N", help="train only the I-th of N deterministic shares of the grid "
                                                  "(N machines, one shared --root); no report")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs side by side, one process with one thread each, grouped by stage-1 model (2 on 2 cores)")
    p.add_argument("--one-per-run", action="store_true",
                   help="train each frozen run alone (its own Trainer) instead of each group's runs as one batch of "
                        "members in one process (augcn_pyg.engine.members; the same runs, bit for bit)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                   help="a config override for every run of the grid, stage-1 models included (repeatable; needs its "
                        "own --root), e.g. --set data.train_subjects=3 for a point of a learning curve")
    p.add_argument("--tensorboard", action="store_true",
                   help="each run trained also logs to TensorBoard in its run folder (the tensorboard extra): "
                        "tensorboard --logdir ROOT shows them side by side")
    return p.parse_args(argv)


def parse_seeds(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        seeds = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--seeds takes a comma list of integers (e.g. 0,1,2), got {text!r}") from None
    if not seeds:
        raise InputError("--seeds lists no seed; leave it out to train each assignment with its repetition's seed")
    return seeds


def check_store(path) -> Path:
    path = Path(path)
    meta = path / "store.json"
    if not meta.exists():
        raise InputError(f"{path} is not a prepared ROI store (no store.json)")
    if not json.loads(meta.read_text()).get("complete", False):
        raise InputError(f"{path} is not complete yet (store.json says complete: false)")
    return path


def main(argv=None) -> int:
    """:func:`compare_layers`, leaving this process's run settings (``--tensorboard``, ``--set``) as they were."""
    try:
        return compare_layers(argv)
    finally:
        bp.log_to_tensorboard(False)
        bp.set_grid_overrides([])


def compare_layers(argv=None) -> int:
    from augcn_pyg.data.folds import FOLDS
    from augcn_pyg.nn.layers import get_layer, layer_names

    args = parse_args(argv)
    if args.tensorboard:
        summary_writer_class()  # a missing extra: one clear error before any run starts
    bp.log_to_tensorboard(args.tensorboard)
    if args.sets and not args.root and not args.quick:
        raise InputError("--set changes every run of the grid: give it its own --root, so that its runs never mix "
                         "with the default grid's")
    bp.set_grid_overrides(args.sets)
    known = layer_names()
    for layer in sum((v.split(",") for v in (args.layers, args.e2e_layers) if v), []):
        if layer not in known:
            get_layer(layer)  # pyg:<ClassName> and MODULE:ATTR resolve here; any other name is one InputError
    parts = args.parts.split(",")
    for part in parts:
        if part not in PROTOCOLS:
            raise InputError(f"unknown part {part!r}; choose from {', '.join(PROTOCOLS)} (every repetition is a "
                             "random fold assignment now: --repetitions N, --standard)")
    repetitions = args.repetitions if args.repetitions is not None else (2 if args.quick else 3)
    if repetitions < 0:
        raise InputError(f"--repetitions must be 0 or more, got {repetitions}")
    if repetitions == 0 and not args.standard:
        raise InputError("--repetitions 0 without --standard leaves no fold assignment: nothing would be trained or "
                         "compared; give --repetitions N (3 or more for the statistics) and/or --standard")
    seeds = parse_seeds(args.seeds)
    shard_i, shard_n = parse_shard(args.shard)
    if args.shard and args.report_only:
        raise InputError("--shard and --report-only exclude each other: the report reads every shard's runs")
    if args.jobs < 1:
        raise InputError(f"--jobs must be 1 or more, got {args.jobs}")
    for option, value in (("--budget", args.budget), ("--e2e-budget", args.e2e_budget)):
        if value < 1:
            raise InputError(f"{option} must be 1 or more trials, got {value}")
    space = parse_space(args.budget_space)
    if args.budget_space and args.budget == 1 and args.e2e_budget == 1:
        raise InputError("--budget-space without --budget N or --e2e-budget N (N > 1) tunes nothing: give the number "
                         "of trials")
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
        budget, layers_default = "quick", ["gcn", "none"]
    else:
        if not args.data:
            raise InputError("--data STORE is needed (or --quick)")
        store, budget, layers_default = Path(args.data).resolve(), "full", layer_names()
        root = Path(args.root) if args.root else store.parent / "bench" / store.name  # beside the store, as ablation.py
    store = check_store(store)
    layers = args.layers.split(",") if args.layers else list(layers_default)
    meta = json.loads((store / "store.json").read_text())
    design = None
    if args.design:  # each layer's design points take its place (relation_layers_design)
        layers = layers if args.layers else ["gcn"]
        design = design_points(args.design, layers, store, budget, meta["protocol"], int(meta["roi_size"]))
        layers = design.names()
    tuning, trials = None, {layer: [layer] for layer in layers}
    not_tuned = frozenset(set(design.keys) & set(space)) if design is not None else frozenset()
    if args.budget > 1:  # the same trials for every layer and design point (relation_layers_budget)
        tuning = Budget(args.budget, space, args.budget_seed, not_tuned)
        trials = tuning.expand(layers)
        check_runs([n for names in trials.values() for n in names[1:]], store, budget, meta["protocol"],
                   int(meta["roi_size"]))
    frozen_names = list(dict.fromkeys(n for names in trials.values() for n in names))
    n_folds = len(FOLDS[meta["protocol"]])
    folds = list(range(1, n_folds + 1))
    assignments = list(range(repetitions)) + ([-1] if args.standard else [])
    seeds_of = (lambda fs: seeds) if seeds is not None else (lambda fs: [max(fs, 0)])  # noqa: E731
    groups = grid_groups(assignments, seeds_of, folds)
    mine = shard_groups(groups, shard_i, shard_n)
    name = "quick" if args.quick else store.resolve().name
    train = not args.report_only
    out.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(m, flush=True)  # noqa: E731
    log(f"relation layers on {store} (runs under {root}), budget {budget}, {len(assignments)} fold assignments x "
        f"{n_folds} folds, {len(groups)} stage-1 groups" + (f", shard {shard_i}/{shard_n}: {len(mine)} of them"
                                                           if shard_n > 1 else "") + f", load {loadavg()}")
    if args.quick:
        log(QUICK_NOTE)
    if tuning is not None:
        log(f"tuning budget: {args.budget} trials per layer or design point in every fold (frozen part), "
            f"{len(frozen_names)} frozen runs per group, chosen by validation F1")

    frozen_rows = run_set(store, root, "frozen", frozen_names, groups, budget, train and "frozen" in parts, log, args.jobs,
                          train_groups=mine, shard=f"{shard_i}/{shard_n}", batched=not args.one_per_run)
    trial_table, unchosen = [], []
    if tuning is not None:  # each fold's trial with the best validation F1, relabelled as its point
        trial_runs = frozen_rows
        frozen_rows, trial_table = select(frozen_rows, trials, root)
        kept = {(r["trial_name"], r["fold_seed"], r["seed"], r["fold"]) for r in frozen_rows}
        # the trials not chosen are held to the same provenance rules (one revision, current stage-1 models)
        unchosen = [{**r, "layer": f"{r['layer']} (trial not chosen)"} for r in trial_runs
                    if (r["layer"], r["fold_seed"], r["seed"], r["fold"]) not in kept] if "frozen" in parts else []
        trial_table = trial_table if "frozen" in parts else []
    rows = frozen_rows if "frozen" in parts else []
    frozen_missing = missing_runs(root, "frozen", frozen_names, groups)
    e2e_layers = args.e2e_layers.split(",") if args.e2e_layers else None
    if design is not None and e2e_layers is None:
        e2e_layers = list(layers)  # every design point end to end too
    if "end-to-end" in parts and e2e_layers is None and frozen_missing:
        why = (f"the end-to-end layers are chosen by validation F1 over the whole frozen comparison, which misses "
               f"{len(frozen_missing)} runs (e.g. {frozen_missing[0]})")
        if shard_n > 1 and train:  # the other shards are still at it: this one's end-to-end share waits
            log(f"end-to-end part not started on shard {shard_i}/{shard_n}: {why}; run --parts end-to-end on every "
                f"shard once the frozen part is done everywhere, or name --e2e-layers")
            parts = [p for p in parts if p != "end-to-end"]
        else:
            raise InputError(f"{why}; train --parts frozen first, or name --e2e-layers")
    if e2e_layers is None:
        e2e_layers = choose_e2e_layers(frozen_rows, layers, known)
    e2e_tuning, e2e_trials = None, {layer: [layer] for layer in e2e_layers}
    if args.e2e_budget > 1:  # the frozen part's first trials, for every end-to-end layer alike
        e2e_tuning = Budget(args.e2e_budget, space, args.budget_seed, not_tuned)
        e2e_trials = e2e_tuning.expand(e2e_layers)
        check_runs([n for names in e2e_trials.values() for n in names[1:]], store, budget, meta["protocol"],
                   int(meta["roi_size"]))
    e2e_names = list(dict.fromkeys(n for names in e2e_trials.values() for n in names))
    names_of = {"frozen": frozen_names, "end-to-end": e2e_names}
    if "end-to-end" in parts:
        e2e_rows = run_set(store, root, "end-to-end", e2e_names, groups, budget, train, log, args.jobs,
                           train_groups=mine, shard=f"{shard_i}/{shard_n}")
        if e2e_tuning is not None:  # as the frozen part: each fold's best trial by validation F1
            trial_runs = e2e_rows
            e2e_rows, e2e_table = select(e2e_rows, e2e_trials, root, "end-to-end")
            trial_table += e2e_table
            kept = {(r["trial_name"], r["fold_seed"], r["seed"], r["fold"]) for r in e2e_rows}
            unchosen += [{**r, "layer": f"{r['layer']} (trial not chosen)"} for r in trial_runs
                         if (r["layer"], r["fold_seed"], r["seed"], r["fold"]) not in kept]
        rows += e2e_rows
    if shard_n > 1:
        left = sum(len(missing_runs(root, p, names_of[p], groups)) for p in parts)
        log(f"shard {shard_i}/{shard_n} done ({time.perf_counter() - t_start:.0f} s); {left} runs of the grid not "
            f"finished yet (other shards'); when every shard is done: --report-only with the same grid options")
        if tmp is not None:
            tmp.cleanup()
        return 0
    missing = [m for p in parts for m in missing_runs(root, p, names_of[p], groups)]
    if missing:
        raise InputError(f"{len(missing)} runs of the grid have not finished under {root}: {', '.join(missing[:10])}"
                         + (" …" if len(missing) > 10 else "") + ("" if train else "; train them (all shards) first,"
                                                                  " or narrow --parts / --layers / --repetitions"))
    if not rows:
        raise InputError(f"no finished runs under {root} for this grid")
    provenance = provenance_check(rows + unchosen, stage1_provenance(root, groups))  # chosen or not, one revision
    refuse_mixed(provenance, args.allow_mixed)

    aus = [int(c[5:]) for c in rows[0] if c.startswith("f1_AU")]
    speeds = {}
    for protocol, ls in (("frozen", layers), ("end-to-end", e2e_layers)):
        if protocol in parts:
            for layer in ls:
                speeds[(protocol, layer)] = inference_speed(root, protocol, layer, store, groups[0],
                                                            faces=128 if args.quick else 512)
    summaries = {p: summarise(rows, p, layers if p == "frozen" else e2e_layers, aus, n_folds, speeds) for p in PROTOCOLS}
    spread = [s for p in PROTOCOLS for s in fold_assignment_spread(rows, p, layers if p == "frozen" else e2e_layers)]
    selection = selection_summary(rows)

    def timing(protocol):
        mine_rows = [r for r in rows if r["protocol"] == protocol]
        timed = [r for r in mine_rows if r["wall_seconds"] is not None]
        loads = [x for r in timed for x in r["load"] if x is not None]
        return {"runs": len(mine_rows), "runs_timed": len(timed), "wall_s": float(sum(r["wall_seconds"] for r in timed)),
                "train_seconds": float(sum(r["train_seconds"] for r in mine_rows)),
                "load": f"{min(loads):.1f} … {max(loads):.1f}" if loads else "?"}

    stage1_dirs = [d for g in groups if (d := stage1_dir(root, g.fold, g.seed, g.fold_seed)).joinpath(runs.TEST_METRICS).exists()]
    ratios = next((s["vs_none"]["ratios"] for p in PROTOCOLS for s in summaries[p] if s.get("vs_none")), {})
    doc = {"store": str(store), "name": name, "quick": args.quick, "budget": budget, "budget_overrides": bp.BUDGETS[budget],
           "folds": n_folds, "repetitions": repetitions, "standard": args.standard, "assignments": assignments,
           "seeds_of": {str(fs): seeds_of(fs) for fs in assignments}, "test_sets": len(assignments) * n_folds,
           "layers": layers, "e2e_layers": e2e_layers, "parts": parts, "aus": aus, "grid_overrides": list(bp.GRID),
           "ratios": {k: v["ratio"] for k, v in ratios.items()},
           "machine": bp.machine(), "load_at_report": loadavg(), "provenance": provenance,
           "summary": summaries, "fold_assignments": spread, "selection_cost": selection,
           "timing": {"frozen": timing("frozen"), "end-to-end": timing("end-to-end"),
                      "part_walls": {p: part_walls(root, p) for p in PROTOCOLS},
                      "stage1": {"models": len(stage1_dirs), "train_seconds": float(sum(
                          json.loads((d / runs.TEST_METRICS).read_text())["train_seconds"] for d in stage1_dirs))},
                      "this_invocation_wall_s": time.perf_counter() - t_start},
           "recorder_check_max_abs_diff": float(max(abs(r["mean_f1"] - r["recorded_val_selected_f1"]) for r in rows))}
    budgets = {p: b for p, b in (("frozen", tuning), ("end-to-end", e2e_tuning)) if p in parts}  # None: not tuned
    if any(budgets.values()):
        some = next(b for b in budgets.values() if b is not None)
        doc["tuning"] = {**some.to_dict(), "equal": True, "selection": "validation F1 at the selected epoch",
                         "trials_per_part": {p: b.trials if b is not None else 1 for p, b in budgets.items()},
                         "trials_per_point": {p: len(names) for p, names in trials.items()},
                         "e2e_trials_per_layer": {p: len(names) for p, names in e2e_trials.items()},
                         "wins": wins(rows),
                         "chosen": [{k: r[k] for k in ("protocol", "layer", "fold_seed", "seed", "fold", "trial",
                                                       "trial_name", "val_f1_at_selected")}
                                    for r in rows if "trial_name" in r]}
        write_csv(out / f"relation_layers_{name}_trials.csv", trial_table)
    if design is not None:
        annotate(rows, design)
        doc["design"] = {**design.to_dict(), "summary": summarise_design(rows, design, n_folds)}
    write_csv(out / f"relation_layers_{name}.csv", rows)
    write_json(out / f"relation_layers_{name}.json", doc, default=float)
    write_text(out / f"relation_layers_{name}.md", markdown(name, doc) + (
        "\n" + design_markdown(design, doc["design"]["summary"]) if design is not None else "") + (
        "\n" + budget_markdown(budgets, [r for r in rows if "trial_name" in r], trial_table)
        if any(budgets.values()) else ""))
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
