"""Speed of the AU-GCN model on this machine, against the targets and against the obvious implementation.

Measured in one process, so ratios compare like with like on a shared, noisy machine:

- roofline: a 2048 x 2048 float32 matrix product (GFLOP/s), at the start and at the end;
- inference, uint8 crops (256, 19, 3, 25, 25) -> AU probabilities, layer gcn: ms per batch, faces/s,
  GFLOP/s from ``torch.utils.flop_counter`` (matrix products only) and its fraction of the roofline; the
  relation layers' and classifier's share of the forward time; the same for every registered layer;
- training (stage 2: encoders, decoders, ROI heads, relation layers, classifier, forward + backward +
  SGD step) through the real training loop (``Trainer._epoch``: loader, flips, losses) over 10,000 faces of
  a store: seconds per epoch;
- the frozen-latent mode: the latent cache plus 40 epochs over 10,000 faces;
- the naive implementation for contrast: a Python loop over 19 per-ROI ``nn.Conv2d`` auto-encoders
  (3 -> 16 -> 32 channels, stride 2, linear to 150; REFERENCE.md), one training step at batch 256;
- the effect of keeping freed memory in the heap (``augcn_pyg.core.allocator``), run in two subprocesses.

    PYTHONPATH=$PWD python benchmarks/bench_model.py --store STORE     # writes results/model.{json,md}

STORE is a BP4D ROI store with >= 10,000 faces (``augcn-pyg synth`` + ``augcn-pyg prepare``, see the
benchmarks README); without it, a store of random crops is written to a temporary folder (same speed:
the content does not change the arithmetic).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import RESULTS, machine_info

MEGRAPHAU_FACES_PER_S = (4.9, 8.1)  # REFERENCE.md: ME-GraphAU's ResNet-50 model on this CPU (not re-measured)


#: every timed() call's (median, min) in seconds, by label, for the result file
SPREAD: dict[str, tuple[float, float]] = {}


def timed(fn, repeats: int = 15, warmup: int = 3, label: str | None = None) -> float:
    """Median seconds of ``fn()`` (the minimum is kept in SPREAD under ``label``)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    if label:
        SPREAD[label] = (statistics.median(times), min(times))
    return statistics.median(times)


def roofline() -> float:
    a = torch.randn(2048, 2048)
    return 2 * 2048 ** 3 / timed(lambda: a @ a, repeats=10) / 1e9


def inference(layer: str, batch: int = 256, **model_options) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from augcn_pyg.graph.relations import paper_graph
    from augcn_pyg.nn.model import AUGCN

    torch.manual_seed(0)
    model = AUGCN("bp4d", paper_graph("bp4d"), layer=layer, **model_options).eval()
    crops = torch.randint(0, 256, (batch, 19, 3, 25, 25), dtype=torch.uint8)
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            model.predict_proba(crops)
        tag = f"inference {layer}" + "".join(f" {k}={v}" for k, v in model_options.items())
        seconds = timed(lambda: model.predict_proba(crops), label=tag)
        latents = model.autoencoders.encode(crops)
        head = timed(lambda: model.head(latents), label=f"head {layer}")
    flops = counter.get_total_flops()
    best = SPREAD[tag][1]
    return {"layer": layer, "batch": batch, "ms": 1e3 * seconds, "min_ms": 1e3 * best, "faces_per_s": batch / seconds,
            "faces_per_s_at_min": batch / best,
            "gflop_per_s": flops / seconds / 1e9, "mflop_per_face": flops / batch / 1e6,
            "head_ms": 1e3 * head, "head_share": head / seconds, "parameters": model.parameter_counts()["total"]}


def naive_training_step(batch: int = 256) -> dict:
    """The obvious implementation: 19 Conv2d auto-encoders in a Python loop (forward + backward + SGD)."""
    from benchmarks.obvious import conv_autoencoder  # the reference's per-ROI auto-encoder (benchmarks/obvious.py)

    torch.manual_seed(0)
    parts = [conv_autoencoder(25, 150) for _ in range(19)]
    params = [p for enc, dec in parts for m in (enc, dec) for p in m.parameters()]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    crops = torch.randint(0, 256, (batch, 19, 3, 25, 25), dtype=torch.uint8)

    def step():
        x = crops.float() / 255
        loss = sum((dec(enc(x[:, r])) - x[:, r]).abs().mean() for r, (enc, dec) in enumerate(parts))
        opt.zero_grad()
        loss.backward()
        opt.step()

    seconds = timed(step, repeats=5, warmup=1)
    return {"ms": 1e3 * seconds, "faces_per_s": batch / seconds, "parameters": sum(p.numel() for p in params)}


def our_training_step(batch: int = 256) -> dict:
    """Ours on the same input: auto-encoders alone (L1), forward + backward + SGD step."""
    from augcn_pyg.nn.autoencoder import ROIAutoEncoders

    torch.manual_seed(0)
    ae = ROIAutoEncoders(19)
    opt = torch.optim.SGD(ae.parameters(), lr=0.01, momentum=0.9)
    crops = torch.randint(0, 256, (batch, 19, 3, 25, 25), dtype=torch.uint8)

    def step():
        _, loss = ae(crops)
        opt.zero_grad()
        loss.backward()
        opt.step()

    seconds = timed(step, repeats=10, warmup=2)
    return {"ms": 1e3 * seconds, "faces_per_s": batch / seconds,
            "parameters": sum(p.numel() for p in ae.parameters())}


def make_random_store(path: Path, faces: int):
    from augcn_pyg.core.aus import get_protocol
    from augcn_pyg.data.folds import FOLDS
    from augcn_pyg.data.store import write_store

    p = get_protocol("bp4d")
    rng = np.random.default_rng(0)
    subjects = [s for part in FOLDS["bp4d"] for s in part[:8]]
    n = faces
    block = rng.integers(0, 256, (512, p.num_rois, 3, 25, 25), dtype=np.uint8)

    class Tiled:
        shape = (n, p.num_rois, 3, 25, 25)

        def __getitem__(self, sl):
            idx = np.arange(sl.start, min(sl.stop, n)) % len(block)
            return block[idx]

    labels = (rng.random((n, 12)) < 0.3).astype(np.float32)
    subject = np.array([subjects[i % len(subjects)] for i in range(n)])
    return write_store(path, "bp4d", Tiled(), labels, subject, np.array(["T1"] * n), np.arange(n))


def training_epochs(store: str, faces: int, frozen_epochs: int = 40) -> dict:
    """Seconds of one stage-2 epoch (end to end) and of ``frozen_epochs`` frozen-latent epochs over ``faces``."""
    from augcn_pyg.engine.config import load_config
    from augcn_pyg.engine.trainer import Stage, Trainer

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(None, [f"data.store={store}"])
        trainer = Trainer(cfg, Path(tmp) / "run", quiet=True)
        trainer.setup()
        rows = np.arange(min(faces, len(trainer.store)), dtype=np.int64)
        trainer.loader.dataset.indices = rows
        trainer.cache = None
        opt, _ = trainer.optimizer("all")
        step = trainer.step_module("all")
        trainer._epoch(0, Stage("all", 1), 0, opt, step)  # warm-up epoch
        t0 = time.perf_counter()
        trainer._epoch(1, Stage("all", 1), 0, opt, step)
        end_to_end = time.perf_counter() - t0
        cfg.train.freeze_encoders = True
        t0 = time.perf_counter()
        trainer.fill_cache()
        cache = time.perf_counter() - t0
        opt, _ = trainer.optimizer("all")
        step = trainer.step_module("all")
        t0 = time.perf_counter()
        for epoch in range(frozen_epochs):
            trainer._epoch(epoch, Stage("all", frozen_epochs), epoch, opt, step)
        frozen = time.perf_counter() - t0
    return {"faces": int(len(rows)), "stage2_epoch_s": end_to_end, "frozen_cache_s": cache,
            "frozen_epochs": frozen_epochs, "frozen_epochs_s": frozen, "frozen_total_s": cache + frozen}


def allocator_effect() -> dict:
    """Inference and a training step with and without keep_freed_memory, each in a fresh subprocess."""
    code = ("import sys, json, torch, time\n"
            "from augcn_pyg.core.allocator import keep_freed_memory\n"
            "if sys.argv[1] == '1': keep_freed_memory()\n"
            "from benchmarks.bench_model import inference, our_training_step\n"
            "print(json.dumps({'inference_ms': inference('gcn')['ms'], 'train_step_ms': our_training_step()['ms']}))\n")
    out = {}
    for flag in ("0", "1"):
        res = subprocess.run([sys.executable, "-c", code, flag], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[1])
        out["kept" if flag == "1" else "default"] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", default=None, help="BP4D ROI store with >= 10,000 faces (default: random crops)")
    ap.add_argument("--faces", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from augcn_pyg.core.allocator import keep_freed_memory
    from augcn_pyg.nn.layers import layer_names

    keep_freed_memory()  # as the CLI does
    started = machine_info()
    started["load_average"] = [round(v, 2) for v in __import__("os").getloadavg()]
    roof_start = roofline()
    layers = [inference(name) for name in layer_names()]
    gcn = next(r for r in layers if r["layer"] == "gcn")
    widths = [dict(inference("gcn", strip_channels=k), strip_channels=k) for k in (24, 32, 48)]
    naive = naive_training_step()
    ours = our_training_step()
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or str(make_random_store(Path(tmp) / "store", args.faces).path)
        epochs = training_epochs(store, args.faces)
    alloc = allocator_effect()
    roof_end = roofline()
    roof = (roof_start + roof_end) / 2
    result = {"machine": started, "threads": args.threads, "store": args.store or "random crops",
              "roofline_gflop_per_s": {"start": roof_start, "end": roof_end}, "inference": layers,
              "gcn_roofline_fraction": gcn["gflop_per_s"] / roof, "strip_channels": widths, "naive_ae_step": naive, "our_ae_step": ours,
              "ae_step_speedup": naive["ms"] / ours["ms"], "training": epochs, "allocator": alloc,
              "megraphau_faces_per_s": MEGRAPHAU_FACES_PER_S, "median_and_min_s": SPREAD,
              "vs_megraphau": [gcn["faces_per_s"] / v for v in MEGRAPHAU_FACES_PER_S]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "model.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "model.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    m = r["machine"]
    gcn = next(x for x in r["inference"] if x["layer"] == "gcn")
    t = r["training"]
    roof = r["roofline_gflop_per_s"]
    lines = [
        "# Model speed benchmark", "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {r['threads']} torch threads; load average at start "
        f"{m.get('load_average')}; torch {m.get('packages', {}).get('torch')}, git {m.get('git')}. "
        f"Roofline (2048² float32 matmul): {roof['start']:.0f} GFLOP/s at the start, {roof['end']:.0f} at the end.",
        "", "## Against the targets", "",
        "| measure | target | measured |", "|---|---|---|",
        f"| inference, batch 256, gcn: faces/s | ≥ 5,000 | {gcn['faces_per_s']:,.0f} ({gcn['ms']:.1f} ms per batch; "
        f"fastest batch {gcn['min_ms']:.1f} ms = {gcn['faces_per_s_at_min']:,.0f} faces/s) |",
        f"| inference: fraction of the roofline | ≥ 40% | {100 * r['gcn_roofline_fraction']:.0f}% "
        f"({gcn['gflop_per_s']:.0f} GFLOP/s, {gcn['mflop_per_face']:.2f} MFLOP per face) |",
        f"| relation layers + classifier: share of the forward | ≤ 15% | {100 * gcn['head_share']:.1f}% "
        f"({gcn['head_ms']:.2f} ms) |",
        f"| stage-2 training epoch over {t['faces']:,} faces (decoders included) | ≤ 20 s | {t['stage2_epoch_s']:.1f} s |",
        f"| frozen latents: {t['frozen_epochs']} epochs over {t['faces']:,} faces | ≤ 30 s | "
        f"{t['frozen_total_s']:.1f} s ({t['frozen_cache_s']:.1f} s cache + {t['frozen_epochs_s']:.1f} s epochs) |",
        f"| against ME-GraphAU ResNet-50 ({r['megraphau_faces_per_s'][0]}–{r['megraphau_faces_per_s'][1]} faces/s, "
        f"REFERENCE.md, not re-measured) | | {r['vs_megraphau'][1]:.0f}–{r['vs_megraphau'][0]:.0f}× faster |",
        "", "## The auto-encoders against the obvious implementation (training step, batch 256)", "",
        "| implementation | parameters | ms | faces/s |", "|---|---|---|---|",
        f"| 19 `nn.Conv2d` AEs in a Python loop | {r['naive_ae_step']['parameters']:,} | {r['naive_ae_step']['ms']:.0f} | "
        f"{r['naive_ae_step']['faces_per_s']:.0f} |",
        f"| ours: strips as batched products over the ROI axis | {r['our_ae_step']['parameters']:,} | "
        f"{r['our_ae_step']['ms']:.0f} | {r['our_ae_step']['faces_per_s']:.0f} |",
        "", f"Speed-up: {r['ae_step_speedup']:.1f}×.", "",
        "## Keeping freed memory in the heap (fresh subprocesses)", "",
        "| malloc | inference ms | AE training step ms |", "|---|---|---|",
        f"| glibc default | {r['allocator']['default']['inference_ms']:.1f} | {r['allocator']['default']['train_step_ms']:.0f} |",
        f"| keep_freed_memory() | {r['allocator']['kept']['inference_ms']:.1f} | {r['allocator']['kept']['train_step_ms']:.0f} |",
        "", "## Auto-encoder width against efficiency (inference, gcn, batch 256)", "",
        "The default k = 24 strip features keeps the model near the paper's 2.3 M parameters; wider strips use "
        "the machine better (the first product has only k columns) at the cost of parameters.", "",
        "| strip_channels k | parameters | ms | faces/s | GFLOP/s | of the roofline |", "|---|---|---|---|---|---|",
        *[f"| {w['strip_channels']} | {w['parameters']:,} | {w['ms']:.1f} | {w['faces_per_s']:,.0f} | "
          f"{w['gflop_per_s']:.0f} | {100 * w['gflop_per_s'] / ((roof['start'] + roof['end']) / 2):.0f}% |"
          for w in r["strip_channels"]],
        "", "## Inference per relation layer (batch 256, BP4D, d 150 → 30 → 12)", "",
        "| layer | parameters | ms | faces/s | relation + classifier ms | share |", "|---|---|---|---|---|---|",
    ]
    for x in r["inference"]:
        lines.append(f"| {x['layer']} | {x['parameters']:,} | {x['ms']:.1f} | {x['faces_per_s']:,.0f} | "
                     f"{x['head_ms']:.2f} | {100 * x['head_share']:.1f}% |")
    lines += ["", "Command: `PYTHONPATH=$PWD python benchmarks/bench_model.py --store STORE`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
