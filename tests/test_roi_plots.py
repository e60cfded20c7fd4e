import numpy as np
import pytest
from click.testing import CliRunner

from augcn_pyg.align import TEMPLATE_68
from augcn_pyg.aus import get_protocol
from augcn_pyg.cli import main
from augcn_pyg.roi_plots import draw_template_rois, load_rgb, roi_label


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
