"""benchmarks/bench_store_gather.py --quick: both paths give equal latents and epoch losses, every row written.

No timing is asserted: the machine is shared, and --quick proves nothing about speed."""
import json

from benchmarks import bench_store_gather


def test_the_quick_form_compares_equal_results(tmp_path):
    bench_store_gather.main(["--quick", "--out", str(tmp_path)])
    doc = json.loads((tmp_path / "store_gather.json").read_text())
    assert doc["setup"]["quick"] and doc["machine"]["git"] is not None
    for key in ("encode_no_flips", "encode_half_flipped"):
        assert doc["batch"][key]["equal"] and doc["batch"][key]["new"]["runs"] == 1
    assert doc["epoch"]["same_losses"] and doc["epoch"]["faces"] == 320
    assert "stage-2 end-to-end epoch" in (tmp_path / "store_gather.md").read_text()
