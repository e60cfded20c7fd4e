"""SynthAU output: native layouts, byte-identical for a seed (any workers), resume, readers round trip, CLI."""
import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.synthau.plan import sample_labels
from augcn_pyg.data.synthau.prototypes import RENDERED_AUS
from augcn_pyg.data.synthetic import generate_synthau

TINY = dict(subjects=2, frames_per_video=3, image_size=96, progress=False)


def _digest(root, manifest=True):
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and (manifest or p.name != "synthau.json")}


@pytest.fixture(scope="module")
def bp4d_tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("bp4d")
    manifest = generate_synthau(root, protocol="bp4d", seed=7, workers=1, **TINY)
    return root, manifest


def test_same_seed_same_bytes_whatever_the_workers(bp4d_tiny, tmp_path):
    root, _ = bp4d_tiny
    generate_synthau(tmp_path / "w2", protocol="bp4d", seed=7, workers=2, **TINY)
    a, b = _digest(root), _digest(tmp_path / "w2")
    assert len(a) == 16 * 3 + 16 * 3 + 1  # 48 images, 16 x (labels, landmarks, intensities), manifest
    assert a == b
    generate_synthau(tmp_path / "s8", protocol="bp4d", seed=8, workers=1, **TINY)
    assert _digest(tmp_path / "s8") != a


def test_bp4d_layout_and_labels(bp4d_tiny):
    root, manifest = bp4d_tiny
    occ = sorted((root / "AUCoding" / "AU_OCC").glob("*.csv"))
    assert [p.name for p in occ[:2]] == ["F001_T1.csv", "F001_T2.csv"] and len(occ) == 16
    header = occ[0].read_text().splitlines()[0]
    assert header == "frame,1,2,4,6,7,10,12,14,15,17,23,24"
    rows = np.loadtxt(occ[0], delimiter=",", skiprows=1, dtype=int)
    for f in rows[:, 0]:
        assert (root / "Sequences" / "F001" / "T1" / f"{f}.jpg").is_file()
    # the labels are the ones sample_labels draws without rendering, in the same order
    y, inten, names = sample_labels("bp4d", "realistic", 2, 3, seed=7)
    written = np.vstack([np.loadtxt(p, delimiter=",", skiprows=1, dtype=int, ndmin=2)[:, 1:]
                         for p in sorted(occ, key=lambda p: names.index(p.stem))])
    np.testing.assert_array_equal(written, y)
    # true intensities and OpenFace-style landmarks
    ti = np.loadtxt(root / "AUIntensity" / "F001_T1.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(ti[:, 1:], inten[:3], atol=1e-3)
    lm_csv = (root / "Landmarks" / "F001_T1.csv").read_text().splitlines()
    cols = lm_csv[0].split(",")
    assert cols[:5] == ["frame", "face_id", "timestamp", "confidence", "success"]
    assert cols[5] == "x_0" and cols[-1] == "y_67" and len(cols) == 141
    assert json.loads((root / "synthau.json").read_text())["complete"] is True
    assert manifest["frames"] == 48 and set(manifest["rates"]) == {"1", "2", "4", "6", "7", "10", "12", "14",
                                                                   "15", "17", "23", "24"}
    assert list(manifest["rates"].values()) == [round(float(r), 4) for r in written.mean(0)]


def test_intensity_csv_keeps_present_at_2_exact():
    from augcn_pyg.data.synthau.writer import intensity_csv

    row = np.zeros(len(RENDERED_AUS), dtype=np.float32)
    row[:4] = [1.9996, 2.0, 2.0004, 4.9999]
    text = intensity_csv(np.array([7]), row[None])
    written = np.loadtxt(text.splitlines()[1:], delimiter=",")[1:]
    np.testing.assert_array_equal(written >= 2, row >= 2)  # 1.9996 is not written as 2.000
    assert text.splitlines()[1].startswith("7,1.999,2.000,2.000,4.999,")


def test_written_landmarks_are_on_the_image(bp4d_tiny):
    import cv2

    root, _ = bp4d_tiny
    data = np.loadtxt(root / "Landmarks" / "F001_T1.csv", delimiter=",", skiprows=1)
    lm = np.stack([data[0, 5:73], data[0, 73:]], axis=1)  # (68, 2)
    img = cv2.imread(str(root / "Sequences" / "F001" / "T1" / f"{int(data[0, 0])}.jpg"))
    assert img.shape == (96, 96, 3)
    assert (lm > 0).all() and (lm < 96).all()
    e = lm[36:42].mean(0)
    x, y = int(round(e[0])), int(round(e[1]))
    assert img[y - 1:y + 2, x - 1:x + 2].mean() < img.mean()  # iris / pupil


def test_resume_skips_complete_videos_and_refuses_other_parameters(bp4d_tiny):
    root, _ = bp4d_tiny
    before = _digest(root, manifest=False)
    manifest = generate_synthau(root, protocol="bp4d", seed=7, workers=1, **TINY)
    assert manifest["videos_skipped"] == 16 and manifest["frames_written"] == 0
    assert _digest(root, manifest=False) == before
    # resume=False (the CLI's --no-resume) renders every video again, to the same bytes
    manifest = generate_synthau(root, protocol="bp4d", seed=7, workers=1, resume=False, **TINY)
    assert manifest["videos_skipped"] == 0 and manifest["frames_written"] == 48
    assert _digest(root, manifest=False) == before
    with pytest.raises(InputError, match="other parameters"):
        generate_synthau(root, protocol="bp4d", seed=8, workers=1, **TINY)


def test_a_missing_label_file_is_rendered_again(tmp_path):
    generate_synthau(tmp_path, protocol="bp4d", seed=1, workers=1, **TINY)
    before = _digest(tmp_path, manifest=False)
    (tmp_path / "AUCoding" / "AU_OCC" / "M011_T2.csv").unlink()
    manifest = generate_synthau(tmp_path, protocol="bp4d", seed=1, workers=1, **TINY)
    assert manifest["videos_skipped"] == 15 and manifest["frames_written"] == 3
    assert _digest(tmp_path, manifest=False) == before


def test_disfa_layout(tmp_path):
    manifest = generate_synthau(tmp_path, protocol="disfa", seed=3, workers=1, subjects=1, frames_per_video=2,
                                image_size=96, progress=False)
    assert manifest["frames"] == 16
    lab = tmp_path / "ActionUnit_Labels" / "SN002"
    names = sorted(p.name for p in lab.glob("*.txt"))
    assert "SN002_au1.txt" in names and "SN002_au26.txt" in names and "SN002_au5.txt" not in names
    lines = (lab / "SN002_au25.txt").read_text().splitlines()
    assert len(lines) == 16 and lines[0].startswith("1,")
    _, inten, _ = sample_labels("disfa", "realistic", 1, 2, seed=3)
    levels = np.array([int(l.split(",")[1]) for l in lines])
    np.testing.assert_array_equal(levels, np.floor(inten[:, RENDERED_AUS.index(25)]).astype(int))
    assert sorted(int(p.stem) for p in (tmp_path / "Images" / "SN002").glob("*.jpg")) == list(range(1, 17))


def test_round_trip_through_the_dataset_readers(bp4d_tiny, tmp_path):
    from augcn_pyg.data.labels import read_labels
    from augcn_pyg.data.readers import load_image, read_dataset

    root, _ = bp4d_tiny
    y, _, names = sample_labels("bp4d", "realistic", 2, 3, seed=7)
    ls = read_labels(root / "AUCoding" / "AU_OCC", "bp4d")
    order = np.argsort([names.index(f"{s}_{v}") * 10000 + f for s, v, f in zip(ls.subject, ls.video, ls.frame)],
                       kind="stable")
    np.testing.assert_array_equal(ls.labels[order], y)
    frames = read_dataset("bp4d", root, "bp4d")
    assert len(frames) == 48 and not frames.skipped
    assert load_image(frames[0]).shape == (96, 96, 3)
    # DISFA: labels with intensity >= 2 as present, images found by number
    generate_synthau(tmp_path, protocol="disfa", seed=3, workers=1, subjects=2, frames_per_video=2,
                     image_size=96, progress=False)
    yd, _, _ = sample_labels("disfa", "realistic", 2, 2, seed=3)
    fd = read_dataset("disfa", tmp_path, "disfa")
    assert len(fd) == 32 and not fd.skipped
    got = np.stack([f.labels for f in sorted(fd, key=lambda f: (["SN002", "SN013"].index(f.subject), f.frame))])
    np.testing.assert_array_equal(got, yd)


def test_bad_input_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        generate_synthau(tmp_path / "file", **TINY)
    with pytest.raises(InputError, match="difficulty"):
        generate_synthau(tmp_path / "x", difficulty="extreme", **TINY)
    with pytest.raises(InputError, match="protocol"):
        generate_synthau(tmp_path / "x", protocol="ck+", **TINY)
    with pytest.raises(InputError, match="seed >= 0"):
        generate_synthau(tmp_path / "x", seed=-1, **TINY)
    with pytest.raises(InputError, match="imaging knobs out of range: rotation"):
        generate_synthau(tmp_path / "x", rotation=float("nan"), **TINY)
    assert not (tmp_path / "x").exists()  # refused before anything is written


def test_cli_synth_and_gallery(tmp_path):
    runner = CliRunner()
    out = tmp_path / "s"
    res = runner.invoke(main, ["synth", "-o", str(out), "--subjects", "1", "--frames-per-video", "2",
                               "--image-size", "96", "--relations", "independent", "--difficulty", "hard",
                               "--rotation", "20"])
    assert res.exit_code == 0, res.output
    assert "occurrence: AU1" in res.output
    params = json.loads((out / "synthau.json").read_text())["parameters"]
    assert params["conditions"]["rotation"] == 20.0 and params["relations"] == "independent"
    (tmp_path / "f").write_text("x")
    res = runner.invoke(main, ["synth", "-o", str(tmp_path / "f"), "--subjects", "1"])
    assert res.exit_code == 1 and "not a folder" in res.output and "Traceback" not in res.output
    res = runner.invoke(main, ["synth", "-o", str(tmp_path / "neg"), "--seed", "-1"])
    assert res.exit_code == 2 and "--seed" in res.output and res.exception is not None
    assert isinstance(res.exception, SystemExit) and not (tmp_path / "neg").exists()
    res = runner.invoke(main, ["synth", "-o", str(tmp_path / "nan"), "--rotation", "nan"])
    assert res.exit_code == 1 and "rotation" in res.output and isinstance(res.exception, SystemExit)
    res = runner.invoke(main, ["synth-gallery", "-o", str(tmp_path / "g.png")])
    assert res.exit_code == 0, res.output
    from PIL import Image

    assert Image.open(tmp_path / "g.png").size[0] > 500
    res = runner.invoke(main, ["synth-gallery", "-o", str(tmp_path / "f" / "g.png")])  # "f" is a file
    assert res.exit_code == 1 and "cannot write the gallery" in res.output
    assert isinstance(res.exception, SystemExit)  # no traceback


def test_prepare_runs_on_synthau_unchanged(tmp_path):
    """The real pipeline's first stage on SynthAU: read_dataset -> dlib landmarks -> align -> ROIs -> store."""
    pytest.importorskip("dlib")
    from augcn_pyg.data.prepare import prepare
    from augcn_pyg.data.store import ROIStore

    generate_synthau(tmp_path / "s", protocol="bp4d", subjects=1, frames_per_video=1, seed=0, workers=1,
                     difficulty="easy", progress=False)
    summary = prepare("bp4d", tmp_path / "s", tmp_path / "store", landmarks="dlib", progress=False)
    assert summary.stored == 8 and summary.skipped == 0
    store = ROIStore(tmp_path / "store")
    y, _, _ = sample_labels("bp4d", "realistic", 1, 1, seed=0)
    assert len(store) == 8 and store.labels.shape == (8, 12)
    assert sorted(map(tuple, store.labels.tolist())) == sorted(map(tuple, y.tolist()))


def test_presets_with_one_seed_share_faces_and_conditions(tmp_path):
    """realistic vs independent differ only in the AUs: same identities, poses, lighting and noise."""
    import cv2

    a = generate_synthau(tmp_path / "r", protocol="bp4d", relations="realistic", seed=4, workers=1, **TINY)
    b = generate_synthau(tmp_path / "i", protocol="bp4d", relations="independent", seed=4, workers=1, **TINY)
    assert a["subjects"] == b["subjects"]
    la = np.loadtxt(tmp_path / "r" / "Landmarks" / "F001_T1.csv", delimiter=",", skiprows=1)
    lb = np.loadtxt(tmp_path / "i" / "Landmarks" / "F001_T1.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(la[:, 0], lb[:, 0])  # same frame numbers
    # the eye corners barely move with AUs: same pose and identity => nearly the same points
    eyes = [5 + i for i in (36, 39, 42, 45)] + [73 + i for i in (36, 39, 42, 45)]
    assert np.abs(la[:, eyes] - lb[:, eyes]).max() < 1.0
    ia = cv2.imread(str(tmp_path / "r" / "Sequences" / "F001" / "T1" / f"{int(la[0, 0])}.jpg"))
    ib = cv2.imread(str(tmp_path / "i" / "Sequences" / "F001" / "T1" / f"{int(la[0, 0])}.jpg"))
    assert np.abs(ia.astype(int) - ib)[:10, :10].mean() < 1  # a background corner: same noise, light


def test_resumed_or_repeated_run_leaves_the_same_bytes_manifest_included(tmp_path):
    """synthau.json describes the dataset, not the runs: the whole folder hashes the same however it was made."""
    args = ["synth", "--subjects", "1", "--frames-per-video", "2", "--image-size", "64", "--seed", "5", "--quiet"]
    runner = CliRunner()
    assert runner.invoke(main, args + ["-o", str(tmp_path / "once")]).exit_code == 0
    once = _digest(tmp_path / "once")
    again = runner.invoke(main, args + ["-o", str(tmp_path / "once")])  # repeated: every video skipped
    assert again.exit_code == 0 and "wrote 0 faces (8 videos already complete)" in again.output
    assert _digest(tmp_path / "once") == once
    assert runner.invoke(main, args + ["-o", str(tmp_path / "resumed")]).exit_code == 0
    (tmp_path / "resumed" / "AUCoding" / "AU_OCC" / "F001_T3.csv").unlink()  # as if stopped mid-run
    resumed = runner.invoke(main, args + ["-o", str(tmp_path / "resumed")])
    assert resumed.exit_code == 0 and "wrote 2 faces (7 videos already complete)" in resumed.output
    assert _digest(tmp_path / "resumed") == once
    manifest = json.loads((tmp_path / "once" / "synthau.json").read_text())
    assert manifest["complete"] is True and "frames_written" not in manifest and "videos_skipped" not in manifest
