"""Throughput of the toolkit's path against the obvious PyG implementation, batch 1 to 1024.

    python -m benchmarks.throughput --data STORE       # writes results/throughput.*
    python -m benchmarks.throughput --quick            # < 1 min; proves nothing
    python -m benchmarks.throughput --replot results/throughput.json   # only the plot again, nothing measured

Two paths over the same ROI store, the same relation graph (the paper's Table 1 graph of the store's
protocol) and the same relation-layer weights:

* obvious (``benchmarks/obvious.py``): a list of per-face ``Data`` objects batched by
  ``torch_geometric.loader.DataLoader``; a Python loop of per-ROI ``nn.Conv2d`` auto-encoders and
  heads; PyG's sparse layers (GCNConv, GATConv, ...) on the batched edge_index;
* ours: the trainer's input, a batch of store rows (:class:`~augcn_pyg.data.rows.StoreRows`) that the
  auto-encoders read and convert into their float input in one pass, and :class:`~augcn_pyg.nn.model.AUGCN`
  (the ROI auto-encoders as batched products, the registry's dense relation layers on the shared R x R
  topology). Results measured before this input record no ``setup["input"]``: their ours path read
  :class:`~augcn_pyg.data.loader.FaceGraphLoader`'s PyG ``Batch``.

Per batch size, for inference and for a training step, per relation layer, three parts are timed with
the two paths alternating (A B A B ...) and medians taken: data batching (one batch up to the
auto-encoders' float input),
the relation layers (the model's stack on latents: forward, or forward + backward + SGD step) and the
whole model (one batch from the loader, then ``predict_proba``, or forward + the paper's losses +
backward + SGD step). Achieved GFLOP/s (matrix products and convolutions counted by
``torch.utils.flop_counter``) are set against a 2048 x 2048 float32 matrix product timed in the same run.

``--scatter SITE`` adds the torch-scatter comparison: child processes with and without ``SITE`` (a
folder holding ``torch_scatter``) on their PYTHONPATH time the relation layers in turns.

This module is the command line and the run; the steps of the two paths are in ``throughput_steps``, the
loops that time them in ``throughput_measure``, the child processes in ``throughput_scatter`` and the
tables and plot in ``throughput_report``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import RESULTS, load_average, write_csv, write_json, write_text
from benchmarks.throughput_measure import (
    BATCHES,
    QUICK_BATCHES,
    QUICK_NOTE,
    TARGET_BATCH,
    TARGETS,
    Bench,
    combined_rows,
    measure_batching,
    measure_layer,
)
from benchmarks.throughput_report import CSV_FIELDS, markdown, plot, replot, targets
from benchmarks.throughput_scatter import scatter_child, scatter_comparison, torch_scatter_version
from benchmarks.throughput_steps import roofline

INPUT = "store_rows"  # what ours reads (throughput_report.OURS_INPUT); part of the --resume key


def parse_args(argv=None):
    from augcn_pyg.nn.layers import layer_names

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="an ROI store (augcn-pyg prepare); --quick writes a tiny one if absent")
    ap.add_argument("--out", type=Path, default=RESULTS / "throughput",
                    help="output prefix: OUT.csv, OUT.json, OUT.md, OUT_vs_batch.png")
    ap.add_argument("--quick", action="store_true", help="few batch sizes, one layer, 2 repeats (< 1 min)")
    ap.add_argument("--layers", nargs="+", default=None, help=f"relation layers (default: all: {' '.join(layer_names())})")
    ap.add_argument("--batches", type=int, nargs="+", default=None, help=f"batch sizes (default {BATCHES})")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs of data batching and relation layers (15)")
    ap.add_argument("--model-repeats", type=int, default=None, help="timed runs of the whole model (5)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed runs first (2)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared machine two threads stall at every parallel region)")
    ap.add_argument("--list-faces", type=int, default=2048, help="faces in the obvious path's Data list")
    ap.add_argument("--scatter", type=Path, default=None, metavar="SITE",
                    help="also compare the relation layers with and without torch_scatter from SITE")
    ap.add_argument("--scatter-rounds", type=int, default=3, help="child processes of each kind, in turns (3)")
    ap.add_argument("--scatter-batches", type=int, nargs="+", default=None,
                    help=f"batch sizes of the torch-scatter comparison (default {TARGET_BATCH}; --quick: its batches)")
    ap.add_argument("--resume", type=Path, default=None, metavar="DIR",
                    help="keep each finished layer's measurements in DIR and reuse them when rerun")
    ap.add_argument("--render", type=Path, default=None, metavar="JSON",
                    help="write the CSV, Markdown and plot again from an earlier result JSON (with --scatter: "
                         "add the torch-scatter comparison to it)")
    ap.add_argument("--replot", type=Path, default=None, metavar="JSON",
                    help="only draw the plot of an earlier result JSON again, beside it (nothing else is written)")
    ap.add_argument("--scatter-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    quick = args.quick
    args.layers = args.layers or (["gcn"] if quick else layer_names())
    args.batches = sorted(set(args.batches or (QUICK_BATCHES if quick else BATCHES)))
    args.repeats = args.repeats or (2 if quick else 15)
    args.model_repeats = args.model_repeats or (2 if quick else 5)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 2)
    args.scatter_batches = sorted(set(args.scatter_batches or (args.batches if quick else [TARGET_BATCH])))
    if args.quick and args.list_faces == 2048:
        args.list_faces = max(args.batches) * 2
    unknown = [name for name in args.layers if name not in layer_names()]
    if unknown:
        ap.error(f"unknown relation layer {', '.join(unknown)}; choose from {', '.join(layer_names())}")
    if min(args.batches + args.scatter_batches) < 1 or min(args.scatter_rounds, args.repeats, args.model_repeats,
                                                            args.threads) < 1:
        ap.error("batch sizes, repeats and threads must be positive")
    if args.replot is not None and not args.replot.is_file():
        ap.error(f"--replot {args.replot}: no such result JSON")
    if args.data is None and not quick and args.render is None and args.replot is None:
        ap.error("--data STORE is required (an ROI store written by `augcn-pyg prepare`) unless --quick")
    if args.data is not None and not (args.data / "store.json").is_file():
        ap.error(f"--data {args.data}: not an ROI store (no store.json there)")
    return args


def _resumed(resume: Path | None, name: str, key: dict, compute):
    """compute(), or its earlier result from ``resume/name.json`` when measured with the same ``key``."""
    if resume is None:
        return compute()
    path = resume / f"{name}.json"
    if path.is_file():
        doc = json.loads(path.read_text())
        if doc.get("key") == key:
            print(f"{name}: reused from {path}", flush=True)
            return doc["result"]
    result = compute()
    resume.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "result": result}) + "\n")
    tmp.replace(path)
    return result


def run(args, store: Path) -> dict:
    from benchmarks.bench_protocol import machine

    start = time.perf_counter()
    load_start = load_average()
    roof_size, roof_repeats = (1024, 3) if args.quick else (2048, 10)
    roof_start = roofline(roof_size, roof_repeats)
    bench = Bench(store, args.list_faces, max(args.batches))
    key = {"store": str(store.resolve()), "batches": args.batches, "repeats": args.repeats, "warmup": args.warmup,
           "model_repeats": args.model_repeats, "threads": args.threads, "list_faces": len(bench.data_list),
           "roof_size": roof_size, "input": INPUT,
           "torch_scatter": torch_scatter_version()}
    batching_key = {k: v for k, v in key.items() if k != "roof_size"}  # no roofline in that loop
    batching = _resumed(args.resume, "batching", batching_key,
                        lambda: {"rows": measure_batching(bench, args.batches, args.warmup, args.repeats),
                                 "load": load_average()})
    layers = {name: _resumed(args.resume, f"layer-{name}", key,
                             lambda name=name: measure_layer(bench, name, args.batches, args.warmup, args.repeats,
                                                             args.model_repeats, roof_size=roof_size))
              for name in args.layers}
    roof_end = roofline(roof_size, roof_repeats)
    rows = list(batching["rows"])
    relation = [r for doc in layers.values() for r in doc["rows"] if r["part"] == "relation"]
    rows += relation + combined_rows(batching["rows"], relation)
    rows += [r for doc in layers.values() for r in doc["rows"] if r["part"] == "model"]
    for r in rows:
        r["torch_scatter"] = key["torch_scatter"]
        r["source"] = "main"
    ds = bench.dataset
    model, _ = bench.model_pair(args.layers[0])
    doc = {"machine": machine(), "torch_scatter": key["torch_scatter"],
           "setup": {"quick": args.quick, "store": str(store), "faces": len(ds), "protocol": ds.protocol.name,
                     "rois": ds.num_rois, "roi_size": ds.store.roi_size, "edges": int(ds.edge_index.shape[1]),
                     "widths": " → ".join(map(str, [model.latent, *model.hidden])), "threads": args.threads,
                     "layers": args.layers, "batches": args.batches, "repeats": args.repeats,
                     "model_repeats": args.model_repeats, "warmup": args.warmup, "list_faces": len(bench.data_list),
                     "list_build_s": bench.list_seconds, "target_batch": TARGET_BATCH, "targets": TARGETS,
                     "input": INPUT},
           "roofline_gflop_per_s": {"start": roof_start, "end": roof_end, "size": roof_size},
           "load": {"start": load_start, "end": load_average(), "batching": batching["load"],
                    "layers": {n: [d["load_start"], d["load_end"]] for n, d in layers.items()}},
           "flops_per_face": {n: d["flops_per_face"] for n, d in layers.items()},
           "roofline_in_loop_gflop_per_s": {n: d["roofline_gflop_per_s"] for n, d in layers.items()},
           "parameters": {n: d["parameters"] for n, d in layers.items()},
           "head_max_abs_difference": {n: d["head_max_abs_difference"] for n, d in layers.items()},
           "targets": targets(rows, args.layers, TARGET_BATCH), "rows": rows, "scatter": None,
           "wall_s": time.perf_counter() - start}
    if args.scatter:
        add_scatter(doc, args, store)
    return doc


def add_scatter(doc: dict, args, store: Path) -> None:
    """Run the torch-scatter comparison and put it into ``doc`` (replacing an earlier one)."""
    start = time.perf_counter()
    scatter = scatter_comparison(args, args.scatter, store)
    scatter["wall_s"] = time.perf_counter() - start
    scatter["date"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    doc["scatter"] = scatter
    doc["rows"] = [r for r in doc["rows"] if r.get("source") != "scatter"]
    doc["rows"] += [{**r, "source": "scatter", "runs": r["rounds"]} for r in scatter["rows"]]


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.scatter_child:
        scatter_child(args)
        return 0
    if args.replot is not None:
        print(f"wrote {replot(args.replot)}")
        return 0
    if args.render is not None:
        doc = json.loads(args.render.read_text())
        if args.scatter:  # add the torch-scatter comparison to an earlier run's result
            args.layers = [name for name in args.layers if name in doc["setup"]["layers"]]
            add_scatter(doc, args, Path(doc["setup"]["store"]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            store = args.data
            if store is None:  # --quick without a store: a tiny one of random crops
                from benchmarks.bench_loader import make_store

                store = Path(tmp) / "store"
                make_store(store, 160)
            doc = run(args, store)
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    doc["setup"]["plot"] = f"{out.name}_vs_batch.png"
    write_csv(out.with_suffix(".csv"), doc["rows"], CSV_FIELDS, "%.6g")
    if args.render is None or args.scatter or args.render.resolve() != out.with_suffix(".json").resolve():
        write_json(out.with_suffix(".json"), doc)
    write_text(out.with_suffix(".md"), markdown(doc))
    plot(doc, out.parent / f"{out.name}_vs_batch.png")
    for t in doc["targets"]:
        if t["batch"] == TARGET_BATCH:
            print(f"target {t['part']} {t['layer']} {t['mode']}: {t['speedup']:.1f}x (>= {t['target']:g}x: "
                  f"{'met' if t['met'] else 'missed'})")
    if args.quick:
        print(QUICK_NOTE)
    print(f"wrote {out.with_suffix('.csv')}, .json, .md and {out.name}_vs_batch.png in {doc['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
