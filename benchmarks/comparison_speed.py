"""What the frozen comparison costs: the same runs trained one per process, one process per stage-1 model,
and as batches of members (``augcn_pyg.engine.members``), side by side in one invocation; and the whole
equal-budget grid.

    python -m benchmarks.comparison_speed --data /work/data/store_bp4d            # 72 gcn runs, three ways
    python -m benchmarks.comparison_speed --data /work/data/store_bp4d --grid     # + every layer x 9 x 8 trials
    python -m benchmarks.comparison_speed --quick --out /tmp/q                    # plumbing check: 2 runs

**Side by side.** ``gcn`` with an equal tuning budget of 8 trials (``relation_layers_budget``, seed 0) in each
of 9 (fold assignment, fold) groups (fold seeds 0-2, each with its repetition's training seed, 3 folds): 72
frozen runs, trained from the same shared stage-1 models (under ``--root``; trained first if missing, not
timed) into three fresh run roots, ``--jobs`` processes side by side (one thread each):

* ``one_per_process``: every run in a fresh process (its own start-up, set-up, encoding of the faces);
* ``per_group``: one process per stage-1 model training its 8 runs one after another, each with its own
  ``Trainer`` (the comparison's way before batches; the faces encoded once per process);
* ``batched``: the comparison's own way (``relation_layers_runs.run_set``): one process per stage-1 model training
  its 8 runs as the members of one batch, the groups left for the last round split between the processes
  (``balanced_tasks``; results committed before that split trained the last group whole).

Every run's selected epoch and test scores are compared across the three: a member is the same run as
alone, bit for bit. ``ratio`` is one_per_process / batched wall time; ``ratio_per_group`` per_group / batched.

**Why members are looped, not stacked.** ``stacked_step`` times one training step of K = 8 gcn heads at
batch 256 both ways in this process: ``torch.func.vmap`` over stacked parameters (one batched product per
layer for all members), and the members one after another. The faster way is what the batch does.

**The grid** (``--grid``): ``relation_layers --parts frozen --budget 8`` over every registered layer on the
same 9 groups (``--grid-repetitions 1``: the 3 of fold seed 0), batched, ``--jobs`` processes, in ``--root``;
its wall time, runs trained and the peak resident memory of its processes. Its comparison tables are written
to a scratch folder: this measures what the grid costs, not what the layers score.

Writes ``comparison_speed.json`` and ``.md`` under ``--out`` with the machine, versions and revision.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.workers import die_with_parent
from benchmarks import bench_protocol as bp
from benchmarks.common import RESULTS, loadavg, run_root, write_json, write_text
from benchmarks.relation_layers_budget import DEFAULT_SPACE, Budget, parse_space
from benchmarks.relation_layers_runs import ensure_stage1, grid_groups, one_run, run_set

MODES = ("one_per_process", "per_group", "batched")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="ROI store (default: a tiny synthetic one with --quick)")
    p.add_argument("--root", help="run root holding the shared stage-1 models (default: DATA/../bench/<store name>)")
    p.add_argument("--out", default=str(RESULTS), help="folder for comparison_speed.{json,md}")
    p.add_argument("--quick", action="store_true", help="tiny store, 2 trials, 1 repetition: plumbing only")
    p.add_argument("--jobs", type=int, default=2, help="processes side by side (default 2, one per core)")
    p.add_argument("--grid", action="store_true", help="also train the whole equal-budget grid, batched")
    p.add_argument("--grid-repetitions", type=int, default=3,
                   help="fold assignments of the grid (default 3: 9 groups; 1 trains a third of it)")
    p.add_argument("--skip-side-by-side", action="store_true", help="with --grid: keep the side-by-side result there")
    return p.parse_args(argv)


def _one(store, root, layer, group, budget):
    """A fresh process's whole job: one run (max_tasks_per_child=1 gives every run its own process)."""
    torch.set_num_threads(1)
    one_run(store, Path(root), "frozen", layer, group.fold, group.seed, group.fold_seed, budget, True, lambda m: None)


def one_per_process(store, root: Path, names, groups, budget, jobs: int) -> None:
    import multiprocessing

    # the workers end with this process, even when it is killed outright
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1,
                             initializer=die_with_parent) as pool:
        for future in [pool.submit(_one, store, root, n, g, budget) for g in groups for n in names]:
            future.result()


def link_stage1(shared: Path, root: Path, groups) -> None:
    """``root`` gets the shared stage-1 models (symbolic links): every mode starts from the same ones."""
    for fs in sorted({g.fold_seed for g in groups}):
        target = run_root(root, fs) / "stage1"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(run_root(shared, fs) / "stage1", target_is_directory=True)


def peak_rss_mib() -> float:
    """The largest resident set of this process or any finished child, in MiB (Linux: ru_maxrss in KiB)."""
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def side_by_side(store, shared: Path, work: Path, names, groups, budget, jobs: int, log) -> dict:
    walls, rows = {}, {}
    for mode in MODES:
        root = work / mode
        link_stage1(shared, root, groups)
        load, t0 = loadavg(), time.perf_counter()
        if mode == "one_per_process":
            one_per_process(store, root, names, groups, budget, jobs)
        else:
            run_set(store, root, "frozen", names, groups, budget, True, lambda m: None, jobs, batched=mode == "batched")
        walls[mode] = {"wall_s": time.perf_counter() - t0, "load_before": load, "load_after": loadavg()}
        rows[mode] = run_set(store, root, "frozen", names, groups, budget, False, lambda m: None)
        log(f"{mode:16s} {len(rows[mode])} runs in {walls[mode]['wall_s']:.1f} s (load {load} -> {loadavg()})")
    key = lambda r: (r["layer"], r["fold_seed"], r["seed"], r["fold"])  # noqa: E731
    ref = {key(r): r for r in rows["one_per_process"]}
    same = {m: {"selected_epoch": sum(ref[key(r)]["selected_epoch"] == r["selected_epoch"] for r in rows[m]),
                "test_f1_max_abs_diff": float(max(abs(ref[key(r)]["mean_f1"] - r["mean_f1"]) for r in rows[m])),
                "runs": len(rows[m])} for m in MODES[1:]}
    batched = walls["batched"]["wall_s"]
    return {"runs": len(rows["batched"]), "groups": len(groups), "trials": len(names), "jobs": jobs, "walls": walls,
            "ratio": walls["one_per_process"]["wall_s"] / batched,
            "ratio_per_group": walls["per_group"]["wall_s"] / batched, "same_as_one_per_process": same,
            "batch_members": sorted({int(r["batch_members"]) for r in rows["batched"]}),
            # the revisions that trained the runs (run.json, dirty digest included), beside the report's own
            "trained_by": {m: sorted({str(r["git"]) for r in rows[m]}) for m in MODES},
            "mean_selected_epoch": float(np.mean([r["selected_epoch"] for r in rows["batched"]])),
            "mean_train_seconds": {m: float(np.mean([r["train_seconds"] for r in rows[m]])) for m in MODES}}


def stacked_step(k: int = 8, batch: int = 256, repeats: int = 5) -> dict:
    """ms per training step of ``k`` gcn heads at ``batch`` faces: vmap over stacked parameters vs a loop."""
    from torch.func import functional_call, stack_module_state, vmap

    from augcn_pyg.graph.relations import paper_graph
    from augcn_pyg.nn.model import AUGCN

    torch.set_num_threads(1)
    graph = paper_graph("bp4d")
    models = []
    for seed in range(k):
        torch.manual_seed(seed)
        models.append(AUGCN("bp4d", graph, layer="gcn").eval())
    x = torch.randn(k, batch, models[0].num_rois, models[0].latent)  # (K, B, R, d0)
    for m in models:
        m.head(x[0, :1])  # fills each layer's cached graph matrix
    heads = [torch.nn.ModuleDict({"relation": m.relation, "classifier": m.classifier}) for m in models]
    params, _ = stack_module_state(heads)  # (K, ...) each
    template = models[0]

    def loss(p, xk):
        h = xk
        for i, layer in enumerate(template.relation):  # the default head: ReLU(layer(h)), then the classifier
            h = torch.relu(functional_call(layer, {n.split(".", 2)[2]: v for n, v in p.items()
                                                   if n.startswith(f"relation.{i}.")}, (h,)))
        logits = functional_call(template.classifier, {n.split(".", 1)[1]: v for n, v in p.items()
                                                       if n.startswith("classifier.")}, (h.flatten(1),))
        return logits.square().mean()

    stacked = vmap(loss)

    def time_it(fn):
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        return best * 1e3

    def looped():
        for m, xk in zip(models, x):
            m.classifier(torch.relu(m.relation[1](torch.relu(m.relation[0](xk)))).flatten(1)).square().mean().backward()

    def run_stacked():
        stacked(params, x).sum().backward()

    run_stacked(), looped()  # warm-up
    return {"members": k, "batch": batch, "layer": "gcn", "stacked_ms": time_it(run_stacked),
            "looped_ms": time_it(looped), "load": loadavg()}


def grid(store, shared: Path, out: Path, jobs: int, repetitions: int, log) -> dict:
    from augcn_pyg.nn.layers import layer_names
    from benchmarks import relation_layers as rl

    layers = layer_names()
    t0, load = time.perf_counter(), loadavg()
    rl.main(["--data", str(store), "--root", str(shared), "--out", str(out), "--parts", "frozen", "--budget", "8",
             "--repetitions", str(repetitions), "--jobs", str(jobs)])
    wall = time.perf_counter() - t0
    walls = json.loads((Path(shared) / "frozen_part_wall.json").read_text())
    return {"grid_runs": len(layers) * repetitions * 3 * 8, "grid_groups": repetitions * 3, "grid_jobs": jobs,
            "grid_layers": layers,
            "grid_store": str(store), "grid_root": str(shared), "grid_machine": bp.machine(),
            "grid_wall_seconds": wall, "grid_runs_trained_now": int(walls[-1]["runs_trained"]) if walls else None,
            "grid_train_wall_seconds": float(walls[-1]["wall_s"]) if walls else None,
            "grid_load": [load, loadavg()], "peak_rss_mib": peak_rss_mib()}


def ratio_bound(s: dict) -> dict:
    """From a side-by-side result: a run's core-seconds one per process, its training epochs' seconds in a
    batch, and their ratio, the speed-up of a batch whose only cost were its members' own epochs."""
    alone = s["walls"]["one_per_process"]["wall_s"] * s["jobs"] / s["runs"]
    epochs = s["mean_train_seconds"]["batched"]
    return {"alone_core_s": alone, "epochs_core_s": epochs, "ratio": alone / epochs}


def markdown(doc: dict) -> str:
    lines = ["# What the frozen comparison costs", "",
             f"Machine: {doc['machine'].get('cpu', '?')}, {doc['machine'].get('cores', '?')} cores; revision "
             f"{doc['machine'].get('git', '?')}. Generated by `python -m benchmarks.comparison_speed`.", ""]
    s = doc.get("side_by_side")
    if s:
        lines += [f"## The same {s['runs']} frozen runs three ways ({s['groups']} stage-1 groups x {s['trials']} "
                  f"trials of gcn, {s['jobs']} processes)", "",
                  f"Revision {(s.get('machine') or doc['machine']).get('git', '?')}.", "",
                  "| way | wall (s) | load before -> after |", "|---|---|---|"]
        lines += [f"| {m} | {w['wall_s']:.1f} | {w['load_before']} -> {w['load_after']} |" for m, w in s["walls"].items()]
        lines += ["", f"Batched members are **{s['ratio']:.2f}x** faster than one run per process and "
                  f"**{s['ratio_per_group']:.2f}x** faster than one process per stage-1 model.", ""]
        for m, same in s["same_as_one_per_process"].items():
            lines.append(f"- {m}: {same['selected_epoch']} of {same['runs']} runs select the same epoch as one run per "
                         f"process; largest test F1 difference {same['test_f1_max_abs_diff']:.2g}.")
        lines.append("- training seconds per run (the epochs alone): " + ", ".join(
            f"{m} {v:.2f}" for m, v in s["mean_train_seconds"].items()) + f"; mean selected epoch "
            f"{s['mean_selected_epoch']:.1f}.")
        bound = ratio_bound(s)
        lines.append(f"- the most batching could give here: a run alone costs {bound['alone_core_s']:.1f} core-seconds "
                     f"(one per process), of which a member must still spend its own epochs "
                     f"({bound['epochs_core_s']:.2f} s, bit for bit the same steps), so even a batch with no other "
                     f"cost at all would be **{bound['ratio']:.1f}x** faster; more is only had from fewer or cheaper "
                     "steps (a larger frozen batch, fewer epochs: another protocol) or more cores (`--jobs`, `--shard`).")
    st = doc.get("stacked_step")
    if st:
        lines += ["", "## Stacked or looped members", "",
                  f"One training step of {st['members']} gcn heads at batch {st['batch']}: vmap over stacked "
                  f"parameters {st['stacked_ms']:.1f} ms, one member after another {st['looped_ms']:.1f} ms "
                  f"(load {st['load']})."]
    if "grid_runs" in doc:
        gm = doc.get("grid_machine") or doc["machine"]
        lines += ["", "## The whole grid", "", f"Store {doc.get('grid_store', doc.get('store'))}, revision "
                  f"{gm.get('git', '?')}, {gm.get('date', '?')}.", "",
                  f"{doc['grid_runs']} frozen runs ({len(doc['grid_layers'])} layers x {doc['grid_groups']} groups x 8 trials; "
                  f"{doc['grid_runs_trained_now']} trained in this invocation) in {doc['grid_wall_seconds']:.0f} s "
                  f"({doc['grid_wall_seconds'] / 60:.1f} min), peak resident memory {doc['peak_rss_mib']:.0f} MiB, "
                  f"load {doc['grid_load'][0]} -> {doc['grid_load'][1]}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.jobs < 1:
        raise InputError(f"--jobs must be 1 or more, got {args.jobs}")
    if args.grid and args.quick:
        raise InputError("--grid trains the full grid on a real store; it has no --quick form")
    torch.set_num_threads(1)
    log = lambda m: print(m, flush=True)  # noqa: E731
    tmp = tempfile.TemporaryDirectory(prefix="comparison_speed_")
    out = Path(args.out)
    if args.quick:
        from benchmarks.fixtures import make_store

        store = Path(args.data) if args.data else Path(tmp.name) / "store"
        if not args.data:
            make_store(store)
        shared, budget, trials, assignments = Path(tmp.name) / "shared", "quick", 2, [0]
    else:
        if not args.data:
            raise InputError("--data STORE is needed (or --quick)")
        store, budget, trials, assignments = Path(args.data).resolve(), "full", 8, [0, 1, 2]
        shared = Path(args.root) if args.root else store.parent / "bench" / store.name
    if not (Path(store) / "store.json").exists():
        raise InputError(f"{store} is not a prepared ROI store (no store.json)")
    groups = grid_groups(assignments, lambda fs: [fs], [1] if args.quick else [1, 2, 3])
    names = Budget(trials, parse_space(DEFAULT_SPACE), 0).names("gcn")
    for g in groups:  # the shared stage-1 models: trained first, never timed
        ensure_stage1(store, shared, g, budget)
    path = out / "comparison_speed.json"
    doc = json.loads(path.read_text()) if (path.exists() and args.skip_side_by_side) else {}
    if "side_by_side" in doc:  # kept from an earlier invocation: it keeps that one's machine and revision
        doc["side_by_side"].setdefault("machine", doc.get("machine"))
    if not args.skip_side_by_side:
        doc["side_by_side"] = side_by_side(store, shared, Path(tmp.name) / "modes", names, groups, budget, args.jobs, log)
        doc["side_by_side"]["machine"] = bp.machine()
        doc["ratio"] = doc["side_by_side"]["ratio"]
        doc["stacked_step"] = stacked_step(k=8, batch=64 if args.quick else 256, repeats=2 if args.quick else 5)
        log(f"stacked step {doc['stacked_step']['stacked_ms']:.1f} ms, looped {doc['stacked_step']['looped_ms']:.1f} ms")
    if args.grid:
        # the grid's comparison tables go to a scratch folder: this measures its cost, not the layers
        doc.update(grid(store, shared, Path(tmp.name) / "grid_tables", args.jobs, args.grid_repetitions, log))
    doc.update(machine=bp.machine(), quick=args.quick, store=str(store), peak_rss_mib=doc.get("peak_rss_mib", peak_rss_mib()),
               date=time.strftime("%Y-%m-%dT%H:%M:%S"))
    name = "comparison_speed_quick" if args.quick else "comparison_speed"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{name}.json", doc, default=float)
    write_text(out / f"{name}.md", markdown(doc))
    log(f"wrote {name}.{{json,md}} in {out}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except InputError as exc:
        print(f"comparison_speed: {exc}", file=sys.stderr)
        sys.exit(2)
