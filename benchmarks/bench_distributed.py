"""One process with two threads, two DDP processes with one thread each, or two cv runs side by side?

Each way trains the same SynthAU fold end to end (stage 1 auto-encoders, stage 2 everything) through the
real commands, and the epochs' own timings (``epochs.csv``: the training loop of rank 0, which waits for
every all-reduce) give faces/s per stage:

- ``train --set train.threads=2``                      one process, two threads;
- ``train --nproc 2``                                  two torchrun ranks, one thread each (DDP, gloo);
- ``cv --folds 1,2 --jobs 2``                          two independent runs at once, one thread each:
                                                       their faces/s added up (each run is its own job).

The same for the frozen-encoder mode (stage 2 on cached latents), where the work per face is tiny and
DDP's per-step communication shows. The ways alternate (A B C A B C ...) so the machine's load hits
them alike; medians over repeats.

    PYTHONPATH=$PWD python benchmarks/bench_distributed.py --data STORE     # writes results/distributed.{json,md}
    PYTHONPATH=$PWD python benchmarks/bench_distributed.py --quick          # a tiny store: checks the script only
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import RESULTS, machine_info

ROOT = Path(__file__).resolve().parents[1]


def ways(store: Path, epochs: str, frozen: bool, sets: list[str]) -> dict[str, list[str]]:
    common = ["--data", str(store), "--epochs", epochs, "-q", *[a for s in sets for a in ("--set", s)]]
    if frozen:
        common.append("--freeze-encoders")
    return {"1 process x 2 threads": ["train", *common, "--set", "train.threads=2"],
            "2 processes x 1 thread (DDP)": ["train", *common, "--nproc", "2"],
            "cv --jobs 2 (2 runs x 1 thread)": ["cv", *common, "--folds", "1,2", "--jobs", "2"]}


def run_way(args: list[str], out: Path) -> dict:
    """Wall seconds of the command and per-stage faces/s from its runs' epochs.csv (summed over cv's runs)."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "augcn_pyg", *args, "-o", str(out)], check=True, env=env,
                   capture_output=True, text=True)
    wall = time.perf_counter() - t0
    tables = [pd.read_csv(p) for p in sorted(out.glob("**/epochs.csv"))]
    rates = {}
    for stage in ("ae", "all"):
        # each run's faces/s in the stage (its median epoch), added over runs that ran at the same time
        per_run = [statistics.median(t.faces[t.stage == stage] / t.seconds[t.stage == stage])
                   for t in tables if (t.stage == stage).any()]
        rates[stage] = sum(per_run) if per_run else None
    faces = {stage: int(tables[0].faces[tables[0].stage == stage].iloc[0]) if (tables[0].stage == stage).any() else 0
             for stage in ("ae", "all")}
    metrics = [json.loads(p.read_text()) for p in sorted(out.glob("**/test_metrics.json"))]
    first = tables[0]  # the training command's run; cv's fold-1 run
    return {"wall_s": wall, "faces_per_s": rates, "faces_per_epoch": faces,
            "losses": first["loss"].tolist(), "test_f1": metrics[0]["test"]["mean_f1"],
            "test_auc": metrics[0]["test"]["mean_auc"]}


def measure(store: Path, epochs: str, repeats: int, sets: list[str], work: Path) -> list[dict]:
    rows = []
    for frozen in (False, True):
        plan = ways(store, epochs, frozen, sets)
        samples: dict[str, list[dict]] = {name: [] for name in plan}
        for r in range(repeats):
            for i, (name, args) in enumerate(plan.items()):
                samples[name].append(run_way(args, work / f"w{i}"))
                print(f"{'frozen' if frozen else 'end-to-end'} · {name} · repeat {r + 1}: "
                      f"{samples[name][-1]['faces_per_s']}", flush=True)
        for name, got in samples.items():
            row = {"mode": "frozen encoders" if frozen else "end to end", "way": name,
                   "wall_s": statistics.median(g["wall_s"] for g in got),
                   "faces_per_epoch": got[0]["faces_per_epoch"]}
            for stage in ("ae", "all"):
                values = [g["faces_per_s"][stage] for g in got if g["faces_per_s"][stage]]
                row[f"{stage}_faces_per_s"] = statistics.median(values) if values else None
            row.update(losses=got[0]["losses"], test_f1=got[0]["test_f1"], test_auc=got[0]["test_auc"])
            rows.append(row)
    return rows


def agreement(store: Path, epochs: str, sets: list[str], work: Path) -> dict:
    """The same run (fold 1, seed 0, selection on validation) by 1 process x 1 thread, 1 x 2 and 2 x 1:
    how far apart do process counts end, next to how far apart thread counts end?"""
    common = ["train", "--data", str(store), "--epochs", epochs, "-q", "--select", "val",
              *[a for s in sets for a in ("--set", s)]]
    plan = {"1 process x 1 thread": [*common, "--set", "train.threads=1"],
            "1 process x 2 threads": [*common, "--set", "train.threads=2"],
            "2 processes x 1 thread": [*common, "--nproc", "2"]}
    out = {}
    for i, (name, args) in enumerate(plan.items()):
        got = run_way(args, work / f"agree{i}")
        out[name] = {"losses": got["losses"], "test_f1": got["test_f1"], "test_auc": got["test_auc"]}
        print(f"agreement · {name}: F1 {got['test_f1']:.4f}", flush=True)
    return out


def agreement_markdown(agree: dict, epochs: str) -> str:
    names = list(agree)
    lines = [f"## The same run by different process and thread counts (epochs {epochs}, selection on validation)", "",
             "| way | test avg F1 | test avg AUC | final training loss |", "|---|---:|---:|---:|"]
    for name in names:
        a = agree[name]
        lines.append(f"| {name} | {100 * a['test_f1']:.2f} | {100 * a['test_auc']:.2f} | {a['losses'][-1]:.5f} |")
    lines += ["", "| pair | max relative per-epoch loss difference | epoch-1 difference | F1 difference (points) |",
              "|---|---:|---:|---:|"]
    for i, j in ((0, 1), (1, 2), (0, 2)):
        a, b = agree[names[i]], agree[names[j]]
        rel = [abs(x - y) / abs(x) for x, y in zip(a["losses"], b["losses"])]
        lines.append(f"| {names[i]} vs {names[j]} | {max(rel):.1e} | {rel[0]:.1e} | "
                     f"{100 * abs(a['test_f1'] - b['test_f1']):.2f} |")
    return "\n".join(lines + [""])


def markdown(rows: list[dict], meta: dict, store: str, epochs: str, repeats: int) -> str:
    lines = [f"# Distributed training on this machine: {meta['cores']} cores ({meta['cpu']})", "",
             f"Store `{store}`, epochs {epochs} (stage 1, stage 2), median of {repeats} alternating repeats; "
             f"faces/s from the runs' own epoch timings; seconds per 10,000 faces = 10,000 / faces/s.",
             f"Load average before the run: {meta.get('load_before')}, after: {meta.get('load_after')}.", ""]
    for mode in ("end to end", "frozen encoders"):
        part = [r for r in rows if r["mode"] == mode]
        base = part[0]
        lines += [f"## {mode}", "",
                  "| way | stage 1 faces/s | s per 10k faces | stage 2 faces/s | s per 10k faces | vs 1x2 (stage 2) | command wall s |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in part:
            ae, al = r["ae_faces_per_s"], r["all_faces_per_s"]
            ratio = al / base["all_faces_per_s"] if al and base["all_faces_per_s"] else None
            lines.append(f"| {r['way']} | {ae:.0f} | {1e4 / ae:.1f} | {al:.0f} | {1e4 / al:.1f} | "
                         f"{ratio:.2f}x | {r['wall_s']:.1f} |" if ae and al and ratio else
                         f"| {r['way']} | {ae or 0:.0f} | | {al or 0:.0f} | | | {r['wall_s']:.1f} |")
        lines.append("")
        one, two = part[0], part[1]  # the same run (fold 1, seed 0) by one process and by two
        diff = max(abs(a - b) / abs(a) for a, b in zip(one["losses"], two["losses"]))
        lines += [f"Same run, 1 process x 2 threads vs 2 x 1, after only these few epochs (early SGD amplifies "
                  f"float-order differences; distributed_agreement.md compares longer runs and thread counts): "
                  f"per-epoch training loss differs by at most {diff:.1e} (relative); "
                  f"test average F1 {100 * one['test_f1']:.2f} vs {100 * two['test_f1']:.2f}, "
                  f"AUC {100 * one['test_auc']:.2f} vs {100 * two['test_auc']:.2f}.", ""]
    lines += [f"Epoch sizes: {rows[0]['faces_per_epoch']} faces (training part of fold 1; cv's fold 2 is of "
              "similar size).", "", f"Machine: {json.dumps({k: meta[k] for k in ('cpu', 'cores', 'python', 'git', 'date')})}; "
              f"torch {meta['packages'].get('torch')}.", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="ROI store (BP4D protocol)")
    parser.add_argument("--epochs", default="2,3", help="stage-1,stage-2 epochs per run (default 2,3)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--agreement-epochs", default=None,
                        help="instead of timing: the same run by 1x1, 1x2 and 2x1 (e.g. 4,8); writes distributed_agreement.*")
    parser.add_argument("--quick", action="store_true", help="a tiny store and model: checks the script, measures nothing")
    args = parser.parse_args(argv)
    sets: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-dist-") as tmp:
        work = Path(tmp)
        store = args.data
        if args.quick:
            from benchmarks.fixtures import make_store

            store = make_store(work / "store").path
            sets = ["model.latent=16", "model.hidden=8,4", "model.strip_channels=4", "train.batch_size=24"]
            args.epochs, args.repeats = "1,1", 1
        if store is None or not (Path(store) / "store.json").exists():
            parser.error(f"--data must be an ROI store (from augcn-pyg prepare); got {store}")
        meta = machine_info()
        meta["load_before"] = Path("/proc/loadavg").read_text().split()[:3]
        t0 = time.perf_counter()
        if args.agreement_epochs:
            agree = agreement(Path(store), args.agreement_epochs, sets, work)
            meta["wall_s"] = time.perf_counter() - t0
            meta["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
            args.out.mkdir(parents=True, exist_ok=True)
            doc = {"machine": meta, "store": str(store), "epochs": args.agreement_epochs, "runs": agree}
            (args.out / "distributed_agreement.json").write_text(json.dumps(doc, indent=1))
            (args.out / "distributed_agreement.md").write_text(agreement_markdown(agree, args.agreement_epochs))
            print((args.out / "distributed_agreement.md").read_text())
            return
        rows = measure(Path(store), args.epochs, args.repeats, sets, work)
        meta["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
        meta["wall_s"] = time.perf_counter() - t0
    name = "distributed_quick" if args.quick else "distributed"
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"machine": meta, "store": str(store), "epochs": args.epochs, "repeats": args.repeats, "rows": rows,
           "quick": args.quick}
    (args.out / f"{name}.json").write_text(json.dumps(doc, indent=1))
    (args.out / f"{name}.md").write_text(markdown(rows, meta, str(store), args.epochs, args.repeats))
    print((args.out / f"{name}.md").read_text())


if __name__ == "__main__":
    main()
