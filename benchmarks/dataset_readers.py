"""Reading time of the label readers and dataset readers at dataset scale.

Writes a BP4D-sized ``AU_OCC`` folder (328 ``{Subject}_{Task}.csv`` files, ~146k rows; every file carries
a frame column and AU columns 1-99 as the real files do, uncoded AUs as 9) and a DISFA-sized
``ActionUnit_Labels`` folder (27 subjects x 4845 frames x 12 AU files, ~131k rows), then times
``read_labels`` on each (best of ``--repeats`` after one warm-up read). With ``--datasets`` it also
creates one (empty) image file per labelled frame and, for DISFA, one 66-point ``.mat`` per frame, and
times ``read_dataset`` (which lists folders and pairs frames with images; it decodes nothing, but it
loads every DISFA landmark file).

``--csv`` times the plain-CSV reader instead: it writes one CSV of ``--csv-rows`` (1,000,000) frames x 12
BP4D AUs (a frame column, 0/1 with 1% 9 = unknown) to disk, times ``read_labels`` on it, and times the
whole command ``augcn-pyg build-graph --labels big.csv`` (a fresh process each run, median of
``--runs``) against ``build-graph`` without labels (the start-up and the rest, without the CSV). These
cases replace their own rows in the results and keep the others.

    PYTHONPATH=. python benchmarks/dataset_readers.py [--work DIR] [--repeats 3] [--datasets]
    PYTHONPATH=. python benchmarks/dataset_readers.py --csv [--csv-rows 1000000] [--runs 5]

Results: ``benchmarks/results/dataset_readers.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from augcn_pyg.data.folds import FOLDS
from augcn_pyg.data.labels import read_labels
from augcn_pyg.data.readers import read_dataset
from benchmarks.common import RESULTS, machine_info

BP4D_CODED = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
DISFA_FILE_AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)


def write_bp4d(root: Path, rows: int, rng: np.random.Generator) -> int:
    subjects = [s for part in FOLDS["bp4d"] for s in part]  # 41
    files = [(s, f"T{t}") for s in subjects for t in range(1, 9)]  # 328
    per_file = rows // len(files)
    header = "0," + ",".join(str(a) for a in range(1, 100))
    n = 0
    for subject, task in files:
        frames = np.arange(per_file) + rng.integers(1, 3000)
        values = np.full((per_file, 99), 9, dtype=np.int64)
        for au in BP4D_CODED:
            values[:, au - 1] = rng.random(per_file) < 0.3
        values[rng.random(values.shape) < 0.01] = 9
        table = np.column_stack([frames, values])
        np.savetxt(root / f"{subject}_{task}.csv", table, fmt="%d", delimiter=",", header=header, comments="")
        n += per_file
    return n


def write_disfa(root: Path, frames: int, rng: np.random.Generator) -> int:
    subjects = [s for part in FOLDS["disfa"] for s in part]  # 27
    for sn in subjects:
        (root / sn).mkdir(parents=True)
        idx = np.arange(1, frames + 1)
        for au in DISFA_FILE_AUS:
            inten = rng.integers(0, 6, frames)
            np.savetxt(root / sn / f"{sn}_au{au}.txt", np.column_stack([idx, inten]), fmt="%d", delimiter=",")
    return frames * len(subjects)


def time_datasets(tmp: Path, ls_b, ls_d, repeats: int) -> list[dict]:
    """read_dataset on BP4D (Sequences of empty .jpg files) and DISFA (Images + Landmark_Points .mat)."""
    from scipy.io import savemat

    bp4d = tmp / "BP4D"
    (bp4d / "AUCoding").mkdir(parents=True)
    (tmp / "AU_OCC").rename(bp4d / "AUCoding" / "AU_OCC")
    for s, v, f in zip(ls_b.subject, ls_b.video, ls_b.frame):
        d = bp4d / "Sequences" / s / v
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{f}.jpg").touch()
    disfa = tmp / "DISFA"
    disfa.mkdir()
    (tmp / "ActionUnit_Labels").rename(disfa / "ActionUnit_Labels")
    pts = np.random.default_rng(1).random((66, 2)) * 500
    for s, f in zip(ls_d.subject, ls_d.frame):
        d = disfa / "Images" / s
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{f}.jpg").touch()
        lm = disfa / "Landmark_Points" / s / "tmp_frame_lm"
        lm.mkdir(parents=True, exist_ok=True)
        savemat(str(lm / f"l0{f:04d}_lm.mat"), {"pts": pts})
    t_b, fr_b = best_of(lambda: read_dataset("bp4d", bp4d, "bp4d"), repeats)
    t_dn, fr_dn = best_of(lambda: read_dataset("disfa", disfa, "disfa", landmarks=False), repeats)
    t_dl, fr_dl = best_of(lambda: read_dataset("disfa", disfa, "disfa"), 1)
    assert len(fr_b) == len(ls_b) and len(fr_dl) == len(ls_d) and fr_dl[0].landmarks.shape == (68, 2)
    return [
        {"case": "read_dataset bp4d (image files)", "files": len(fr_b), "rows": len(fr_b),
         "seconds": round(t_b, 3), "rows_per_s": round(len(fr_b) / t_b)},
        {"case": "read_dataset disfa (image files, landmarks off)", "files": len(fr_dn), "rows": len(fr_dn),
         "seconds": round(t_dn, 3), "rows_per_s": round(len(fr_dn) / t_dn)},
        {"case": "read_dataset disfa (image files + .mat landmarks)", "files": 2 * len(fr_dl), "rows": len(fr_dl),
         "seconds": round(t_dl, 3), "rows_per_s": round(len(fr_dl) / t_dl)},
    ]


def best_of(fn, repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up (file cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def write_plain_csv(path: Path, rows: int, rng: np.random.Generator) -> int:
    values = (rng.random((rows, len(BP4D_CODED))) < 0.3).astype(np.int64)
    values[rng.random(values.shape) < 0.01] = 9
    header = "frame," + ",".join(f"AU{a}" for a in BP4D_CODED)
    np.savetxt(path, np.column_stack([np.arange(1, rows + 1), values]), fmt="%d", delimiter=",", header=header,
               comments="")
    return rows


def median_wall(cmd: list[str], runs: int) -> float:
    """Median wall seconds of ``cmd`` as a fresh process (one warm-up run first, not counted)."""
    import subprocess

    times = []
    for k in range(runs + 1):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if k:
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def csv_cases(tmp: Path, rows: int, repeats: int, runs: int) -> list[dict]:
    big = tmp / "big.csv"
    write_plain_csv(big, rows, np.random.default_rng(0))
    t_read, ls = best_of(lambda: read_labels(big, "bp4d"), repeats)
    assert ls.labels.shape == (rows, len(BP4D_CODED))
    cli = [sys.executable, "-m", "augcn_pyg", "build-graph", "--protocol", "bp4d", "-o", str(tmp / "g.json")]
    t_cmd = median_wall(cli + ["--labels", str(big)], runs)
    t_base = median_wall(cli, runs)  # start-up, Table 1 graph, report, file: everything but the labels
    stamp = {"measured": machine_info()["date"], "git": machine_info()["git"],
             "load_average_1min": round(os.getloadavg()[0], 2)}
    return [
        {"case": "plain CSV read_labels (1 file, frame + 12 AUs)", "files": 1, "rows": rows,
         "bytes": big.stat().st_size, "seconds": round(t_read, 3), "rows_per_s": round(rows / t_read), **stamp},
        {"case": "build-graph --labels big.csv, whole command beyond start-up", "files": 1, "rows": rows,
         "seconds": round(t_cmd - t_base, 3), "rows_per_s": round(rows / (t_cmd - t_base)),
         "command_median_s": round(t_cmd, 3), "without_labels_median_s": round(t_base, 3), "runs": runs, **stamp},
    ]


def write_results(cases: list[dict], repeats: int, keep_others: bool) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "dataset_readers.json"
    if keep_others and path.is_file():  # replace only the cases measured now
        old = json.loads(path.read_text())
        names = {c["case"] for c in cases}
        out = old | {"cases": [c for c in old["cases"] if c["case"] not in names] + cases}
    else:
        out = {"benchmark": "dataset_readers", "repeats": repeats, "cases": cases, "machine": machine_info(),
               "load_average_1min_at_end": os.getloadavg()[0]}
    path.write_text(json.dumps(out, indent=2) + "\n")
    lines = ["# Label and dataset readers at dataset scale", "",
             f"`PYTHONPATH=. python benchmarks/dataset_readers.py [--datasets]` (best of {out['repeats']} after "
             f"a warm-up; {out['machine'].get('cpu', '?')}, git {out['machine'].get('git')}, load average "
             f"{out['load_average_1min_at_end']}).", "",
             "| case | files | rows | seconds | rows/s |", "|---|---|---|---|---|"]
    lines += [f"| {c['case']} | {c['files']} | {c['rows']:,} | {c['seconds']:.2f} | {c['rows_per_s']:,} |"
              for c in out["cases"]]
    later = [c for c in out["cases"] if "measured" in c]
    if later:
        lines += ["", "Measured later with `--csv` (`PYTHONPATH=. python benchmarks/dataset_readers.py --csv`), "
                  "on the same kind of machine:", ""]
        for c in later:
            extra = (f"; the command {c['command_median_s']:.2f} s, without labels {c['without_labels_median_s']:.2f} s "
                     f"(medians of {c['runs']} fresh processes)") if "command_median_s" in c else ""
            lines.append(f"- {c['case']}: {c['seconds']:.2f} s ({c['bytes'] / 1e6:.0f} MB; " if "bytes" in c
                         else f"- {c['case']}: {c['seconds']:.2f} s (")
            lines[-1] += f"{c['measured'][:10]}, git {c['git']}, load average {c['load_average_1min']}{extra})"
    (RESULTS / "dataset_readers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="folder for the generated files (default: a temp dir)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--datasets", action="store_true", help="also time read_dataset (writes ~280k small files)")
    ap.add_argument("--csv", action="store_true", help="time the plain-CSV reader and build-graph on one big CSV")
    ap.add_argument("--csv-rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5, help="--csv: fresh processes per command")
    args = ap.parse_args()
    if args.csv:
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            write_results(csv_cases(Path(tmp), args.csv_rows, args.repeats, args.runs), args.repeats, True)
        return
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        tmp = Path(tmp)
        (tmp / "AU_OCC").mkdir()
        n_bp4d = write_bp4d(tmp / "AU_OCC", 146_000, rng)
        n_disfa = write_disfa(tmp / "ActionUnit_Labels", 4845, rng)
        t_bp4d, ls_b = best_of(lambda: read_labels(tmp / "AU_OCC", "bp4d"), args.repeats)
        t_disfa, ls_d = best_of(lambda: read_labels(tmp / "ActionUnit_Labels", "disfa"), args.repeats)
        assert len(ls_b) == n_bp4d and len(ls_d) == n_disfa
        size_b = sum(f.stat().st_size for f in (tmp / "AU_OCC").iterdir())
        dataset_cases = []
        if args.datasets:
            dataset_cases = time_datasets(tmp, ls_b, ls_d, args.repeats)
    cases = [
        {"case": "bp4d AU_OCC", "files": 328, "rows": n_bp4d, "columns_per_file": 100, "bytes": size_b,
         "seconds": round(t_bp4d, 3), "rows_per_s": round(n_bp4d / t_bp4d)},
        {"case": "disfa ActionUnit_Labels", "files": 27 * 12, "rows": n_disfa, "columns_per_file": 2,
         "seconds": round(t_disfa, 3), "rows_per_s": round(n_disfa / t_disfa)},
    ]
    cases += dataset_cases
    write_results(cases, args.repeats, keep_others=False)


if __name__ == "__main__":
    main()
