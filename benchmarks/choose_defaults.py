"""Choose the package's training defaults (lr, dropout, learning-rate schedule) on validation subjects only.

    python -m benchmarks.choose_defaults --data /work/data/store_bp4d       # resumable; writes results/defaults.*
    python -m benchmarks.choose_defaults --quick --out /tmp/q               # plumbing check on a tiny store

A coordinate search from the current defaults, one dimension at a time (lr, then dropout at the chosen
lr, then the step of the learning-rate decay at both): every grid point is trained end to end from scratch
(stage 1 and stage 2, ``model.layer`` gcn, ``train.select: val``) on each of the standard folds, and a
point's score is its **validation** average F1 at the selected epoch, averaged over the folds. The point
with the best score wins its dimension. Test-subject scores are written beside them for information; they
choose nothing.

Every run is an ordinary run folder under ``--root``: a killed search resumes where it stopped. The
budget is ``--epochs AE,ALL`` (default 6,12: the full 12 + 40 costs about 6 minutes a run here); the
choice is for that budget, and the result file says so.

Stage 1's own dimensions (``loss.lambda_recon``, ``loss.lambda_roi``, ``model.latent``, ``train.epochs_ae``: what the frozen latents
keep) are searched the same way with ``--layer local --frozen``: each point trains stage 1 at its value and then
the relation-free ``local`` head on the frozen latents, so a point's validation F1 says how much AU evidence its
latents keep for each AU's own ROIs::

    python -m benchmarks.choose_defaults --data STORE --epochs 12,40 --layer local --frozen \
        --start 'train.lr=0.1;train.lr_step=0' --grid 'loss.lambda_recon=3,1,0.3' --name stage1
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine.config import RunConfig, load_config
from benchmarks.bench_protocol import train_or_reuse
from benchmarks.common import RESULTS, machine_info, run_provenance, write_csv, write_json, write_text

#: the dimensions searched, in order, with their grids (the current default first in the docs' sense)
GRIDS: dict[str, list] = {"train.lr": [0.01, 0.02, 0.05, 0.1, 0.2], "model.dropout": [0.0, 0.2, 0.5], "train.lr_step": [5, 1000]}
QUICK = ["model.latent=16", "model.hidden=8,4", "model.strip_channels=4", "train.batch_size=32"]


def point_name(point: dict) -> str:
    return "_".join(f"{k.split('.')[1]}={v:g}" for k, v in sorted(point.items()))


def run_point(store: str, root: Path, point: dict, fold: int, epochs: tuple[int, int], extra=(), layer: str = "gcn",
              frozen: bool = False) -> dict:
    sets = [f"data.store={store}", f"data.fold={fold}", "train.select=val", f"model.layer={layer}",
            f"train.epochs_ae={epochs[0]}", f"train.epochs={epochs[1]}", *extra,
            *(["train.freeze_encoders=true"] if frozen else []), *(f"{k}={v}" for k, v in point.items())]
    cfg: RunConfig = load_config(None, sets)
    # the end-to-end gcn search keeps its folders where earlier searches left them (they resume)
    kind = "" if (layer, frozen) == ("gcn", False) else f"{layer}{'-frozen' if frozen else ''}/"
    run_dir = root / f"{kind}{point_name(point)}" / f"fold{fold}"
    metrics = train_or_reuse(cfg, run_dir)
    return {**point, "fold": fold, "val_f1": metrics["val_f1_at_selected"], "epoch": metrics["epoch"],
            "test_f1": metrics["test"]["mean_f1"], **run_provenance(run_dir), "train_seconds": metrics["train_seconds"]}


#: where the search starts (the values before it, except lr_step: the short budget's schedule)
START = {"train.lr": 0.05, "model.dropout": 0.2, "train.lr_step": 5}
#: dimensions ``--grid`` may search besides START's: stage 1's (what the frozen latents keep); they start at the
#: config's default
STAGE1 = ("loss.lambda_recon", "loss.lambda_roi", "model.latent", "train.epochs_ae")


def search(store: str, root: Path, folds, epochs, extra=(), log=print, grids=None, start=None, layer: str = "gcn",
           frozen: bool = False) -> tuple[dict, list[dict]]:
    grids = GRIDS if grids is None else grids
    chosen = {**START, **(start or {})}
    rows: list[dict] = []
    for key, grid in grids.items():
        scores = {}
        for value in grid:
            point = {**chosen, key: value}
            got = [run_point(store, root, point, fold, epochs, extra, layer, frozen) for fold in folds]
            rows += [{**r, "dimension": key} for r in got]
            scores[value] = float(np.mean([r["val_f1"] for r in got]))
            log(f"{key}={value:g}: validation F1 {100 * scores[value]:.1f} (folds {', '.join(str(f) for f in folds)})")
        chosen[key] = max(scores, key=scores.get)  # validation only
        log(f"chosen {key} = {chosen[key]:g}")
    return chosen, rows


def parse_values(text: str) -> dict[str, list[float]]:
    """``train.lr=0.05,0.1;model.dropout=0.2`` -> {"train.lr": [0.05, 0.1], "model.dropout": [0.2]}."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, _, values = part.partition("=")
        if key not in (*START, *STAGE1) or not values:
            raise ValueError(f"{part!r}: expected KEY=V1,V2 with KEY one of {', '.join((*START, *STAGE1))}")
        try:
            out[key] = [int(v) if v.strip().lstrip("-").isdigit() else float(v) for v in values.split(",")]
        except ValueError:
            raise ValueError(f"{part!r}: the values must be numbers") from None
    return out


def stage1_epochs(doc: dict) -> int:
    """Stage 1's epochs of the search's points (up to its ``train.epochs_ae`` dimension, if it searches one):
    ``--epochs``' first count, or the ``train.epochs_ae`` the search started from when it does not search it."""
    if "train.epochs_ae" in doc["grids"]:
        return doc["epochs"][0]
    return doc["chosen"].get("train.epochs_ae", doc["epochs"][0])


def markdown(doc: dict) -> str:
    lines = ["# Training defaults chosen on validation subjects", "",
             f"Store `{doc['store']}`, folds {doc['folds']}, budget {stage1_epochs(doc):g}"
             + (" (from the train.epochs_ae dimension on: its value)" if "train.epochs_ae" in doc["grids"] else "")
             + f" + {doc['epochs'][1]} epochs, "
             f"layer {doc.get('layer', 'gcn')}" + (", frozen encoders after stage 1" if doc.get("frozen") else "") +
             f", selection on the validation subjects. {len(doc['rows'])} rows, "
             f"{sum(r['train_seconds'] for r in doc['rows']) / 60:.1f} min of training summed over the runs "
             f"(rows repeat a run where two dimensions share a point); this report's own wall time "
             f"{doc['wall_seconds'] / 60:.1f} min (finished runs are reused).", "",
             f"Revisions that trained the runs: {', '.join(sorted({str(r.get('git')) for r in doc['rows']}))} "
             f"(the `git` column of the CSV, per run); the report was written at {doc['machine'].get('git')}.", "",
             "Each dimension in turn, the others at their chosen values; a point's score is its validation "
             "average F1 averaged over the folds. Test F1 is shown for information and chose nothing.", "",
             "| dimension | value | validation F1 | test F1 | chosen |", "|---|---:|---:|---:|:-:|"]
    for key, grid in doc["grids"].items():
        for value in grid:
            rows = [r for r in doc["rows"] if r["dimension"] == key and r[key] == value]
            if not rows:
                continue
            val = 100 * np.mean([r["val_f1"] for r in rows])
            test = 100 * np.mean([r["test_f1"] for r in rows])
            mark = "✓" if doc["chosen"][key] == value else ""
            lines.append(f"| {key} | {value:g} | {val:.1f} | {test:.1f} | {mark} |")
    lines += ["", "Chosen: " + ", ".join(f"`{k}: {v:g}`" for k, v in doc["chosen"].items()), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="ROI store (default: a tiny synthetic one with --quick)")
    p.add_argument("--root", help="run root (default: DATA/../bench/<store name>/defaults)")
    p.add_argument("--out", default=str(RESULTS), help="folder for defaults.{json,csv,md}")
    p.add_argument("--epochs", default="6,12", help="stage-1,stage-2 epochs of every run")
    p.add_argument("--folds", default="1,2,3")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--grid", help="dimensions and values to search instead of GRIDS, e.g. 'train.lr=0.05,0.1'")
    p.add_argument("--start", help="values the search starts from, e.g. 'train.lr_step=10' (default START)")
    p.add_argument("--name", default="defaults", help="result file name (NAME.{json,csv,md})")
    p.add_argument("--layer", default="gcn", help="the relation layer every run trains (default gcn)")
    p.add_argument("--frozen", action="store_true",
                   help="stage 1, then the head alone on its frozen latents (the comparison's frozen protocol): "
                        "for stage-1 dimensions, e.g. --layer local --frozen --grid 'loss.lambda_recon=3,1,0.3'")
    p.add_argument("--quick", action="store_true", help="tiny store and model: checks the pipeline, proves nothing")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        epochs = tuple(int(v) for v in args.epochs.split(","))
        folds = [int(v) for v in args.folds.split(",")]
        if len(epochs) != 2 or min(epochs) < 1 or not folds or not set(folds) <= {1, 2, 3}:
            raise ValueError
    except ValueError:
        print(f"error: --epochs takes two positive counts (e.g. 6,12) and --folds a list of 1, 2, 3; "
              f"got {args.epochs!r} and {args.folds!r}", file=sys.stderr)
        return 2
    try:
        grids = parse_values(args.grid) if args.grid else GRIDS
        start = {k: v[0] for k, v in parse_values(args.start).items()} if args.start else {}
    except ValueError as exc:
        print(f"error: --grid / --start {exc}", file=sys.stderr)
        return 2
    extra = QUICK if args.quick else []
    tmp = None
    if args.quick and not args.data:
        from benchmarks.fixtures import make_store

        tmp = tempfile.TemporaryDirectory()
        args.data = str(make_store(Path(tmp.name) / "store", roi_size=10).path)
    if not args.data:
        print("error: --data STORE is needed (or --quick)", file=sys.stderr)
        return 2
    store = Path(args.data).resolve()
    root = Path(args.root) if args.root else store.parent / "bench" / store.name / "defaults"
    t0 = time.perf_counter()
    try:
        chosen, rows = search(str(store), root, folds, epochs, extra, grids=grids, start=start, layer=args.layer,
                              frozen=args.frozen)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    doc = {"store": str(store), "folds": folds, "epochs": list(epochs), "quick": args.quick, "grids": grids,
           "layer": args.layer, "frozen": args.frozen,
           "chosen": chosen, "rows": rows, "wall_seconds": time.perf_counter() - t0, "machine": machine_info()}
    out = Path(args.out)
    name = f"{args.name}_quick" if args.quick else args.name
    write_json(out / f"{name}.json", doc)
    write_csv(out / f"{name}.csv", rows)
    write_text(out / f"{name}.md", markdown(doc))
    print(f"chosen on validation subjects: {chosen}; wrote {out / name}.{{json,csv,md}}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
