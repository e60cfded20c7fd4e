"""Reading time of the label readers at dataset scale.

Writes a BP4D-sized ``AU_OCC`` folder (328 ``{Subject}_{Task}.csv`` files, ~146k rows; every file carries
a frame column and AU columns 1-99 as the real files do, uncoded AUs as 9) and a DISFA-sized
``ActionUnit_Labels`` folder (27 subjects x 4845 frames x 12 AU files, ~131k rows), then times
``read_labels`` on each (best of ``--repeats`` after one warm-up read).

    PYTHONPATH=. python benchmarks/label_readers.py [--work DIR] [--repeats 3]

Results: ``benchmarks/results/label_readers.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import RESULTS, machine_info  # noqa: E402

from augcn_pyg.data.folds import FOLDS  # noqa: E402
from augcn_pyg.data.labels import read_labels  # noqa: E402

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


def best_of(fn, repeats: int) -> tuple[float, object]:
    result = fn()  # warm-up (file cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="folder for the generated files (default: a temp dir)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
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
    cases = [
        {"case": "bp4d AU_OCC", "files": 328, "rows": n_bp4d, "columns_per_file": 100, "bytes": size_b,
         "seconds": round(t_bp4d, 3), "rows_per_s": round(n_bp4d / t_bp4d)},
        {"case": "disfa ActionUnit_Labels", "files": 27 * 12, "rows": n_disfa, "columns_per_file": 2,
         "seconds": round(t_disfa, 3), "rows_per_s": round(n_disfa / t_disfa)},
    ]
    RESULTS.mkdir(exist_ok=True)
    out = {"benchmark": "label_readers", "repeats": args.repeats, "cases": cases, "machine": machine_info()}
    (RESULTS / "label_readers.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = ["# Label readers at dataset scale", "",
             f"`PYTHONPATH=. python benchmarks/label_readers.py` (best of {args.repeats} after a warm-up; "
             f"{out['machine'].get('cpu', '?')}).", "",
             "| case | files | rows | seconds | rows/s |", "|---|---|---|---|---|"]
    lines += [f"| {c['case']} | {c['files']} | {c['rows']:,} | {c['seconds']:.2f} | {c['rows_per_s']:,} |" for c in cases]
    (RESULTS / "label_readers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
