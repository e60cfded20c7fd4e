"""The measurements of the throughput benchmark: the store, graph and loaders of one run (:class:`Bench`),
and the loops that time data batching, the relation layers and the whole model on both paths in turns."""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import NamedTuple

import torch

from benchmarks.common import load_average
from benchmarks.throughput_steps import (
    MODES,
    PATHS,
    Cycle,
    encoder_input_steps,
    flops_per_face,
    model_steps,
    relation_steps,
    same_outputs,
)
from benchmarks.timing import alternate, median_and_min

BATCHES = [1, 4, 16, 64, 256, 1024]
QUICK_BATCHES = [1, 8]
TARGET_BATCH = 256
TARGETS = {"batching+relation": 10.0, "model": 2.5}  # ours / obvious faces/s at TARGET_BATCH
QUICK_NOTE = "--quick: tiny store, few batch sizes, 2 repeats: it checks the pipeline and proves nothing about speed."


def summary(seconds: list[float], batch: int) -> dict:
    med, best = median_and_min(seconds)
    return {"median_ms": 1e3 * med, "min_ms": 1e3 * best, "faces_per_s": batch / med, "runs": len(seconds)}


class RowBatch(NamedTuple):
    """One batch of the toolkit's training input: ``crops`` a StoreRows (B faces, read by the encoders),
    ``y`` and ``y_mask`` (B, C) labels and known-mask."""
    crops: object
    y: torch.Tensor
    y_mask: torch.Tensor


class RowBatches:
    """The toolkit's own training input (as ``Trainer.batches`` makes it): shuffled full batches of store
    rows as :class:`~augcn_pyg.data.rows.StoreRows`, which the auto-encoders read straight into their float
    input, with the labels; the same permutation as ``FaceGraphLoader(dataset, batch, shuffle=True, seed)``."""

    def __init__(self, dataset, batch: int, seed: int = 0):
        from augcn_pyg.data.loader import FaceGraphLoader

        self.dataset = dataset
        self.order = FaceGraphLoader(dataset, batch, shuffle=True, seed=seed, drop_last=True)

    def __iter__(self):
        from augcn_pyg.data.rows import StoreRows

        positions = self.order.batch_positions()
        self.order.epoch += 1
        for pos in positions:
            rows = self.dataset.indices[pos]  # (B,) store rows
            yield RowBatch(StoreRows(self.dataset.store, rows), *self.dataset.labels_and_mask(rows))


class Bench:
    """The store, graph and loaders shared by every measurement of one run."""

    def __init__(self, store_path: Path, list_faces: int, max_batch: int):
        from augcn_pyg.data.dataset import AUROIDataset
        from augcn_pyg.graph.relations import paper_graph
        from benchmarks.obvious import face_data_list

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
        """{path: Cycle} of shuffled batches of ``batch`` faces (full batches only): the obvious path's PyG
        ``Batch`` of ``Data`` objects, ours a :class:`RowBatch` of store rows."""
        if batch not in self._loaders:
            from torch_geometric.loader import DataLoader

            self._loaders[batch] = {
                "obvious": Cycle(DataLoader(self.data_list, batch_size=batch, shuffle=True, drop_last=True)),
                "ours": Cycle(RowBatches(self.dataset, batch, seed=0))}
        return self._loaders[batch]

    def model_pair(self, layer: str):
        from augcn_pyg.nn.model import AUGCN
        from benchmarks.obvious import ObviousAUGCN

        torch.manual_seed(0)
        model = AUGCN(self.dataset.protocol, self.graph, layer=layer, roi_size=self.dataset.store.roi_size)
        return model, ObviousAUGCN(model)


def _store_protocol(store_path: Path) -> str:
    from augcn_pyg.data.store import ROIStore

    return ROIStore(store_path).protocol.name


def measure_batching(bench: Bench, batches: list[int], warmup: int, repeats: int) -> list[dict]:
    """Rows (batch, path): one batch to the auto-encoders' float input (:func:`encoder_input_steps`)."""
    model, _ = bench.model_pair("gcn")  # its auto-encoders' input layout; the relation layer plays no part
    rows = []
    for b in batches:
        times = alternate(encoder_input_steps(model, bench.loaders(b)), warmup, repeats)
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
