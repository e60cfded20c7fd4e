"""Output formats (parametrised over the registry) and the streaming writer's resume contract."""
import json

import numpy as np
import pandas as pd
import pytest

from augcn_pyg.core.errors import InputError
from augcn_pyg.inference.output import OUTPUT_FORMATS, StreamWriter, progress_path
from augcn_pyg.inference.predict import FaceResult, FrameResult

AUS = (1, 2, 4)


def frames(start: int, n: int) -> list[FrameResult]:
    out = []
    for k in range(start, start + n):
        faces = [] if k % 3 == 0 else [FaceResult(0, 1.5, np.array([1, 2, 30, 40]), np.full((68, 2), k, np.float32),
                                                   np.array([0.2, 0.5, 0.9], np.float32))]
        out.append(FrameResult(k, (k - 1) / 25, None, faces))
    return out


@pytest.mark.parametrize("name", sorted(OUTPUT_FORMATS))
def test_every_format_writes_one_record_per_frame_and_resumes_byte_for_byte(name, tmp_path):
    fmt = OUTPUT_FORMATS[name](AUS, True, 0.5)
    whole = tmp_path / "whole"
    w = StreamWriter(whole, fmt, {"input": "x"})
    w.write(frames(1, 4))
    w.write(frames(5, 4))
    w.finish()
    assert not progress_path(whole).exists()

    out = tmp_path / "out"
    w = StreamWriter(out, fmt, {"input": "x"})
    w.write(frames(1, 4))
    w.close()  # killed here
    with open(out, "a") as fh:
        fh.write("half a batch")
    with pytest.raises(InputError, match="another input"):
        StreamWriter(out, fmt, {"input": "y"}, resume=True)
    with pytest.raises(InputError, match="--resume"):
        StreamWriter(out, fmt, {"input": "x"})
    w = StreamWriter(out, fmt, {"input": "x"}, resume=True)
    assert w.frames_done == 4
    w.write(frames(5, 4))
    w.finish()
    assert out.read_bytes() == whole.read_bytes()


def test_csv_rows_follow_openface_and_leave_no_face_rows_empty(tmp_path):
    out = tmp_path / "o.csv"
    w = StreamWriter(out, OUTPUT_FORMATS["csv"](AUS, True, 0.5), {})
    w.write(frames(1, 3))
    w.finish()
    df = pd.read_csv(out)
    assert list(df.columns[:5]) == ["frame", "face_id", "timestamp", "confidence", "success"]
    assert list(df.columns[-7:]) == ["AU01_p", "AU02_p", "AU04_p", "AU01_c", "AU02_c", "AU04_c", "note"]
    assert list(df["success"]) == [1, 1, 0] and df.loc[2].filter(like="AU").isna().all()
    assert list(df.loc[0, ["AU01_c", "AU02_c", "AU04_c"]]) == [0, 1, 1]  # >= 0.5 is present
    assert df.loc[1, "x_0"] == 2 and df.loc[1, "y_67"] == 2


def test_json_lines_hold_the_faces_of_each_frame(tmp_path):
    out = tmp_path / "o.jsonl"
    w = StreamWriter(out, OUTPUT_FORMATS["json"](AUS, False, 0.5), {})
    w.write(frames(1, 3))
    w.finish()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["frame"] for r in rows] == [1, 2, 3] and rows[2]["faces"] == []
    assert rows[0]["faces"][0]["present"] == {"AU01": 0, "AU02": 1, "AU04": 1} and "landmarks" not in rows[0]["faces"][0]


def test_a_missing_output_folder_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InputError, match="folder does not exist"):
        StreamWriter(tmp_path / "no" / "o.csv", OUTPUT_FORMATS["csv"](AUS, False, 0.5), {})


@pytest.mark.parametrize("name", sorted(OUTPUT_FORMATS))
def test_an_unreadable_image_has_its_record_with_a_note_saying_why(name, tmp_path):
    out = tmp_path / "o"
    batch = frames(1, 2) + [FrameResult(3, None, "b.jpg", [], "unreadable image: not a decodable image")]
    w = StreamWriter(out, OUTPUT_FORMATS[name](AUS, False, 0.5), {})
    w.write(batch)
    w.finish()
    if name == "csv":
        df = pd.read_csv(out, keep_default_na=False)
        assert list(df["note"]) == ["", "", "unreadable image: not a decodable image"]
        assert list(df["success"]) == [1, 1, 0] and list(df.loc[2, ["AU01_p", "AU01_c", "confidence"]]) == ["", "", 0]
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert "note" not in rows[0] and rows[2] == {"frame": 3, "timestamp": None, "file": "b.jpg", "faces": [],
                                                     "note": "unreadable image: not a decodable image"}
