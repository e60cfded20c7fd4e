"""Cross-validation: the three subject-exclusive folds x seeds in one command, resumable.

Each (fold, seed) run lives in ``CVDIR/fold{f}-seed{s}/`` (a normal run folder); a finished run is not
run again and an interrupted one resumes from its checkpoint. ``summary.csv`` holds per-AU F1/AUC as
mean ± std over all runs (and every run's row), ``summary.json`` the same, ``f1.png`` per-AU F1 bars with
error bars. With ``train.tensorboard`` each run logs to its own ``CVDIR/fold{f}-seed{s}/tensorboard/``, so
``tensorboard --logdir CVDIR`` shows them side by side.
"""
from __future__ import annotations

import copy
import multiprocessing
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import atomic_path, write_json_atomic
from augcn_pyg.core.workers import die_with_parent
from augcn_pyg.engine import runs
from augcn_pyg.engine.config import RunConfig
from augcn_pyg.engine.trainer import Trainer
from augcn_pyg.engine.training_log import summary_writer_class


def run_name(fold: int, seed: int) -> str:
    return f"fold{fold}-seed{seed}"


def cross_validate(cfg: RunConfig, out_dir: str | Path, folds=(1, 2, 3), seeds=(0,), quiet: bool = False,
                   echo: Callable[[str], None] = print, jobs: int = 1) -> dict:
    """Every (fold, seed) run of ``cfg`` in ``out_dir``, then their summary.

    ``jobs`` > 1 trains that many runs side by side, each in its own process with one thread (unless
    ``train.threads`` says otherwise); the runs and their results are the same either way."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} exists and is not a folder")
    if jobs < 1:
        raise InputError(f"--jobs must be 1 or more, got {jobs}")
    if cfg.train.tensorboard:
        summary_writer_class()  # a missing extra: one clear error before any run starts
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = []
    for fold in folds:
        for seed in seeds:
            run_cfg = copy.deepcopy(cfg)
            run_cfg.data.fold, run_cfg.train.seed = int(fold), int(seed)
            plan.append((run_cfg, out_dir / run_name(fold, seed)))
    t0 = time.perf_counter()
    if jobs == 1:
        results = []
        for run_cfg, run_dir in plan:
            doc = runs.read_run_json(run_dir) if run_dir.is_dir() else None
            if doc is None or doc.get("status") != "done":
                echo(f"=== {run_dir.name} ({cfg.model.layer}) ===")
            results.append(_run(run_cfg, run_dir, quiet, echo))
    else:
        results = _run_side_by_side(plan, jobs, echo)
    summary = summarise(results)
    summary["seconds_this_call"] = time.perf_counter() - t0
    summary["layer"] = cfg.model.layer
    summary["jobs"] = jobs
    write_json_atomic(out_dir / "summary.json", summary)
    write_summary_csv(out_dir / "summary.csv", summary)
    if "intensity" in summary:
        write_intensity_summary_csv(out_dir / "summary_intensity.csv", summary)
    plot_f1(summary, out_dir / "f1.png")
    return summary


def _run(run_cfg: RunConfig, run_dir: Path, quiet: bool = True, echo: Callable[[str], None] = print) -> dict:
    """One (fold, seed) run: a finished one returns its metrics without training; an interrupted one resumes."""
    doc = runs.read_run_json(run_dir) if run_dir.is_dir() else None
    return Trainer(run_cfg, run_dir, resume=doc is not None, quiet=quiet, echo=echo).run()


def _job(run_cfg: RunConfig, run_dir: Path) -> dict:
    """A run in a worker process of its own (one thread unless the config sets train.threads)."""
    if not run_cfg.train.threads:
        run_cfg.train.threads = 1
        torch.set_num_threads(1)
    return _run(run_cfg, run_dir, quiet=True, echo=lambda line: None)


def _run_side_by_side(plan, jobs: int, echo) -> list[dict]:
    results: list[dict | None] = [None] * len(plan)
    # spawn: a fresh interpreter per worker (forking a process that holds torch's thread pools is unsafe);
    # the workers end with this process, even when it is killed outright
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=die_with_parent) as pool:
        futures = {pool.submit(_job, run_cfg, run_dir): i for i, (run_cfg, run_dir) in enumerate(plan)}
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = metrics = future.result()  # a job's InputError is raised here, as in one process
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # the runs not started yet stay unstarted
                raise
            echo(f"{plan[i][1].name}: test average F1 {100 * metrics['test']['mean_f1']:.1f} "
                 f"({metrics['train_seconds']:.0f} s of training)")
    return results


def summarise(results: list[dict]) -> dict:
    """Per-AU mean and std (over runs) of F1 and AUC, and the per-run averages."""
    aus = results[0]["test"]["aus"]
    f1 = np.array([r["test"]["f1"] for r in results], dtype=float)  # (runs, C)
    auc = np.array([[np.nan if v is None else v for v in r["test"]["auc"]] for r in results], dtype=float)
    mean_f1 = f1.mean(1)
    mean_auc = np.nanmean(auc, 1)
    keys = [f"AU{a}" for a in aus] + ["avg"]

    def stats(per_au, per_run):
        values = np.concatenate([per_au, per_run[:, None]], 1)  # (runs, C + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an AU undefined in every run stays NaN
            return stats_of(values)

    def stats_of(values):
        return ({k: float(np.nanmean(values[:, i])) for i, k in enumerate(keys)},
                {k: float(np.nanstd(values[:, i], ddof=1)) if len(values) > 1 else 0.0 for i, k in enumerate(keys)})

    f1_mean, f1_std = stats(f1, mean_f1)
    auc_mean, auc_std = stats(auc, mean_auc)
    out = {"aus": aus, "runs": [{"fold": r["fold"], "seed": r["seed"], "mean_f1": float(mf), "mean_auc": float(ma),
                                 "epoch": r["epoch"], "selected": r["selected"], "train_seconds": r["train_seconds"]}
                                for r, mf, ma in zip(results, mean_f1, mean_auc)],
           "f1": f1_mean, "f1_std": f1_std, "auc": auc_mean, "auc_std": auc_std}
    if all("test_intensity" in r for r in results):  # runs with an intensity head: ICC(3,1), MAE, r
        out["intensity"] = {}
        for metric in ("icc", "mae", "r"):
            per_au = np.array([[np.nan if v is None else v for v in r["test_intensity"][metric]] for r in results],
                              dtype=float)  # (runs, C)
            per_run = np.array([np.nan if r["test_intensity"][f"mean_{metric}"] is None
                                else r["test_intensity"][f"mean_{metric}"] for r in results], dtype=float)
            mean, std = stats(per_au, per_run)
            out["intensity"][metric], out["intensity"][f"{metric}_std"] = mean, std
        for run, r in zip(out["runs"], results):
            run.update({f"mean_{m}": r["test_intensity"][f"mean_{m}"] for m in ("icc", "mae", "r")})
    return out


def write_intensity_summary_csv(path: Path, summary: dict) -> None:
    import pandas as pd

    it = summary["intensity"]
    keys = list(it["icc"])
    frame = pd.DataFrame({"au": keys, **{f"{m}_{k}": [it[m if k == "mean" else f"{m}_std"][a] for a in keys]
                                         for m in ("icc", "mae", "r") for k in ("mean", "std")}})
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.4f")


def write_summary_csv(path: Path, summary: dict) -> None:
    import pandas as pd

    keys = list(summary["f1"])
    frame = pd.DataFrame({"au": keys, "f1_mean": [summary["f1"][k] for k in keys],
                          "f1_std": [summary["f1_std"][k] for k in keys],
                          "auc_mean": [summary["auc"][k] for k in keys],
                          "auc_std": [summary["auc_std"][k] for k in keys]})
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.4f")


def plot_f1(summary: dict, path: Path, label: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(summary["f1"])
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(keys)), 3.4))
    ax.bar(range(len(keys)), [100 * summary["f1"][k] for k in keys],
           yerr=[100 * summary["f1_std"][k] for k in keys], capsize=3, color="#4c72b0")
    ax.set_xticks(range(len(keys)), keys, rotation=45)
    ax.set_ylabel("F1 (%)")
    ax.set_title(label or f"{summary.get('layer', '')}: test F1, mean ± std over {len(summary['runs'])} runs")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
