"""Cross-validation: the three subject-exclusive folds x seeds in one command, resumable.

Each (fold, seed) run lives in ``CVDIR/fold{f}-seed{s}/`` (a normal run folder); a finished run is not
run again and an interrupted one resumes from its checkpoint. ``summary.csv`` holds per-AU F1/AUC as
mean ± std over all runs (and every run's row), ``summary.json`` the same, ``f1.png`` per-AU F1 bars with
error bars.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Callable

import numpy as np

from . import runs
from .config import RunConfig
from .errors import InputError
from .io import atomic_path, write_json_atomic


def run_name(fold: int, seed: int) -> str:
    return f"fold{fold}-seed{seed}"


def cross_validate(cfg: RunConfig, out_dir: str | Path, folds=(1, 2, 3), seeds=(0,), quiet: bool = False,
                   echo: Callable[[str], None] = print) -> dict:
    from .train import Trainer

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    t0 = time.perf_counter()
    for fold in folds:
        for seed in seeds:
            run_cfg = copy.deepcopy(cfg)
            run_cfg.data.fold, run_cfg.train.seed = int(fold), int(seed)
            run_dir = out_dir / run_name(fold, seed)
            doc = runs.read_run_json(run_dir) if run_dir.is_dir() else None
            if doc is None or doc.get("status") != "done":
                echo(f"=== {run_dir.name} ({cfg.model.layer}) ===")
            # a finished run returns its metrics without training; an interrupted one resumes
            results.append(Trainer(run_cfg, run_dir, resume=doc is not None, quiet=quiet, echo=echo).run())
    summary = summarise(results)
    summary["seconds_this_call"] = time.perf_counter() - t0
    summary["layer"] = cfg.model.layer
    write_json_atomic(out_dir / "summary.json", summary)
    write_summary_csv(out_dir / "summary.csv", summary)
    plot_f1(summary, out_dir / "f1.png")
    return summary


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
        return ({k: float(np.nanmean(values[:, i])) for i, k in enumerate(keys)},
                {k: float(np.nanstd(values[:, i], ddof=1)) if len(values) > 1 else 0.0 for i, k in enumerate(keys)})

    f1_mean, f1_std = stats(f1, mean_f1)
    auc_mean, auc_std = stats(auc, mean_auc)
    return {"aus": aus, "runs": [{"fold": r["fold"], "seed": r["seed"], "mean_f1": float(mf), "mean_auc": float(ma),
                                  "epoch": r["epoch"], "selected": r["selected"], "train_seconds": r["train_seconds"]}
                                 for r, mf, ma in zip(results, mean_f1, mean_auc)],
            "f1": f1_mean, "f1_std": f1_std, "auc": auc_mean, "auc_std": auc_std}


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
