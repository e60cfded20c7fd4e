"""Dataset readers on small native layouts written by the tests: real JPEGs (cv2.imwrite), an MJPG .avi
(cv2.VideoWriter) and DISFA landmark .mat files (scipy.io.savemat)."""
from __future__ import annotations

import cv2
import native_formats as native  # noqa: E402  (tests/data/native_formats.py)
import numpy as np
import pytest
from scipy.io import savemat

from augcn_pyg.core.errors import InputError
from augcn_pyg.data.readers import DATASET_READERS, Frame, load_image, numbered_files, read_dataset

BP4D = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
DISFA = (1, 2, 4, 6, 9, 12, 25, 26)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def colour(k: int) -> tuple[int, int, int]:
    """A distinct RGB colour per frame number (far apart, so JPEG/MJPG loss cannot confuse two)."""
    return (int(40 * (k % 6) + 20), int(50 * ((k // 6) % 5) + 20), int(200 - 30 * ((k // 30) % 6)))


def write_jpeg(path, k: int, size=(24, 32)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.zeros(size + (3,), np.uint8) + np.array(colour(k), np.uint8)
    assert cv2.imwrite(str(path), rgb[..., ::-1])  # OpenCV writes BGR


def write_avi(path, numbers: list[int], size=(32, 48)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (size[1], size[0]))
    assert writer.isOpened()
    for k in numbers:
        writer.write((np.zeros(size + (3,), np.uint8) + np.array(colour(k), np.uint8))[..., ::-1].copy())
    writer.release()


def which_colour(image: np.ndarray, candidates) -> int:
    mean = image.reshape(-1, 3).mean(0)
    return min(candidates, key=lambda k: np.abs(mean - colour(k)).sum())


def assert_colour(image: np.ndarray, k: int) -> None:
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    np.testing.assert_allclose(image.reshape(-1, 3).mean(0), colour(k), atol=6)


def bp4d_cols(rows):
    return {au: [r[j] for r in rows] for j, au in enumerate(BP4D)}


# ----------------------------------------------------------------------------------------------- BP4D

@pytest.fixture
def bp4d(tmp_path):
    root = tmp_path / "BP4D"
    occ = root / "AUCoding" / "AU_OCC"
    r1 = [[1] * 12, [0] * 12, [9] + [1] * 11]
    native.bp4d_csv(occ / "F001_T1.csv", [2440, 2441, 2442], bp4d_cols(r1))
    native.bp4d_csv(occ / "M002_T8.csv", [10, 11], bp4d_cols([[0] * 12, [1] * 12]))
    native.bp4d_csv(occ / "F003_T2.csv", [5], bp4d_cols([[1] * 12]))  # no image folder at all
    for k in (2440, 2441):  # 2442 missing
        write_jpeg(root / "Sequences" / "F001" / "T1" / f"{k}.jpg", k)
    write_jpeg(root / "Sequences" / "F001" / "T1" / "2399.jpg", 2399)  # unlabelled image: not a frame
    for k in (10, 11):  # zero-padded copy
        write_jpeg(root / "Sequences" / "M002" / "T8" / f"{k:04d}.jpg", k)
    return root


def test_bp4d_frames_labels_and_skips(bp4d):
    frames = read_dataset("bp4d", bp4d, "bp4d")
    assert [(f.subject, f.video, f.frame) for f in frames] == [("F001", "T1", 2440), ("F001", "T1", 2441),
                                                               ("M002", "T8", 10), ("M002", "T8", 11)]
    assert all(isinstance(f, Frame) and f.video_path is None and f.landmarks is None for f in frames)
    np.testing.assert_array_equal(frames[0].labels, np.ones(12, np.float32))
    np.testing.assert_array_equal(frames[1].labels, np.zeros(12, np.float32))
    assert frames[2].image.name == "0010.jpg" and frames[0].labels.dtype == np.float32
    skipped = {(s.subject, s.frame): s.reason for s in frames.skipped}
    assert set(skipped) == {("F001", 2442), ("F003", 5)}
    assert skipped[("F001", 2442)].startswith("no image for frame 2442")
    assert skipped[("F003", 5)].startswith("no image folder")
    assert "2 skipped" in frames.summary()
    for f in frames:
        assert_colour(load_image(f), f.frame)


def test_bp4d_errors(tmp_path, bp4d):
    with pytest.raises(InputError, match="no Sequences folder") as e:
        read_dataset("bp4d", bp4d / "AUCoding", "bp4d")
    assert str(bp4d / "AUCoding") in str(e.value)
    (bp4d / "Sequences" / "M002" / "T8" / "10.jpg").write_bytes(b"")  # 10.jpg beside 0010.jpg
    frames = read_dataset("bp4d", bp4d, "bp4d")
    assert any(s.frame == 10 and "two images numbered 10" in s.reason for s in frames.skipped)


# ---------------------------------------------------------------------------------------------- DISFA

def disfa_labels(root, subject, n, rng, first_frame=1):
    intens = {au: rng.integers(0, 6, n).tolist() for au in native.DISFA_FILE_AUS}
    native.disfa_subject(root / "ActionUnit_Labels", subject, intens, first_frame)
    return np.array([intens[au] for au in DISFA]).T  # (n, 8) intensities 0-5


def write_mat(path, k: int) -> np.ndarray:
    pts = np.stack([np.arange(66) + 100.0 * k, np.arange(66) * 2.0], axis=1)  # (66, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(str(path), {"pts": pts})
    return pts


@pytest.fixture
def disfa(tmp_path, rng):
    root = tmp_path / "DISFA"
    truth = {}
    # SN001: extracted frames numbered like the labels (1-based), landmarks named l0NNNN (1-based)
    truth["SN001"] = disfa_labels(root, "SN001", 4, rng)
    for f in range(1, 5):
        write_jpeg(root / "Images" / "SN001" / f"frame-{f}.jpg", f)
        write_mat(root / "Landmark_Points" / "SN001" / "tmp_frame_lm" / f"l0{f:04d}_lm.mat", f)
    # SN002: frames extracted from 0 (file k = label frame k + 1), landmarks SN002_NNNN (0-based), one missing
    truth["SN002"] = disfa_labels(root, "SN002", 3, rng)
    for f in range(1, 4):
        write_jpeg(root / "Images" / "LeftVideoSN002_comp" / f"LeftVideoSN002_comp_{f - 1:05d}.jpg", f)
        if f != 2:
            write_mat(root / "Landmark_Points" / "SN002" / "tmp_frame_lm" / f"SN002_{f - 1:04d}_lm.mat", f)
    # SN003: only the video, which has one frame fewer than the labels
    truth["SN003"] = disfa_labels(root, "SN003", 5, rng)
    write_avi(root / "Videos_LeftCamera" / "LeftVideoSN003_comp.avi", [1, 2, 3, 4])
    # SN004: labels only
    truth["SN004"] = disfa_labels(root, "SN004", 2, rng)
    return root, truth


def test_disfa_media_numbering_and_labels(disfa):
    root, truth = disfa
    frames = read_dataset("disfa", root, "disfa", landmarks=False)
    keys = [(f.subject, f.frame) for f in frames]
    assert keys == [("SN001", k) for k in range(1, 5)] + [("SN002", k) for k in range(1, 4)] + \
        [("SN003", k) for k in range(1, 5)]
    for f in frames:
        np.testing.assert_array_equal(f.labels, (truth[f.subject][f.frame - 1] >= 2).astype(np.float32))
        assert f.landmarks is None
    by = {(f.subject, f.frame): f for f in frames}
    assert by[("SN002", 1)].image.name == "LeftVideoSN002_comp_00000.jpg"  # 0-based files detected
    assert by[("SN003", 4)].image is None and by[("SN003", 4)].video_index == 3  # 1-based label -> 0-based
    assert any(n.startswith("image files numbered from 0") and "1 subjects, e.g. SN002" in n for n in frames.notes)
    skipped = {(s.subject, s.frame): s.reason for s in frames.skipped}
    assert skipped[("SN003", 5)].startswith("frame 5 beyond the video's 4 frames")
    assert all(skipped[("SN004", k)].startswith("no frames or video for SN004") for k in (1, 2))
    assert len(skipped) == 3
    # decoded pixels: each frame is the one written for its label frame (video read out of order too)
    for key in [("SN003", 3), ("SN003", 1), ("SN003", 2), ("SN003", 4), ("SN002", 1), ("SN001", 4)]:
        img = load_image(by[key])
        assert which_colour(img, range(1, 6)) == key[1]


def test_disfa_explicit_image_base_and_threshold(disfa):
    root, truth = disfa
    frames = read_dataset("disfa", root, "disfa", landmarks=False, image_base=1, intensity_threshold=4)
    sn002 = [f for f in frames if f.subject == "SN002"]
    # file k taken as label frame k: label frames 1, 2 -> files 1, 2 (file 0 unused, frame 3 has no file)
    assert [f.frame for f in sn002] == [1, 2]
    assert any(s.subject == "SN002" and s.frame == 3 for s in frames.skipped)
    for f in frames:  # present = intensity >= 4, each frame its own label row
        assert f.labels.dtype == np.float32
        np.testing.assert_array_equal(f.labels, (truth[f.subject][f.frame - 1] >= 4).astype(np.float32))
    row = lambda f: truth[f.subject][f.frame - 1]  # noqa: E731
    assert any(((row(f) >= 2) != (row(f) >= 4)).any() for f in frames)  # so the threshold is really tested


def test_disfa_landmarks_both_namings(disfa):
    from augcn_pyg.landmarks.layout import to_68

    root, _ = disfa
    frames = read_dataset("disfa", root, "disfa")
    by = {(f.subject, f.frame): f for f in frames}
    for key in [("SN001", 1), ("SN001", 4), ("SN002", 1), ("SN002", 3)]:
        expected = to_68(np.stack([np.arange(66) + 100.0 * key[1], np.arange(66) * 2.0], axis=1))
        np.testing.assert_allclose(by[key].landmarks, expected)
        assert by[key].landmarks.shape == (68, 2)
    assert by[("SN002", 2)].landmarks is None and by[("SN003", 1)].landmarks is None
    assert any("have no landmark file" in n for n in frames.notes)


def test_disfa_right_camera_never_gets_left_camera_landmarks(disfa):
    root, _ = disfa
    (root / "Images" / "SN001").rename(root / "Images" / "RightVideoSN001_comp")
    frames = read_dataset("disfa", root, "disfa", camera="right")
    assert [f.frame for f in frames if f.subject == "SN001"] == [1, 2, 3, 4]
    assert all(f.landmarks is None for f in frames)  # detected, not taken from Landmark_Points
    assert any("Landmark_Points (left camera) not used for the right camera" in n for n in frames.notes)


def test_disfa_right_camera_never_reads_camera_neutral_frames(disfa):
    """Images/SNxxx/ does not say its camera: read as the left camera's, never as the right camera's."""
    root, _ = disfa
    # SN001's frames are in Images/SN001 only; SN002 has right-camera frames beside the left ones
    for f in range(1, 4):
        write_jpeg(root / "Images" / "RightVideoSN002_comp" / f"RightVideoSN002_comp_{f:05d}.jpg", 4 + f % 2)
    frames = read_dataset("disfa", root, "disfa", camera="right")
    assert {f.subject for f in frames} == {"SN002"}
    assert all("RightVideoSN002_comp" in str(f.image) for f in frames)
    reasons = {s.reason for s in frames.skipped if s.subject == "SN001"}
    assert len(reasons) == 1 and reasons.pop().startswith("no right-camera frames or video for SN001")
    assert any("1 subjects have no right-camera frames" in n for n in frames.notes)
    # an Images_RightCamera root says its camera: its SNxxx/ folders are the right camera's
    for f in range(1, 5):
        write_jpeg(root / "Images_RightCamera" / "SN001" / f"{f}.jpg", f)
    frames = read_dataset("disfa", root, "disfa", camera="right")
    assert [f.frame for f in frames if f.subject == "SN001"] == [1, 2, 3, 4]
    assert all("Images_RightCamera" in str(f.image) for f in frames if f.subject == "SN001")
    assert all(f.landmarks is None for f in frames)


def test_disfa_right_camera_with_only_one_cameras_frames_is_refused(tmp_path, rng):
    from click.testing import CliRunner

    from augcn_pyg.cli import main

    root = tmp_path / "DISFA"
    disfa_labels(root, "SN001", 3, rng)
    for f in range(1, 4):
        write_jpeg(root / "Images" / "SN001" / f"{f}.jpg", f)
    with pytest.raises(InputError, match="camera 'right': only one camera's frames were found"):
        read_dataset("disfa", root, "disfa", camera="right")
    assert len(read_dataset("disfa", root, "disfa", camera="left")) == 3
    out = tmp_path / "store"
    result = CliRunner().invoke(main, ["prepare", "--dataset", "disfa", "--root", str(root), "-o", str(out),
                                       "--camera", "right", "--quiet"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "only one camera's frames" in errors[0] and "Images_RightCamera" in errors[0]
    assert not out.exists()


# ----------------------------------------------------------------------------------------------- lists

@pytest.fixture
def lists(tmp_path):
    root = tmp_path / "data" / "BP4D"
    (root / "list").mkdir(parents=True)
    splits = {
        "train_fold1": ["F001/T1/2440.jpg", "F001/T1/2441.jpg"],
        "test_fold1": ["M002/T8/10.jpg", "M002/T8/11.jpg"],
        "train_fold2": ["M002/T8/10.jpg"],  # the same image in another fold's list
    }
    rows = {}
    for name, paths in splits.items():
        split, fold = name.split("_")
        (root / "list" / f"BP4D_{split}_img_path_{fold}.txt").write_text("\n".join(paths) + "\n")
        labels = [[(j + i) % 2 for j in range(12)] for i, _ in enumerate(paths)]
        (root / "list" / f"BP4D_{split}_label_{fold}.txt").write_text(
            "\n".join(" ".join(map(str, r)) for r in labels) + "\n")
        rows.update({p: r for p, r in zip(paths, labels)})
    for p in ("F001/T1/2440.jpg", "F001/T1/2441.jpg", "M002/T8/10.jpg"):  # M002/T8/11.jpg missing
        write_jpeg(root / "img" / p, int(p.split("/")[-1][:-4]))
    return root, rows


def test_lists_all_splits(lists):
    root, rows = lists
    frames = read_dataset("lists", root, "bp4d")
    assert sorted((f.subject, f.video, f.frame) for f in frames) == [("F001", "T1", 2440), ("F001", "T1", 2441),
                                                                      ("M002", "T8", 10)]
    for f in frames:
        np.testing.assert_array_equal(f.labels, rows[f"{f.subject}/{f.video}/{f.frame}.jpg"])
        assert_colour(load_image(f), f.frame)
    assert [(s.subject, s.frame) for s in frames.skipped] == [("M002", 11)]
    assert frames.skipped[0].reason.startswith("no image")


def test_lists_selection_and_errors(lists):
    root, _ = lists
    test1 = read_dataset("lists", root, "bp4d", split="test", fold=1)
    assert [f.frame for f in test1] == [10] and len(test1.skipped) == 1
    one = read_dataset("lists", root / "list" / "BP4D_train_label_fold1.txt", "bp4d")
    assert [f.frame for f in one] == [2440, 2441]
    with pytest.raises(InputError, match="no \\*_label_fold\\*.txt") as e:
        read_dataset("lists", root, "bp4d", fold=3)
    assert str(root / "list") in str(e.value)
    with pytest.raises(InputError, match="12 columns but protocol 'disfa' scores 8"):
        read_dataset("lists", root, "disfa")


# ---------------------------------------------------------------------------------------------- folder

def test_folder_of_images_no_labels(tmp_path):
    for k in (3, 1, 2):
        write_jpeg(tmp_path / "clip" / f"img_{k:03d}.jpg", k)
    (tmp_path / "clip" / "notes.txt").write_text("not an image")
    frames = read_dataset("folder", tmp_path / "clip", "disfa")
    assert [f.frame for f in frames] == [1, 2, 3] and [f.image.name for f in frames] == \
        ["img_001.jpg", "img_002.jpg", "img_003.jpg"]
    assert all(np.isnan(f.labels).all() and f.labels.shape == (8,) for f in frames)
    assert frames[0].subject == "clip" and frames.skipped == []
    assert_colour(load_image(frames[2]), 3)


@pytest.mark.parametrize("kind", ["csv", "npy"])
def test_folder_labels_without_frame_numbers_label_the_images_in_order(tmp_path, kind):
    """Row k of a label file without a frame column labels the k-th image (frame k, 1-based), not the
    (k+1)-th: rows and images must not be shifted by one."""
    for k in (1, 2, 3):
        write_jpeg(tmp_path / "clip" / f"{k:03d}.jpg", k)
    rows = np.eye(3, 8, dtype=np.float32)  # row k: only the k-th DISFA AU present
    if kind == "csv":
        labels = tmp_path / "labels.csv"
        labels.write_text(",".join(f"AU{a}" for a in DISFA) + "\n"
                          + "".join(",".join(str(int(v)) for v in r) + "\n" for r in rows))
    else:
        labels = tmp_path / "labels.npy"
        np.save(labels, rows)
    frames = read_dataset("folder", tmp_path / "clip", "disfa", labels=labels)
    assert [f.image.name for f in frames] == ["001.jpg", "002.jpg", "003.jpg"]
    np.testing.assert_array_equal(np.stack([f.labels for f in frames]), rows)
    assert frames.notes == []  # every image has its row, every row its image


def test_folder_labels_repeating_a_frame_are_reported(tmp_path):
    for k in (1, 2):
        write_jpeg(tmp_path / "clip" / f"{k}.jpg", k)
    # OpenFace writes one row per face: a repeated frame is expected there, and the last row is used
    of_aus = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45)
    au_c = {au: [1, 0, 1 if au == 1 else 0] for au in of_aus}
    csv = native.openface_csv(tmp_path / "clip.csv", au_c, [1, 1, 1], spaces=False)
    lines = csv.read_text().splitlines()
    lines[3] = "2" + lines[3][lines[3].index(","):]  # the third row is a second face in frame 2
    csv.write_text("\n".join(lines) + "\n")
    frames = read_dataset("folder", tmp_path / "clip", "disfa", labels=csv)
    assert frames[1].labels.tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert any(n.startswith("1 label rows repeat a frame number") for n in frames.notes)
    # a plain CSV has one row per frame: a repeat is an error, as in BP4D's files
    labels = tmp_path / "labels.csv"
    labels.write_text("frame," + ",".join(f"AU{a}" for a in DISFA) + "\n"
                      "1,1,1,1,1,1,1,1,1\n2,0,0,0,0,0,0,0,0\n2,1,0,0,0,0,0,0,0\n")
    with pytest.raises(InputError, match="frame 2 appears 2 times"):
        read_dataset("folder", tmp_path / "clip", "disfa", labels=labels)


def test_folder_video_with_openface_labels_and_landmarks(tmp_path, rng):
    write_avi(tmp_path / "talk.avi", [1, 2, 3])
    of_aus = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45)
    au_c = {au: rng.integers(0, 2, 3).tolist() for au in of_aus}
    csv = native.openface_csv(tmp_path / "talk.csv", au_c, [1, 0, 1])
    frames = read_dataset("folder", tmp_path / "talk.avi", "disfa", labels=csv, openface=csv)
    assert [(f.frame, f.video_index, f.image) for f in frames] == [(1, 0, None), (2, 1, None), (3, 2, None)]
    np.testing.assert_array_equal(frames[0].labels, [au_c[au][0] for au in DISFA])
    assert np.isnan(frames[1].labels).all()  # success == 0
    assert which_colour(load_image(frames[2]), (1, 2, 3)) == 3
    assert frames[0].landmarks.shape == (68, 2) and frames[0].landmarks[0, 0] == pytest.approx(100.0)
    assert np.isnan(frames[1].landmarks).all()


# ------------------------------------------------------------------------------------ load_image, errors

def test_load_image_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    f = Frame("s", "v", 1, bad, None, None, np.zeros(12, np.float32))
    with pytest.raises(InputError, match="not a decodable image") as e:
        load_image(f)
    assert str(bad) in str(e.value)
    f.image = tmp_path / "gone.jpg"
    with pytest.raises(InputError, match="missing") as e:
        load_image(f)
    assert "gone.jpg" in str(e.value)
    write_avi(tmp_path / "v.avi", [1, 2])
    f = Frame("s", "v", 9, None, tmp_path / "v.avi", 8, np.zeros(12, np.float32))
    with pytest.raises(InputError, match="cannot decode frame index 8") as e:
        load_image(f)
    assert "v.avi" in str(e.value)
    with pytest.raises(InputError, match="neither an image nor a video"):
        load_image(Frame("s", "v", 1, None, None, None, np.zeros(12, np.float32)))


def test_release_videos_closes_the_open_capture(tmp_path):
    from augcn_pyg.data import readers
    from augcn_pyg.data.readers import frames

    write_avi(tmp_path / "v.avi", [1, 2])
    assert_colour(load_image(Frame("s", "v", 1, None, tmp_path / "v.avi", 0, np.zeros(12, np.float32))), 1)
    assert frames._VIDEOS.cap is not None
    readers.release_videos()
    assert frames._VIDEOS.cap is None
    # and reading again reopens it
    assert_colour(load_image(Frame("s", "v", 2, None, tmp_path / "v.avi", 1, np.zeros(12, np.float32))), 2)


def test_read_dataset_errors(tmp_path, bp4d):
    assert set(DATASET_READERS) == {"bp4d", "disfa", "lists", "folder"}
    with pytest.raises(InputError, match="unknown dataset 'ckplus'.*bp4d") as e:
        read_dataset("ckplus", bp4d, "bp4d")
    assert str(bp4d) in str(e.value)
    with pytest.raises(InputError, match="does not exist"):
        read_dataset("bp4d", tmp_path / "nowhere", "bp4d")
    with pytest.raises(InputError, match="unexpected keyword argument 'colour'"):
        read_dataset("bp4d", bp4d, "bp4d", colour="red")
    with pytest.raises(InputError, match="no images"):
        (tmp_path / "empty").mkdir()
        read_dataset("folder", tmp_path / "empty", "bp4d")


def test_numbered_files(tmp_path):
    for name in ("0007.jpg", "frame-12.png", "a_b_00003.jpeg", "x.jpg", "9.txt"):
        (tmp_path / name).write_bytes(b"")
    found, clashes = numbered_files(tmp_path)
    assert found == {7: "0007.jpg", 12: "frame-12.png", 3: "a_b_00003.jpeg"}
    assert clashes == []


def test_frame_list_pickles_with_its_skips(bp4d):
    """prepare hands frames to worker processes: the list, its skips and each frame survive pickling."""
    import pickle

    frames = read_dataset("bp4d", bp4d, "bp4d")
    back = pickle.loads(pickle.dumps(frames))
    assert back.skipped == frames.skipped and back.aus == BP4D and len(back) == len(frames)
    assert back[0].image == frames[0].image
    np.testing.assert_array_equal(back[0].labels, frames[0].labels)
