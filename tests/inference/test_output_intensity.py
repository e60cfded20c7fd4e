"""AUxx_r (0–5) columns beside AUxx_p and AUxx_c when the model has an intensity head; none otherwise."""
import io
import json

import numpy as np
import pandas as pd

from augcn_pyg.inference.output import CSVFormat, JSONLinesFormat
from augcn_pyg.inference.predict import FaceResult, FrameResult

AUS = (1, 2, 12)


def frames():
    face = FaceResult(0, 0.9, np.array([1, 2, 30, 40]), None, probabilities=np.array([0.1, 0.6, 0.9], np.float32),
                      intensity=np.array([0.25, 2.5, 4.75], np.float32))
    return [FrameResult(1, 0.0, None, [face]), FrameResult(2, 0.04, None, [])]


def test_csv_has_r_columns_on_the_0_5_scale():
    fmt = CSVFormat(AUS, landmarks=False, threshold=0.5, intensity=True)
    table = pd.read_csv(io.StringIO(fmt.header() + fmt.encode(frames())))
    assert [c for c in table.columns if c.startswith("AU")] == ["AU01_r", "AU02_r", "AU12_r", "AU01_p", "AU02_p",
                                                                "AU12_p", "AU01_c", "AU02_c", "AU12_c"]
    assert table.loc[0, ["AU01_r", "AU02_r", "AU12_r"]].tolist() == [0.25, 2.5, 4.75]
    assert table.loc[1, ["AU01_r"]].isna().all()  # no face: empty cells
    plain = CSVFormat(AUS, landmarks=False, threshold=0.5)
    assert not any(c.endswith("_r") for c in plain.columns)


def test_json_lines_have_an_intensity_object():
    fmt = JSONLinesFormat(AUS, landmarks=False, threshold=0.5, intensity=True)
    face = json.loads(fmt.encode(frames()).splitlines()[0])["faces"][0]
    assert face["intensity"] == {"AU01": 0.25, "AU02": 2.5, "AU12": 4.75}
    assert "intensity" not in json.loads(JSONLinesFormat(AUS, False, 0.5).encode(frames()).splitlines()[0])["faces"][0]
