"""What the benchmark scripts share: the machine facts written beside every result (the machine, the package
versions, the git revision, the load), the layout and locking of the run folders under a shared run root, and
the result writers (CSV, text, JSON, plots, mean ± std)."""
from __future__ import annotations

import csv
import datetime as _dt
import fcntl
import json
import os
import platform
import subprocess
import sys
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

PACKAGES = ("augcn-pyg", "torch", "torch-geometric", "numpy", "scipy", "opencv-python-headless", "pillow",
            "dlib-bin", "insightface", "onnxruntime", "networkx", "matplotlib")

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("results")


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine_info() -> dict:
    """What ran the benchmark: CPU, cores, memory, Python and package versions, git revision, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem_gib = None
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1) if mem_gib else None,
        "python": platform.python_version(),
        "packages": {p: v for p in PACKAGES if (v := _version(p))},
        "git": _git_revision(),
    }


# ---------------------------------------------------------------------------------------------------
# Load: the machine is shared, so every timing records it
# ---------------------------------------------------------------------------------------------------

LOADAVG = Path("/proc/loadavg")


def load_average() -> str:
    """``/proc/loadavg`` as it stands: the 1-, 5- and 15-minute load, running/total tasks, the last pid."""
    return LOADAVG.read_text().strip()


def loadavg() -> float | None:
    """The 1-minute load average (recorded beside every timing: the machine is shared)."""
    try:
        return float(load_average().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------------------------------------------
# Run layout: where the benchmarks keep their run folders under a shared root, and who may train one
# ---------------------------------------------------------------------------------------------------

def run_root(root: Path, fold_seed: int) -> Path:
    """The runs of one fold assignment: the standard folds (``fold_seed`` < 0) or fold seed k's random ones."""
    return Path(root) / ("standard-folds" if fold_seed < 0 else f"fold-seed{fold_seed}")


def stage1_dir(root: Path, fold: int, seed: int, fold_seed: int = -1) -> Path:
    """The run folder of the shared stage-1 model of (fold, seed)."""
    return run_root(root, fold_seed) / "stage1" / f"fold{fold}-seed{seed}"


def layer_dir(root: Path, protocol: str, name: str, fold: int, seed: int, fold_seed: int = -1) -> Path:
    """The run folder of one layer run (``name``: the layer, or a variant's own name) under ``protocol``."""
    return run_root(root, fold_seed) / protocol / name / f"fold{fold}-seed{seed}"


@contextmanager
def locked(run_dir: Path):
    """Hold ``run_dir``'s lock file (beside it) so that two benchmark processes never train one run at once."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(run_dir.parent / f".{run_dir.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_provenance(run_dir: Path) -> dict:
    """The columns every per-run row of a result CSV carries: ``git`` (the revision(s) that trained the run,
    ``;``-joined when a resume used another) and ``config_digest`` (sha256 of its resolved config)."""
    from augcn_pyg.engine import runs

    doc = runs.read_run_json(Path(run_dir)) or {}
    revisions = runs.run_revisions(doc)
    return {"git": ";".join(revisions) if revisions else None, "config_digest": runs.run_config_digest(Path(run_dir))}


def finished(run_dir: Path, *beside: str) -> bool:
    """Whether ``run_dir`` holds a run that finished (status done) and the files named ``beside`` next to it."""
    from augcn_pyg.engine import runs

    doc = runs.read_run_json(run_dir) if run_dir.is_dir() else None
    return doc is not None and doc.get("status") == "done" and all((run_dir / name).exists() for name in beside)


# ---------------------------------------------------------------------------------------------------
# Result writers
# ---------------------------------------------------------------------------------------------------

def write_text(path: Path, text: str) -> Path:
    """``text`` as it is (UTF-8), written atomically: a reader never sees half a result file."""
    from augcn_pyg.core.io import write_text_atomic

    write_text_atomic(path, text)
    return path


def write_json(path: Path, doc, default=None) -> Path:
    """``doc`` as indented JSON and a final newline; ``default`` as ``json.dumps`` takes it."""
    return write_text(path, json.dumps(doc, indent=1, default=default) + "\n")


def write_report(out: Path, name: str, doc, text: str) -> None:
    """A benchmark's result: ``NAME.json`` (the document) and ``NAME.md`` (its text) in ``out``, the text printed."""
    write_json(out / f"{name}.json", doc, default=float)
    write_text(out / f"{name}.md", text)
    print(text)


def run_cli(main, name: str) -> None:
    """A benchmark's ``main()`` as a command: bad input (``InputError``) is one line ``NAME: why``, exit status 2."""
    from augcn_pyg.core.errors import InputError

    try:
        sys.exit(main())
    except InputError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(2)


def write_csv(path: Path, rows: list[dict], fields: list[str] | None = None, float_format: str | None = None) -> Path:
    """Rows (dicts) as a CSV file, floats written with ``float_format`` (%-style, e.g. ``%.4f``) if given.

    With ``fields``: exactly those columns in that order (other keys dropped, missing ones empty). Without:
    every key, in the order first seen (pandas)."""
    if fields is None:
        import pandas as pd

        pd.DataFrame(rows).to_csv(path, index=False, float_format=float_format)
        return path
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (float_format % v if float_format and isinstance(v, float) else v)
                             for k, v in r.items()})
    return path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Lay ``fig`` out tightly, write it to ``path`` and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


def pm(mean, std, scale=100.0, digits=1) -> str:
    """'61.2 ± 1.4': mean ± std, scaled (fractions to percentage points by default)."""
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"
