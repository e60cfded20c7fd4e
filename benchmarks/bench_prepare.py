"""prepare throughput: frames/s from image files to a finished ROI store, by worker count.

Frames: ``--frames`` JPEGs of 256×256, each skimage's astronaut photo shrunk and a little rotated and
shifted, in a ``folder`` dataset with an OpenFace 2 CSV of their landmarks (dlib's 68 points of the
photo, moved with each frame), so the timing covers decoding, alignment, ROI extraction and the store
writes, without a detector. A second series detects the landmarks with dlib on ``--detect-frames``.

    PYTHONPATH=$PWD python benchmarks/bench_prepare.py       # writes benchmarks/results/prepare.{json,md}
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import RESULTS, machine_info


def write_frames(root: Path, frames: int) -> Path:
    import cv2
    from skimage import data

    from augcn_pyg.landmarks import get_backend

    photo = data.astronaut()
    points = get_backend("dlib").detect(photo)[0].landmarks
    clip = root / "clip"
    clip.mkdir(parents=True)
    header = ["frame", "success"] + [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    rows = []
    for k in range(1, frames + 1):
        m = cv2.getRotationMatrix2D((0.0, 0.0), -6 + 3 * (k % 5), 0.5 * (1 + 0.03 * (k % 3)))
        m[:, 2] += (k % 4 - 1.5) * 3
        image = cv2.warpAffine(photo, m, (256, 256), flags=cv2.INTER_LINEAR)
        cv2.imwrite(str(clip / f"{k:05d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        pts = points @ m[:, :2].T + m[:, 2]
        rows.append([k, 1] + pts[:, 0].tolist() + pts[:, 1].tolist())
    with open(root / "clip.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([header] + rows)
    return clip


def run(root: Path, out: Path, workers: int, batch: int, **options) -> dict:
    from augcn_pyg.data.prepare import prepare

    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    summary = prepare("folder", root / "clip", out, "bp4d", workers=workers, batch_size=batch, progress=False,
                      **options)
    seconds = time.perf_counter() - t0
    return {"workers": workers, "frames": summary.frames, "stored": summary.stored, "seconds": seconds,
            "frames_per_s": summary.frames / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=12000)
    ap.add_argument("--detect-frames", type=int, default=200)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--out", type=Path, default=RESULTS / "prepare")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_prepare_"))
    try:
        write_frames(work, args.frames)
        shipped = [run(work, work / "store", w, args.batch, openface=work / "clip.csv") for w in args.workers]
        for r in shipped:
            print(r, flush=True)
        # detection series on the first frames only
        small = work / "small"
        (small / "clip").mkdir(parents=True)
        for path in sorted((work / "clip").iterdir())[:args.detect_frames]:
            shutil.copy(path, small / "clip" / path.name)
        detected = [run(small, work / "store", w, min(args.batch, 32), landmarks="dlib") for w in args.workers]
        for r in detected:
            print(r, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"machine": machine_info(), "config": vars(args) | {"out": str(args.out)},
              "shipped_landmarks": shipped, "dlib_landmarks": detected}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    lines = ["# prepare benchmark", "",
             f"256×256 JPEG frames (skimage astronaut, jittered) → BP4D store (19 ROIs of 25×25), chunks of "
             f"{args.batch}; machine: {result['machine']['cpu']}, {result['machine']['cores']} cores. Times include "
             "worker start-up (spawn: each worker imports torch and, for dlib, loads its model: several seconds "
             "on this machine). `workers = 1` runs in the calling process.", "",
             "| landmarks | frames | workers | seconds | frames/s |", "|---|---|---|---|---|"]
    for label, rows in (("shipped (OpenFace CSV)", shipped), ("dlib HOG + 68 points", detected)):
        for r in rows:
            lines.append(f"| {label} | {r['frames']} | {r['workers']} | {r['seconds']:.1f} | {r['frames_per_s']:.0f} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += ["", f"1-minute load average right after the run: {load:.2f} ({result['machine']['cores']} cores). "
              "A second worker's gain is bounded on two cores: the parent (reading results, writing rows) and the "
              "workers share them, and the workers' start-up is not amortised on small inputs. Machines with more "
              "cores were not measured.", ""]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
