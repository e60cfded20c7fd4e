"""Throughput of the toolkit's path against the obvious PyG implementation, batch 1 to 1024.

    PYTHONPATH=$PWD python benchmarks/throughput.py --data STORE       # writes results/throughput.*
    PYTHONPATH=$PWD python benchmarks/throughput.py --quick            # < 1 min; proves nothing

Two paths over the same ROI store, the same relation graph (the paper's Table 1 graph of the store's
protocol) and the same relation-layer weights:

* obvious (``benchmarks/obvious.py``): a list of per-face ``Data`` objects batched by
  ``torch_geometric.loader.DataLoader``; a Python loop of per-ROI ``nn.Conv2d`` auto-encoders and
  heads; PyG's sparse layers (GCNConv, GATConv, ...) on the batched edge_index;
* ours: :class:`~augcn_pyg.data.loader.FaceGraphLoader` reading the store, :class:`~augcn_pyg.nn.model.AUGCN`
  (the ROI auto-encoders as batched products, the registry's dense relation layers on the shared R x R
  topology).

Per batch size, for inference and for a training step, per relation layer, three parts are timed with
the two paths alternating (A B A B ...) and medians taken: data batching (one batch from the loader),
the relation layers (the model's stack on latents: forward, or forward + backward + SGD step) and the
whole model (one batch from the loader, then ``predict_proba``, or forward + the paper's losses +
backward + SGD step). Achieved GFLOP/s (matrix products and convolutions counted by
``torch.utils.flop_counter``) are set against a 2048 x 2048 float32 matrix product timed in the same run.

``--scatter SITE`` adds the torch-scatter comparison: child processes with and without ``SITE`` (a
folder holding ``torch_scatter``) on their PYTHONPATH time the relation layers in turns.
"""
from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from timing import alternate, median_and_min  # noqa: E402

BATCHES = [1, 4, 16, 64, 256, 1024]
QUICK_BATCHES = [1, 8]
TARGET_BATCH = 256
TARGETS = {"batching+relation": 10.0, "model": 2.5}  # ours / obvious faces/s at TARGET_BATCH
MODES = ("inference", "train")
PATHS = ("obvious", "ours")
QUICK_NOTE = "--quick: tiny store, few batch sizes, 2 repeats: it checks the pipeline and proves nothing about speed."


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------

def load_average() -> str:
    return Path("/proc/loadavg").read_text().strip()


def torch_scatter_version() -> str | None:
    import torch_geometric.typing

    if not torch_geometric.typing.WITH_TORCH_SCATTER:
        return None
    import torch_scatter

    return getattr(torch_scatter, "__version__", "unknown")


class Cycle:
    """``next()``: the next batch of ``loader``, a new shuffled epoch whenever one ends."""

    def __init__(self, loader):
        self.loader, self.it = loader, iter(loader)

    def __call__(self):
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            return next(self.it)


def crops_of(batch, num_rois: int) -> torch.Tensor:
    """(B*R, 3, n, n) batch.x -> (B, R, 3, n, n)."""
    return batch.x.view(batch.num_graphs, num_rois, *batch.x.shape[1:])


def paper_loss(logits, roi_logits, recon, y, known, membership) -> torch.Tensor:
    """The stage-2 loss both paths minimise: ROI BCE + 3 L1 + weighted BCE + 4 Dice (unit AU weights)."""
    from augcn_pyg.nn.losses import roi_bce, weighted_bce, weighted_dice

    weights = torch.ones(y.shape[1])
    return (roi_bce(roi_logits, y, known, membership) + 3.0 * recon + weighted_bce(logits, y, known, weights)
            + 4.0 * weighted_dice(logits, y, known, weights))


def relation_stack(layers, dropout, z: torch.Tensor, sparse: bool) -> torch.Tensor:
    """(B, R, d0) -> (B, R, d_L): the model's relation layers, dense fast path or PyG's sparse layers."""
    for layer in layers:
        z = torch.relu(dropout(layer.forward_sparse(z) if sparse else layer(z)))
    return z


# --------------------------------------------------------------------------------------------------
# The timed steps of each part
# --------------------------------------------------------------------------------------------------

def relation_steps(model, obvious, batch: int, mode: str) -> dict:
    """{path: step} for the relation layers on random latents (B, R, d0)."""
    latents = torch.randn(batch, model.num_rois, model.config.latent)
    stacks = {"obvious": (obvious.relation, obvious.dropout, True), "ours": (model.relation, model.dropout, False)}
    steps = {}
    for path, (layers, dropout, sparse) in stacks.items():
        if mode == "inference":
            layers.eval()

            def step(layers=layers, dropout=dropout, sparse=sparse):
                with torch.no_grad():
                    relation_stack(layers, dropout, latents, sparse)
        else:
            layers.train()
            opt = torch.optim.SGD(layers.parameters(), lr=1e-3, momentum=0.9)
            z = latents.clone().requires_grad_(True)  # the encoders' gradient flows back through here

            def step(layers=layers, dropout=dropout, sparse=sparse, opt=opt, z=z):
                opt.zero_grad(set_to_none=True)
                z.grad = None
                relation_stack(layers, dropout, z, sparse).square().mean().backward()
                opt.step()
        steps[path] = step
    return steps


def model_steps(model, obvious, loaders: dict, mode: str) -> dict:
    """{path: step}: one batch from the path's loader, then inference or one training step."""
    nets = {"obvious": obvious, "ours": model}
    r = model.num_rois
    steps = {}
    for path, net in nets.items():
        next_batch = loaders[path]
        if mode == "inference":
            net.eval()

            def step(net=net, next_batch=next_batch):
                net.predict_proba(crops_of(next_batch(), r))
        else:
            net.train()
            opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)

            def step(net=net, next_batch=next_batch, opt=opt, path=path):
                b = next_batch()
                crops = crops_of(b, r)
                if path == "ours":
                    out = net(crops)
                    logits, roi_logits, recon = out.logits, out.roi_logits, out.reconstruction
                else:
                    logits, roi_logits, recon = net(crops)
                opt.zero_grad(set_to_none=True)
                paper_loss(logits, roi_logits, recon, b.y, b.y_mask, net.membership).backward()
                opt.step()
        steps[path] = step
    return steps


def roofline(size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a size x size float32 matrix product (median of ``repeats`` after one warm-up)."""
    a = torch.randn(size, size)
    seconds = statistics.median(alternate({"mm": lambda: a @ a}, 1, repeats)["mm"])
    return 2 * size ** 3 / seconds / 1e9


def same_outputs(model, obvious, batch: int = 4) -> float:
    """Largest |difference| of the two paths' relation layers + classifier on the same latents (eval mode)."""
    latents = torch.randn(batch, model.num_rois, model.config.latent)
    model.eval(), obvious.eval()
    with torch.no_grad():
        return float((model.head(latents) - obvious.head(latents)).abs().max())


def flops_per_face(step, batch: int) -> float:
    """FLOPs of one run of ``step`` (matrix products and convolutions) divided by ``batch``."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / batch


# --------------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------------

def summary(seconds: list[float], batch: int) -> dict:
    med, best = median_and_min(seconds)
    return {"median_ms": 1e3 * med, "min_ms": 1e3 * best, "faces_per_s": batch / med, "runs": len(seconds)}


class Bench:
    """The store, graph and loaders shared by every measurement of one run."""

    def __init__(self, store_path: Path, list_faces: int, max_batch: int):
        from augcn_pyg.data.dataset import AUROIDataset
        from augcn_pyg.relations import paper_graph

        from obvious import face_data_list

        self.graph = paper_graph(_store_protocol(store_path))
        self.dataset = AUROIDataset(store_path, self.graph)
        if len(self.dataset) < max_batch:
            raise SystemExit(f"error: the store {store_path} holds {len(self.dataset)} faces, fewer than the "
                             f"largest batch size {max_batch}")
        t0 = time.perf_counter()
        self.data_list = face_data_list(self.dataset, max(list_faces, max_batch))  # the obvious path's input
        self.list_seconds = time.perf_counter() - t0
        self._loaders: dict[int, dict] = {}

    def loaders(self, batch: int) -> dict:
        """{path: Cycle} of shuffled batches of ``batch`` faces (full batches only)."""
        if batch not in self._loaders:
            from torch_geometric.loader import DataLoader

            from augcn_pyg.data.loader import FaceGraphLoader

            self._loaders[batch] = {
                "obvious": Cycle(DataLoader(self.data_list, batch_size=batch, shuffle=True, drop_last=True)),
                "ours": Cycle(FaceGraphLoader(self.dataset, batch, shuffle=True, seed=0, drop_last=True))}
        return self._loaders[batch]

    def model_pair(self, layer: str):
        from augcn_pyg.config import ModelConfig
        from augcn_pyg.nn.model import AUGCN

        from obvious import ObviousAUGCN

        torch.manual_seed(0)
        model = AUGCN(self.dataset.protocol, self.graph, ModelConfig(layer=layer), roi_size=self.dataset.store.roi_size)
        return model, ObviousAUGCN(model)


def _store_protocol(store_path: Path) -> str:
    from augcn_pyg.data.store import ROIStore

    return ROIStore(store_path).protocol.name


def measure_batching(bench: Bench, batches: list[int], warmup: int, repeats: int) -> list[dict]:
    rows = []
    for b in batches:
        loaders = bench.loaders(b)
        times = alternate(dict(loaders), warmup, repeats)
        for path in PATHS:
            rows.append({"part": "batching", "layer": "", "mode": "any", "batch": b, "path": path,
                         **summary(times[path], b)})
        print(f"batching  B={b:<5} obvious {rows[-2]['faces_per_s']:>10,.0f}  ours {rows[-1]['faces_per_s']:>10,.0f} "
              f"faces/s", flush=True)
    return rows


def measure_layer(bench: Bench, layer: str, batches: list[int], warmup: int, repeats: int, model_repeats: int,
                  parts=("relation", "model"), roof_size: int = 2048) -> dict:
    """Rows (part, mode, batch, path) for one relation layer, and FLOPs per face of each path.

    At the target batch (or the largest one below it) a ``roof_size``² matrix product takes its turn
    in the whole-model loop, so the roofline is measured under the same load as the model."""
    roof_batch = max([b for b in batches if b <= TARGET_BATCH] or batches[:1])
    big = torch.randn(roof_size, roof_size)
    model, obvious = bench.model_pair(layer)
    difference = same_outputs(model, obvious)
    if difference > 1e-4:  # the two paths must compute the same function before their speeds are compared
        raise SystemExit(f"error: {layer}: the sparse and dense relation layers differ by {difference:.2e}")
    load_start = load_average()
    rows, flops, roof = [], {}, {}
    for mode in MODES:
        # FLOPs per face from a small batch (every count is linear in B)
        if "model" in parts:
            count = model_steps(model, obvious, bench.loaders(min(batches[-1], 8)), mode)
            flops[mode] = {path: flops_per_face(step, min(batches[-1], 8)) for path, step in count.items()}
        for b in batches:
            if "relation" in parts:
                times = alternate(relation_steps(model, obvious, b, mode), warmup, repeats)
                rows += [{"part": "relation", "layer": layer, "mode": mode, "batch": b, "path": p,
                          **summary(times[p], b)} for p in PATHS]
            if "model" in parts:
                steps = model_steps(model, obvious, bench.loaders(b), mode)
                if b == roof_batch:
                    steps["roofline"] = lambda: big @ big
                times = alternate(steps, min(warmup, 1), model_repeats)
                if b == roof_batch:
                    roof[mode] = 2 * roof_size ** 3 / statistics.median(times["roofline"]) / 1e9
                rows += [{"part": "model", "layer": layer, "mode": mode, "batch": b, "path": p,
                          **summary(times[p], b), "gflop_per_s": flops[mode][p] * b / statistics.median(times[p]) / 1e9}
                         for p in PATHS]
            done = [r for r in rows if r["batch"] == b and r["mode"] == mode]
            print(f"{layer:<12} {mode:<9} B={b:<5} " + "  ".join(
                f"{r['part']} {r['path']} {r['faces_per_s']:,.0f}" for r in done) + " faces/s", flush=True)
    if "model" in parts:
        from augcn_pyg.nn.model import count_flops

        counted = count_flops(model)
        flops["count_flops_inference"] = counted["total"] - counted["roi heads"]  # predict_proba runs no ROI heads
    for r in rows:  # against the roofline measured in this layer's own loop
        if "gflop_per_s" in r:
            r["roofline_fraction"] = r["gflop_per_s"] / statistics.mean(roof.values())
    return {"layer": layer, "rows": rows, "flops_per_face": flops, "head_max_abs_difference": difference,
            "roofline_gflop_per_s": roof, "roofline_batch": roof_batch, "load_start": load_start, "load_end": load_average(),
            "parameters": {"ours": sum(p.numel() for p in model.parameters()),
                           "obvious": sum(p.numel() for p in obvious.parameters())}}


def combined_rows(batching: list[dict], relation: list[dict]) -> list[dict]:
    """batching + relation per (layer, mode, batch, path): the sum of the two medians."""
    by_key = {(r["batch"], r["path"]): r for r in batching}
    out = []
    for r in relation:
        d = by_key.get((r["batch"], r["path"]))
        if d is None:
            continue
        ms = d["median_ms"] + r["median_ms"]
        out.append({"part": "batching+relation", "layer": r["layer"], "mode": r["mode"], "batch": r["batch"],
                    "path": r["path"], "median_ms": ms, "min_ms": d["min_ms"] + r["min_ms"],
                    "faces_per_s": r["batch"] / (ms / 1e3), "runs": min(d["runs"], r["runs"])})
    return out


# --------------------------------------------------------------------------------------------------
# torch-scatter comparison (child processes)
# --------------------------------------------------------------------------------------------------

def scatter_comparison(args, site: Path, store: Path) -> dict:
    """Relation-layer timings in child processes without / with ``site`` on the path, in turns."""
    if not (site / "torch_scatter").is_dir():
        raise SystemExit(f"error: --scatter {site}: no torch_scatter package in that folder (build it with "
                         f"pip install --no-build-isolation --target {site} torch-scatter)")
    repo = str(HERE.parent)
    base = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != site.resolve()]
    envs = {"without": os.pathsep.join([repo, *base]), "with": os.pathsep.join([repo, str(site), *base])}
    rounds = {"without": [], "with": []}
    for i in range(args.scatter_rounds):
        for name, path in envs.items():
            cmd = [sys.executable, __file__, "--scatter-child", "--data", str(store), "--threads", str(args.threads),
                   "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--layers", *args.layers,
                   "--batches", *map(str, args.scatter_batches)]
            child = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path})
            if child.returncode != 0:
                raise SystemExit(f"error: the {name}-torch-scatter child failed:\n{child.stderr[-2000:]}")
            doc = json.loads(child.stdout.strip().splitlines()[-1])
            if (doc["torch_scatter"] is not None) != (name == "with"):
                raise SystemExit(f"error: the {name}-torch-scatter child saw torch_scatter = {doc['torch_scatter']}")
            rounds[name].append(doc)
            print(f"scatter round {i + 1}/{args.scatter_rounds} {name}: torch_scatter {doc['torch_scatter']}, "
                  f"load {doc['load_end']}", flush=True)
    # median over rounds of each (layer, mode, batch, path) child median
    rows = []
    for name, docs in rounds.items():
        keys = {(r["layer"], r["mode"], r["batch"], r["path"]) for r in docs[0]["rows"]}
        for key in sorted(keys):
            ms = [next(r["median_ms"] for r in d["rows"] if (r["layer"], r["mode"], r["batch"], r["path"]) == key)
                  for d in docs]
            layer, mode, batch, path = key
            med = statistics.median(ms)
            rows.append({"part": "relation", "layer": layer, "mode": mode, "batch": batch, "path": path,
                         "torch_scatter": docs[0]["torch_scatter"] if name == "with" else None,
                         "median_ms": med, "faces_per_s": batch / (med / 1e3), "rounds": len(ms), "round_ms": ms})
    return {"site": str(site), "rounds": args.scatter_rounds, "rows": rows,
            "torch_scatter_calls": [d["torch_scatter_calls"] for d in rounds["with"]],
            "loads": {k: [(d["load_start"], d["load_end"]) for d in v] for k, v in rounds.items()}}


def count_scatter_calls() -> collections.Counter:
    """Count every call PyG makes into torch_scatter's Python functions from now on (none if absent)."""
    import torch_geometric.typing

    calls: collections.Counter = collections.Counter()
    if not torch_geometric.typing.WITH_TORCH_SCATTER:
        return calls
    module = torch_geometric.typing.torch_scatter  # the module object PyG calls through

    def counted(name, fn):
        def call(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return call
    for name in ("scatter", "segment_csr", "segment_coo", "scatter_max", "scatter_min", "scatter_mul"):
        if hasattr(module, name):
            setattr(module, name, counted(name, getattr(module, name)))
    return calls


def scatter_child(args) -> None:
    bench = Bench(args.data, args.list_faces, max(args.batches))
    calls = count_scatter_calls()
    load_start = load_average()
    rows = []
    for layer in args.layers:
        before = sum(calls.values())
        rows += measure_layer(bench, layer, args.batches, args.warmup, args.repeats, 0, parts=("relation",))["rows"]
        for r in rows[-2 * len(MODES) * len(args.batches):]:
            r["torch_scatter_calls"] = sum(calls.values()) - before
    print(json.dumps({"torch_scatter": torch_scatter_version(), "rows": rows, "load_start": load_start,
                      "load_end": load_average(), "torch_scatter_calls": dict(calls)}))


# --------------------------------------------------------------------------------------------------
# Results: CSV, JSON, Markdown, plot
# --------------------------------------------------------------------------------------------------

CSV_FIELDS = ["part", "layer", "mode", "batch", "path", "median_ms", "min_ms", "faces_per_s", "gflop_per_s",
              "roofline_fraction", "runs", "torch_scatter", "source"]


def ratio(rows: list[dict], part: str, layer: str, mode: str, batch: int) -> tuple[float, float, float, float] | None:
    """(obvious faces/s, ours faces/s, ours / obvious of the medians, of the minima) of one cell, or None."""
    cell = {r["path"]: r for r in rows
            if r["part"] == part and r["layer"] == layer and r["mode"] == mode and r["batch"] == batch
            and r.get("source", "main") == "main"}
    if set(cell) != set(PATHS):
        return None
    o, u = cell["obvious"], cell["ours"]
    return o["faces_per_s"], u["faces_per_s"], u["faces_per_s"] / o["faces_per_s"], o["min_ms"] / u["min_ms"]


def targets(rows: list[dict], layers: list[str], batch: int) -> list[dict]:
    out = []
    for layer in layers:
        for mode in MODES:
            for part, goal in TARGETS.items():
                cell = ratio(rows, part, layer, mode, batch)
                if cell:
                    out.append({"layer": layer, "mode": mode, "part": part, "batch": batch, "obvious": cell[0],
                                "ours": cell[1], "speedup": cell[2], "speedup_of_minima": cell[3], "target": goal,
                                "met": cell[2] >= goal})
    return out


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def markdown(doc: dict) -> str:
    rows, setup, m = doc["rows"], doc["setup"], doc["machine"]
    roof = doc["roofline_gflop_per_s"]
    lines = ["# Throughput: the toolkit's path against the obvious PyG implementation", ""]
    if setup["quick"]:
        lines += [f"**{QUICK_NOTE}**", ""]
    lines += [f"Store `{setup['store']}` ({setup['faces']:,} faces, {setup['protocol']}, R = {setup['rois']}, "
              f"{setup['roi_size']}×{setup['roi_size']} crops), the paper's {setup['protocol']} graph "
              f"({setup['edges']} edges), model d {setup['widths']}, torch threads: {setup['threads']}. The obvious path "
              f"batches a list of {setup['list_faces']:,} `Data` objects with PyG's `DataLoader`; ours reads the store "
              f"with `FaceGraphLoader`. Medians of {setup['repeats']} runs (the whole model: {setup['model_repeats']}) "
              f"after {setup['warmup']} warm-up, the two paths alternating. torch-scatter in this process: "
              f"{doc['torch_scatter'] or 'not installed'}.", "",
              f"Roofline ({roof['size']}² float32 matrix product, the same threads): {roof['start']:.0f} GFLOP/s at the "
              f"start of the run, {roof['end']:.0f} at the end (and in each layer's loop: see the GFLOP/s table).", "",
              f"Load (`/proc/loadavg`; the machine has 2 cores and may be shared): `{doc['load']['start']}` at the "
              f"start, `{doc['load']['end']}` at the end. Other jobs inflate the timings; the ratios compare "
              f"runs taken in turns and are the figures to read.", ""]
    tg = doc["targets"]
    if tg:
        met = {part: [t for t in tg if t["part"] == part] for part in TARGETS}
        lines += [f"## Targets at batch {setup['target_batch']}", ""]
        for part, goal in TARGETS.items():
            cells = met[part]
            if cells:
                ok = sum(t["met"] for t in cells)
                worst = min(cells, key=lambda t: t["speedup"])
                lines.append(f"- {_part_name(part)} ≥ {goal:g}×: **met in {ok} of {len(cells)}** (layer, mode) cells; "
                             f"lowest {worst['speedup']:.1f}× (`{worst['layer']}`, {worst['mode']}), median "
                             f"{statistics.median(t['speedup'] for t in cells):.1f}×.")
        lines += ["", "| layer | mode | batching + relation: obvious | ours | × | × of minima | whole model: obvious | "
                  "ours | × | × of minima |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for layer in setup["layers"]:
            for mode in MODES:
                a = next((t for t in tg if t["layer"] == layer and t["mode"] == mode and t["part"] == "batching+relation"), None)
                b = next((t for t in tg if t["layer"] == layer and t["mode"] == mode and t["part"] == "model"), None)
                lines.append(f"| `{layer}` | {mode} | " + " | ".join(_cell(t) for t in (a, b)) + " |")
        lines += ["", "Faces/s of the medians; × = ours / obvious, **bold** where the target (10× and 2.5×) is met; "
                  "× of minima: the same ratio of the fastest runs (less sensitive to the other jobs, which lengthen "
                  "short steps proportionally more than long ones).", ""]
    lines += _by_batch_table(rows, setup)
    lines += _flops_table(doc)
    if doc.get("scatter"):
        lines += _scatter_table(doc["scatter"], setup)
    lines += ["## What is compared", "",
              "- data batching: one batch from the loader (the obvious `DataLoader` collates `Data` objects in memory; "
              "`FaceGraphLoader` reads the rows from the store on disk, so it also pays the read);",
              "- relation: the model's relation layers (with dropout and ReLU) on random latents (B, R, d0): the dense "
              "fast path against the same layers' `forward_sparse` (PyG's sparse layer on the batched edge_index, same "
              "weights; the edge_index the DataLoader builds is counted in data batching); a training step is "
              "forward, backward to the weights and the latents, SGD step;",
              "- whole model: one batch from the loader, then `predict_proba` (inference) or forward, the paper's "
              "losses, backward and an SGD step (training; no flips on either path);",
              "- batching + relation: the sum of the two medians.",
              "- GFLOP/s: FLOPs counted by `torch.utils.flop_counter` (matrix products and convolutions; element-wise "
              "work and sparse message passing are not counted) on one step, divided by the median time; the last "
              "column is the model's own `count_flops()` (encoders, relation layers, classifier) as a cross-check.",
              "- `learned` and `none` have no PyG layer: their sparse path is the reference computation "
              "(GCNConv without normalisation on the complete graph; on self-loops only).", "",
              f"Machine: {m['cpu']}, {m.get('cores', m.get('cpus'))} CPUs; Python {m['python']}, torch "
              f"{m.get('torch') or m['packages']['torch']}, torch-geometric "
              f"{m.get('torch_geometric') or m['packages']['torch-geometric']}; git {m['git']}; {m['date']}; "
              f"wall time {doc['wall_s']:.0f} s.", ""]  # older result files name the keys differently
    if setup["quick"]:
        lines += [QUICK_NOTE, ""]
    return "\n".join(lines)


def _part_name(part: str) -> str:
    return {"batching+relation": "data batching + relation layers", "model": "the whole model"}[part]


def _cell(t) -> str:
    if t is None:
        return "– | – | – | –"
    x = f"{t['speedup']:.1f}×"
    return (f"{t['obvious']:,.0f} | {t['ours']:,.0f} | " + (f"**{x}**" if t["met"] else x)
            + f" | {t['speedup_of_minima']:.1f}×")


def _by_batch_table(rows: list[dict], setup: dict) -> list[str]:
    layer = setup["layers"][0]
    parts = ["batching", "relation", "batching+relation", "model"]
    lines = [f"## Faces/s against batch size (`{layer}`)", "",
             "| mode | part | " + " | ".join(f"B = {b}" for b in setup["batches"]) + " |",
             "|---|---|" + "---:|" * len(setup["batches"])]
    for mode in MODES:
        for part in parts:
            for path in PATHS:
                cells = []
                for b in setup["batches"]:
                    r = next((r for r in rows if r["part"] == part and r["batch"] == b and r["path"] == path
                              and (part == "batching" or (r["layer"] == layer and r["mode"] == mode))), None)
                    cells.append(f"{r['faces_per_s']:,.0f}" if r else "–")
                lines.append(f"| {mode} | {part} {path} | " + " | ".join(cells) + " |")
            cell = [ratio(rows, part, "" if part == "batching" else layer, "any" if part == "batching" else mode, b)
                    for b in setup["batches"]]
            lines.append(f"| {mode} | {part} ours / obvious | " + " | ".join(f"{c[2]:.1f}×" if c else "–" for c in cell)
                         + " |")
    plot_name = setup.get("plot", "throughput_vs_batch.png")
    lines += ["", f"(Data batching is the same for both modes.) The plot: [{plot_name}]({plot_name}).", ""]
    return lines


def _flops_table(doc: dict) -> list[str]:
    setup, rows = doc["setup"], doc["rows"]
    b = max([x for x in setup["batches"] if x <= setup["target_batch"]] or setup["batches"][:1])
    lines = [f"## Achieved GFLOP/s of the whole model at batch {b}", "",
             f"Roofline: a {doc['roofline_gflop_per_s']['size']}² float32 matrix product taking its turn in each "
             "layer's whole-model loop at this batch size (so under the same load).", "",
             "| layer | mode | roofline GFLOP/s | obvious GFLOP/s | of roofline | ours GFLOP/s | of roofline | "
             "MFLOP per face: obvious / ours | ours by `count_flops()` |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for layer in setup["layers"]:
        f = doc["flops_per_face"].get(layer, {})
        roofs = doc["roofline_in_loop_gflop_per_s"].get(layer, {})
        for mode in MODES:
            cell = {r["path"]: r for r in rows if r["part"] == "model" and r["layer"] == layer and r["mode"] == mode
                    and r["batch"] == b}
            if set(cell) != set(PATHS):
                continue
            o, u, roof = cell["obvious"]["gflop_per_s"], cell["ours"]["gflop_per_s"], roofs[mode]
            lines.append(f"| `{layer}` | {mode} | {roof:.0f} | {o:.1f} | {100 * o / roof:.0f}% | {u:.1f} | "
                         f"{100 * u / roof:.0f}% | "
                         f"{f[mode]['obvious'] / 1e6:.1f} / {f[mode]['ours'] / 1e6:.1f} | "
                         + (f"{f['count_flops_inference'] / 1e6:.1f} |" if mode == "inference" else "– |"))
    return lines + [""]


def _scatter_table(sc: dict, setup: dict) -> list[str]:
    rows = sc["rows"]
    batches = sorted({r["batch"] for r in rows})
    lines = ["## With and without torch-scatter (relation layers)", "",
             f"Child processes without and with `{sc['site']}` on PYTHONPATH, in turns, {sc['rounds']} rounds each; "
             f"median over rounds of each child's median ({sc.get('date', '')}, {sc.get('wall_s', 0):.0f} s; load at "
             f"the start and end of each child: {_loads(sc['loads'])}). torch-scatter: "
             f"{next((r['torch_scatter'] for r in rows if r['torch_scatter']), '?')}. "
             "Install it (after torch) with `pip install --no-build-isolation torch-scatter`.", "",
             "| layer | mode | batch | sparse ms without | with | with / without | dense ms without | with |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]

    def ms(layer, mode, path, on, b):
        return next((r["median_ms"] for r in rows if r["layer"] == layer and r["mode"] == mode and r["batch"] == b
                     and r["path"] == path and (r["torch_scatter"] is not None) == on), float("nan"))
    for layer in sorted({r["layer"] for r in rows}, key=setup["layers"].index):
        for mode in MODES:
            for b in batches:
                s0, s1 = ms(layer, mode, "obvious", False, b), ms(layer, mode, "obvious", True, b)
                d0, d1 = ms(layer, mode, "ours", False, b), ms(layer, mode, "ours", True, b)
                lines.append(f"| `{layer}` | {mode} | {b} | {s0:.2f} | {s1:.2f} | {s1 / s0:.2f} | {d0:.2f} | {d1:.2f} |")
    ratios = {path: [ms(r["layer"], r["mode"], path, True, r["batch"]) / ms(r["layer"], r["mode"], path, False, r["batch"])
                     for r in rows if r["path"] == path and r["torch_scatter"] is None] for path in PATHS}
    lines += ["", "With / without over all cells: " + "; ".join(
        f"{'sparse' if path == 'obvious' else 'dense'} path median {statistics.median(v):.2f} "
        f"(range {min(v):.2f}–{max(v):.2f})" for path, v in ratios.items() if v) + "."]
    calls = sc.get("torch_scatter_calls")
    counted = (f"Calls into torch_scatter's functions counted in the with-torch-scatter children while they ran "
               f"these layers: {sum(sum(c.values()) for c in calls)} in all ({calls}). " if calls is not None else "")
    lines += ["", counted + "The dense path does not use torch-scatter: its columns show how much two child "
              "processes differ by load alone. On CPU, PyG 2.8 calls torch-scatter only for segment (CSR) reductions "
              "and `scatter_argmax` (`torch_geometric.utils`); sum, mean, min, max and mul go through torch's own "
              "`scatter_add_` / `scatter_reduce_`.", ""]
    return lines


def _loads(loads: dict) -> str:
    return "; ".join(f"{k}: " + ", ".join(f"{a.split()[0]}–{b.split()[0]}" for a, b in v) for k, v in loads.items())


def plot(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, setup = doc["rows"], doc["setup"]
    main = setup["layers"][0]
    colours = {"obvious": "tab:red", "ours": "tab:blue"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, mode in zip(axes, MODES):
        for layer in setup["layers"]:
            for path_ in PATHS:
                for part, style in (("model", "-"), ("batching+relation", "--")):
                    pts = sorted((r["batch"], r["faces_per_s"]) for r in rows if r["part"] == part and
                                 r["layer"] == layer and r["mode"] == mode and r["path"] == path_)
                    if not pts:
                        continue
                    x, y = zip(*pts)
                    bold = layer == main
                    label = f"{path_}: {'whole model' if part == 'model' else 'batching + relation'}" if bold else None
                    ax.plot(x, y, style, color=colours[path_], lw=2 if bold else 0.7, alpha=1 if bold else 0.35,
                            marker="o" if bold else None, ms=4, label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size (faces)")
        ax.set_title(f"{mode} ({'forward' if mode == 'inference' else 'training step'})")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("faces / s")
    axes[0].legend(fontsize=8, loc="upper left")
    others = " (thin lines: the other relation layers)" if len(setup["layers"]) > 1 else ""
    fig.suptitle(f"Throughput, ours vs the obvious PyG implementation; bold: {main}{others}"
                 + ("  [--quick: proves nothing]" if setup["quick"] else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

def parse_args(argv=None):
    from augcn_pyg.nn.layers import layer_names

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="an ROI store (augcn-pyg prepare); --quick writes a tiny one if absent")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "throughput",
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
    if args.data is None and not quick and args.render is None:
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
    from bench_protocol import machine

    start = time.perf_counter()
    load_start = load_average()
    roof_size, roof_repeats = (1024, 3) if args.quick else (2048, 10)
    roof_start = roofline(roof_size, roof_repeats)
    bench = Bench(store, args.list_faces, max(args.batches))
    key = {"store": str(store.resolve()), "batches": args.batches, "repeats": args.repeats, "warmup": args.warmup,
           "model_repeats": args.model_repeats, "threads": args.threads, "list_faces": len(bench.data_list),
           "roof_size": roof_size,
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
    from _meta import machine_info

    doc = {"machine": {**machine(), "cpu": machine_info()["cpu"]}, "torch_scatter": key["torch_scatter"],
           "setup": {"quick": args.quick, "store": str(store), "faces": len(ds), "protocol": ds.protocol.name,
                     "rois": ds.num_rois, "roi_size": ds.store.roi_size, "edges": int(ds.edge_index.shape[1]),
                     "widths": " → ".join(map(str, [model.config.latent, *model.config.hidden])), "threads": args.threads,
                     "layers": args.layers, "batches": args.batches, "repeats": args.repeats,
                     "model_repeats": args.model_repeats, "warmup": args.warmup, "list_faces": len(bench.data_list),
                     "list_build_s": bench.list_seconds, "target_batch": TARGET_BATCH, "targets": TARGETS},
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
    if args.render is not None:
        doc = json.loads(args.render.read_text())
        if args.scatter:  # add the torch-scatter comparison to an earlier run's result
            args.layers = [name for name in args.layers if name in doc["setup"]["layers"]]
            add_scatter(doc, args, Path(doc["setup"]["store"]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            store = args.data
            if store is None:  # --quick without a store: a tiny one of random crops
                from bench_loader import make_store

                store = Path(tmp) / "store"
                make_store(store, 160)
            doc = run(args, store)
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    doc["setup"]["plot"] = f"{out.name}_vs_batch.png"
    write_csv(out.with_suffix(".csv"), doc["rows"])
    if args.render is None or args.scatter or args.render.resolve() != out.with_suffix(".json").resolve():
        out.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(doc), encoding="utf-8")
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
