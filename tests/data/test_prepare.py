"""prepare: real photo -> landmarks -> aligned ROIs -> store; skip report; kill + resume = one clean run."""
import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from augcn_pyg.core.aus import BP4D
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.prepare import KILL_HOOK, PROGRESS_DIR, prepare
from augcn_pyg.data.store import COLUMNS, ROIStore

cv2 = pytest.importorskip("cv2")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def astronaut_face():
    """skimage's astronaut photo and dlib's 68 landmarks of its one face."""
    skdata = pytest.importorskip("skimage.data")
    pytest.importorskip("dlib")
    from augcn_pyg.landmarks import get_backend

    image = skdata.astronaut()  # (512, 512, 3) uint8 RGB
    faces = get_backend("dlib").detect(image)
    assert len(faces) == 1
    return image, faces[0].landmarks


def jittered(image, points, k, size=256):
    """Frame k: the photo at half size, rotated/shifted a little; the same transform applied to the points."""
    angle, scale = (-6 + 3 * (k % 5)), 0.5 * (1 + 0.03 * (k % 3))
    m = cv2.getRotationMatrix2D((0.0, 0.0), angle, scale)
    m[:, 2] += (k % 4 - 1.5) * 3
    out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR)
    pts = points @ m[:, :2].T + m[:, 2]
    return out, pts.astype(np.float32)


def write_openface_folder(root: Path, image, points, n=12, bad_image=8, no_face=4, one_spot=11):
    """``root/clip/0001.png ...`` + ``root/clip.csv`` (OpenFace 2 landmarks, frame ``no_face`` failed,
    frame ``one_spot`` has all 68 points on one pixel) + ``root/labels.csv`` (BP4D AUs); frame
    ``bad_image`` is a corrupt file."""
    clip = root / "clip"
    clip.mkdir(parents=True)
    header = ["frame", "face_id", "timestamp", "confidence", "success"] + [f"x_{i}" for i in range(68)] + \
             [f"y_{i}" for i in range(68)]
    rows, labels = [], []
    rng = np.random.default_rng(0)
    for k in range(1, n + 1):
        img, pts = jittered(image, points, k)
        path = clip / f"{k:04d}.png"
        if k == bad_image:
            path.write_bytes(b"\x89PNG\r\n\x1a\n this is not a picture")
        else:
            cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        success = 0 if k == no_face else 1
        if k == one_spot:
            pts[:] = 100.0
        rows.append([k, 0, k / 30, 0.9 * success, success] + pts[:, 0].tolist() + pts[:, 1].tolist())
        labels.append([k] + rng.integers(0, 2, 12).tolist())
    with open(root / "clip.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([header] + rows)
    with open(root / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["frame"] + [f"AU{a}" for a in BP4D.aus]] + labels)
    return clip


def store_files(path: Path) -> dict:
    return {name: (path / name).read_bytes() for name in
            ["rois.u8", "store.json", "skipped.csv", *(f"{c}.npy" for c in COLUMNS)]}


def cli(*args, env=None, new_session=False, timeout=None):
    """``augcn-pyg prepare ARGS`` in a child process (own process group with ``new_session``: a test
    hook's SIGINT to the group then reaches only it and its workers, as Ctrl-C would). The child starts with
    SIGINT at its default, as a terminal starts it, even when the tests run where it is ignored (a background
    job of a non-interactive shell)."""
    return subprocess.run([sys.executable, "-m", "augcn_pyg", "prepare", *map(str, args)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, capture_output=True, text=True,
                          start_new_session=new_session, timeout=timeout,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def invoke(*args):
    """``augcn-pyg prepare ARGS`` through click's CliRunner (stderr apart in ``.stderr``)."""
    from click.testing import CliRunner

    from augcn_pyg.cli import main

    return CliRunner().invoke(main, ["prepare", *map(str, args)])


@pytest.fixture(scope="module")
def openface_clip(tmp_path_factory, astronaut_face):
    root = tmp_path_factory.mktemp("clip")
    write_openface_folder(root, *astronaut_face)
    return root


def prepare_clip(root, out, **kw):
    return prepare("folder", root / "clip", out, "bp4d", openface=root / "clip.csv", labels=root / "labels.csv",
                   batch_size=3, progress=False, **kw)


@pytest.fixture(scope="module")
def clean_run(openface_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "store"
    summary = prepare_clip(openface_clip, out)
    return out, summary


def test_clean_run_store_and_skip_report(openface_clip, clean_run):
    out, summary = clean_run
    assert (summary.frames, summary.stored, summary.skipped) == (12, 9, 3)
    assert "9 of 12 frames" in summary.line() and "3 skipped" in summary.line()
    store = ROIStore(out)
    assert len(store) == 9 and store.rois.shape == (9, 19, 3, 25, 25)
    assert store.frame.tolist() == [1, 2, 3, 5, 6, 7, 9, 10, 12]
    assert store.subject.tolist() == ["clip"] * 9
    assert store.source[0] == str(openface_clip / "clip" / "0001.png")
    # labels in file order, the skipped frames' rows left out
    table = np.loadtxt(openface_clip / "labels.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(store.labels, table[[0, 1, 2, 4, 5, 6, 8, 9, 11], 1:])
    with open(out / "skipped.csv", newline="") as fh:
        skipped = list(csv.DictReader(fh))
    assert [(r["frame"], r["reason"].split(":")[0]) for r in skipped] == [
        ("4", "landmarks with NaN or infinite values"), ("8", "unreadable image (not a decodable image)"),
        ("11", "degenerate landmarks (all on one spot)")]
    assert skipped[1]["reason"].count("unreadable image") == 1  # said once, not "unreadable image: unreadable image"
    assert not (out / PROGRESS_DIR).exists()
    # the ROIs are the components' own output for these landmarks
    from augcn_pyg.data.readers import load_image, read_dataset
    from augcn_pyg.face.align import align_faces
    from augcn_pyg.face.rois import extract_rois

    frames = read_dataset("folder", openface_clip / "clip", "bp4d", openface=openface_clip / "clip.csv")
    frame = frames[0]
    aligned, pts = align_faces([load_image(frame)], frame.landmarks[None])
    np.testing.assert_array_equal(store.rois[0], extract_rois(aligned, pts, BP4D).numpy()[0])
    # jittered copies of one face: once aligned, their global ROIs nearly agree
    glob = store.rois[:, BP4D.global_index].astype(float)
    assert np.abs(glob - glob[0]).mean() < 12


@pytest.mark.parametrize("moment", ["after", "before"])
def test_killed_run_resumes_to_the_same_store(openface_clip, clean_run, tmp_path, moment):
    out = tmp_path / "store"
    args = ["--dataset", "folder", "--root", openface_clip / "clip", "--openface", openface_clip / "clip.csv",
            "--labels", openface_clip / "labels.csv", "--protocol", "bp4d", "--batch-size", 3, "-o", out, "--quiet"]
    killed = cli(*args, env={KILL_HOOK: f"1:{moment}"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # chunk 0 (and with "after", chunk 1) checkpointed; the half-written directory is not a store
    done = sorted(p.name for p in (out / PROGRESS_DIR).glob("chunk-*.json"))
    assert done == (["chunk-000000.json", "chunk-000001.json"] if moment == "after" else ["chunk-000000.json"])
    assert not (out / "store.json").exists()
    with pytest.raises(InputError, match="not a complete ROI store.*re-run the same command"):
        ROIStore(out)
    resumed = cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert "prepared 9 of 12 frames" in resumed.stdout and "resumed after" in resumed.stdout
    assert store_files(out) == store_files(clean_run[0])


def test_workers_give_the_same_store(openface_clip, clean_run, tmp_path):
    prepare_clip(openface_clip, tmp_path / "store", workers=2)
    assert store_files(tmp_path / "store") == store_files(clean_run[0])


def test_refusals(openface_clip, clean_run, tmp_path):
    out = clean_run[0]
    with pytest.raises(InputError, match="already holds a complete ROI store; pass --overwrite"):
        prepare_clip(openface_clip, out)
    # an unfinished run of other input is not silently mixed with a new one
    (tmp_path / "s" / PROGRESS_DIR).mkdir(parents=True)
    (tmp_path / "s" / PROGRESS_DIR / "run.json").write_text('{"frames": 99}')
    with pytest.raises(InputError, match="unfinished prepare of different input"):
        prepare_clip(openface_clip, tmp_path / "s")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty and holds no ROI store"):
        prepare_clip(openface_clip, tmp_path / "other")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(InputError, match="cannot create the output directory") as err:
        prepare_clip(openface_clip, tmp_path / "a-file" / "store")
    assert str(tmp_path / "a-file" / "store") in str(err.value)
    with pytest.raises(InputError, match="--protocol is needed"):
        prepare("folder", openface_clip / "clip", tmp_path / "x")
    r = cli("--dataset", "bp4d", "--root", tmp_path / "nowhere", "-o", tmp_path / "y")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "nowhere" in r.stderr


def test_resume_refuses_another_detector_setup(tmp_path, monkeypatch):
    """An unfinished run whose frames need a detector is not continued with the detector's models
    elsewhere: the rows already written would come from other landmarks than the rest."""
    from augcn_pyg.core.io import write_json_atomic
    from augcn_pyg.data.prepare import _fingerprint, prepare_frames
    from augcn_pyg.data.readers import Frame
    from augcn_pyg.landmarks import resolve_backend

    frames = [Frame("s", "v", 1, tmp_path / "1.jpg", None, None, np.zeros(12, np.float32))]
    out = tmp_path / "store"
    pack_a, pack_b = tmp_path / "packs" / "a", tmp_path / "packs" / "b"
    pack_a.mkdir(parents=True)
    pack_b.mkdir()
    monkeypatch.delenv("INSIGHTFACE_HOME", raising=False)
    backend = resolve_backend("auto", model_root=pack_a)  # what "auto" runs (and records) here
    write_json_atomic(out / PROGRESS_DIR / "run.json",
                      _fingerprint(frames, "frames", Path(""), BP4D, 25, 256, backend, {"model_root": pack_a}))
    with pytest.raises(InputError, match="unfinished prepare of different input \\(differs in detector\\)"):
        prepare_frames(frames, out, "bp4d", backend_options={"model_root": pack_b}, progress=False)
    monkeypatch.setenv("INSIGHTFACE_HOME", "/elsewhere")
    with pytest.raises(InputError, match="differs in detector"):
        prepare_frames(frames, out, "bp4d", backend_options={"model_root": pack_a}, progress=False)
    # shipped landmarks everywhere: the detector setup does not matter
    shipped = [Frame("s", "v", 1, tmp_path / "1.jpg", None, None, np.zeros(12, np.float32), np.zeros((68, 2)))]
    assert _fingerprint(shipped, "f", Path(""), BP4D, 25, 256, "auto", {"model_root": "/a"}) == \
        _fingerprint(shipped, "f", Path(""), BP4D, 25, 256, "auto", {"model_root": "/b"})


def test_shipped_landmarks_outside_the_image_are_skipped(tmp_path, astronaut_face):
    """Landmarks made on other-sized frames (here: moved 600 px off a 512 px photo) are not used to cut."""
    from augcn_pyg.data.prepare import prepare_frames
    from augcn_pyg.data.readers import Frame

    image, points = astronaut_face
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    labels = np.zeros(12, np.float32)
    frames = [Frame("s", "v", 1, path, None, None, labels, points),
              Frame("s", "v", 2, path, None, None, labels, points + 600)]
    summary = prepare_frames(frames, tmp_path / "store", "bp4d", progress=False)
    assert (summary.stored, summary.skipped) == (1, 1)
    with open(tmp_path / "store" / "skipped.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["frame"], r["reason"]) for r in rows] == [("2", "shipped landmarks outside the 512x512 image")]


def test_unreadable_checkpoints(tmp_path, openface_clip):
    """A checkpoint that does not read back ends the finished chunks (they are redone); an unreadable
    run.json is one clear error."""
    from augcn_pyg.data.prepare import _chunk_file, _finished_chunks

    progress = tmp_path / PROGRESS_DIR
    progress.mkdir()
    _chunk_file(progress, 0).write_text('{"stored": [0, 1], "skipped": [[2, "no face found"]]}')
    _chunk_file(progress, 1).write_text("")  # renamed into place, data lost
    _chunk_file(progress, 2).write_text('{"stored": [6], "skipped": []}')
    assert _finished_chunks(progress, 3) == [{"stored": [0, 1], "skipped": [[2, "no face found"]]}]
    _chunk_file(progress, 1).write_text("[]")
    assert len(_finished_chunks(progress, 3)) == 1
    (progress / "run.json").write_text("{trunc")
    with pytest.raises(InputError, match="run.json is unreadable; pass --overwrite"):
        prepare_clip(openface_clip, tmp_path)


def test_bp4d_layout_with_dlib(tmp_path, astronaut_face):
    """The full path: BP4D Sequences + AU_OCC (9 = unknown), landmarks detected by dlib, a frame with no face."""
    image, points = astronaut_face
    seq = tmp_path / "BP4D" / "Sequences" / "F001" / "T1"
    seq.mkdir(parents=True)
    for k, frame in enumerate((2440, 2441)):
        img, _ = jittered(image, points, k, size=256)
        cv2.imwrite(str(seq / f"{frame}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(seq / "2442.jpg"), np.full((120, 120, 3), 90, np.uint8))  # a grey card: no face
    occ = tmp_path / "BP4D" / "AUCoding" / "AU_OCC"
    occ.mkdir(parents=True)
    aus = [1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 24, 27, 28]
    lines = [",".join(["Frame"] + [str(a) for a in aus])]
    lines += [",".join(map(str, [f] + [(f + a) % 2 if a != 4 else 9 for a in aus])) for f in (2440, 2441, 2442, 2443)]
    (occ / "F001_T1.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "store"
    r = cli("--dataset", "bp4d", "--root", tmp_path / "BP4D", "--landmarks", "dlib", "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "prepared 2 of 4 frames" in r.stdout and "2 skipped" in r.stdout
    assert "note: label AUs AU5, AU9, AU11, AU13, AU16, AU18, AU19, AU20, AU22, AU27, AU28 are not scored" in r.stderr
    store = ROIStore(out)
    assert store.frame.tolist() == [2440, 2441] and store.video.tolist() == ["T1", "T1"]
    expect = np.array([[(f + a) % 2 for a in BP4D.aus] for f in (2440, 2441)], np.float32)
    expect[:, BP4D.aus.index(4)] = np.nan  # coded 9
    np.testing.assert_array_equal(store.labels, expect)
    with open(out / "skipped.csv", newline="") as fh:
        reasons = {r["frame"]: r["reason"] for r in csv.DictReader(fh)}
    assert reasons["2442"] == "no face found" and reasons["2443"].startswith("no image for frame 2443")


def clip_args(root, out, *extra):
    return ["--dataset", "folder", "--root", root / "clip", "--openface", root / "clip.csv", "--labels",
            root / "labels.csv", "--protocol", "bp4d", "--batch-size", 3, "-o", out, "--quiet", *extra]


def test_ctrl_c_stops_the_workers_quietly_and_the_run_resumes(openface_clip, clean_run, tmp_path):
    out = tmp_path / "store"
    args = clip_args(openface_clip, out, "--workers", 2)
    try:  # Ctrl-C after chunk 1 (workers that die of it can leave the pool hanging: hence the timeout)
        stopped = cli(*args, env={KILL_HOOK: "1:interrupt"}, new_session=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("prepare did not stop within 120 s of Ctrl-C")
    assert stopped.returncode == 130, stopped.stderr
    assert "Traceback" not in stopped.stderr and "KeyboardInterrupt" not in stopped.stderr, stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] == (
        f"interrupted: 2 of 4 chunks are finished in {out}. Run the same command again to resume from there "
        "(the result is the same as one uninterrupted run)")
    resumed = cli(*args)
    assert resumed.returncode == 0 and "resumed after 2 finished chunks" in resumed.stdout, resumed.stderr
    assert store_files(out) == store_files(clean_run[0])


def test_notes_are_printed_before_the_work_starts(openface_clip, tmp_path):
    """A note reaches the user even when the run never ends (here: killed after its first chunk)."""
    labels = (openface_clip / "labels.csv").read_text().splitlines()
    (tmp_path / "labels.csv").write_text("\n".join(labels[:-2]) + "\n")  # frames 11 and 12 unlabelled
    args = clip_args(openface_clip, tmp_path / "store")
    args[args.index(openface_clip / "labels.csv")] = tmp_path / "labels.csv"
    killed = cli(*args, env={KILL_HOOK: "0"})
    assert killed.returncode == -signal.SIGKILL
    assert f"note: 2 of 12 frames have no label (unknown): {tmp_path / 'labels.csv'}" in killed.stderr


@pytest.fixture()
def undecodable_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for k in (1, 2, 3):
        (folder / f"{k:04d}.png").write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    return folder


@pytest.mark.parametrize("case, extra, message", [
    ("undecodable", [], "nothing prepared: none of the 3 frames could be read as an image (e.g. unreadable image "
                        "(not a decodable image): "),
    ("backend", ["--landmarks", "magic"], "Invalid value for '--landmarks': 'magic' is not one of 'auto'"),
    ("model-root", ["--model-root", "MISSING"], "model root not found: "),
    ("roi-size", ["--roi-size", 300], "Invalid value for '--roi-size': 300 is not in the range 5<=x<=100"),
    ("no-face", ["--landmarks", "dlib"], "nothing prepared: none of the 3 frames gave a usable face "
                                         "(3 no face found; e.g. no face found)"),
])
@pytest.mark.parametrize("existing", [False, True], ids=["new-dir", "empty-dir"])
def test_a_run_that_prepares_nothing_leaves_nothing(undecodable_folder, tmp_path, case, extra, message, existing):
    if case == "no-face":
        pytest.importorskip("dlib")
        for k in (1, 2, 3):  # decodable, but grey cards
            cv2.imwrite(str(undecodable_folder / f"{k:04d}.png"), np.full((120, 120, 3), 90, np.uint8))
    out = tmp_path / "out" / "store"
    if existing:
        out.mkdir(parents=True)
    extra = [tmp_path / "nowhere" if a == "MISSING" else a for a in extra]
    result = invoke("--dataset", "folder", "--root", undecodable_folder, "--protocol", "bp4d", "-o", out,
                    "--quiet", *extra)
    usage = case in ("roi-size", "backend")  # refused by the option itself
    assert result.exit_code == (2 if usage else 1), result.output
    assert message in result.output and "Traceback" not in result.output, result.output
    assert len(result.stderr.strip().splitlines()) == (4 if usage else 1)  # usage + hint + blank + error
    if existing:
        assert out.is_dir() and list(out.iterdir()) == []
    else:
        assert not (tmp_path / "out").exists()
    # so a later look at the folder does not call it "an unfinished prepare: re-run the same command"
    with pytest.raises(InputError, match="no such ROI store directory" if not existing else "store.json is missing$"):
        ROIStore(out)


def test_the_roi_size_rule_is_checked_before_reading(tmp_path):
    """One rule for prepare's and show-rois' --roi-size and the library, checked before any work."""
    from augcn_pyg.face.rois import ROI_SIZE_RANGE, check_roi_size

    assert ROI_SIZE_RANGE == (5, 100) and check_roi_size(25) == 25
    for bad in (4, 101, 300, 2.5):
        with pytest.raises(InputError, match="ROI size must be a whole number of pixels from 5 to 100"):
            prepare("bp4d", tmp_path / "no-such-dataset", tmp_path / "out", roi_size=bad)
    assert not (tmp_path / "out").exists()
    from click.testing import CliRunner

    from augcn_pyg.cli import main

    result = CliRunner().invoke(main, ["show-rois", "x.png", "-o", "y.png", "--roi-size", "101"])
    assert result.exit_code == 2 and "101 is not in the range 5<=x<=100" in result.output


def test_store_records_the_backend_that_ran_and_paths_that_resolve_anywhere(tmp_path, monkeypatch, astronaut_face):
    import json

    from augcn_pyg.landmarks import resolve_backend

    image, _ = astronaut_face
    (tmp_path / "work" / "faces").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "work" / "faces" / "0001.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    monkeypatch.chdir(tmp_path / "work")
    prepare("folder", "faces", "store", "bp4d", landmarks="auto", progress=False)  # paths as a user types them
    monkeypatch.chdir(tmp_path)  # ... and the store used from elsewhere
    store = ROIStore(tmp_path / "work" / "store")
    created = json.loads((tmp_path / "work" / "store" / "store.json").read_text())["created"]
    assert created["landmarks"] == resolve_backend("auto") != "auto"
    assert created["root"] == str(tmp_path / "work" / "faces")
    assert store.source.tolist() == [str(tmp_path / "work" / "faces" / "0001.png")]
    assert Path(store.source[0]).is_file()
