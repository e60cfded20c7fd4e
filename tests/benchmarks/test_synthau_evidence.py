import json

import pytest

from benchmarks import synthau_evidence


def test_quick_run_writes_both_presets(tmp_path):
    assert synthau_evidence.main(["--quick", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "synthau_evidence_quick.json").read_text())
    assert [r["relations"] for r in doc["rows"]] == ["realistic", "independent"]
    for r in doc["rows"]:
        assert 0 <= r["missing_share_occluders"] <= r["missing_share"] <= 1 and r["frames"] == 32
    assert "occurrences without local evidence" in (tmp_path / "synthau_evidence_quick.md").read_text()


def test_another_preset_and_rate_get_their_own_files(tmp_path):
    assert synthau_evidence.main(["--quick", "--preset", "masked", "--occlusion", "1", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "synthau_evidence_masked_r1_quick.json").read_text())
    assert doc["parameters"]["preset"] == "masked" and doc["parameters"]["occlusion"] == 1.0
    assert "--preset masked --occlusion 1" in doc["command"]
    assert all(r["occluded_frames"] == 1.0 for r in doc["rows"])  # a mask on every frame
    assert "difference in differences" in (tmp_path / "synthau_evidence_masked_r1_quick.md").read_text()


@pytest.mark.parametrize("bad", [["--occlusion", "1.5"], ["--preset", "foggy"]])
def test_bad_knobs_get_one_clear_message(tmp_path, capsys, bad):
    with pytest.raises(SystemExit) as exc:
        synthau_evidence.main(["--quick", "--out", str(tmp_path), *bad])
    assert exc.value.code == 2 and bad[1] in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written
