"""The intensity head's loss, measured: MSE vs Huber on intensity / 5 (``loss.intensity_loss``), and
``--task both`` vs ``--task intensity``, on a tiny synthetic store whose ROI brightness follows 0–5
intensities (``benchmarks.fixtures.make_store(intensity=True)``). A smoke-scale measurement for choosing the
default, not a result on faces: SynthAU runs are the real test (issue 20, item 5).

    .venv/bin/python -m benchmarks.intensity_loss          # writes benchmarks/results/intensity_loss.json
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from augcn_pyg.cli import main
from benchmarks.fixtures import make_store

OUT = Path(__file__).parent / "results" / "intensity_loss.json"
#: (task, loss, lambda_intensity)
POINTS = [("both", "mse", 1.0), ("both", "mse", 10.0), ("both", "huber", 10.0), ("intensity", "mse", 10.0),
          ("intensity", "huber", 10.0), ("presence", "mse", 0.0)]
SEEDS = (0, 1, 2)
EPOCHS = "3,15"
MODEL = ["--set", "model.latent=16", "--set", "model.hidden=8", "--set", "model.strip_channels=4",
         "--set", "train.threads=1", "--set", "train.batch_size=64", "--set", "train.lr=0.05",
         "--set", "train.lr_step=100", "-q"]


def main_(out: Path = OUT) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_store(tmp / "store", "disfa", per_subject=48, subjects_per_part=3, intensity=True)
        for task, loss, lam in POINTS:
            for seed in SEEDS:
                run = tmp / f"{task}-{loss}-{lam}-{seed}"
                t0 = time.perf_counter()
                result = CliRunner().invoke(main, ["train", "--data", str(tmp / "store"), "--epochs", EPOCHS,
                                                   "-o", str(run), "--task", task, "--seed", str(seed),
                                                   "--set", f"loss.intensity_loss={loss}",
                                                   "--set", f"loss.lambda_intensity={lam}", *MODEL])
                if result.exit_code != 0:
                    raise SystemExit(result.output)
                m = json.loads((run / "test_metrics.json").read_text())
                it = m.get("test_intensity", {})
                rows.append({"task": task, "loss": loss, "lambda_intensity": lam, "seed": seed,
                             "mean_icc": it.get("mean_icc"), "mean_mae": it.get("mean_mae"), "mean_r": it.get("mean_r"),
                             "mean_f1": m["test"]["mean_f1"], "mean_auc": m["test"]["mean_auc"],
                             "seconds": time.perf_counter() - t0})
                print(rows[-1], file=sys.stderr)
    doc = {"store": "make_store('disfa', per_subject=48, subjects_per_part=3, intensity=True)",
           "epochs": EPOCHS, "model": MODEL, "rows": rows, "summary": summary(rows)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))
    out.with_suffix(".md").write_text(markdown(doc))
    return doc


def markdown(doc: dict) -> str:
    """The summary as a Markdown table (generated from the JSON; docs link to it)."""
    def f(v, scale=1.0):
        return "–" if v is None else f"{scale * v:.3f}"
    lines = ["# Intensity loss (`benchmarks/intensity_loss.py`)", "",
             f"Store: `{doc['store']}`; epochs {doc['epochs']}; mean over seeds {list(SEEDS)}; test part of fold 1.",
             "A smoke-scale synthetic measurement for choosing the default, not a result on faces.", "",
             "| task | loss | lambda_intensity | ICC(3,1) | MAE | r | F1 | AUC |", "|---|---|---|---|---|---|---|---|"]
    for r in doc["summary"]:
        lines.append(f"| {r['task']} | {r['loss'] if r['task'] != 'presence' else '–'} | {r['lambda_intensity']:g} | "
                     f"{f(r['mean_icc'])} | {f(r['mean_mae'])} | {f(r['mean_r'])} | {f(r['mean_f1'])} | "
                     f"{f(r['mean_auc'])} |")
    return "\n".join(lines) + "\n"


def summary(rows: list[dict]) -> list[dict]:
    """Mean over seeds per (task, loss, lambda)."""
    import numpy as np

    out = []
    for key in dict.fromkeys((r["task"], r["loss"], r["lambda_intensity"]) for r in rows):
        group = [r for r in rows if (r["task"], r["loss"], r["lambda_intensity"]) == key]
        out.append({"task": key[0], "loss": key[1], "lambda_intensity": key[2], "seeds": len(group),
                    **{m: (float(np.mean([r[m] for r in group])) if group[0][m] is not None else None)
                       for m in ("mean_icc", "mean_mae", "mean_r", "mean_f1", "mean_auc")}})
    return out


if __name__ == "__main__":
    main_()
