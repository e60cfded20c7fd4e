"""prepare with dlib on a video dataset: tracking against detecting on every frame (speed, landmark error).

Frames: a SynthAU-BP4D set rendered once (``--subjects`` x 8 tasks x ``--frames`` frames, 256 px, medium
difficulty), whose true landmarks (``Landmarks/``) are known. For ``--track`` and ``--no-track``:

1. speed: ``prepare("bp4d", ..., landmarks="dlib", workers=1)`` from the JPEGs to a finished ROI store,
   frames/s over the wall clock (after a warm-up run on 4 frames; each run loads dlib's models, about a
   second), and the whole-frame detections it ran (``store.json``);
2. landmark error: the 68 points prepare's chunks find (``prepare_chunks.chunk_landmarks``, the same chunks of
   ``--batch``), mean point-to-point distance over the true inter-ocular distance (between the eye centres),
   on the frames both found a face in, and on each one's own.

    PYTHONPATH=$PWD python benchmarks/bench_prepare_tracking.py   # writes results/prepare_tracking.{json,md}
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, machine_info


def iod_error(points: np.ndarray, truth: np.ndarray) -> float:
    """Mean distance of the (68, 2) ``points`` to ``truth``, in true inter-ocular distances (eye centres)."""
    iod = np.linalg.norm(truth[42:48].mean(0) - truth[36:42].mean(0))
    return float(np.linalg.norm(points - truth, axis=1).mean() / iod)


def speed(root: Path, out: Path, track: bool, batch: int) -> dict:
    from augcn_pyg.data.prepare import prepare

    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    summary = prepare("bp4d", root, out, landmarks="dlib", workers=1, batch_size=batch, progress=False, track=track)
    seconds = time.perf_counter() - t0
    created = json.loads((out / "store.json").read_text())["created"]
    return {"track": track, "frames": summary.frames, "stored": summary.stored, "seconds": seconds,
            "frames_per_s": summary.frames / seconds, "detections": created["detections"]}


def warm_up(root: Path, out: Path) -> None:
    from augcn_pyg.data.prepare import prepare_frames
    from augcn_pyg.data.readers import read_dataset

    prepare_frames(read_dataset("bp4d", root, "bp4d")[:4], out, "bp4d", landmarks="dlib", progress=False)


def landmark_errors(root: Path, track: bool, batch: int) -> dict[int, float]:
    """{frame position: error} for the frames whose face prepare's chunks find."""
    from augcn_pyg.data import prepare_chunks as chunks
    from augcn_pyg.data.readers import read_dataset

    frames = read_dataset("bp4d", root, "bp4d")
    truth = read_dataset("bp4d", root, "bp4d", landmarks_dir=root / "Landmarks")
    chunks.init_worker("bp4d", 25, "dlib", {}, track, limit_threads=False)
    errors = {}
    for start in range(0, len(frames), batch):
        _, points, kept, _, _ = chunks.chunk_landmarks([(p, frames[p]) for p in range(start, min(start + batch,
                                                                                                   len(frames)))])
        errors |= {p: iod_error(lm, truth[p].landmarks) for p, lm in zip(kept, points)}
    return errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--frames", type=int, default=30, help="frames per video (8 videos per subject)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256, help="prepare's chunk size (tracks restart at each chunk)")
    ap.add_argument("--out", type=Path, default=RESULTS / "prepare_tracking")
    args = ap.parse_args()
    from augcn_pyg.data.synthetic import generate_synthau

    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench_prepare_tracking_"))
    try:
        root = work / "synthau"
        generate_synthau(root, protocol="bp4d", subjects=args.subjects, frames_per_video=args.frames, seed=args.seed,
                         progress=False)
        warm_up(root, work / "warm")  # imports and first-call costs out of the first timed run
        runs = []
        for track in (False, True):
            runs.append(speed(root, work / "store", track, args.batch))
            print(runs[-1], flush=True)
        errors = {track: landmark_errors(root, track, args.batch) for track in (False, True)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()[0]
    common = sorted(set(errors[False]) & set(errors[True]))
    for r in runs:
        own = np.array(list(errors[r["track"]].values()))
        r |= {"faces_found": len(own), "error_own_mean": float(own.mean()), "error_own_p95": float(np.percentile(own, 95)),
              "error_common_mean": float(np.mean([errors[r["track"]][p] for p in common])),
              "error_common_max": float(np.max([errors[r["track"]][p] for p in common]))}
    result = {"machine": machine_info(), "config": vars(args) | {"out": str(args.out)},
              "load_average_1min": {"before": load_before, "after": load_after},
              "frames_in_common": len(common), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    frames = runs[0]["frames"]
    off, on = runs
    lines = ["# prepare: tracking against detecting on every frame", "",
             f"SynthAU-BP4D, {args.subjects} subjects × 8 tasks × {args.frames} frames = {frames} JPEGs of 256×256 "
             f"(seed {args.seed}, medium difficulty) → BP4D store, `--landmarks dlib` (HOG, upsample 1, score ≥ 0.5), "
             f"`--workers 1`, chunks of {args.batch} (a track restarts at each chunk and each video). Landmark "
             "error: mean point-to-point distance / true inter-ocular distance (eye centres), against SynthAU's "
             f"rendered landmarks, on the {len(common)} frames where both found the face (\"common\") and on each "
             f"one's own. Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores.", "",
             "| tracking | frames | stored | whole-frame detections | seconds | frames/s | error, common (mean / max) "
             "| error, own (mean / 95th pct) |", "|---|---:|---:|---:|---:|---:|---|---|"]
    for r in runs:
        lines.append(f"| {'on' if r['track'] else 'off'} | {r['frames']} | {r['stored']} | {r['detections']} | "
                     f"{r['seconds']:.1f} | {r['frames_per_s']:.1f} | {r['error_common_mean']:.4f} / "
                     f"{r['error_common_max']:.4f} | {r['error_own_mean']:.4f} / {r['error_own_p95']:.4f} |")
    lines += ["", f"Speed-up: {on['frames_per_s'] / off['frames_per_s']:.2f}×. 1-minute load average "
              f"{load_before:.2f} before, {load_after:.2f} after ({result['machine']['cores']} cores shared with "
              "other jobs): the times are of a busy machine, measured once.", ""]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
