"""Every registered relation layer (and ``none``) on one store, compared with honest statistics.

    python benchmarks/relation_layers.py --data /work/data/store_bp4d              # frozen, end-to-end, fold assignments
    python benchmarks/relation_layers.py --data STORE --parts frozen               # one part
    python benchmarks/relation_layers.py --data STORE --report-only                # tables from the finished runs only
    python benchmarks/relation_layers.py --quick --out /tmp/q                      # plumbing check, < 1 minute

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
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import bench_protocol as bp  # noqa: E402
from paired_stats import compare  # noqa: E402

from augcn_pyg import runs  # noqa: E402
from augcn_pyg.errors import InputError  # noqa: E402

RESULTS = HERE / "results"
PROTOCOLS = ("frozen", "end-to-end")
REFERENCES = ("gcn", "none")  # every layer is compared with these two
WALL = "bench_wall.json"  # beside a run trained by this script: its wall time and the machine load
LEARNED_AUC = 0.6  # below it a run has not learned to rank faces (e.g. one predicting every AU everywhere)
QUICK_NOTE = "--quick: a tiny synthetic store and a 1-3 epoch budget; it checks the pipeline and proves nothing about accuracy."


# --- running ---------------------------------------------------------------------------------------
def loadavg() -> float | None:
    """The 1-minute load average (recorded beside every timing: the machine is shared)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def run_dir(root: Path, protocol: str, layer: str, fold: int, seed: int, fold_seed: int) -> Path:
    return bp.run_root(root, fold_seed) / protocol / layer / f"fold{fold}-seed{seed}"


def finished(path: Path) -> bool:
    doc = runs.read_run_json(path) if path.is_dir() else None
    return doc is not None and doc.get("status") == "done" and (path / bp.TEST_FOLD_EPOCHS).exists()


def finished_stage1(root: Path, fold: int, seed: int, fold_seed: int) -> bool:
    path = bp.run_root(root, fold_seed) / "stage1" / f"fold{fold}-seed{seed}"
    doc = runs.read_run_json(path) if path.is_dir() else None
    return bool(doc and doc.get("status") == "done")


def read_finished(path: Path) -> dict:
    """The same result ``bench_protocol.layer_run`` returns, read back from a finished run folder."""
    metrics = json.loads((path / runs.TEST_METRICS).read_text())
    return {**metrics, "test_fold_epochs": json.loads((path / bp.TEST_FOLD_EPOCHS).read_text())}


def one_run(store, root: Path, protocol: str, layer: str, fold: int, seed: int, fold_seed: int, budget: str,
            train: bool, log) -> dict | None:
    """One (layer, fold, seed) result with its run facts; trained now if ``train`` and not finished."""
    path = run_dir(root, protocol, layer, fold, seed, fold_seed)
    if finished(path):
        result = read_finished(path)
    elif not train:
        return None
    else:
        before, t0 = loadavg(), time.perf_counter()
        s1 = bp.run_root(root, fold_seed) / "stage1" / f"fold{fold}-seed{seed}"
        s1_doc = runs.read_run_json(s1) if s1.is_dir() else None
        if not (s1_doc and s1_doc.get("status") == "done"):  # time the shared stage-1 model apart from the layer run
            bp.stage1(store, fold, seed, root, budget, fold_seed)
            if not (s1 / WALL).exists():
                (s1 / WALL).write_text(json.dumps({"wall_s": time.perf_counter() - t0, "load_before": before,
                                                   "load_after": loadavg()}))
            before, t0 = loadavg(), time.perf_counter()
        called = time.strftime("%Y-%m-%dT%H:%M:%S")
        result = bp.layer_run(store, fold, seed, layer, root, budget, protocol, fold_seed)
        wall = time.perf_counter() - t0
        # another benchmark on the same root may have trained it while this one waited for the lock
        mine = runs.read_run_json(path).get("started", "") >= called
        if mine and not (path / WALL).exists():
            (path / WALL).write_text(json.dumps({"wall_s": wall, "load_before": before, "load_after": loadavg()}))
        log(f"{protocol:10s} fold-seed {fold_seed:2d} fold {fold} seed {seed} {layer:12s} "
            f"F1 {result['test']['mean_f1']:.3f}  " + (f"{wall:6.1f} s  load {loadavg()}" if mine else "trained by another process"))
    doc = runs.read_run_json(path)
    wall = json.loads((path / WALL).read_text()) if (path / WALL).exists() else {}
    return {"result": result, "parameters": doc.get("parameters", {}), "wall_s": wall.get("wall_s"),
            "load": [wall.get("load_before"), wall.get("load_after")]}


def _train_group(store, root, protocol, layers, fold, seed, fold_seed, budget) -> None:
    """A worker's job: every layer on one shared stage-1 model (whose latents it then encodes once)."""
    from augcn_pyg._allocator import keep_freed_memory

    torch.set_num_threads(1)
    keep_freed_memory()  # as the commands do
    for layer in layers:
        one_run(store, root, protocol, layer, fold, seed, fold_seed, budget, True, lambda m: print(m, flush=True))


def train_side_by_side(store, root, protocol, layers, folds, seeds, fold_seed, budget, jobs: int) -> None:
    """Train the (seed, fold) groups ``jobs`` at a time, each in a spawned process with one thread."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    groups = [(fold, seed) for seed in seeds for fold in folds
              if not all(finished(run_dir(root, protocol, l, fold, seed, fold_seed)) for l in layers)]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_train_group, store, root, protocol, layers, fold, seed, fold_seed, budget)
                   for fold, seed in groups]
        for future in futures:
            try:
                future.result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def run_set(store, root, protocol, layers, folds, seeds, fold_seed, budget, train, log, jobs: int = 1) -> list[dict]:
    """Rows of every (seed, fold, layer) run; seed-major so a partial set holds whole repetitions.

    With ``jobs`` > 1 the runs are trained first, side by side (:func:`train_side_by_side`), then read.
    The wall time of a set that trained anything is appended to ``part_wall.json`` beside its runs."""
    t0, load_before = time.perf_counter(), loadavg()
    todo = [(l, f, s) for s in seeds for f in folds for l in layers
            if not finished(run_dir(root, protocol, l, f, s, fold_seed))] if train else []
    stage1_todo = len({(f, s) for _, f, s in todo if not finished_stage1(root, f, s, fold_seed)})
    if todo and jobs > 1:
        train_side_by_side(store, root, protocol, layers, folds, seeds, fold_seed, budget, jobs)
    rows = []
    for seed in seeds:
        for fold in folds:
            for layer in layers:
                got = one_run(store, root, protocol, layer, fold, seed, fold_seed, budget, train, log)
                if got is not None:
                    rows.append(flat_row(protocol, layer, fold, seed, fold_seed, got))
    if todo:
        record_part_wall(bp.run_root(root, fold_seed) / protocol, {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S"), "runs_trained": len(todo), "runs": len(rows),
            "stage1_models_trained": stage1_todo,
            "layers": list(layers), "jobs": jobs, "wall_s": time.perf_counter() - t0,
            "load": [load_before, loadavg()], "budget": budget})
    return rows


PART_WALL = "part_wall.json"


def record_part_wall(folder: Path, entry: dict) -> None:
    """Append ``entry`` to the part's wall-time history (the README quotes the latest complete one)."""
    from augcn_pyg.io import write_json_atomic

    path = folder / PART_WALL
    history = json.loads(path.read_text()) if path.exists() else []
    write_json_atomic(path, [*history, entry])


def part_walls(root: Path, protocol: str, fold_seed: int = -1) -> list[dict]:
    path = bp.run_root(root, fold_seed) / protocol / PART_WALL
    return json.loads(path.read_text()) if path.exists() else []


def flat_row(protocol, layer, fold, seed, fold_seed, got) -> dict:
    """One CSV row: mean and per-AU scores, parameters, times and the selection cost of one run."""
    r = got["result"]
    test = r["test"]
    cost = bp.selection_cost(r["test_fold_epochs"])
    params = got["parameters"]
    row = {"protocol": protocol, "fold_seed": fold_seed, "fold": fold, "seed": seed, "layer": layer,
           "mean_f1": test["mean_f1"], "mean_auc": test["mean_auc"], "selected_epoch": r["epoch"],
           "val_f1_at_selected": r["val_f1_at_selected"], "train_seconds": r["train_seconds"],
           "wall_seconds": got["wall_s"], "load": got["load"], "params_total": params.get("total"),
           "params_relation": params.get("relation layers"), "params_classifier": params.get("classifier"),
           "recorded_val_selected_f1": cost["val_selected_test_f1"],
           "test_selected_epoch": cost["test_selected_epoch"], "test_selected_f1": cost["test_selected_test_f1"],
           "test_selected_threshold": cost["test_selected_epoch_and_threshold"][1],
           "test_selected_with_threshold_f1": cost["test_selected_with_threshold_f1"]}
    for au, f1, auc in zip(test["aus"], test["f1"], test["auc"]):
        row[f"f1_AU{au}"], row[f"auc_AU{au}"] = f1, (np.nan if auc is None else auc)
    return row


# --- inference speed ---------------------------------------------------------------------------------
def inference_speed(root: Path, protocol: str, layer: str, store, faces: int = 1024, repeats: int = 3) -> dict:
    """Faces/s of one trained model (fold 1, seed 0): uint8 crops -> probabilities, and latents -> probabilities
    (the relation layers and classifier alone). Best of ``repeats``, batch 512 and 2048, one thread."""
    from augcn_pyg.train import encode_rows, load_model, open_store, predict_latents, predict_rows

    path = run_dir(root, protocol, layer, 1, 0, -1)
    if not finished(path):
        return {}
    model, _ = load_model(path)
    st = open_store(str(store))
    rows = np.arange(min(faces, len(st.labels)))
    latents = encode_rows(model, st, rows, torch.device("cpu"))  # (M, R, d0)
    full, head = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict_rows(model, st, rows, torch.device("cpu"))
        full.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        predict_latents(model, latents)
        head.append(time.perf_counter() - t0)
    return {"faces": len(rows), "full_faces_per_s": len(rows) / min(full), "head_faces_per_s": len(rows) / min(head),
            "load": loadavg()}


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
def pm(mean, std, scale=100.0, digits=1) -> str:
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


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


def write_csv(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)


def plots(out: Path, name: str, summaries: dict, spread: list[dict]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.tight_layout()
    fig.savefig(out / f"relation_layers_{name}_f1.png", dpi=110)
    plt.close(fig)
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
    fig.tight_layout()
    fig.savefig(out / f"relation_layers_{name}_paired.png", dpi=110)
    plt.close(fig)
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
        fig.tight_layout()
        fig.savefig(out / f"relation_layers_{name}_folds.png", dpi=110)
        plt.close(fig)
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
    from augcn_pyg._allocator import keep_freed_memory

    keep_freed_memory()  # as the commands do
    t_start = time.perf_counter()
    out = Path(args.out)
    tmp = None
    if args.quick:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from model_fixtures import make_store  # tiny stores with a learnable signal

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

    stage1_dirs = [d for d in (bp.run_root(root, -1) / "stage1").glob("fold*-seed*") if (d / runs.TEST_METRICS).exists()]
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
    (out / f"relation_layers_{name}.json").write_text(json.dumps(doc, indent=1, default=float) + "\n")
    (out / f"relation_layers_{name}.md").write_text(markdown(name, doc))
    write_csv(out / f"selection_cost_{name}.csv", selection)
    (out / f"selection_cost_{name}.md").write_text(selection_markdown(name, selection, args.quick))
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
