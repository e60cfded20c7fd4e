"""A run folder: self-describing, so anything that reads a run needs nothing else.

::

    config.yaml           the resolved RunConfig
    run.json              status (running / done), package versions, git revision, torch threads, device,
                          the store's identity, the splits' subjects, timings
    graph.json            the relation graph fitted on the training subjects
    checkpoint.safetensors  the last finished epoch: weights, optimizer, scheduler, RNG states, history
    best.safetensors      the best epoch on validation (select: val)
    model.safetensors     the selected weights (last or best), what evaluate, predict and export load
    epochs.csv            one row per epoch: stage, losses, learning rate, validation F1/AUC, seconds
    curves.png            the losses and the validation F1 over the epochs
    test_metrics.json, test_per_au.csv   the test part scored with the selected weights
    MODEL_CARD.md         what the model is, its data, graph, metrics and intended use (model_card.py)

A folder that holds another run is refused unless ``resume`` (carry on) or ``overwrite`` (start again).
"""
from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from augcn_pyg.core.errors import InputError

RUN_JSON = "run.json"
CONFIG = "config.yaml"
GRAPH = "graph.json"
CHECKPOINT = "checkpoint.safetensors"
BEST = "best.safetensors"
MODEL = "model.safetensors"
EPOCHS = "epochs.csv"
CURVES = "curves.png"
TEST_METRICS = "test_metrics.json"
TEST_TABLE = "test_per_au.csv"
FILES = (RUN_JSON, CONFIG, GRAPH, CHECKPOINT, BEST, MODEL, EPOCHS, CURVES, TEST_METRICS, TEST_TABLE,
         "MODEL_CARD.md", "evaluation.json", "evaluation.csv")
FORMAT = "augcn-pyg/run"

PACKAGES = ("augcn-pyg", "torch", "torch-geometric", "numpy", "scikit-learn", "safetensors", "pandas")


def versions() -> dict[str, str | None]:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def git_revision() -> str | None:
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        if res.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5, cwd=Path(__file__).resolve().parent).stdout.strip()
        return res.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def store_identity(store) -> dict:
    """What identifies the store's content: path, protocol, ROI size, faces, and a hash of store.json."""
    meta_file = Path(store.path) / "store.json"
    digest = hashlib.sha256(meta_file.read_bytes()).hexdigest()[:16]
    return {"path": str(Path(store.path).resolve()), "protocol": store.protocol.name, "roi_size": store.roi_size,
            "faces": len(store), "store_json_sha256": digest}


def read_run_json(run: Path) -> dict | None:
    path = run / RUN_JSON
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not readable run metadata ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{path} is not an augcn-pyg run file")
    return doc


def prepare_run_folder(run: Path, resume: bool, overwrite: bool) -> dict | None:
    """Check ``run`` may be written (nothing is created yet); returns its run.json when resuming a run."""
    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other")
    if run.exists() and not run.is_dir():
        raise InputError(f"the run folder {run} exists and is not a folder")
    existing = read_run_json(run) if run.is_dir() else None
    foreign = run.is_dir() and existing is None and any(run.iterdir())
    if foreign:
        raise InputError(f"{run} is a non-empty folder that holds no augcn-pyg run; choose another -o")
    if existing is not None and not resume and not overwrite:
        raise InputError(f"{run} already holds a run ({existing.get('status')}); use --resume to carry on or "
                         f"--overwrite to start again")
    if existing is not None and overwrite:
        for name in FILES:
            (run / name).unlink(missing_ok=True)
        shutil.rmtree(run / "latents", ignore_errors=True)
        existing = None
    return existing


def make_run_folder(run: Path) -> None:
    """Create the folder (once the inputs have been checked, so bad input leaves nothing behind)."""
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot make the run folder {run}: {exc.strerror or exc}") from None
