"""Smoothing of each face's AU probabilities over time, causal and resumable (``predict --smooth N``).

A face's probabilities flicker from frame to frame; averaging them along the face's track over the last
``N`` frames (``mean``, the default of ``predict``) or exponentially with an ``N``-frame horizon (``ema``:
``s_t = a p_t + (1 - a) s_{t-1}``, ``a = 2 / (N + 1)``, the same mean age ``(N - 1) / 2`` frames as the
``N``-frame mean) steadies them. Only past frames are used, so a frame's smoothed value is known as soon
as the frame is scored: streaming output and ``--resume`` work as without smoothing. ``N = 1`` is off.

**Tracks.** A face continues a face of the previous frame when

- the tracker followed it (:class:`~augcn_pyg.landmarks.tracking.FaceTracker` found every face of the
  previous frame again in its window: face ``i`` is then the previous frame's face ``i``), or else
- its box overlaps a previous face's box with intersection over union >= :data:`LINK_IOU` (matched one to
  one, the largest overlaps first): a whole-frame detection (a lost track, ``--redetect-every``, or no
  tracking) re-finds the faces it had, in any order.

Anything else starts a new track with an empty history: a face that is new or was lost (not found in the
frame before: a frame without it breaks its track), and a face whose probabilities could not be computed
(its row has ``success = 0``; the next frame starts again).

**State.** :meth:`TrackSmoother.state` is the previous frame's faces (box, and the raw probabilities of
the last ``N - 1`` frames of each track, or the running ``ema`` value) as JSON numbers that read back to
the same floats; ``predict`` records it with every batch, so a resumed run smooths exactly as an
uninterrupted one.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from augcn_pyg.core.errors import InputError

#: a whole-frame detection's face continues a previous face's track at or above this box overlap (IoU)
LINK_IOU = 0.5
#: smoother kinds: ``mean`` of the last N raw probabilities, ``ema`` with an N-frame horizon
KINDS = ("mean", "ema")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) intersection over union of boxes ``a`` (A, 4) and ``b`` (B, 4), both x0, y0, x1, y1."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])  # (A, B, 2)
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def link_faces(previous: np.ndarray, current: np.ndarray, followed: bool) -> list[int | None]:
    """For each current box, the index of the previous frame's face it continues, or None (a new track).

    ``previous`` (P, 4), ``current`` (F, 4) boxes; ``followed``: the tracker followed every previous face
    into this frame, in order (then face ``i`` continues face ``i``)."""
    previous = np.asarray(previous, dtype=np.float64).reshape(-1, 4)
    current = np.asarray(current, dtype=np.float64).reshape(-1, 4)
    if followed and len(previous) == len(current):
        return list(range(len(current)))
    links: list[int | None] = [None] * len(current)
    if not len(previous) or not len(current):
        return links
    iou = box_iou(current, previous)  # (F, P)
    taken_prev: set[int] = set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):  # largest overlap first, one to one
        i, j = divmod(int(flat), len(previous))
        if iou[i, j] < LINK_IOU:
            break
        if links[i] is None and j not in taken_prev:
            links[i] = j
            taken_prev.add(j)
    return links


class TrackSmoother:
    """Causal smoothing of face probabilities along tracks (see the module docstring).

    :meth:`step` takes one frame's faces in frame order: objects with ``box`` (4,), ``raw`` (C,) float
    array or None (the model's probabilities) and ``probabilities``, which it sets to the smoothed values
    (None when ``raw`` is None)."""

    def __init__(self, window: int, kind: str = "mean"):
        if int(window) < 1:
            raise InputError(f"the smoothing window must be >= 1 frame, got {window}")
        if kind not in KINDS:
            raise InputError(f"unknown smoother {kind!r}; choose from {', '.join(KINDS)}")
        self.window, self.kind = int(window), kind
        self.alpha = 2.0 / (self.window + 1)
        # the previous frame's faces: (box (4,) float64, memory) where memory is, for "mean", the raw
        # probabilities of up to window - 1 last frames of its track (list of (C,) float32), for "ema" the
        # running value ((C,) float64), and None for a face without probabilities
        self._prev: list[tuple[np.ndarray, object]] = []

    def step(self, faces: Sequence, followed: bool = False) -> None:
        """Smooth one frame's ``faces`` in place; ``followed``: the tracker followed the previous frame's faces."""
        boxes = np.array([np.asarray(f.box, dtype=np.float64) for f in faces]).reshape(-1, 4)
        links = link_faces(np.array([b for b, _ in self._prev]).reshape(-1, 4), boxes, followed)
        current = []
        for face, box, link in zip(faces, boxes, links):
            memory = self._prev[link][1] if link is not None else None
            if face.raw is None:  # not scored: its track ends here
                face.probabilities = None
                current.append((box, None))
                continue
            raw = np.asarray(face.raw, dtype=np.float32)
            if self.kind == "mean":
                history = [*(memory or []), raw]
                face.probabilities = np.mean(np.stack(history).astype(np.float64), axis=0).astype(np.float32)
                current.append((box, history[len(history) - (self.window - 1):] if self.window > 1 else []))
            else:
                value = raw.astype(np.float64) if memory is None else (
                    self.alpha * raw.astype(np.float64) + (1 - self.alpha) * memory)
                face.probabilities = value.astype(np.float32)
                current.append((box, value))
        self._prev = current

    def state(self) -> dict:
        """JSON-ready state (floats written as Python floats: they read back exactly)."""
        faces = []
        for box, memory in self._prev:
            if memory is None:
                kept = None
            elif self.kind == "mean":
                kept = [[float(v) for v in p] for p in memory]
            else:
                kept = [float(v) for v in memory]
            faces.append({"box": [float(v) for v in box], "memory": kept})
        return {"window": self.window, "kind": self.kind, "faces": faces}

    def restore(self, state: dict | None) -> None:
        """Carry on from :meth:`state` (None: from the start)."""
        self._prev = []
        if not state:
            return
        for face in state["faces"]:
            box, kept = np.asarray(face["box"], dtype=np.float64), face["memory"]
            if kept is None:
                memory = None
            elif self.kind == "mean":
                memory = [np.asarray(p, dtype=np.float32) for p in kept]
            else:
                memory = np.asarray(kept, dtype=np.float64)
            self._prev.append((box, memory))


def smooth_frames(frames: Sequence, window: int, kind: str = "mean") -> None:
    """Smooth a whole sequence of frames (objects with ``faces`` and ``followed``) in place, from the start."""
    smoother = TrackSmoother(window, kind)
    for frame in frames:
        smoother.step(frame.faces, getattr(frame, "followed", False))
