"""learning_curves --quick end to end (plumbing only: a tiny store and budget prove nothing), and its bad input."""
import json

import pytest

from augcn_pyg.core.errors import InputError
from benchmarks import learning_curves as lc


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("lc")
    # --allow-mixed: others may edit the package while this trains (as test_relation_layers' quick fixture)
    assert lc.main(["--quick", "--layers", "local,none", "--repetitions", "1", "--out", str(out),
                    "--allow-mixed"]) == 0
    return out, json.loads((out / "learning_curves_quick.json").read_text())


def test_every_point_is_reported_for_both_stores(quick):
    out, doc = quick
    assert doc["sizes"] == [1, "all"] and doc["preset"] == "preset" and doc["control"] == "control"
    for side in ("preset", "control"):
        points = {(e["size"], e["layer"]) for e in doc["curves"][side]}
        assert points == {(s, layer) for s in (1, "all") for layer in ("local", "none")}
    fitted = {e["size"]: e["train_subjects"] for e in doc["curves"]["preset"]}
    assert fitted[1] == 1 and fitted["all"] > 1  # the smaller point fitted on fewer subjects
    assert {(e["size"], e["layer"]) for e in doc["differences"]} == {(1, "none"), ("all", "none")}
    for name in ("learning_curves_quick.md", "learning_curves_quick.png"):
        assert (out / name).stat().st_size > 0
    assert "proves nothing" in (out / "learning_curves_quick.md").read_text()


def test_a_difference_in_differences_is_the_two_stores_gains_apart(quick):
    _, doc = quick
    by = {(e["size"], e["layer"]): e for e in doc["curves"]["preset"]}
    by_c = {(e["size"], e["layer"]): e for e in doc["curves"]["control"]}
    for e in doc["differences"]:
        key = (e["size"], e["layer"])
        expected = by[key]["vs_local"]["mean_diff"] - by_c[key]["vs_local"]["mean_diff"]
        assert e["did_vs_local"]["mean_diff"] == pytest.approx(expected)


@pytest.mark.parametrize("argv, message", [
    (["--quick", "--layers", "gcn,none"], "must include local and none"),
    (["--preset", "nowhere"], "not a prepared ROI store"),
    ([], "--preset STORE is needed"),
])
def test_bad_input_is_one_clear_error(tmp_path, argv, message):
    with pytest.raises(InputError, match=message):
        lc.main([*argv, "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, sizes", [("3,6,all", [3, 6, "all"]), ("all,6,3,6", [3, 6, "all"])])
def test_sizes_parse(text, sizes):
    assert lc.parse_sizes(text) == sizes


@pytest.mark.parametrize("text", ["0", "three", ","])
def test_bad_sizes(text):
    with pytest.raises(InputError, match="--sizes"):
        lc.parse_sizes(text)
