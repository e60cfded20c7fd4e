"""SynthAU occlusion and expressivity: occluders drawn where the manifest says, the manifest carried into the
store, presets and knobs, weak AUs, the CLI."""
import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from augcn_pyg.cli import main
from augcn_pyg.core.aus import get_protocol
from augcn_pyg.data.prepare import prepare
from augcn_pyg.data.store import ROIStore, write_store
from augcn_pyg.data.synthau.face import sample_identity
from augcn_pyg.data.synthau.occlusion import (
    KINDS,
    PRESETS,
    Evidence,
    evidence,
    parse_cue_strength,
    read_cover,
    sample_occluder,
)
from augcn_pyg.data.synthau.oracles import local_evidence
from augcn_pyg.data.synthau.plan import stream
from augcn_pyg.data.synthau.prototypes import RENDERED_AUS
from augcn_pyg.data.synthau.render import FaceRenderer, FrameConditions
from augcn_pyg.data.synthetic import generate_synthau
from augcn_pyg.face.pipeline import align_usable, crop_rois

TINY = dict(protocol="bp4d", subjects=1, frames_per_video=2, image_size=128, seed=3, difficulty="easy",
            progress=False)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """The same faces, clean and with an occluder in every frame (occluders use their own random stream)."""
    base = tmp_path_factory.mktemp("occ")
    clean = generate_synthau(base / "clean", **TINY)
    occ = generate_synthau(base / "occ", occlusion=1.0, **TINY)
    return base / "clean", base / "occ", clean, occ


def _frames(root):
    out = []
    for path in sorted((root / "Landmarks").glob("*.csv")):
        table = np.loadtxt(path, delimiter=",", skiprows=1)
        for row in np.atleast_2d(table):
            frame = int(row[0])
            subject, task = path.stem.split("_")
            out.append((path.stem, frame, root / "Sequences" / subject / task / f"{frame}.jpg",
                        np.c_[row[5:73], row[73:141]]))
    return out


def test_occluders_are_drawn_where_the_renderer_mask_says():
    renderer = FaceRenderer(sample_identity(stream(0, 0, 0)), size=128)
    cond = FrameConditions(8.0, 1.05, (0.02, -0.01), 0.5, 0.2, 0.0, 4.0)  # pose, light and noise; no blur
    active = {12: 3.0, 6: 2.5}
    for k, kind in enumerate(KINDS):
        ev = Evidence(occlusion=1.0, mix=tuple(float(i == k) for i in range(len(KINDS))))
        occluder = sample_occluder(np.random.default_rng(k), renderer.canonical_landmarks(active), ev,
                                   (240, 240, 240) if kind == "hand" else (200, 160, 130))
        assert occluder.kind == kind
        plain, lm0 = renderer.render(active, cond, np.random.default_rng(1))
        img, lm1, mask = renderer.render_occluded(active, cond, np.random.default_rng(1), occluder)
        np.testing.assert_array_equal(lm0, lm1)  # landmarks stay the drawn face's
        diff = np.abs(img.astype(int) - plain.astype(int)).max(axis=2)
        assert (diff[mask == 0] == 0).all(), kind  # nothing changes outside the occluder
        inside = mask > 0.99
        assert inside.sum() > 50 and (diff[inside] > 0).mean() > 0.9, kind


def test_the_manifest_says_which_rois_are_covered(pair):
    clean_root, occ_root, _, _ = pair
    clean, occ = _frames(clean_root), _frames(occ_root)
    assert [(v, f) for v, f, _, _ in clean] == [(v, f) for v, f, _, _ in occ]
    import cv2

    def crops(frames):
        imgs = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for _, _, p, _ in frames]
        faces = align_usable(imgs, np.stack([lm for *_, lm in frames]), "bp4d")
        assert len(faces.kept) == len(frames)
        return crop_rois(faces.aligned, faces.points, "bp4d", 25).float().numpy()

    diff = np.abs(crops(clean) - crops(occ)).mean(axis=(2, 3, 4))  # (F, R) mean grey-level change per ROI
    cover = read_cover(occ_root, "bp4d", [v.split("_")[0] for v, *_ in occ], [v.split("_")[1] for v, *_ in occ],
                       [f for _, f, *_ in occ])
    kinds = {row.split(",")[1] for csv in (occ_root / "Occlusion").glob("*.csv")
             for row in csv.read_text().splitlines()[1:]}
    assert kinds <= set(KINDS) and len(kinds) >= 2  # occlusion 1.0: every frame has one
    covered, free = cover > 0.6, cover == 0
    assert covered.sum() >= 10 and free.sum() >= 50
    assert diff[covered].min() > 8  # an occluded ROI looks different
    assert diff[free].max() < 3  # an uncovered one does not (JPEG only)
    # the labels and landmarks are the clean set's: the truth does not change
    for name in ("AUCoding", "Landmarks", "AUIntensity"):
        for f in sorted((clean_root / name).rglob("*.csv")):
            assert f.read_bytes() == (occ_root / f.relative_to(clean_root)).read_bytes()


def test_default_knobs_write_what_synthau_wrote_before(pair):
    clean_root, occ_root, clean, occ = pair
    assert not (clean_root / "Occlusion").exists()
    assert "evidence" not in clean["parameters"] and "preset" not in clean["parameters"]
    assert occ["parameters"]["evidence"]["occlusion"] == 1.0


def test_the_manifest_round_trips_into_the_store(pair, tmp_path):
    _, occ_root, _, _ = pair
    store = ROIStore(prepare("bp4d", occ_root, tmp_path / "store", landmarks="no-detector-allowed", progress=False,
                             landmarks_dir=occ_root / "Landmarks").out)
    assert store.occlusion is not None and store.occlusion.shape == (len(store), store.protocol.num_rois)
    expected = read_cover(occ_root, "bp4d", store.subject, store.video, store.frame)
    np.testing.assert_array_equal(store.occlusion, expected)
    assert expected.max() > 0.5
    # a store written without the column reads as before
    n, r = 2, store.protocol.num_rois
    plain = write_store(tmp_path / "plain", "bp4d", np.zeros((n, r, 3, 4, 4), np.uint8), np.zeros((n, 12)),
                        ["a", "b"], ["v", "v"], [0, 1])
    assert plain.occlusion is None
    again = write_store(tmp_path / "with", "bp4d", np.zeros((n, r, 3, 4, 4), np.uint8), np.zeros((n, 12)),
                        ["a", "b"], ["v", "v"], [0, 1], occlusion=np.full((n, r), 0.25))
    np.testing.assert_array_equal(again.occlusion, np.full((n, r), 0.25, np.float32))


def test_presets_set_the_knobs():
    assert evidence("clean") == Evidence() and Evidence().is_default
    occ = evidence("occluded")
    assert occ == PRESETS["occluded"] and occ.occlusion == 0.5 and occ.weak_share > 0 and occ.cue_strength < 1
    assert evidence("occluded", occlusion=0.2).occlusion == 0.2
    assert evidence("clean", au_cue_strength={7: 0.3}).cue_gains() == {7: 0.3}
    assert evidence("occluded", au_cue_strength=((7, 0.5),)).cue_gains()[7] == pytest.approx(0.3)
    assert parse_cue_strength("0.6,AU7=0.3, 12=0.5") == (0.6, ((7, 0.3), (12, 0.5)))
    for bad in (dict(occlusion=1.5), dict(weak_gain=-1), dict(mix=(0, 0, 0, 0)), dict(au_cue_strength={3: 1.0})):
        with pytest.raises(ValueError):
            evidence("clean", **bad)
    with pytest.raises(ValueError, match="unknown preset"):
        evidence("foggy")


def test_weak_aus_are_drawn_weakly_and_labelled_truly(tmp_path):
    kw = dict(protocol="bp4d", subjects=1, frames_per_video=3, image_size=96, seed=1, progress=False)
    generate_synthau(tmp_path / "a", **kw)
    b = generate_synthau(tmp_path / "b", weak_share=1.0, weak_gain=0.0, **kw)  # every AU of the subject flat
    assert b["weak_aus"]["F001"] == {str(x): 0.0 for x in RENDERED_AUS}
    for f in sorted((tmp_path / "a" / "AUCoding").rglob("*.csv")):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()
    # with every AU drawn at 0, the face is the neutral face: its landmarks move less within a video
    spread = [np.loadtxt(p, delimiter=",", skiprows=1)[:, 5:].std(axis=0).mean()
              for p in (tmp_path / "a" / "Landmarks" / "F001_T1.csv", tmp_path / "b" / "Landmarks" / "F001_T1.csv")]
    la = np.loadtxt(tmp_path / "a" / "AUCoding" / "AU_OCC" / "F001_T1.csv", delimiter=",", skiprows=1)[:, 1:]
    assert la.sum() > 0 and spread[1] <= spread[0] + 1e-6


def test_cli_preset_occluded(tmp_path):
    out = tmp_path / "s"
    result = CliRunner().invoke(main, ["synth", "-o", str(out), "--preset", "occluded", "--relations", "independent",
                                       "--subjects", "1", "--frames-per-video", "2", "--image-size", "96", "-q",
                                       "--cue-strength", "0.6,7=0.5"])
    assert result.exit_code == 0, result.output
    params = json.loads((out / "synthau.json").read_text())["parameters"]
    assert params["preset"] == "occluded" and params["relations"] == "independent"
    assert params["evidence"]["occlusion"] == 0.5 and params["evidence"]["au_cue_strength"] == {"7": 0.5}
    assert len(list((out / "Occlusion").glob("*.csv"))) == 8
    bad = CliRunner().invoke(main, ["synth", "-o", str(tmp_path / "t"), "--cue-strength", "loud"])
    assert bad.exit_code != 0 and "loud" in bad.output


def test_the_masked_preset_hides_the_lower_face_and_nothing_else(pair, tmp_path):
    clean_root = pair[0]
    generate_synthau(tmp_path / "m0", preset="masked", occlusion=0.0, **TINY)
    # at rate 0: the clean preset's images, landmarks and labels, byte for byte (plus an empty manifest)
    files = [f for f in sorted(clean_root.rglob("*")) if f.is_file() and f.name != "synthau.json"]
    assert len(files) > 10
    for f in files:
        assert f.read_bytes() == (tmp_path / "m0" / f.relative_to(clean_root)).read_bytes(), f
    generate_synthau(tmp_path / "m1", preset="masked", occlusion=1.0, **TINY)
    frames = _frames(tmp_path / "m1")
    kinds = {row["occluder"] for p in (tmp_path / "m1" / "Occlusion").glob("*.csv")
             for row in csv.DictReader(p.open())}
    assert kinds == {"mask"}
    cover = read_cover(tmp_path / "m1", "bp4d", [v.split("_")[0] for v, *_ in frames],
                       [v.split("_")[1] for v, *_ in frames], [f for _, f, *_ in frames])
    visible = local_evidence(cover, None, "bp4d")  # (N, C)
    aus = list(get_protocol("bp4d").aus)
    upper = [aus.index(a) for a in (1, 2, 4, 7)]
    lower = [aus.index(a) for a in (12, 14, 15, 17, 23, 24)]
    assert visible[:, upper].all()
    assert (~visible[:, lower]).mean() > 0.8
