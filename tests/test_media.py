"""Frame sources: an image, a folder in name order, a video frame by frame (skip for resume, a video that
stops decoding early), and what is not media."""
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from augcn_pyg.errors import InputError
from augcn_pyg.media import open_media

sys.path.insert(0, str(Path(__file__).parent))
from predict_media import write_blank_video  # noqa: E402


def write_png(path, value):
    cv2.imwrite(str(path), np.full((8, 10, 3), value, np.uint8))


def test_an_image_is_one_frame(tmp_path):
    write_png(tmp_path / "a.png", 7)
    source = open_media(tmp_path / "a.png")
    frames = list(source.frames())
    assert source.kind == "images" and source.count == 1 and len(frames) == 1
    assert frames[0].number == 1 and frames[0].timestamp is None and frames[0].name == "a.png"
    assert frames[0].image.shape == (8, 10, 3) and frames[0].image.dtype == np.uint8


def test_a_folder_is_read_in_name_order_and_skips_other_files(tmp_path):
    for name, value in (("b.png", 2), ("a.jpg", 1), ("c.bmp", 3)):
        write_png(tmp_path / name, value * 40)
    (tmp_path / "notes.txt").write_text("x")
    source = open_media(tmp_path)
    assert [f.name for f in source.frames()] == ["a.jpg", "b.png", "c.bmp"]
    assert [f.number for f in source.frames(skip=1)] == [2, 3]


def test_a_video_is_decoded_frame_by_frame_and_resumes_exactly(tmp_path):
    video = tmp_path / "v.avi"
    write_blank_video(video, 12)
    source = open_media(video)
    assert source.kind == "video" and source.count == 12 and source.fps == pytest.approx(25)
    frames = list(source.frames())
    assert [f.number for f in frames] == list(range(1, 13))
    assert frames[4].timestamp == pytest.approx(4 / 25)
    later = list(source.frames(skip=5))
    assert later[0].number == 6 and np.array_equal(later[0].image, frames[5].image)
    shutil.copy(video, tmp_path / "v.data")  # an unknown suffix: a video if OpenCV opens it
    assert open_media(tmp_path / "v.data").kind == "video"


def test_a_video_that_stops_early_names_the_frame_after_yielding_the_ones_before(tmp_path):
    video = tmp_path / "cut.avi"
    write_blank_video(video, 60)
    data = video.read_bytes()
    video.write_bytes(data[:len(data) // 2])
    seen = []
    with pytest.raises(InputError, match=r"frame (\d+) of 60 cannot be decoded") as err:
        for frame in open_media(video).frames():
            seen.append(frame.number)
    assert 0 < len(seen) < 55 and f"frame {len(seen) + 1} of 60" in str(err.value)


@pytest.mark.parametrize("case", ["missing", "text", "empty folder", "broken image"])
def test_what_is_not_media_is_an_input_error(case, tmp_path):
    path = {"missing": tmp_path / "nope.mp4", "text": tmp_path / "a.txt", "empty folder": tmp_path / "empty",
            "broken image": tmp_path / "broken.jpg"}[case]
    (tmp_path / "a.txt").write_text("not media")
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(InputError):
        list(open_media(path).frames())

