"""Does smoothing AU probabilities over time help, and over how many frames? (``predict --smooth N``)

A model trained on fold 1 of the SynthAU-BP4D store predicts every frame of the fold's *validation* and
*test* subjects' task videos (each task's frames, in frame-number order, written into an MJPG AVI first, so
that ``predict`` reads a real video and tracks the face through it); the raw probabilities are then
smoothed along each face's track with :class:`augcn_pyg.inference.smoothing.TrackSmoother`, the code
``predict --smooth N`` runs (``predict`` is called once per video and its ``on_frames`` hook records the
raw probabilities and the tracks), for several N and both smoother kinds, and scored against the labels
(threshold 0.5):

- **per-video F1**: in each video, the F1 of every AU that occurs in it (F1 is undefined for an AU that
  never occurs), averaged over those AUs, then over the videos: what a user of one video sees;
- **pooled F1 / AUC**: over all frames of the part, per AU, averaged over AUs (the training protocol's).

N (and the kind) is chosen on the validation subjects only (the largest per-video F1; ties to the smaller
N); the test subjects' numbers are reported beside, for the chosen N and every other. The validation
subjects are not trained on, but the run was selected on them (``train.select=val``); the test subjects
are used for nothing but this report.

    python -m benchmarks.bench_smoothing --run /work/data/runs/smooth-gcn --data /work/data/synth_bp4d
        # writes benchmarks/results/smoothing.{json,md}; predictions cached under --work
    python -m benchmarks.bench_smoothing --quick --out /tmp/q   # a tiny SynthAU and a tiny model, seconds
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from augcn_pyg.core.metrics import au_scores
from augcn_pyg.data.labels import read_labels
from augcn_pyg.engine import runs
from augcn_pyg.inference.predict import predict
from augcn_pyg.inference.smoothing import KINDS, smooth_frames
from benchmarks.common import RESULTS, finished, machine_info, run_provenance, write_json, write_text

WINDOWS = (1, 2, 3, 5, 9, 15)
FPS = 25.0  # BP4D's frame rate (the MJPG videos' stated rate; smoothing counts frames, not seconds)


def frame_files(folder: Path) -> list[Path]:
    """A task folder's frames in frame-number order (``826.jpg`` ... ``1005.jpg``: not name order)."""
    return sorted((p for p in folder.iterdir() if p.suffix.lower() == ".jpg"), key=lambda p: int(p.stem))


def write_video(files: list[Path], out: Path) -> None:
    """The frames as an MJPG AVI (cv2, quality 95), written to a temporary name and renamed when complete."""
    import cv2

    tmp = out.with_name(out.stem + ".part" + out.suffix)  # cv2 picks the container by the suffix
    first = cv2.imread(str(files[0]))
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (w, h))
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    for f in files:
        writer.write(cv2.imread(str(f)))
    writer.release()
    os.replace(tmp, out)


def video_predictions(video: Path, run: Path, cache: Path) -> dict:
    """``{"seconds", "frames": [{"frame", "followed", "faces": [{"box", "raw"}]}, ...]}``: what ``predict`` (no
    smoothing, largest face) computed for each frame, through its ``on_frames`` hook, and how long the call took
    (loading included); cached as JSON."""
    if cache.exists():
        return json.loads(cache.read_text())
    recorded: list[dict] = []

    def keep(frames):
        for fr in frames:
            recorded.append({"frame": fr.number, "followed": fr.followed,
                             "faces": [{"box": [float(v) for v in f.box],
                                        "raw": None if f.raw is None else [float(v) for v in f.raw]}
                                       for f in fr.faces]})

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        predict(video, Path(tmp) / "p.csv", run, largest_face=True, smooth=1, on_frames=keep)
    doc = {"seconds": round(time.perf_counter() - t0, 3), "frames": recorded}
    cache.write_text(json.dumps(doc))
    return doc


def smoothed(recorded: list[dict], window: int, kind: str, num_aus: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, C) the first face's smoothed probabilities per frame (0 where no face was scored) and (T,) bool,
    whether a face was scored there."""
    frames = [SimpleNamespace(followed=r["followed"],
                              faces=[SimpleNamespace(box=np.asarray(f["box"]), probabilities=None,
                                                     raw=None if f["raw"] is None else np.asarray(f["raw"], np.float32))
                                     for f in r["faces"]]) for r in recorded]
    smooth_frames(frames, window, kind)
    out = np.zeros((len(frames), num_aus), dtype=np.float64)
    scored = np.zeros(len(frames), dtype=bool)
    for t, fr in enumerate(frames):
        if fr.faces and fr.faces[0].probabilities is not None:
            out[t], scored[t] = fr.faces[0].probabilities, True
    return out, scored


def per_video_f1(probs: np.ndarray, labels: np.ndarray, aus) -> float:
    """Mean F1 over the AUs that occur in the video (NaN when none does)."""
    s = au_scores(probs, labels, aus=aus)
    occurs = s.positives > 0
    return float(s.f1[occurs].mean()) if occurs.any() else float("nan")


def flips(present: np.ndarray, scored: np.ndarray) -> tuple[int, int]:
    """(changes of an AU's 0/1 decision between consecutive frames that both have a face, such frame pairs x AUs)."""
    both = scored[1:] & scored[:-1]
    changes = (present[1:] != present[:-1])[both]
    return int(changes.sum()), int(changes.size)


def nanmean(values) -> float:
    """The mean of the values that are not NaN (NaN when none is), without numpy's empty-slice warning."""
    kept = [v for v in values if not np.isnan(v)]
    return float(np.mean(kept)) if kept else float("nan")


#: a video counts in "per-video F1 on frames with a face" when at least this many of its frames have one
MIN_SCORED = 10


def model_facts(run: Path) -> dict:
    """What the run is (from its own files): layer, epochs, selection, and its test scores on the store's faces."""
    import yaml

    config = yaml.safe_load((run / "config.yaml").read_text())
    metrics = json.loads((run / "test_metrics.json").read_text())
    return {"layer": metrics["layer"], "fold": metrics["fold"], "seed": metrics["seed"],
            "epochs": [config["train"]["epochs_ae"], config["train"]["epochs"]], "select": metrics["selected"],
            "selected_epoch": metrics["epoch"], "store_test_f1": metrics["test"]["mean_f1"],
            "store_test_auc": metrics["test"]["mean_auc"], **run_provenance(run)}


def run_splits_of(run: Path) -> dict:
    splits = runs.read_run_json(run)["splits"]
    return {"val": list(splits["val_subjects"]), "test": list(splits["test_subjects"])}


def measure(run: Path, data: Path, work: Path, parts: dict[str, list[str]], windows=WINDOWS, kinds=KINDS,
            tasks: list[str] | None = None, log=print) -> dict:
    """Predict every video of ``parts`` once, smooth for each (kind, window) and score; the result document."""
    labels = read_labels(data / "AUCoding" / "AU_OCC", "bp4d")
    aus = list(labels.aus)
    row_of = {(s, v, int(f)): i for i, (s, v, f) in enumerate(zip(labels.subject, labels.video, labels.frame))}
    (work / "videos").mkdir(parents=True, exist_ok=True)
    (work / "raw").mkdir(parents=True, exist_ok=True)
    videos: dict[str, list[tuple[str, list[dict], np.ndarray]]] = {}
    t0, predict_seconds = time.perf_counter(), 0.0
    for part, subjects in parts.items():
        videos[part] = []
        for subject in subjects:
            for task_dir in sorted(p for p in (data / "Sequences" / subject).iterdir() if p.is_dir()):
                if tasks and task_dir.name not in tasks:
                    continue
                name = f"{subject}_{task_dir.name}"
                files = frame_files(task_dir)
                video = work / "videos" / f"{name}.avi"
                if not video.exists():
                    write_video(files, video)
                predicted = video_predictions(video, run, work / "raw" / f"{name}.json")
                recorded, predict_seconds = predicted["frames"], predict_seconds + predicted["seconds"]
                if len(recorded) != len(files):
                    raise RuntimeError(f"{video}: {len(recorded)} frames predicted, {len(files)} frames in {task_dir}")
                y = labels.labels[[row_of[(subject, task_dir.name, int(f.stem))] for f in files]]
                videos[part].append((name, recorded, y))
                log(f"{part} {name}: {len(files)} frames ({time.perf_counter() - t0:.0f} s)")
    rows = []
    for kind in kinds:
        for window in windows:
            if kind != kinds[0] and window == 1:
                continue  # N = 1 is no smoothing for every kind
            row = {"kind": kind if window > 1 else "none", "window": window}
            for part, items in videos.items():
                per_video, on_faces, all_p, all_y, missing, flipped, pairs, true_flips = [], [], [], [], 0, 0, 0, 0
                for _, recorded, y in items:
                    p, scored = smoothed(recorded, window, kind, len(aus))
                    missing += int((~scored).sum())
                    per_video.append(per_video_f1(p, y, aus))
                    on_faces.append(per_video_f1(p[scored], y[scored], aus) if scored.sum() >= MIN_SCORED
                                    else float("nan"))
                    n, m = flips(p >= 0.5, scored)
                    flipped, pairs = flipped + n, pairs + m
                    true_flips += flips(np.nan_to_num(y) > 0.5, scored)[0]
                    all_p.append(p)
                    all_y.append(y)
                pooled = au_scores(np.concatenate(all_p), np.concatenate(all_y), aus=aus)
                row[part] = {"per_video_f1": nanmean(per_video), "per_video_f1_frames_with_face": nanmean(on_faces),
                             "videos_with_face": int(np.sum(~np.isnan(on_faces))),
                             "pooled_f1": pooled.mean_f1, "pooled_auc": pooled.mean_auc,
                             "flips_per_100": 100 * flipped / max(pairs, 1),
                             "label_flips_per_100": 100 * true_flips / max(pairs, 1),
                             "videos": len(items), "frames": int(sum(len(y) for _, _, y in items)),
                             "frames_without_face": missing,
                             "per_video": [None if np.isnan(v) else round(v, 6) for v in per_video]}
            rows.append(row)
    val_rows = [r for r in rows if "val" in r]
    key = lambda r: (round(r["val"]["per_video_f1"], 6), -r["window"])  # noqa: E731
    best = max(val_rows, key=key)
    chosen = {"kind": best["kind"], "window": best["window"],
              "rule": "largest validation per-video F1 (ties: the smaller N)"}
    smoothing = [r for r in val_rows if r["window"] > 1]
    base = next(r for r in rows if r["window"] == 1)
    if smoothing and "test" in base:  # the best smoothing on validation, against none, on the test videos
        top = max(smoothing, key=key)
        diff = np.array(top["test"]["per_video"], dtype=float) - np.array(base["test"]["per_video"], dtype=float)
        diff = diff[~np.isnan(diff)]
        chosen["best_smoothing_on_val"] = {
            "kind": top["kind"], "window": top["window"],
            "val_gain": top["val"]["per_video_f1"] - base["val"]["per_video_f1"],
            "test_gain": float(diff.mean()), "test_videos_better": int((diff > 0).sum()),
            "test_videos_worse": int((diff < 0).sum()), "test_videos": int(len(diff))}
    return {"machine": machine_info(), "run": str(run), "model": model_facts(run), "data": str(data), "subjects": parts,
            "tasks": tasks or "all", "aus": aus, "fps_of_videos": FPS, "predict": {"largest_face": True,
            "landmarks": "dlib", "track": True}, "predict_seconds": round(predict_seconds, 1),
            "torch_threads": torch.get_num_threads(),
            "seconds": round(time.perf_counter() - t0, 1), "rows": rows,
            "chosen": chosen}


def markdown(doc: dict) -> str:
    parts = [p for p in ("val", "test") if p in doc["rows"][0]]
    names = {"val": "Validation subjects (N is chosen here)", "test": "Test subjects (reported only)"}
    model = doc["model"]
    c = doc["chosen"]
    lines = ["# Smoothing AU probabilities over time (`predict --smooth N`) on SynthAU-BP4D", "",
             f"`python -m benchmarks.bench_smoothing --run {doc['run']} --data {doc['data']}`. Model: "
             f"`{doc['run']}`, {model['layer']} trained on fold {model['fold']} (seed {model['seed']}, epochs "
             f"{model['epochs'][0]},{model['epochs'][1]}, `train.select={model['select']}`: epoch {model['selected_epoch']}; "
             f"on the store's own faces, cut with the dataset's landmarks, its test F1 is "
             f"{100 * model['store_test_f1']:.1f}, AUC {100 * model['store_test_auc']:.1f}; trained at git "
             f"{model.get('git')}, config digest {str(model.get('config_digest'))[:12]}). Each task video of the fold's validation subjects "
             f"({', '.join(doc['subjects']['val'])}) and test subjects ({', '.join(doc['subjects'].get('test', []))}) "
             f"(tasks: {'all' if doc['tasks'] == 'all' else ', '.join(doc['tasks'])}), written as an MJPG video, "
             f"goes through `predict` once (dlib, tracking, `--largest-face`); its raw probabilities are then "
             f"smoothed along the track as `predict --smooth N` does and scored at threshold 0.5.", "",
             "- *per-video F1*: in each video the mean F1 of the AUs that occur in it, averaged over the videos; "
             "a frame without a scored face counts as no AU present;",
             f"- *… frames with a face*: the same on the frames where a face was scored (videos with at least "
             f"{MIN_SCORED} such frames);",
             "- *pooled F1 / AUC*: per AU over all frames of the part, averaged over the AUs;",
             "- *flips / 100*: changes of an AU's present/absent decision between consecutive frames with a face, "
             "per 100 frame pairs and AUs (the labels' own rate beside it).", ""]
    for part in parts:
        r0 = doc["rows"][0][part]
        lines += [f"## {names[part]}: {r0['videos']} videos, {r0['frames']} frames, {r0['frames_without_face']} "
                  f"without a scored face", "",
                  "| smoother | N | per-video F1 | per-video F1, frames with a face | pooled F1 | pooled AUC | "
                  "flips / 100 (labels) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for r in doc["rows"]:
            x = r[part]
            mark = " **(chosen)**" if (r["kind"], r["window"]) == (c["kind"], c["window"]) else ""
            lines.append(f"| {r['kind']}{mark} | {r['window']} | {100 * x['per_video_f1']:.2f} | "
                         f"{100 * x['per_video_f1_frames_with_face']:.2f} | {100 * x['pooled_f1']:.2f} | "
                         f"{100 * x['pooled_auc']:.2f} | {x['flips_per_100']:.2f} ({x['label_flips_per_100']:.2f}) |")
        lines.append("")
    lines.append(f"Chosen on the validation subjects: **{c['kind']}, N = {c['window']}** ({c['rule']}).")
    if "best_smoothing_on_val" in c:
        b = c["best_smoothing_on_val"]
        lines.append(f"The best smoothing on validation, {b['kind']} N = {b['window']}, changes the validation "
                     f"per-video F1 by {100 * b['val_gain']:+.2f} points and the test per-video F1 by "
                     f"{100 * b['test_gain']:+.2f} points on average (better in {b['test_videos_better']}, worse in "
                     f"{b['test_videos_worse']} of {b['test_videos']} test videos).")
    frames = sum(doc["rows"][0][p]["frames"] for p in parts)
    lines += ["", f"`predict` took {doc['predict_seconds']} s for the {frames} frames (one call per video, loading "
              f"included: {frames / max(doc['predict_seconds'], 1e-9):.1f} frames/s), torch on {doc['torch_threads']} "
              f"thread(s); "
              f"{doc['seconds']} s in all (a rerun reads the predictions cached under its work folder). Machine: {doc['machine']['cpu']}, {doc['machine']['cores']} cores; "
              f"git {doc['machine']['git']}; {doc['machine']['date']}.", ""]
    return "\n".join(lines)


def quick(out: Path) -> dict:
    """A tiny SynthAU (2 subjects, 6 frames a video, task T1) and a tiny model: the whole path in seconds."""
    from click.testing import CliRunner

    from augcn_pyg.cli import main as cli
    from benchmarks.fixtures import train_tiny_run

    out.mkdir(parents=True, exist_ok=True)
    data = out / "synth"
    result = CliRunner().invoke(cli, ["synth", "-o", str(data), "--subjects", "2", "--frames-per-video", "6", "-q"])
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    run = out / "tiny" / "run"
    if not finished(run):
        run = train_tiny_run(out / "tiny")
    subjects = sorted(p.name for p in (data / "Sequences").iterdir())
    doc = measure(run, data, out / "work", {"val": subjects[:1], "test": subjects[1:]}, windows=(1, 3),
                  tasks=["T1"], log=lambda *_: None)
    write_json(out / "smoothing.json", doc)
    write_text(out / "smoothing.md", markdown(doc))
    return doc


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, help="a run trained on fold 1 of the SynthAU-BP4D store")
    ap.add_argument("--data", type=Path, default=Path("/work/data/synth_bp4d"), help="the SynthAU-BP4D dataset")
    ap.add_argument("--work", type=Path, default=None, help="videos and cached predictions (default: RUN-smoothing)")
    ap.add_argument("--windows", default=",".join(map(str, WINDOWS)), help="the N to measure")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where smoothing.json and .md go")
    ap.add_argument("--quick", action="store_true", help="a tiny SynthAU and a tiny model (the tests' form)")
    args = ap.parse_args(argv)
    if args.quick:
        doc = quick(args.out)
    else:
        if args.run is None:
            ap.error("--run is required (or --quick)")
        torch.set_num_threads(1)
        work = args.work or args.run.with_name(args.run.name + "-smoothing")
        doc = measure(args.run, args.data, work, run_splits_of(args.run),
                      windows=tuple(int(w) for w in args.windows.split(",")))
        args.out.mkdir(parents=True, exist_ok=True)
        write_json(args.out / "smoothing.json", doc)
        write_text(args.out / "smoothing.md", markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
