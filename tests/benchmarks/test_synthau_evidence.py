import json

from benchmarks import synthau_evidence


def test_quick_run_writes_both_presets(tmp_path):
    assert synthau_evidence.main(["--quick", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "synthau_evidence_quick.json").read_text())
    assert [r["relations"] for r in doc["rows"]] == ["realistic", "independent"]
    for r in doc["rows"]:
        assert 0 <= r["missing_share_occluders"] <= r["missing_share"] <= 1 and r["frames"] == 32
    assert "occurrences without local evidence" in (tmp_path / "synthau_evidence_quick.md").read_text()
