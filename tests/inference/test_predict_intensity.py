"""predict with a model that has an intensity head writes AUxx_r on 0–5 (OpenFace 2's scale)."""
import pandas as pd
import pytest
from click.testing import CliRunner
from predict_media import feat_data

from augcn_pyg.cli import main
from benchmarks.fixtures import SMALL_MODEL, make_store


def test_predict_writes_r_columns_on_the_0_5_scale(tmp_path):
    pytest.importorskip("dlib")
    data = feat_data()
    make_store(tmp_path / "store", roi_size=25, intensity=True)
    runner = CliRunner()
    result = runner.invoke(main, ["train", "--data", str(tmp_path / "store"), "--epochs", "0,1", "-o",
                                  str(tmp_path / "run"), "-q", "--task", "both", *SMALL_MODEL])
    assert result.exit_code == 0, result.output
    out = tmp_path / "multi.csv"
    result = runner.invoke(main, ["predict", str(data / "multi_face.jpg"), "--checkpoint", str(tmp_path / "run"),
                                  "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out)
    r_cols = [c for c in df.columns if c.endswith("_r")]
    assert r_cols[0] == "AU01_r" and len(r_cols) == 12
    assert list(df.columns).index("AU24_r") + 1 == list(df.columns).index("AU01_p")
    ok = df[df["success"] == 1]
    assert len(ok) >= 1 and ((ok[r_cols] > 0) & (ok[r_cols] < 5)).all().all()
    # the same run exported to ONNX writes the same AUxx_r (and AUxx_p) columns
    pytest.importorskip("onnxruntime")
    result = runner.invoke(main, ["export", str(tmp_path / "run"), "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0 and "AU intensities on 0-5" in result.output, result.output
    out_onnx = tmp_path / "multi_onnx.csv"
    result = runner.invoke(main, ["predict", str(data / "multi_face.jpg"), "--onnx", str(tmp_path / "m.onnx"),
                                  "-o", str(out_onnx), "-q"])
    assert result.exit_code == 0, result.output
    onnx_df = pd.read_csv(out_onnx)
    assert list(onnx_df.columns) == list(df.columns)
    p_cols = [c for c in df.columns if c.endswith("_p")]
    assert (onnx_df[r_cols] - df[r_cols]).abs().max().max() <= 2e-3  # written to a few decimals
    assert (onnx_df[p_cols] - df[p_cols]).abs().max().max() <= 2e-4
