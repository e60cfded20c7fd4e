"""Store rows -> auto-encoder input: the uint8 crop batch (old) vs :class:`StoreRows` gathered by the encoders (new).

Old: ``ROIStore.read_rows`` into a fresh (B, R, 3, n, n) uint8 array (the loader's ``Batch.x``), flipped faces
copied and mirrored by ``FlipROIs``, then ``ROIAutoEncoders.pixels`` re-lays it ROI-major as float32. New: the
encoders get ``StoreRows(store, rows, flipped)`` and fill their float input from the read bytes in one pass,
the flipped faces' ROIs swapped by the read itself (see ``augcn_pyg/data/rows.py``). Both paths run in one
process, alternating (``benchmarks/timing.py``), on one store:

* **batch**: B faces -> latents (``encode``, no grad), without flips (inference) and with half the faces
  flipped (a training batch), and the input stage alone (``pixels``); the latents must be equal bit for bit.
* **epoch**: one stage-2 end-to-end training epoch (``Trainer._epoch``: read, flips, forward, backward, SGD)
  over the store, each run from the same weights and generator states; the epochs' losses must be equal, and
  the resident memory before and after each epoch is recorded (neither path may leave store pages mapped).

    .venv/bin/python -m benchmarks.bench_store_gather            # writes benchmarks/results/store_gather.{json,md}
    .venv/bin/python -m benchmarks.bench_store_gather --quick    # a tiny store, seconds (the tests' form)
"""
from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench_model import make_random_store
from benchmarks.common import RESULTS, load_average, machine_info, write_json, write_text
from benchmarks.timing import alternate


def resident(field: str) -> int:
    """Bytes of ``field`` of /proc/self/status: ``VmRSS`` (all resident memory), ``RssFile`` (mapped file
    pages: what reading the store through a memory map would leave behind)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def summary(seconds: list[float]) -> dict:
    return {"median_ms": 1e3 * statistics.median(seconds), "min_ms": 1e3 * min(seconds), "runs": len(seconds)}


def old_crops(store, rows, flip=None, flipped=None) -> torch.Tensor:
    """(B, R, 3, n, n) uint8 as the loader made them: a fresh read, flipped faces replaced by their flips."""
    x = torch.from_numpy(store.read_rows(rows))
    if flipped is not None and flipped.any():
        chosen = torch.from_numpy(flipped)
        x = x.clone()  # what FlipROIs does to the Batch's crops
        x[chosen] = flip.flip(x[chosen])
    return x


def bench_batch(store, batch: int, repeats: int) -> dict:
    """B faces -> latents, old vs new, without and with flips; and the input stage alone."""
    from augcn_pyg.data.loader import FlipROIs
    from augcn_pyg.data.rows import StoreRows
    from augcn_pyg.graph.relations import paper_graph
    from augcn_pyg.nn.model import AUGCN

    torch.manual_seed(0)
    model = AUGCN(store.protocol, paper_graph(store.protocol.name), roi_size=store.roi_size).eval()
    ae = model.autoencoders
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(store))[:batch]  # a shuffled batch, as training reads them
    flip = FlipROIs(store.protocol)
    half = rng.random(len(rows)) < 0.5
    out: dict = {}
    with torch.no_grad():
        for name, flipped in (("no_flips", None), ("half_flipped", half)):
            old = lambda: ae.encode(model.select_rois(old_crops(store, rows, flip, flipped)))  # noqa: E731
            new = lambda: ae.encode(model.select_rois(StoreRows(store, rows, flipped)))  # noqa: E731
            same = torch.equal(old(), new())
            times = alternate({"old": old, "new": new}, warmup=2, repeats=repeats)
            out[f"encode_{name}"] = {"old": summary(times["old"]), "new": summary(times["new"]), "equal": same}
            old_in = lambda: ae.pixels(old_crops(store, rows, flip, flipped))  # noqa: E731
            new_in = lambda: ae.pixels(StoreRows(store, rows, flipped))  # noqa: E731
            times = alternate({"old": old_in, "new": new_in}, warmup=2, repeats=repeats)
            out[f"input_{name}"] = {"old": summary(times["old"]), "new": summary(times["new"])}
    return out


def collate_batches(trainer, epoch: int):
    """The crop branch of ``Trainer.batches`` before StoreRows: the loader's PyG Batch (flips by its
    transform) viewed as (B, R, 3, n, n) crops. One process, so each batch is the whole global batch."""
    for pos in trainer.loader.batch_positions(epoch):
        trainer.model.dropout.share = (0, len(pos))
        trainer.flip.share = (0, len(pos))
        batch = trainer.loader.collate(pos)
        crops = batch.x.view(len(pos), trainer.protocol.num_rois, *batch.x.shape[1:])
        y, known = trainer._with_intensity(batch.row.numpy(), batch.y, batch.y_mask)
        yield crops, y, known, len(pos)
    trainer.model.dropout.share = None
    trainer.flip.share = None


def bench_epoch(store_path: Path, faces: int, batch: int, repeats: int, small: bool) -> dict:
    """One stage-2 end-to-end epoch, old vs new, each run from the same weights, optimizer and generators."""
    from augcn_pyg.engine.config import load_config
    from augcn_pyg.engine.trainer import Stage, Trainer

    extra = ["model.latent=16", "model.hidden=8,4", "model.strip_channels=4"] if small else []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(None, [f"data.store={store_path}", f"train.batch_size={batch}",
                                 f"train.threads={torch.get_num_threads()}", *extra])
        trainer = Trainer(cfg, Path(tmp) / "run", quiet=True)
        trainer.setup()
        trainer.loader.dataset.indices = np.arange(min(faces, len(trainer.store)), dtype=np.int64)
        trainer.cache = None
        weights = copy.deepcopy(trainer.model.state_dict())
        flips, rng = trainer.flip.generator.get_state(), torch.get_rng_state()
        new_batches = trainer.batches
        old_batches = lambda epoch: collate_batches(trainer, epoch)  # noqa: E731
        rows: dict[str, list[dict]] = {"old": [], "new": []}
        rss: dict[str, list[tuple[int, int]]] = {"old": [], "new": []}  # (VmRSS, RssFile) growth per epoch

        def run(name: str, batches):
            def epoch():
                trainer.model.load_state_dict(weights)
                trainer.flip.generator.set_state(flips)
                torch.set_rng_state(rng)
                trainer.batches = batches
                opt, _ = trainer.optimizer("all")
                step = trainer.step_module("all")
                before = resident("VmRSS"), resident("RssFile")
                rows[name].append(trainer._epoch(1, Stage("all", 1), 0, opt, step))
                rss[name].append((resident("VmRSS") - before[0], resident("RssFile") - before[1]))
            return epoch

        times = alternate({"old": run("old", old_batches), "new": run("new", new_batches)}, warmup=1,
                          repeats=repeats)
    skip = ("seconds", "val_f1", "val_auc")  # the time, and NaN placeholders (no validation here)
    losses = {name: [{k: v for k, v in r.items() if k not in skip} for r in rs] for name, rs in rows.items()}
    return {"faces": int(min(faces, len(trainer.store))), "batch": cfg.train.batch_size, "small_model": small,
            "old": summary(times["old"]), "new": summary(times["new"]),
            "same_losses": all(a == b for a, b in zip(losses["old"], losses["new"])),
            "rss_growth_bytes": {name: max(r for r, _ in v) for name, v in rss.items()},
            "file_rss_growth_bytes": {name: max(f for _, f in v) for name, v in rss.items()}}


def markdown(doc: dict) -> str:
    m, s = doc["machine"], doc["setup"]
    lines = ["# Store rows -> auto-encoder input: uint8 crop batch (old) vs StoreRows (new)", "",
             f"{s['faces']:,} random BP4D faces (19 ROIs of 3x25x25), batch {s['batch']}, {s['threads']} torch "
             f"threads, glibc keeping freed memory (as the CLI does), both paths alternating in one process; median "
             f"(min) of {s['repeats']} runs per batch row, {s['epoch_repeats']} epochs per path. "
             f"Machine: {m['cpu']}, {m['cores']} cores; git {m['git']}; load before/after: {doc['load_before']} / "
             f"{doc['load_after']}.", "",
             "| what | old | new | equal results |", "|---|---|---|---|"]
    for key, label in (("encode_no_flips", "batch -> latents, no flips (inference)"),
                       ("encode_half_flipped", "batch -> latents, half flipped"),
                       ("input_no_flips", "input stage alone (read + float ROI-major), no flips"),
                       ("input_half_flipped", "input stage alone, half flipped")):
        r = doc["batch"][key]
        lines.append(f"| {label} | {r['old']['median_ms']:.1f} ({r['old']['min_ms']:.1f}) ms | "
                     f"{r['new']['median_ms']:.1f} ({r['new']['min_ms']:.1f}) ms | {r.get('equal', '')} |")
    e = doc["epoch"]
    old, new = e["old"], e["new"]
    lines.append(f"| stage-2 end-to-end epoch, {e['faces']:,} faces | {old['median_ms'] / 1e3:.2f} "
                 f"({old['min_ms'] / 1e3:.2f}) s | {new['median_ms'] / 1e3:.2f} ({new['min_ms'] / 1e3:.2f}) s | "
                 f"{e['same_losses']} |")
    growth, files = e["rss_growth_bytes"], e["file_rss_growth_bytes"]
    lines += ["", f"Growth over an epoch, largest of the runs: mapped file pages (RssFile) old "
              f"{files['old'] / 2**20:.1f} MiB, new {files['new'] / 2**20:.1f} MiB (both read rows with pread, "
              f"nothing of the store stays mapped); all resident memory (VmRSS) old {growth['old'] / 2**20:.1f} MiB, "
              f"new {growth['new'] / 2**20:.1f} MiB (one process: the heap that glibc keeps grows in whichever "
              f"path runs first and is reused by the other).", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=3072)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=10, help="timed runs of each batch measurement")
    ap.add_argument("--epoch-repeats", type=int, default=3, help="timed epochs of each path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="a tiny store and model, one run each (the tests' form)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where store_gather.json and .md go")
    args = ap.parse_args(argv)
    if args.quick:
        args.faces, args.batch, args.repeats, args.epoch_repeats = 320, 64, 1, 1
    torch.set_num_threads(args.threads)
    from augcn_pyg.core.allocator import keep_freed_memory
    from augcn_pyg.data.store import ROIStore

    keep_freed_memory()  # as the train and predict commands do: freed batch tensors are reused, not re-faulted

    doc = {"machine": machine_info(), "load_before": load_average(),
           "setup": {"faces": args.faces, "batch": args.batch, "repeats": args.repeats,
                     "epoch_repeats": args.epoch_repeats, "threads": args.threads, "quick": args.quick}}
    with tempfile.TemporaryDirectory(prefix="bench_store_gather_") as tmp:
        path = Path(tmp) / "store"
        make_random_store(path, args.faces)
        doc["batch"] = bench_batch(ROIStore(path), args.batch, args.repeats)
        doc["epoch"] = bench_epoch(path, args.faces, args.batch, args.epoch_repeats, small=args.quick)
    doc["load_after"] = load_average()
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "store_gather.json", doc)
    write_text(args.out / "store_gather.md", markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
