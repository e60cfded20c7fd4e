"""comparison_speed.py --quick: the same frozen runs three ways, each run the same in all three."""
import json

import pytest

from augcn_pyg.core.errors import InputError
from benchmarks import comparison_speed as cs
from benchmarks.comparison_speed import MODES


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("speed")
    assert cs.main(["--quick", "--out", str(out)]) == 0
    return out, json.loads((out / "comparison_speed_quick.json").read_text())


def test_quick_trains_the_same_runs_three_ways_and_says_how_fast(quick):
    out, doc = quick
    s = doc["side_by_side"]
    assert s["runs"] == 2 and set(s["walls"]) == set(MODES)  # 1 fold x 2 trials of gcn
    for mode, same in s["same_as_one_per_process"].items():  # a member is the run trained alone, bit for bit
        assert same["runs"] == 2 and same["selected_epoch"] == 2 and same["test_f1_max_abs_diff"] == 0.0, mode
    # one group on two processes: the last (only) round's group is split, one trial in each process's batch
    assert s["batch_members"] == [1]
    assert doc["ratio"] == pytest.approx(s["walls"]["one_per_process"]["wall_s"] / s["walls"]["batched"]["wall_s"])
    st = doc["stacked_step"]
    assert st["stacked_ms"] > 0 and st["looped_ms"] > 0
    md = (out / "comparison_speed_quick.md").read_text()
    assert f"{doc['ratio']:.2f}x" in md and "2 of 2 runs select the same epoch" in md


def test_the_grid_has_no_quick_form_and_a_store_is_needed(tmp_path):
    with pytest.raises(InputError, match="no --quick form"):
        cs.main(["--quick", "--grid", "--out", str(tmp_path)])
    with pytest.raises(InputError, match="--data STORE"):
        cs.main(["--out", str(tmp_path)])


def test_ratio_bound_is_a_runs_core_seconds_over_its_own_epochs():
    from benchmarks.comparison_speed import ratio_bound

    side = {"runs": 8, "jobs": 2, "walls": {"one_per_process": {"wall_s": 40.0}},
            "mean_train_seconds": {"batched": 2.5}}
    assert ratio_bound(side) == {"alone_core_s": 10.0, "epochs_core_s": 2.5, "ratio": 4.0}
