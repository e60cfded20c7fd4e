"""FaceGraphLoader vs torch_geometric.loader.DataLoader on a memory-mapped ROI store, and peak memory vs N.

Speed: both loaders build the same shuffled batches (the same permutation) of ``--batch`` faces from one
store of ``--faces`` faces; faces/s and batches/s over ``--repeats`` runs (first batch of each run is a
warm-up and not timed). PyG's loader is timed on ``--pyg-batches`` batches (it is slow).

Memory: for each store size in ``--sizes`` a fresh subprocess opens the store and walks one whole
shuffled epoch with FaceGraphLoader; it reports ``VmHWM`` (peak resident set) from /proc/self/status.
For contrast the same walk is done reading rows by fancy-indexing the ``np.memmap`` (whose touched file
pages stay mapped in the process).

    PYTHONPATH=$PWD python benchmarks/bench_loader.py            # writes benchmarks/results/loader.{json,md}
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, machine_info


def make_store(path: Path, faces: int, protocol: str = "bp4d", roi_size: int = 25, seed: int = 0):
    """A store of ``faces`` random faces; ROI bytes are a tiled random block (content does not matter)."""
    from augcn_pyg.core.aus import get_protocol
    from augcn_pyg.data.store import write_store

    p = get_protocol(protocol)
    rng = np.random.default_rng(seed)
    block = rng.integers(0, 256, (1024, p.num_rois, 3, roi_size, roi_size), dtype=np.uint8)

    class Tiled:  # rois[a:b] -> (b-a, R, 3, n, n) without holding N rows in memory
        shape = (faces, *block.shape[1:])

        def __getitem__(self, sl):
            idx = np.arange(sl.start, min(sl.stop, faces)) % len(block)
            return block[idx]

    labels = (rng.random((faces, p.num_aus)) < 0.3).astype(np.float32)
    labels[rng.random(labels.shape) < 0.02] = np.nan
    subject = np.array([f"S{i % 41:03d}" for i in range(faces)])
    video = np.array([f"T{i % 8 + 1}" for i in range(faces)])
    return write_store(path, p, Tiled(), labels, subject, video, np.arange(faces), chunk=1024)


def _dataset(store_path: Path, protocol: str):
    from augcn_pyg.data.dataset import AUROIDataset
    from augcn_pyg.graph.relations import paper_graph

    return AUROIDataset(store_path, paper_graph(protocol))


def bench_speed(store_path: Path, protocol: str, batch: int, repeats: int, pyg_batches: int) -> dict:
    import torch
    from torch_geometric.loader import DataLoader

    from augcn_pyg.data.loader import FaceGraphLoader

    torch.set_num_threads(1)  # both loaders run in the main process, single-threaded
    ds = _dataset(store_path, protocol)
    ours = FaceGraphLoader(ds, batch, shuffle=True, seed=0)
    rows = {"ours": [], "pyg": []}
    for rep in range(repeats):
        ours.set_epoch(rep)
        order = ours.order().tolist()
        # ours: a whole epoch
        it = iter(ours)
        next(it)  # warm-up
        t0 = time.perf_counter()
        n = 0
        for b in it:
            n += b.num_graphs
        dt = time.perf_counter() - t0
        rows["ours"].append((n, (len(ours) - 1), dt))
        # PyG: the same batches, the first pyg_batches of them
        it = iter(DataLoader(ds, batch_size=batch, sampler=order))
        next(it)
        t0 = time.perf_counter()
        n = k = 0
        for b in it:
            n += b.num_graphs
            k += 1
            if k == pyg_batches:
                break
        rows["pyg"].append((n, k, time.perf_counter() - t0))
    out = {}
    for name, runs in rows.items():
        fps = [n / dt for n, _, dt in runs]
        bps = [k / dt for _, k, dt in runs]
        sd = (lambda v: statistics.stdev(v) if len(v) > 1 else 0.0)  # the sample std (ddof 1), as every benchmark's
        out[name] = {"faces_per_s_mean": statistics.mean(fps), "faces_per_s_std": sd(fps),
                     "batches_per_s_mean": statistics.mean(bps), "batches_per_s_std": sd(bps),
                     "timed_batches_per_run": runs[0][1], "runs": repeats}
    out["speedup"] = out["ours"]["faces_per_s_mean"] / out["pyg"]["faces_per_s_mean"]
    return out


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def rss_child(store_path: Path, protocol: str, batch: int, reader: str) -> dict:
    """Runs in a fresh process: one shuffled epoch; baseline and peak resident memory in bytes."""
    from augcn_pyg.data.loader import FaceGraphLoader

    ds = _dataset(store_path, protocol)
    loader = FaceGraphLoader(ds, batch, shuffle=True, seed=0)
    if reader == "memmap":  # contrast only: gather rows by fancy-indexing the memmap
        store = ds.store
        store.read_rows = lambda rows: store.rois[np.sort(rows)][np.argsort(np.argsort(rows))]
    next(iter(loader))
    base = _status("VmRSS")
    t0 = time.perf_counter()
    faces = sum(b.num_graphs for b in loader)
    return {"faces": faces, "seconds": time.perf_counter() - t0, "rss_after_setup": base, "peak_rss": _status("VmHWM")}


def bench_memory(sizes: list[int], workdir: Path, protocol: str, batch: int) -> list[dict]:
    rows = []
    for size in sizes:
        path = workdir / f"store_{size}"
        t0 = time.perf_counter()
        make_store(path, size, protocol)
        made = time.perf_counter() - t0
        for reader in ("pread", "memmap"):
            cmd = [sys.executable, __file__, "--rss-child", str(path), "--protocol", protocol, "--batch", str(batch),
                   "--reader", reader]
            child = subprocess.run(cmd, capture_output=True, text=True, check=True)
            res = json.loads(child.stdout.strip().splitlines()[-1])
            rows.append({"frames": size, "store_bytes": (path / "rois.u8").stat().st_size, "reader": reader,
                         "write_seconds": made, **res})
            print(rows[-1], flush=True)
        shutil.rmtree(path)
    return rows


def write_markdown(result: dict, path: Path) -> None:
    s = result["speed"]
    lines = [
        "# Loader benchmark",
        "",
        f"{result['config']['faces']} faces of {result['config']['shape']} uint8 in a memory-mapped store, batch "
        f"{result['config']['batch']}, shuffled, main process, 1 torch thread; mean ± std over "
        f"{s['ours']['runs']} runs (warm-up batch excluded). Machine: {result['machine']['cpu']}, "
        f"{result['machine']['cores']} cores.",
        "",
        "| loader | faces/s | batches/s |",
        "|---|---|---|",
    ]
    for name, label in (("pyg", "torch_geometric.loader.DataLoader"), ("ours", "FaceGraphLoader")):
        r = s[name]
        lines.append(f"| {label} | {r['faces_per_s_mean']:,.0f} ± {r['faces_per_s_std']:,.0f} | "
                     f"{r['batches_per_s_mean']:.2f} ± {r['batches_per_s_std']:.2f} |")
    lines += ["", f"Speed-up: **{s['speedup']:.1f}×** (target ≥ 10×).", "",
              "## Peak memory vs store size (one whole shuffled epoch, fresh process per row)", "",
              "| frames | store size | row reader | RSS after setup | peak RSS (VmHWM) | first epoch |",
              "|---|---|---|---|---|---|"]
    for r in result["memory"]:
        lines.append(f"| {r['frames']:,} | {r['store_bytes'] / 2**30:.2f} GiB | {r['reader']} | "
                     f"{r['rss_after_setup'] / 2**20:.0f} MiB | {r['peak_rss'] / 2**20:.0f} MiB | "
                     f"{r['seconds']:.1f} s |")
    lines += ["", "`pread` is what FaceGraphLoader does (`ROIStore.read_rows`); `memmap` gathers the same rows by "
              "fancy-indexing the `np.memmap` instead, shown for contrast: its touched file pages stay mapped and "
              "count in the process's resident set. \"First epoch\" is the first walk right after the store was "
              "written "
              "(pages partly still being written back to disk), so it is slower than the warm speed runs above.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--protocol", default="bp4d")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pyg-batches", type=int, default=30)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10000, 40000, 160000])
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--out", type=Path, default=RESULTS / "loader")
    ap.add_argument("--rss-child", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--reader", default="pread", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child is not None:
        print(json.dumps(rss_child(args.rss_child, args.protocol, args.batch, args.reader)))
        return

    work = Path(tempfile.mkdtemp(prefix="bench_loader_", dir=args.workdir))
    try:
        store = make_store(work / "speed", args.faces, args.protocol)
        speed = bench_speed(work / "speed", args.protocol, args.batch, args.repeats, args.pyg_batches)
        print(json.dumps(speed, indent=1), flush=True)
        shape = f"{store.protocol.num_rois}×3×{store.roi_size}×{store.roi_size}"
        shutil.rmtree(work / "speed")
        memory = bench_memory(args.sizes, work, args.protocol, args.batch)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"machine": machine_info(),
              "config": {"faces": args.faces, "batch": args.batch, "protocol": args.protocol, "shape": shape,
                         "repeats": args.repeats, "pyg_batches": args.pyg_batches, "sizes": args.sizes},
              "speed": speed, "memory": memory}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    write_markdown(result, args.out.with_suffix(".md"))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
