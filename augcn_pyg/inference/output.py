"""Streaming output of ``predict``: rows appended and flushed per batch, and resume after a kill.

Formats (:data:`OUTPUT_FORMATS`): ``csv``, one row per frame and face with OpenFace 2's column names
(``frame, face_id, timestamp, confidence, success, [pose_Rx, pose_Ry, pose_Rz, x_0..x_67, y_0..y_67,] [AU01_r ..,]
AU01_p .., AU01_c .., note``, the bracketed ones with landmarks and with a model that has an intensity head
(``AUxx_r``: intensity on 0–5, as OpenFace 2's);
a frame without a face is one row with ``success = 0`` and empty AU cells; ``note`` is empty except for an
image file that could not be read, where it says why), and ``json``, JSON Lines: one object per frame
with its list of faces (and a ``"note"`` for an unreadable image). ``confidence`` is the landmark
backend's face confidence in [0, 1] (:attr:`augcn_pyg.landmarks.Face.confidence`).

Each batch's text goes to the file in one ``write`` and is fsync'ed; only then is the progress file
``.<name>.progress.json`` beside it replaced (atomically), recording the frames done and the file's byte
length. A run killed at any moment leaves the rows of every finished batch; ``resume`` cuts the file back
to the recorded length (dropping a batch that was being written) and carries on after the recorded
frames. The progress file is removed when the input's last frame is written: a file without one is complete.
"""
from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.io import write_json_atomic
from augcn_pyg.core.registry import Registry

#: Test hook: "K" kills this process (SIGKILL) right after batch K's progress record, "K:before" after batch
#: K's rows are written but before its record. Used by tests/test_predict.py to prove resume after a kill.
KILL_HOOK = "AUGCN_PYG_PREDICT_KILL_AFTER_BATCH"

LANDMARK_COLUMNS = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
#: head pose in radians, OpenFace 2's names and convention (:mod:`augcn_pyg.face.pose`), written with the landmarks
POSE_COLUMNS = ["pose_Rx", "pose_Ry", "pose_Rz"]
#: what the rows hold, in every resume fingerprint (an output started by another version is not continued).
#: 2: the ``note`` column / field, ``confidence`` in [0, 1] for every backend. 3: head pose with the landmarks,
#: ``--smooth``.
OUTPUT_VERSION = 3


def au_columns(aus) -> tuple[list[str], list[str]]:
    """OpenFace 2's names: ``AU01_p`` (probability; OpenFace's own ``_r`` is an intensity) and ``AU01_c``."""
    return [f"AU{a:02d}_p" for a in aus], [f"AU{a:02d}_c" for a in aus]


def intensity_columns(aus) -> list[str]:
    """OpenFace 2's intensity columns ``AU01_r`` ..: 0 (absent) to 5 (maximum), written when the model has an
    intensity head (``model.task`` intensity or both)."""
    return [f"AU{a:02d}_r" for a in aus]


class CSVFormat:
    """OpenFace-style CSV, one row per frame and face."""

    name = "csv"

    def __init__(self, aus, landmarks: bool, threshold: float, intensity: bool = False):
        self.aus, self.landmarks, self.threshold = tuple(aus), landmarks, threshold
        self.p_cols, self.c_cols = au_columns(self.aus)
        self.r_cols = intensity_columns(self.aus) if intensity else []
        self.columns = ["frame", "face_id", "timestamp", "confidence", "success",
                        *(POSE_COLUMNS + LANDMARK_COLUMNS if landmarks else []), *self.r_cols, *self.p_cols,
                        *self.c_cols, "note"]

    def header(self) -> str:
        return ",".join(self.columns) + "\n"

    def encode(self, frames) -> str:
        import pandas as pd

        rows = [(f, face) for f in frames for face in (f.faces or [None])]
        n, c = len(rows), len(self.aus)
        probs = np.full((n, c), np.nan, dtype=np.float64)
        points = np.full((n, 136), np.nan, dtype=np.float64)
        pose = np.full((n, 3), np.nan, dtype=np.float64)
        inten = np.full((n, c), np.nan, dtype=np.float64)
        for i, (_, face) in enumerate(rows):
            if face is not None and face.probabilities is not None:
                probs[i] = face.probabilities
            if face is not None and face.probabilities is not None and getattr(face, "intensity", None) is not None:
                inten[i] = face.intensity
            if face is not None and face.landmarks is not None:
                points[i] = np.concatenate([face.landmarks[:, 0], face.landmarks[:, 1]])
            if face is not None and getattr(face, "pose", None) is not None:
                pose[i] = face.pose
        table = {
            "frame": [f.number for f, _ in rows],
            "face_id": [face.face_id if face else 0 for _, face in rows],
            "timestamp": [f.timestamp for f, _ in rows],
            "confidence": [face.confidence if face else 0.0 for _, face in rows],
            "success": [int(bool(face and face.probabilities is not None)) for _, face in rows],
        }
        df = pd.DataFrame(table)
        df["timestamp"] = df["timestamp"].astype("float64").round(3)  # ms, as OpenFace writes it
        df["confidence"] = df["confidence"].round(4)
        extra = {}
        if self.landmarks:
            extra.update({name: np.round(pose[:, k], 4) for k, name in enumerate(POSE_COLUMNS)})
            extra.update({name: np.round(points[:, k], 2) for k, name in enumerate(LANDMARK_COLUMNS)})
        extra.update({name: np.round(inten[:, k], 4) for k, name in enumerate(self.r_cols)})  # 0–5
        extra.update({name: np.round(probs[:, k], 4) for k, name in enumerate(self.p_cols)})
        present = pd.DataFrame((probs >= self.threshold).astype(np.int64), columns=self.c_cols).astype("Int64")
        present[np.isnan(probs)] = pd.NA  # empty cells where the face gave no probabilities
        notes = pd.DataFrame({"note": [f.note or "" for f, _ in rows]})
        df = pd.concat([df, pd.DataFrame(extra), present, notes], axis=1)
        buf = io.StringIO()
        df.to_csv(buf, header=False, index=False, na_rep="", lineterminator="\n")
        return buf.getvalue()


class JSONLinesFormat:
    """JSON Lines: one object per frame, ``{"frame", "timestamp", "file", "faces": [...]}``, and ``"note"``
    (why) for an image file that could not be read. With landmarks a face also has ``"landmarks"`` (68 x, y)
    and ``"pose"`` ([pose_Rx, pose_Ry, pose_Rz] in radians)."""

    name = "json"

    def __init__(self, aus, landmarks: bool, threshold: float, intensity: bool = False):
        self.aus, self.landmarks, self.threshold = tuple(aus), landmarks, threshold
        self.intensity = intensity
        self.names = [f"AU{a:02d}" for a in self.aus]

    def header(self) -> str:
        return ""

    def _face(self, face) -> dict:
        out = {"face_id": face.face_id, "confidence": round(face.confidence, 4),
               "success": int(face.probabilities is not None), "box": [round(float(v), 1) for v in face.box]}
        if face.probabilities is not None:
            out["probability"] = {n: round(float(p), 4) for n, p in zip(self.names, face.probabilities)}
            out["present"] = {n: int(p >= self.threshold) for n, p in zip(self.names, face.probabilities)}
            if self.intensity and getattr(face, "intensity", None) is not None:  # 0–5, OpenFace's AUxx_r scale
                out["intensity"] = {n: round(float(v), 4) for n, v in zip(self.names, face.intensity)}
        if self.landmarks and face.landmarks is not None:
            out["landmarks"] = np.round(face.landmarks.astype(np.float64), 2).tolist()
        if self.landmarks and getattr(face, "pose", None) is not None:
            out["pose"] = [round(float(v), 4) for v in face.pose]  # pose_Rx, pose_Ry, pose_Rz (radians)
        return out

    def encode(self, frames) -> str:
        lines = []
        for f in frames:
            obj = {"frame": f.number, "timestamp": f.timestamp, "file": f.name,
                   "faces": [self._face(face) for face in f.faces]}
            if f.note:
                obj["note"] = f.note
            lines.append(json.dumps(obj, allow_nan=False))
        return "".join(line + "\n" for line in lines)


#: --format name -> output format class ``(aus, landmarks, threshold)``
OUTPUT_FORMATS: Registry[type] = Registry("output format")
OUTPUT_FORMATS.register("csv", CSVFormat)
OUTPUT_FORMATS.register("json", JSONLinesFormat)


def _kill_hook(batch: int, moment: str) -> None:
    spec = os.environ.get(KILL_HOOK)
    if spec:
        k, _, when = spec.partition(":")
        if int(k) == batch and (when or "after") == moment:
            os.kill(os.getpid(), signal.SIGKILL)


def progress_path(out: Path) -> Path:
    return out.parent / f".{out.name}.progress.json"


class StreamWriter:
    """Appends batches to ``out``; see the module docstring for the resume contract.

    ``fingerprint``: what must be equal for a resume to carry on (input, model, options).
    """

    def __init__(self, out: str | Path, fmt, fingerprint: dict, resume: bool = False, overwrite: bool = False):
        self.out, self.fmt, self.fingerprint = Path(out), fmt, fingerprint
        self.progress = progress_path(self.out)
        if not self.out.parent.is_dir():
            raise InputError(f"the output's folder does not exist: {self.out.parent}")
        if self.out.is_dir():
            raise InputError(f"the output is a folder, not a file: {self.out}")
        self.frames_done = 0
        self.batches = 0  # written by this writer
        self.state = None  # what the pipeline recorded with the last batch (the tracker's tracks)
        self._fd = None
        if resume and self.progress.exists():
            self._open_resume()
        elif self.out.exists() and not overwrite:
            hint = "it is complete" if not self.progress.exists() else "an unfinished run wrote it: use --resume"
            raise InputError(f"{self.out} exists ({hint}); pass --overwrite to write it again")

    def _open_resume(self) -> None:
        try:
            record = json.loads(self.progress.read_text())
        except (OSError, ValueError):
            raise InputError(f"{self.progress} is unreadable; pass --overwrite to start again") from None
        if record.get("fingerprint") != self.fingerprint:
            changed = sorted(k for k in self.fingerprint if record.get("fingerprint", {}).get(k) != self.fingerprint[k])
            raise InputError(f"{self.out} was started with another input, model or options (differs in "
                             f"{', '.join(changed)}); pass --overwrite to start again")
        if not self.out.is_file() or self.out.stat().st_size < int(record["bytes"]):
            raise InputError(f"{self.out} is shorter than its progress file records; pass --overwrite")
        self._fd = os.open(self.out, os.O_WRONLY)
        os.ftruncate(self._fd, int(record["bytes"]))  # drop a batch that was being written when killed
        os.lseek(self._fd, 0, os.SEEK_END)
        self.frames_done = int(record["frames"])
        self.state = record.get("state")

    def _write(self, text: str) -> None:
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:  # one write call in practice; the loop covers a short write
            view = view[os.write(self._fd, view):]
        os.fsync(self._fd)

    def write(self, frames, state: dict | None = None) -> None:
        """Append one batch of frames and record it as done, with ``state`` to restore on resume."""
        if self._fd is None:
            self._fd = os.open(self.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            self._write(self.fmt.header())
        if frames:
            self._write(self.fmt.encode(frames))
        self.batches += 1
        _kill_hook(self.batches, "before")
        self.frames_done += len(frames)
        write_json_atomic(self.progress, {"fingerprint": self.fingerprint, "frames": self.frames_done,
                                          "bytes": os.fstat(self._fd).st_size, "state": state}, indent=None)
        _kill_hook(self.batches, "after")

    def finish(self) -> None:
        """The input's last frame is written: the file is complete."""
        if self._fd is None:
            self.write([])
        self.close()
        self.progress.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
