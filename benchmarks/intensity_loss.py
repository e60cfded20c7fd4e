"""The intensity head's loss, measured: MSE vs Huber on intensity / 5 (``loss.intensity_loss``), the weight
``loss.lambda_intensity``, and ``--task both`` vs ``--task intensity``, on a tiny synthetic store whose ROI
brightness follows 0–5 intensities (``benchmarks.fixtures.make_store(intensity=True)``). A smoke-scale
measurement for choosing the default, not a result on faces: the toolkit has no SynthAU intensity runs yet.

Each run selects its epoch on the validation subjects (``train.select: val``); the default is the point with
the best mean validation ICC(3,1) over the seeds (the selected model scored on the validation rows here).
Test scores are written beside them and choose nothing. Every row carries the revision and config digest of
its run.

    .venv/bin/python -m benchmarks.intensity_loss          # writes benchmarks/results/intensity_loss.{json,md}
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from augcn_pyg.cli import main as cli
from augcn_pyg.data.splits import run_splits
from augcn_pyg.engine.config import config_from_dict
from augcn_pyg.engine.models import load_model, open_store
from augcn_pyg.engine.scoring import predict_rows_both, score, score_intensity
from benchmarks.common import RESULTS, machine_info, run_provenance, write_json, write_text
from benchmarks.fixtures import make_store

#: (task, loss, lambda_intensity)
POINTS = [("both", "mse", 1.0), ("both", "mse", 10.0), ("both", "huber", 10.0), ("intensity", "mse", 10.0),
          ("intensity", "huber", 10.0), ("presence", "mse", 0.0)]
SEEDS = (0, 1, 2)
EPOCHS = "3,15"
MODEL = ["--set", "model.latent=16", "--set", "model.hidden=8", "--set", "model.strip_channels=4",
         "--set", "train.threads=1", "--set", "train.batch_size=64", "--set", "train.lr=0.05",
         "--set", "train.lr_step=100", "--set", "train.select=val", "-q"]
METRICS = ("mean_icc", "mean_mae", "mean_r", "mean_f1", "mean_auc")


def scores(store, run: Path, part: str) -> dict:
    """The run's selected model on its ``part`` ("val" or "test") rows: intensity and presence averages."""
    model, doc = load_model(run)
    d = config_from_dict(doc["config"]).data
    splits = run_splits(store, d.fold, d.val_fraction, 0, d.fold_seed)
    rows = splits.val_rows if part == "val" else splits.test_rows
    probs, intensities = predict_rows_both(model, store, rows, "cpu")
    presence = score(store, rows, probs)
    it = score_intensity(store, rows, intensities)
    it = it.to_dict() if it is not None else {}
    return {f"{part}_{m}": it.get(m) for m in METRICS[:3]} | {f"{part}_mean_f1": presence.mean_f1,
                                                              f"{part}_mean_auc": presence.mean_auc}


def run_all(tmp: Path) -> list[dict]:
    store_path = tmp / "store"
    make_store(store_path, "disfa", per_subject=48, subjects_per_part=3, intensity=True)
    store = open_store(str(store_path))
    rows = []
    for task, loss, lam in POINTS:
        for seed in SEEDS:
            run = tmp / f"{task}-{loss}-{lam}-{seed}"
            t0 = time.perf_counter()
            result = CliRunner().invoke(cli, ["train", "--data", str(store_path), "--epochs", EPOCHS, "-o", str(run),
                                              "--task", task, "--seed", str(seed),
                                              "--set", f"loss.intensity_loss={loss}",
                                              "--set", f"loss.lambda_intensity={lam}", *MODEL])
            if result.exit_code != 0:
                raise SystemExit(result.output)
            rows.append({"task": task, "loss": loss, "lambda_intensity": lam, "seed": seed,
                         **scores(store, run, "val"), **scores(store, run, "test"), **run_provenance(run),
                         "seconds": time.perf_counter() - t0})
            print(rows[-1], file=sys.stderr)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Mean over seeds per (task, loss, lambda), validation and test."""
    out = []
    for key in dict.fromkeys((r["task"], r["loss"], r["lambda_intensity"]) for r in rows):
        group = [r for r in rows if (r["task"], r["loss"], r["lambda_intensity"]) == key]
        means = {}
        for part in ("val", "test"):
            for m in METRICS:
                values = [r[f"{part}_{m}"] for r in group]
                means[f"{part}_{m}"] = None if None in values else float(np.mean(values))
        out.append({"task": key[0], "loss": key[1], "lambda_intensity": key[2], "seeds": len(group), **means})
    return out


def chosen(summary_rows: list[dict]) -> dict:
    """The point with the best mean validation ICC (validation only; test scores choose nothing)."""
    best = max((r for r in summary_rows if r["val_mean_icc"] is not None), key=lambda r: r["val_mean_icc"])
    return {k: best[k] for k in ("task", "loss", "lambda_intensity")}


def main(argv=None) -> int:
    out = Path(argv[0]) if argv else RESULTS
    with tempfile.TemporaryDirectory() as tmp:
        rows = run_all(Path(tmp))
    summ = summary(rows)
    doc = {"store": "make_store('disfa', per_subject=48, subjects_per_part=3, intensity=True)",
           "epochs": EPOCHS, "model": MODEL, "machine": machine_info(), "rows": rows, "summary": summ,
           "chosen": chosen(summ)}
    write_json(out / "intensity_loss.json", doc)
    write_text(out / "intensity_loss.md", markdown(doc))
    return 0


def markdown(doc: dict) -> str:
    """The summary as a Markdown table (generated from the JSON; docs link to it)."""
    def f(v):
        return "–" if v is None else f"{v:.3f}"
    c = doc["chosen"]
    revisions = sorted({r.get("git") or "?" for r in doc["rows"]})
    lines = ["# Intensity loss (`benchmarks/intensity_loss.py`)", "",
             f"Store: `{doc['store']}`; epochs {doc['epochs']}, epoch selected on the validation subjects; mean "
             f"over seeds {list(SEEDS)}; fold 1. Revisions that trained the runs: {', '.join(revisions)}.",
             "A smoke-scale synthetic measurement for choosing the default, not a result on faces.", "",
             f"Chosen on validation ICC: task {c['task']}, loss {c['loss']}, lambda_intensity "
             f"{c['lambda_intensity']:g}. Test columns are for information and chose nothing.", "",
             "| task | loss | lambda | val ICC | val MAE | val F1 | test ICC | test MAE | test r | test F1 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["summary"]:
        lines.append(f"| {r['task']} | {r['loss'] if r['task'] != 'presence' else '–'} | {r['lambda_intensity']:g} | "
                     f"{f(r['val_mean_icc'])} | {f(r['val_mean_mae'])} | {f(r['val_mean_f1'])} | "
                     f"{f(r['test_mean_icc'])} | {f(r['test_mean_mae'])} | {f(r['test_mean_r'])} | "
                     f"{f(r['test_mean_f1'])} |")
    return "\n".join(lines) + "\n"



if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
