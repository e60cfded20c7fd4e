"""A run folder: self-describing, so anything that reads a run needs nothing else.

::

    config.yaml           the resolved RunConfig
    run.json              status (running / done), package versions, the git revision that trained it
                          (``-dirty.<digest>`` for uncommitted package changes; ``git_resumed``: other
                          revisions that carried it on), ``config_digest`` (sha256 of the resolved config),
                          the ``train.init`` run's revision and digest, torch threads, device, the store's
                          identity, the splits' subjects and faces, timings
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

import yaml

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
TEST_INTENSITY_TABLE = "test_intensity_per_au.csv"  #: runs with an intensity head: ICC(3,1), MAE, r per AU
EVAL_INTENSITY_TABLE = "evaluation_intensity.csv"
FILES = (RUN_JSON, CONFIG, GRAPH, CHECKPOINT, BEST, MODEL, EPOCHS, CURVES, TEST_METRICS, TEST_TABLE,
         "MODEL_CARD.md", "evaluation.json", "evaluation.csv", TEST_INTENSITY_TABLE, EVAL_INTENSITY_TABLE)
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


PACKAGE_DIR = Path(__file__).resolve().parents[1]  # augcn_pyg/: the code that trains


def _git(*args: str) -> str | None:
    res = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, cwd=PACKAGE_DIR)
    return res.stdout if res.returncode == 0 else None


def code_changes_digest() -> str | None:
    """sha256 (16 hex digits) of the package's uncommitted changes: ``git diff HEAD`` of ``augcn_pyg/`` and
    the contents of its untracked files; None when the package's code is the commit's (or git is missing).

    Only the package counts: an edited README or benchmark script does not change what a run trains (the
    benchmarks' choices reach a run through its config, which ``config_digest`` covers)."""
    try:
        diff = _git("diff", "HEAD", "--", ".")
        untracked = _git("ls-files", "--others", "--exclude-standard", "-z", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return None
    if diff is None or untracked is None:
        return None
    names = sorted(n for n in untracked.split("\0") if n and not n.endswith((".pyc", ".pyo")))
    if not diff and not names:
        return None
    h = hashlib.sha256(diff.encode())
    for name in names:
        h.update(name.encode() + b"\0")
        try:
            h.update((PACKAGE_DIR / name).read_bytes())
        except OSError:
            pass
    return h.hexdigest()[:16]


def git_revision() -> str | None:
    """The revision of the code that runs now: the commit (40 hex digits), and ``-dirty.<digest>`` when the
    package has uncommitted changes (:func:`code_changes_digest`), so two dirty trees with other edits differ.
    None outside a git checkout."""
    try:
        head = _git("rev-parse", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return None
    if head is None:
        return None
    changes = code_changes_digest()
    return head.strip() + (f"-dirty.{changes}" if changes else "")


def config_digest(config: dict) -> str:
    """sha256 of a resolved config (``RunConfig.to_dict()``) as canonical JSON: sorted keys, no spaces.

    ``config.yaml`` read back with ``yaml.safe_load`` gives the same digest (tested), so a run folder's
    digest can be checked against its config file."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def provenance(config: dict) -> dict:
    """What run.json records at the start of training: the code's revision and the config's digest."""
    revision = git_revision()
    return {"git": revision, "git_dirty": bool(revision and "-dirty" in revision),
            "config_digest": config_digest(config)}


def resume_provenance(doc: dict) -> dict:
    """run.json's keys to update when a run resumes: ``git_resumed`` lists each other revision that carried
    the run on, so a run trained partly by other code says so."""
    revision = git_revision()
    seen = [doc.get("git"), *doc.get("git_resumed", [])]
    return {"git_resumed": [*doc.get("git_resumed", [])] + ([revision] if revision not in seen else [])}


def init_provenance(source: str) -> dict | None:
    """The revision and config digest of the run a run was started from (``train.init``), as it was then."""
    path = Path(source)
    doc = read_run_json(path) if path.is_dir() else None
    if doc is None:
        return None
    return {"path": str(path.resolve()), "git": doc.get("git"), "finished": doc.get("finished"),
            "config_digest": doc.get("config_digest") or run_config_digest(path)}


def run_config_digest(run: Path) -> str | None:
    """A run's config digest: the one its run.json recorded, else computed from its config.yaml (older runs)."""
    doc = read_run_json(run) or {}
    if doc.get("config_digest"):
        return doc["config_digest"]
    path = Path(run) / CONFIG
    return config_digest(yaml.safe_load(path.read_text())) if path.exists() else None


def run_revisions(doc: dict) -> list[str]:
    """Every revision that trained a run: the one it started with, then any it was resumed with."""
    return [r for r in [doc.get("git"), *doc.get("git_resumed", [])] if r]


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
