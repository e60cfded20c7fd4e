"""benchmarks/bench_smoothing.py --quick: a tiny SynthAU, a tiny model, predict once per video, every N scored."""
import json

import pytest

from benchmarks import bench_smoothing


def test_the_quick_form_scores_every_window_on_val_and_test(tmp_path):
    pytest.importorskip("dlib")
    bench_smoothing.main(["--quick", "--out", str(tmp_path)])
    doc = json.loads((tmp_path / "smoothing.json").read_text())
    assert [(r["kind"], r["window"]) for r in doc["rows"]] == [("none", 1), ("mean", 3), ("ema", 3)]
    for row in doc["rows"]:
        for part in ("val", "test"):
            assert 0 <= row[part]["per_video_f1"] <= 1 and row[part]["videos"] == 1
    assert doc["chosen"]["window"] in (1, 3) and "machine" in doc
    assert "(chosen)" in (tmp_path / "smoothing.md").read_text()
