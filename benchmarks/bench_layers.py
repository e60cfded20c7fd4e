"""Relation-layer speed: every registered layer's dense fast path against PyG's sparse layer.

    python benchmarks/bench_layers.py            # writes benchmarks/results/layers.{json,md}

B = 256 faces of R = 19 nodes (the paper's BP4D Table 1 graph), 150 -> 30 features, 2 threads. For each
layer and each path (``forward``, the fast path on the shared R x R topology; ``forward_sparse``, PyG's
sparse layer on the batched edge_index), an inference pass (no_grad, eval) and a training step
(forward + backward to the parameters and the input, train mode). Every measurement has `--warmup`
untimed runs first; the fast and sparse runs alternate within one loop, so both see the same machine
load, and we report medians over `--repeats` runs, the ratio sparse / fast of those medians, and the
minimum of each (less sensitive to other jobs on a shared machine).
"""
from __future__ import annotations

import argparse
import json
import os

import torch

from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.layers import RELATION_LAYERS, build_layer
from augcn_pyg.nn.topology import GraphTopology
from benchmarks.common import RESULTS, machine_info
from benchmarks.timing import alternate, median_and_min


def inference(run, x):
    def step():
        with torch.no_grad():
            run(x)
    return step


def training(layer, run, x):
    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        run(x).square().mean().backward()
    return step


def timed(steps: dict, warmup: int, repeats: int) -> dict:
    """(median ms, min ms) of each step; the steps alternate within each repeat."""
    times = alternate(steps, warmup, repeats)
    return {name: tuple(1e3 * v for v in median_and_min(t)) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--in-channels", type=int, default=150)
    parser.add_argument("--out-channels", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layers", nargs="+", default=list(RELATION_LAYERS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    topology = GraphTopology.from_graph(paper_graph("bp4d"))
    load_start = os.getloadavg()
    rows = []
    for name in args.layers:
        layer = build_layer(name, args.in_channels, args.out_channels, topology)
        x = torch.randn(args.batch, topology.num_nodes, args.in_channels)
        layer.eval()
        inf = timed({"fast": inference(layer.forward, x), "sparse": inference(layer.forward_sparse, x)},
                    args.warmup, args.repeats)
        layer.train()
        xg = x.clone().requires_grad_(True)
        train = timed({"fast": training(layer, layer.forward, xg), "sparse": training(layer, layer.forward_sparse, xg)},
                      args.warmup, args.repeats)
        entry = RELATION_LAYERS[name]
        rows.append({"layer": name, "pyg_layer": entry.pyg_layer, "dense": entry.dense,
                     "parameters": sum(p.numel() for p in layer.parameters()),
                     "inference_fast_ms": inf["fast"][0], "inference_sparse_ms": inf["sparse"][0],
                     "inference_ratio": inf["sparse"][0] / inf["fast"][0],
                     "train_fast_ms": train["fast"][0], "train_sparse_ms": train["sparse"][0],
                     "train_ratio": train["sparse"][0] / train["fast"][0],
                     "inference_fast_min_ms": inf["fast"][1], "inference_sparse_min_ms": inf["sparse"][1],
                     "train_fast_min_ms": train["fast"][1], "train_sparse_min_ms": train["sparse"][1]})
        r = rows[-1]
        print(f"{name:<12} inference {r['inference_fast_ms']:7.2f} ms vs sparse {r['inference_sparse_ms']:7.2f} "
              f"({r['inference_ratio']:5.1f}x)   train {r['train_fast_ms']:7.2f} vs {r['train_sparse_ms']:7.2f} "
              f"({r['train_ratio']:5.1f}x)", flush=True)
    load_end = os.getloadavg()
    meta = machine_info()
    setup = {"batch": args.batch, "nodes": topology.num_nodes, "edges": topology.num_edges,
             "in_channels": args.in_channels, "out_channels": args.out_channels, "threads": args.threads,
             "repeats": args.repeats, "warmup": args.warmup, "graph": "paper_graph('bp4d')",
             "load_average_start": [round(v, 2) for v in load_start],
             "load_average_end": [round(v, 2) for v in load_end]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "layers.json").write_text(json.dumps({"machine": meta, "setup": setup, "results": rows}, indent=1) + "\n")
    lines = [f"Relation layers at B = {args.batch}, R = {topology.num_nodes} ({topology.num_edges} edges, the paper's "
             f"BP4D graph), {args.in_channels} -> {args.out_channels}, {args.threads} threads; median ms of "
             f"{args.repeats} runs after {args.warmup} warm-ups, fast and sparse alternating.", "",
             "| layer | PyG layer | params | inference fast | inference sparse | sparse / fast | train step fast | "
             "train step sparse | sparse / fast | min: inference fast / sparse, train fast / sparse |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        pyg = f"`{r['pyg_layer'].rsplit('.', 1)[1]}`" if r["pyg_layer"] else "(ours)"
        lines.append(f"| `{r['layer']}` | {pyg} | {r['parameters']:,} | {r['inference_fast_ms']:.2f} | "
                     f"{r['inference_sparse_ms']:.2f} | {r['inference_ratio']:.1f}× | {r['train_fast_ms']:.2f} | "
                     f"{r['train_sparse_ms']:.2f} | {r['train_ratio']:.1f}× | {r['inference_fast_min_ms']:.2f} / "
                     f"{r['inference_sparse_min_ms']:.2f}, {r['train_fast_min_ms']:.2f} / {r['train_sparse_min_ms']:.2f} |")
    shared = max(load_start[0], load_end[0]) >= 1.0
    lines += ["", "`learned` and `none` have no PyG layer: their sparse column is the reference computation "
              "(GCNConv without normalisation on the complete graph, and on self-loops only).", "",
              f"Machine: {meta['cpu']}, {meta['cores']} cores; Python {meta['python']}, torch "
              f"{meta['packages'].get('torch')}, torch-geometric {meta['packages'].get('torch-geometric')}; "
              f"git {meta['git']}; {meta['date']}. 1-minute load average {load_start[0]:.2f} at the start, "
              f"{load_end[0]:.2f} at the end" + (" (the machine was shared with other jobs)." if shared else ".")]
    (RESULTS / "layers.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
