"""Frame sources: an image, a folder in name order, a video frame by frame (skip for resume, a video that
stops decoding early), and what is not media."""
import shutil

import cv2
import numpy as np
import pytest
from predict_media import write_blank_video, write_undecodable_video

from augcn_pyg.core.errors import InputError
from augcn_pyg.inference.media import open_media


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


@pytest.mark.parametrize("case", ["missing", "text", "empty folder", "no decodable frame"])
def test_what_is_not_media_is_an_input_error(case, tmp_path):
    path = {"missing": tmp_path / "nope.mp4", "text": tmp_path / "a.txt", "empty folder": tmp_path / "empty",
            "no decodable frame": tmp_path / "zeros.avi"}[case]
    (tmp_path / "a.txt").write_text("not media")
    (tmp_path / "empty").mkdir()
    write_undecodable_video(tmp_path / "zeros.avi", 12)
    message = "no frame of the video can be decoded" if case == "no decodable frame" else None
    with pytest.raises(InputError, match=message):
        list(open_media(path).frames())


def test_an_unreadable_image_is_a_frame_without_an_image_that_says_why(tmp_path):
    write_png(tmp_path / "a.png", 7)
    (tmp_path / "b.jpg").write_text("x\n")  # `echo x > b.jpg`
    (tmp_path / "c.jpg").write_bytes(b"")
    write_png(tmp_path / "d.png", 8)
    write_png(tmp_path / "e.png", 9)
    source = open_media(tmp_path)
    (tmp_path / "d.png").unlink()  # listed, then gone before it is read
    frames = list(source.frames())
    assert [f.number for f in frames] == [1, 2, 3, 4, 5] and [f.name for f in frames][1] == "b.jpg"
    assert [f.image is None for f in frames] == [False, True, True, True, False]
    assert [f.note for f in frames] == [None, "unreadable image: not a decodable image",
                                        "unreadable image: empty file", "unreadable image: missing", None]
    assert all("," not in f.note for f in frames if f.note)  # it goes into a CSV cell as it is
    single = list(open_media(tmp_path / "b.jpg").frames())
    assert len(single) == 1 and single[0].image is None and single[0].note.endswith("not a decodable image")

