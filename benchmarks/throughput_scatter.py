"""The torch-scatter comparison of the throughput benchmark: child processes with and without a folder
holding ``torch_scatter`` on their PYTHONPATH time the relation layers in turns (``--scatter SITE``).

Each child is ``python -m benchmarks.throughput --scatter-child ...``: it prints one JSON line of its rows."""
from __future__ import annotations

import collections
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.common import REPO, load_average
from benchmarks.throughput_measure import Bench, measure_layer
from benchmarks.throughput_steps import MODES


def torch_scatter_version() -> str | None:
    import torch_geometric.typing

    if not torch_geometric.typing.WITH_TORCH_SCATTER:
        return None
    import torch_scatter

    return getattr(torch_scatter, "__version__", "unknown")


def scatter_comparison(args, site: Path, store: Path) -> dict:
    """Relation-layer timings in child processes without / with ``site`` on the path, in turns."""
    if not (site / "torch_scatter").is_dir():
        raise SystemExit(f"error: --scatter {site}: no torch_scatter package in that folder (build it with "
                         f"pip install --no-build-isolation --target {site} torch-scatter)")
    repo = str(REPO)
    base = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != site.resolve()]
    envs = {"without": os.pathsep.join([repo, *base]), "with": os.pathsep.join([repo, str(site), *base])}
    rounds = {"without": [], "with": []}
    for i in range(args.scatter_rounds):
        for name, path in envs.items():
            cmd = [sys.executable, "-m", "benchmarks.throughput", "--scatter-child", "--data", str(store),
                   "--threads", str(args.threads), "--repeats", str(args.repeats), "--warmup", str(args.warmup),
                   "--layers", *args.layers, "--batches", *map(str, args.scatter_batches)]
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
