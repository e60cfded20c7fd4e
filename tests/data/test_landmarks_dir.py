"""``landmarks_dir=``: per-video OpenFace 2 CSVs for the bp4d and disfa readers, and prepare using them.

The data is a tiny SynthAU set: its ``Landmarks/{video}.csv`` files are the ground truth, so the reader
must hand back exactly the numbers in the CSVs (parsed here with numpy, independently of the reader).
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.prepare import SKIPPED_CSV, prepare
from augcn_pyg.data.readers import read_dataset
from augcn_pyg.data.store import ROIStore
from augcn_pyg.data.synthetic import generate_synthau

# A name no backend has: a prepare that needed a detector would fail with "unknown landmark backend".
NO_DETECTOR = "no-detector-allowed"


@pytest.fixture(scope="module", params=["bp4d", "disfa"])
def synthau(request, tmp_path_factory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp(f"synthau_{request.param}")
    generate_synthau(root, protocol=request.param, subjects=1, frames_per_video=2, image_size=128,
                     progress=False)
    return request.param, root


def csv_landmarks(path: Path) -> dict[int, np.ndarray]:
    """{frame: (68, 2)} straight from the CSV text: columns frame, face_id, timestamp, confidence, success,
    x_0..x_67, y_0..y_67."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    assert table.shape[1] == 5 + 136
    return {int(r[0]): np.stack([r[5:73], r[73:141]], axis=1).astype(np.float32) for r in table}


def video_csv(name: str, frame) -> str:
    return f"{frame.subject}_{frame.video}.csv" if name == "bp4d" else f"{frame.video}.csv"


def test_frames_get_exactly_the_csv_landmarks(synthau):
    name, root = synthau
    frames = read_dataset(name, root, name, landmarks_dir=root / "Landmarks")
    # bp4d: 8 videos x 2 frames; disfa: one video of 8 segments x 2 frames
    assert len(frames) == 16 and not frames.skipped and not frames.notes
    tables = {p.name: csv_landmarks(p) for p in (root / "Landmarks").glob("*.csv")}
    assert sum(len(t) for t in tables.values()) == len(frames)  # every CSV row is a labelled frame
    for f in frames:
        assert f.landmarks.shape == (68, 2) and f.landmarks.dtype == np.float32
        np.testing.assert_array_equal(f.landmarks, tables[video_csv(name, f)][f.frame])


def test_without_landmarks_dir_nothing_changes_but_a_note(synthau):
    name, root = synthau
    frames = read_dataset(name, root, name)
    assert all(f.landmarks is None for f in frames)
    assert any("--landmarks-dir" in n and str(root / "Landmarks") in n for n in frames.notes)


def test_prepare_uses_the_csv_landmarks_without_a_detector(synthau, tmp_path):
    name, root = synthau
    summary = prepare(name, root, tmp_path / "store", landmarks=NO_DETECTOR, batch_size=5, progress=False,
                      landmarks_dir=root / "Landmarks")
    assert (summary.frames, summary.stored, summary.skipped) == (16, 16, 0)
    store = ROIStore(tmp_path / "store")
    assert len(store) == 16
    info = json.loads((tmp_path / "store" / "store.json").read_text())["created"]
    assert info["shipped_landmarks"] == 16 and info["landmarks"] is None  # no detector ran
    # and a detector really would have been needed without the CSVs
    with pytest.raises(InputError, match="unknown landmark backend"):
        prepare(name, root, tmp_path / "detect", landmarks=NO_DETECTOR, progress=False)


@pytest.fixture()
def damaged(synthau, tmp_path) -> tuple[str, Path, Path, Path, int, int]:
    """The set with one CSV row failed (success 0), one row removed and (bp4d) one video's CSV deleted."""
    name, root = synthau
    lm = tmp_path / "Landmarks"
    shutil.copytree(root / "Landmarks", lm)
    first = sorted(lm.glob("*.csv"))[0]
    with open(first, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    body[0][header.index("success")] = "0"
    removed = body.pop(1)
    with open(first, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *body])
    failed, missing = int(body[0][0]), int(removed[0])
    if name == "bp4d":
        (lm / "F001_T8.csv").unlink()
    return name, root, lm, first, failed, missing


def test_failed_missing_rows_and_missing_csv_are_skipped_with_reasons(damaged, tmp_path):
    name, root, lm, first, failed, missing = damaged
    frames = read_dataset(name, root, name, landmarks_dir=lm)
    reasons = {(s.video, s.frame): s.reason for s in frames.skipped}
    video = first.stem.split("_")[1] if name == "bp4d" else first.stem
    assert reasons[(video, failed)] == f"no landmarks in the OpenFace CSV (success 0 or non-finite values): {first}"
    assert reasons[(video, missing)] == f"no landmarks in the OpenFace CSV (no row for the frame): {first}"
    lost_video = 2 if name == "bp4d" else 0
    if name == "bp4d":
        assert [r for (v, _), r in reasons.items() if v == "T8"] == \
            [f"no OpenFace landmark CSV for the video: {lm / 'F001_T8.csv'}"] * 2
        assert f"1 videos have no OpenFace landmark CSV (their frames are skipped): {lm}" in frames.notes
    assert len(frames.skipped) == 2 + lost_video and len(frames) == 16 - 2 - lost_video
    assert all(f.landmarks is not None for f in frames)

    summary = prepare(name, root, tmp_path / "store", landmarks=NO_DETECTOR, progress=False, landmarks_dir=lm)
    assert (summary.frames, summary.stored, summary.skipped) == (16, 14 - lost_video, 2 + lost_video)
    with open(tmp_path / "store" / SKIPPED_CSV, newline="") as fh:
        report = {(r["video"], int(r["frame"])): r["reason"] for r in csv.DictReader(fh)}
    assert report == reasons


def test_landmarks_dir_must_be_a_folder(synthau, tmp_path):
    name, root = synthau
    with pytest.raises(InputError, match="landmarks_dir is not a folder.*nowhere"):
        read_dataset(name, root, name, landmarks_dir=tmp_path / "nowhere")


def no_detector_options(tmp_path) -> list[str]:
    """CLI options under which any detection fails: --landmarks takes only real backends, so InsightFace
    pointed at an empty model root (the library tests use a backend name that does not exist)."""
    empty = tmp_path / "no-models"
    empty.mkdir(exist_ok=True)
    return ["--landmarks", "insightface", "--model-root", str(empty)]


def test_cli_landmarks_dir_and_model_root(synthau, tmp_path):
    name, root = synthau
    runner = CliRunner()
    result = runner.invoke(main, ["prepare", "--dataset", name, "--root", str(root), "-o", str(tmp_path / "s"),
                                  *no_detector_options(tmp_path), "--landmarks-dir", str(root / "Landmarks"),
                                  "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"prepared 16 of 16 frames into {tmp_path / 's'}" in result.output
    # --model-root reaches the backend: InsightFace looks for its pack there (and finds none)
    empty = tmp_path / "no-models"
    empty.mkdir(exist_ok=True)
    result = runner.invoke(main, ["prepare", "--dataset", name, "--root", str(root), "-o", str(tmp_path / "d"),
                                  "--landmarks", "insightface", "--model-root", str(empty), "--quiet"])
    assert result.exit_code == 1 and f"no InsightFace model pack found under {empty}" in result.output


def test_cli_disfa_intensity_threshold(synthau, tmp_path):
    name, root = synthau
    runner = CliRunner()
    base = ["prepare", "--dataset", name, "--root", str(root), *no_detector_options(tmp_path),
            "--landmarks-dir", str(root / "Landmarks"), "--quiet"]
    if name != "disfa":
        result = runner.invoke(main, base + ["-o", str(tmp_path / "x"), "--intensity-threshold", "3"])
        assert result.exit_code == 1 and "apply to --dataset disfa only" in result.output
        assert not (tmp_path / "x").exists()
        return
    stores = {}
    for threshold in (2, 4):
        out = tmp_path / f"t{threshold}"
        result = runner.invoke(main, base + ["-o", str(out), "--intensity-threshold", str(threshold)])
        assert result.exit_code == 0, result.output
        stores[threshold] = ROIStore(out).labels
    # the label files hold intensities: present at >= 4 is a subset of present at >= 2, computed here by hand
    truth = {}
    for path in (root / "ActionUnit_Labels").glob("*/*_au*.txt"):
        au = int(path.stem.split("_au")[1])
        truth[au] = np.loadtxt(path, delimiter=",", ndmin=2)[:, 1]
    aus = [1, 2, 4, 6, 9, 12, 25, 26]
    assert (stores[2] != stores[4]).any()  # the data has intensities 2-3, so the threshold matters
    for threshold, labels in stores.items():
        expected = np.stack([truth[a] >= threshold for a in aus], axis=1).astype(np.float32)
        np.testing.assert_array_equal(labels, expected)
