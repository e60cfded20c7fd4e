"""prepare with tracking on a rendered SynthAU-BP4D set: the same faces as detecting on every frame,
landmarks as close to the truth, fewer whole-frame detections, the same bytes whatever the workers."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.core.errors import InputError
from augcn_pyg.data import prepare as prep
from augcn_pyg.data import prepare_chunks as chunks
from augcn_pyg.data.readers import read_dataset
from augcn_pyg.data.store import COLUMNS, ROIStore
from augcn_pyg.data.synthetic import generate_synthau

pytest.importorskip("dlib")

#: 8 videos of 5 frames; chunks of 8 frames cut through videos, so a chunk starts some of its videos
#: mid-way and holds the end of one video and the start of the next
SYNTH = dict(protocol="bp4d", subjects=1, frames_per_video=5, seed=3, progress=False)
BATCH = 8


def store_files(path) -> dict:
    return {name: (path / name).read_bytes() for name in
            ["rois.u8", "store.json", "skipped.csv", *(f"{c}.npy" for c in COLUMNS)]}


def iod_errors(points, truth) -> np.ndarray:
    """Mean point-to-point distance of each (68, 2) fit to its truth, in true inter-ocular distances
    (between the eye centres)."""
    points, truth = np.stack(points), np.stack(truth)  # (N, 68, 2)
    iod = np.linalg.norm(truth[:, 42:48].mean(1) - truth[:, 36:42].mean(1), axis=1)  # (N,)
    return np.linalg.norm(points - truth, axis=2).mean(1) / iod


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthau")
    generate_synthau(root, **SYNTH)
    return root


def run_prepare(root, out, *extra):
    result = CliRunner().invoke(main, ["prepare", "--dataset", "bp4d", "--root", str(root), "--landmarks", "dlib",
                                       "--batch-size", str(BATCH), "-o", str(out), "-q", *map(str, extra)])
    assert result.exit_code == 0, result.output
    return ROIStore(out), json.loads((out / "store.json").read_text())["created"]


@pytest.fixture(scope="module")
def stores(synth, tmp_path_factory):
    out = tmp_path_factory.mktemp("stores")
    return {name: (out / name, *run_prepare(synth, out / name, *extra)) for name, extra in
            (("default", ()), ("no-track", ("--no-track",)), ("truth", ("--landmarks-dir", synth / "Landmarks")))}


def test_tracking_stores_every_face_the_whole_frame_search_finds_with_fewer_detections(stores):
    _, tracked, info = stores["default"]  # bp4d with dlib: tracked unless told otherwise
    _, every, every_info = stores["no-track"]
    assert info["track"] is True and every_info["track"] is False
    assert len(every) >= 38  # dlib finds (nearly) all 40 rendered faces of this seed
    # tracking keeps every face the whole-frame search finds, and may follow one it misses
    # (docs/prepare-and-loading.md, "Tracking"): here at most the 2 the search missed
    tracked_rows = {key: k for k, key in enumerate(zip(tracked.video, tracked.frame))}
    assert set(zip(every.video, every.frame)) <= set(tracked_rows)
    assert len(tracked) <= 40
    rows = [tracked_rows[key] for key in zip(every.video, every.frame)]
    for column in ("subject", "source"):
        np.testing.assert_array_equal(getattr(tracked, column)[rows], getattr(every, column))
    np.testing.assert_array_equal(tracked.labels[rows], every.labels)
    assert every_info["detections"] == 40  # one whole-frame search per frame
    # at least one per (chunk, video) piece: 8 videos over 5 chunks make 12 pieces; the rest are followed
    assert 12 <= info["detections"] < 20


def test_tracked_rois_are_as_close_to_the_truth(stores):
    """The ROIs cut from tracked landmarks differ from those cut from the true landmarks no more than
    the ROIs from detecting on every frame do. (A coarse check: 25-px crops of two different rendered
    faces differ about as much, 14 grey levels; the landmark error below is the precise one.)"""
    truth = stores["truth"][1]
    row = {key: k for k, key in enumerate(zip(truth.video, truth.frame))}  # the truth stores every frame

    def difference(store) -> float:  # mean absolute grey-level difference to the true landmarks' ROIs
        rows = [row[key] for key in zip(store.video, store.frame)]
        return float(np.abs(store.rois.astype(np.int16) - truth.rois[rows].astype(np.int16)).mean())

    diff = {name: difference(stores[name][1]) for name in ("default", "no-track")}
    assert diff["default"] <= 1.1 * diff["no-track"] + 0.5, diff  # measured: 13.9 and 14.2 grey levels


def test_tracked_landmarks_are_as_close_to_the_truth(synth):
    """Through the function prepare's chunks use, against the landmarks SynthAU rendered."""
    frames = read_dataset("bp4d", synth, "bp4d")
    truth = read_dataset("bp4d", synth, "bp4d", landmarks_dir=synth / "Landmarks")
    errors, detections = {}, {}
    for track in (False, True):
        chunks.init_worker("bp4d", 25, "dlib", {}, track, limit_threads=False)
        _, points, kept, _, detections[track] = chunks.chunk_landmarks(list(enumerate(frames)))
        errors[track] = dict(zip(kept, iod_errors(points, [truth[p].landmarks for p in kept])))
    # a followed face can be found where the whole-frame search misses it (here 1 frame of 40), never lost
    assert set(errors[False]) <= set(errors[True]) and len(errors[False]) >= 38
    # one chunk of 8 videos: one whole-frame search each at least, and far fewer than the 40 frames
    assert 8 <= detections[True] < 20 and detections[False] == 40
    common = sorted(errors[False])
    assert np.mean([errors[True][p] for p in common]) <= np.mean([errors[False][p] for p in common]) + 0.01, errors
    errors = {track: np.array(list(e.values())) for track, e in errors.items()}
    assert errors[True].max() < 0.15, errors[True]  # measured: mean 0.066, max 0.08


def test_tracked_store_is_the_same_whatever_the_workers(synth, stores, tmp_path):
    path, _, _ = stores["default"]
    run_prepare(synth, tmp_path / "w2", "--track", "--workers", 2)
    assert store_files(tmp_path / "w2") == store_files(path)


def test_resume_refuses_to_mix_tracked_and_untracked_landmarks(synth, tmp_path):
    out = tmp_path / "store"
    run_prepare(synth, out, "--no-track")
    (out / "store.json").unlink()  # as if the run had stopped before its end
    (out / prep.PROGRESS_DIR).mkdir()
    (out / prep.PROGRESS_DIR / "run.json").write_text(json.dumps(prep._fingerprint(
        read_dataset("bp4d", synth, "bp4d"), "bp4d", synth.resolve(), prep.get_protocol("bp4d"), 25, BATCH,
        "dlib", {}, track=False)))
    result = CliRunner().invoke(main, ["prepare", "--dataset", "bp4d", "--root", str(synth), "--landmarks", "dlib",
                                       "--batch-size", str(BATCH), "-o", str(out), "-q", "--track"])
    assert result.exit_code != 0 and "differs in detector" in result.output, result.output


@pytest.mark.parametrize("track, dataset, backend, expected", [
    (None, "bp4d", "dlib", True), (None, "disfa", "dlib", True), (None, "folder", "dlib", False),
    (None, "lists", "dlib", False), (None, "bp4d", "insightface", False), (None, "bp4d", None, False),
    (False, "bp4d", "dlib", False), (True, "folder", "dlib", True), (True, "bp4d", None, False),
])
def test_when_prepare_tracks(track, dataset, backend, expected):
    assert prep._resolve_track(track, dataset, backend) is expected


def test_tracking_with_a_backend_that_cannot_is_refused():
    with pytest.raises(InputError, match="'insightface' landmark backend cannot track faces.*--no-track"):
        prep._resolve_track(True, "bp4d", "insightface")
