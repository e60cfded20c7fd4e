"""Relation builder speed: labels of N frames x 12 AUs to a fitted graph.

    python benchmarks/bench_relations.py            # writes benchmarks/results/relations.{json,md}

The target: one million 12-AU frames to a graph in well under a second. Each size is run
once as a warm-up (excluded), then timed `--repeats` times; we report the median and min.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from augcn_pyg.graph.relations import RelationBuilder
from benchmarks.common import RESULTS, machine_info


def labels_like_bp4d(n: int, seed: int = 0) -> np.ndarray:
    """(n, 12) float32 labels with BP4D-like rates and 2% unknown (NaN) entries."""
    rates = np.array([0.21, 0.17, 0.20, 0.46, 0.55, 0.59, 0.56, 0.47, 0.17, 0.34, 0.17, 0.15])
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 12), dtype=np.float32) < rates).astype(np.float32)
    labels[rng.random((n, 12), dtype=np.float32) < 0.02] = np.nan
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000, 4_000_000])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        labels = labels_like_bp4d(n)
        for measure in ("conditional", "phi"):
            builder = RelationBuilder("bp4d", threshold=0.6 if measure == "conditional" else 0.1, measure=measure)
            builder.fit(labels)  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                builder.fit(labels)
                times.append(time.perf_counter() - start)
            rows.append({"frames": n, "measure": measure, "median_s": statistics.median(times), "min_s": min(times),
                         "repeats": args.repeats})
            print(f"{n:>9} frames  {measure:<12} median {rows[-1]['median_s'] * 1e3:8.1f} ms  "
                  f"min {rows[-1]['min_s'] * 1e3:8.1f} ms")
    RESULTS.mkdir(exist_ok=True)
    meta = machine_info()
    (RESULTS / "relations.json").write_text(json.dumps({"machine": meta, "results": rows}, indent=1) + "\n")
    lines = ["| frames | measure | median (ms) | min (ms) |", "|---:|---|---:|---:|"]
    lines += [f"| {r['frames']:,} | {r['measure']} | {r['median_s'] * 1e3:.1f} | {r['min_s'] * 1e3:.1f} |" for r in rows]
    lines += ["", f"Machine: {meta['cpu']}, {meta['cores']} cores; Python {meta['python']}, "
              f"numpy {meta['packages'].get('numpy')}; git {meta['git']}; {meta['date']}."]
    (RESULTS / "relations.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
