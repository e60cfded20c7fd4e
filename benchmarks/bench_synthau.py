"""SynthAU benchmark: rendering speed, label statistics, and how a real face detector sees the faces.

1. speed: ``generate_synthau`` of 10,000 faces at 200x200 (25 subjects x 8 tasks x 50 frames, medium,
   BP4D layout, JPEG) with ``workers=2``, wall clock including every file written; plus one-process
   render-only time per face.
2. labels: occurrence rates and Table 1 agreement (best threshold, differing pairs) of the realistic
   presets at 24 subjects x 8 tasks x 60 frames, seeds 0-4 (labels only).
3. dlib: detection rate (HOG, no upsampling, score >= 0.5, the project's ``DlibBackend``) and landmark
   error against the truth (mean point-to-point distance / true inter-ocular distance between eye
   centres), on 320 faces (5 subjects x 8 tasks x 8 frames, 256 px) per difficulty.

    PYTHONPATH=. python benchmarks/bench_synthau.py [--quick]

Writes ``benchmarks/results/synthau.json`` and ``synthau.md``. Other jobs on the machine slow the timing:
the load average at the start is recorded beside it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.io import write_json_atomic, write_text_atomic
from augcn_pyg.data.synthau.check import best_threshold, msym
from augcn_pyg.data.synthau.plan import sample_labels
from augcn_pyg.data.synthau.prototypes import TARGET_RATES
from augcn_pyg.data.synthetic import generate_synthau
from augcn_pyg.graph.paper import TABLE1
from benchmarks.common import RESULTS, machine_info


def bench_speed(tmp: Path, quick: bool) -> dict:
    subjects, frames = (5, 25) if quick else (25, 50)
    out = tmp / "speed"
    t = time.perf_counter()
    m = generate_synthau(out, protocol="bp4d", subjects=subjects, frames_per_video=frames, seed=0,
                         difficulty="medium", workers=2, image_size=200, progress=False)
    wall = time.perf_counter() - t
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    shutil.rmtree(out)
    # render only, one process
    from augcn_pyg.data.synthau.face import sample_identity
    from augcn_pyg.data.synthau.render import FaceRenderer, conditions, sample_video_conditions

    r = FaceRenderer(sample_identity(np.random.default_rng(0)), 200)
    rng = np.random.default_rng(0)
    conds = sample_video_conditions(rng, conditions("medium"), 200)
    r.render({6: 3.0, 12: 3.0}, conds[0], rng)  # warm-up
    t = time.perf_counter()
    for c in conds:
        r.render({6: 3.0, 12: 3.0, 25: 2.5, 1: 2.0}, c, rng)
    per_face = (time.perf_counter() - t) / len(conds)
    return {"faces": m["frames_written"], "workers": 2, "image_size": 200, "wall_s": round(wall, 2),
            "faces_per_s": round(m["frames_written"] / wall, 1), "bytes_written": size,
            "render_only_ms_per_face_1_process": round(per_face * 1000, 2)}


def bench_labels() -> dict:
    out = {}
    for preset in ("bp4d", "disfa"):
        aus = get_protocol(preset).aus
        runs = []
        for seed in range(5):
            y, _, _ = sample_labels(preset, "realistic", 24, 60, seed)
            thr, nd = best_threshold(msym(y), TABLE1[preset])
            runs.append({"seed": seed, "rates": [round(float(v), 4) for v in y.mean(0)], "best_threshold": thr,
                         "differing_pairs": nd, "frames": len(y)})
        rates = np.array([r["rates"] for r in runs])
        target = np.array([TARGET_RATES[preset][a] for a in aus])
        t0 = time.perf_counter()
        sample_labels(preset, "realistic", 24, 60, 0)
        out[preset] = {"aus": list(aus), "target": target.tolist(), "runs": runs,
                       "mean_rates": rates.mean(0).round(4).tolist(),
                       "max_abs_rate_error": float(np.abs(rates - target).max().round(4)),
                       "label_sampling_s": round(time.perf_counter() - t0, 3)}
    return out


def bench_dlib(tmp: Path, quick: bool) -> dict:
    from augcn_pyg.landmarks import get_backend

    backend = get_backend("dlib", upsample=0)
    out = {}
    subjects, frames = (2, 4) if quick else (5, 8)
    for difficulty in ("easy", "medium", "hard"):
        root = tmp / difficulty
        generate_synthau(root, protocol="bp4d", subjects=subjects, frames_per_video=frames, seed=11,
                         difficulty=difficulty, workers=2, image_size=256, progress=False)
        import cv2

        found, errors, n = 0, [], 0
        for csv in sorted((root / "Landmarks").glob("*.csv")):
            subject, task = csv.stem.split("_")
            data = np.loadtxt(csv, delimiter=",", skiprows=1, ndmin=2)
            for row in data:
                truth = np.stack([row[5:73], row[73:141]], axis=1)  # (68, 2)
                img = cv2.imread(str(root / "Sequences" / subject / task / f"{int(row[0])}.jpg"))[:, :, ::-1]
                faces = backend.detect(np.ascontiguousarray(img))
                n += 1
                if not faces:
                    continue
                found += 1
                best = max(faces, key=lambda f: f.score)
                iod = np.linalg.norm(truth[42:48].mean(0) - truth[36:42].mean(0))
                errors.append(float(np.linalg.norm(best.landmarks - truth, axis=1).mean() / iod))
        shutil.rmtree(root)
        e = np.array(errors) if errors else np.array([np.nan])
        out[difficulty] = {"faces": n, "detected": found, "detection_rate": round(found / n, 4),
                           "nme_mean": round(float(e.mean()), 4), "nme_median": round(float(np.median(e)), 4),
                           "nme_p90": round(float(np.percentile(e, 90)), 4)}
        print(difficulty, out[difficulty], flush=True)
    return out


def markdown(res: dict) -> str:
    s = res["speed"]
    lines = ["# SynthAU benchmark", "",
             f"Machine: {res['machine']['cpu']}, {res['machine']['cores']} cores; load average at start "
             f"{res['load_average_at_start']} (other jobs share the machine). git {res['machine']['git']}.", "",
             "## Speed (BP4D layout, medium, JPEG, every file written)", "",
             "| faces | size | workers | wall (s) | faces/s | render only, 1 process (ms/face) |",
             "|---|---|---|---|---|---|",
             f"| {s['faces']} | {s['image_size']}x{s['image_size']} | {s['workers']} | {s['wall_s']} | "
             f"{s['faces_per_s']} | {s['render_only_ms_per_face_1_process']} |", "",
             "## Labels (24 subjects x 8 tasks x 60 frames, realistic preset, seeds 0-4)", ""]
    for preset, r in res["labels"].items():
        lines += [f"**{preset}** (max |rate - target| over AUs and seeds: {100 * r['max_abs_rate_error']:.1f} points)",
                  "", "| AU | " + " | ".join(str(a) for a in r["aus"]) + " |",
                  "|---|" + "---|" * len(r["aus"]),
                  "| target % | " + " | ".join(f"{100 * v:.0f}" for v in r["target"]) + " |",
                  "| SynthAU % (mean) | " + " | ".join(f"{100 * v:.1f}" for v in r["mean_rates"]) + " |", "",
                  "| seed | best threshold | pairs differing from Table 1 |", "|---|---|---|"]
        lines += [f"| {x['seed']} | {x['best_threshold']} | {x['differing_pairs']} |" for x in r["runs"]]
        lines.append("")
    lines += ["## dlib on SynthAU faces (HOG, upsample 0, score >= 0.5; NME = mean point error / true IOD)", "",
              "| difficulty | faces | detection rate | NME mean | NME median | NME p90 |", "|---|---|---|---|---|---|"]
    for d, r in res["dlib"].items():
        lines.append(f"| {d} | {r['faces']} | {100 * r['detection_rate']:.1f}% | {r['nme_mean']} | "
                     f"{r['nme_median']} | {r['nme_p90']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run; results not written)")
    args = ap.parse_args()
    res = {"machine": machine_info(), "load_average_at_start": [round(v, 2) for v in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp:
        res["labels"] = bench_labels()
        print("labels done", flush=True)
        res["speed"] = bench_speed(Path(tmp), args.quick)
        print(res["speed"], flush=True)
        res["dlib"] = bench_dlib(Path(tmp), args.quick)
    if args.quick:
        print(markdown(res))
        return
    RESULTS.mkdir(exist_ok=True)
    write_json_atomic(RESULTS / "synthau.json", res)
    write_text_atomic(RESULTS / "synthau.md", markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
