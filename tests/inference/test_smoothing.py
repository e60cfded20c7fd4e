"""The smoother of ``predict --smooth N``: causal windows, tracks that end when a face is lost, and a state
that resumes exactly."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from augcn_pyg.core.errors import InputError
from augcn_pyg.inference.smoothing import TrackSmoother, box_iou, link_faces, smooth_frames

BOX = np.array([10.0, 10.0, 110.0, 110.0])
FAR = np.array([300.0, 10.0, 400.0, 110.0])


def face(raw, box=BOX):
    return SimpleNamespace(box=np.asarray(box, float), raw=None if raw is None else np.asarray(raw, np.float32),
                           probabilities=None)


def frame(*faces, followed=False):
    return SimpleNamespace(faces=list(faces), followed=followed)


def values(frames, k=0):
    return [None if not f.faces or f.faces[k].probabilities is None else f.faces[k].probabilities.tolist()
            for f in frames]


def test_the_mean_uses_only_the_last_n_frames_of_the_track():
    raw = [0.0, 0.3, 0.9, 0.6, 0.0, 0.3]
    frames = [frame(face([p, 1 - p])) for p in raw]
    smooth_frames(frames, 3, "mean")
    expected = [np.mean(raw[max(0, t - 2):t + 1]) for t in range(len(raw))]  # causal: no future frame
    got = [v[0] for v in values(frames)]
    assert np.allclose(got, expected, atol=1e-6)
    assert np.allclose([v[1] for v in values(frames)], 1 - np.array(expected), atol=1e-6)
    assert all(f.faces[0].raw is not None for f in frames)  # the raw values stay beside the smoothed ones


def test_the_exponential_smoother_has_an_n_frame_horizon():
    raw = [1.0, 0.0, 0.0, 1.0]
    frames = [frame(face([p])) for p in raw]
    smooth_frames(frames, 3, "ema")
    a, s, expected = 2 / (3 + 1), None, []
    for p in raw:
        s = p if s is None else a * p + (1 - a) * s
        expected.append(s)
    assert np.allclose([v[0] for v in values(frames)], expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["mean", "ema"])
def test_a_window_of_one_frame_changes_nothing(kind):
    raw = np.random.default_rng(0).random((20, 12)).astype(np.float32)
    frames = [frame(face(p)) for p in raw]
    smooth_frames(frames, 1, kind)
    assert all((f.faces[0].probabilities == p).all() for f, p in zip(frames, raw))  # bit for bit


def test_a_track_restarts_when_the_face_is_lost():
    frames = [frame(face([1.0])), frame(face([1.0])),
              frame(),  # no face in this frame: the track ends
              frame(face([0.0])), frame(face([0.0])),
              frame(face(None)),  # found but not scored (success = 0): the track ends too
              frame(face([1.0])),
              frame(face([0.0], FAR)),  # a whole-frame detection elsewhere: another face
              frame(face([1.0], FAR + 5))]  # overlaps the last box: the same track
    smooth_frames(frames, 5, "mean")
    assert values(frames) == [[1.0], [1.0], None, [0.0], [0.0], None, [1.0], [0.0], [0.5]]


def test_a_followed_face_continues_even_where_its_box_jumped():
    frames = [frame(face([1.0])), frame(face([0.0], FAR), followed=True), frame(face([0.0], BOX))]
    smooth_frames(frames, 3, "mean")
    assert np.allclose([v[0] for v in values(frames)], [1.0, 0.5, 0.0])  # the last: no overlap, not followed


def test_faces_renumbered_by_a_whole_frame_detection_keep_their_own_tracks():
    first = frame(face([1.0], BOX), face([0.0], FAR))
    swapped = frame(face([0.0], FAR + 2), face([1.0], BOX + 2))  # detector order changed
    smooth_frames([first, swapped], 2, "mean")
    assert swapped.faces[0].probabilities[0] == 0.0 and swapped.faces[1].probabilities[0] == 1.0
    assert link_faces(np.stack([BOX, FAR]), np.stack([FAR, BOX]), followed=False) == [1, 0]
    assert link_faces(np.stack([BOX]), np.stack([BOX, FAR]), followed=True) == [0, None]  # counts differ: by IoU


def test_box_iou():
    assert box_iou(BOX, BOX)[0, 0] == 1 and box_iou(BOX, FAR)[0, 0] == 0
    assert box_iou(BOX, BOX + [50, 0, 50, 0])[0, 0] == pytest.approx(50 / 150)


@pytest.mark.parametrize("kind", ["mean", "ema"])
def test_the_state_resumes_to_the_same_bits(kind):
    rng = np.random.default_rng(1)
    raws = rng.random((30, 2, 12)).astype(np.float32)

    def frames():
        out = []
        for t, (a, b) in enumerate(raws):
            faces = [face(a, BOX + t), face(b, FAR - t)] if t % 11 != 7 else [face(a, BOX + t)]
            out.append(frame(*faces, followed=t % 4 != 0))
        return out

    whole = frames()
    smooth_frames(whole, 5, kind)
    parts = frames()
    first = TrackSmoother(5, kind)
    for f in parts[:13]:
        first.step(f.faces, f.followed)
    saved = json.loads(json.dumps(first.state()))  # as the progress file keeps it
    resumed = TrackSmoother(5, kind)
    resumed.restore(saved)
    for f in parts[13:]:
        resumed.step(f.faces, f.followed)
    for a, b in zip(whole, parts):
        for fa, fb in zip(a.faces, b.faces):
            assert fa.probabilities.tobytes() == fb.probabilities.tobytes()


def test_a_bad_window_or_kind_is_refused():
    with pytest.raises(InputError, match=">= 1"):
        TrackSmoother(0)
    with pytest.raises(InputError, match="mean, ema"):
        TrackSmoother(3, "median")
