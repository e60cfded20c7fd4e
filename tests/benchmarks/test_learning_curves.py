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


def _rows(f1: dict, auc: dict) -> list[dict]:
    return [{"protocol": "frozen", "fold_seed": fs, "seed": fs, "fold": f, "layer": layer,
             "mean_f1": f1[layer] + 0.001 * (fs + f), "mean_auc": auc[layer]}
            for layer in f1 for fs in (0, 1) for f in (1, 2, 3)]


def test_differences_are_read_in_f1_and_in_auc():
    preset = {3: _rows({"local": 0.5, "none": 0.6}, {"local": 0.70, "none": 0.75})}
    control = {3: _rows({"local": 0.5, "none": 0.52}, {"local": 0.70, "none": 0.71})}
    (e,) = lc.differences(preset, control, ["local", "none"], lambda size: 0.5)
    assert e["size"] == 3 and e["layer"] == "none"
    assert e["did_vs_local"]["mean_diff"] == pytest.approx(0.08)
    assert e["did_vs_local_auc"]["mean_diff"] == pytest.approx(0.04)
    table = lc.tables({"preset": None, "control": None, "differences": [e]})
    assert "| 3 | none | +8.0 [" in table and "| - | +4.0 [" in table


def test_overrides_and_root_reach_every_point(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(lc.rl, "main", lambda argv: seen.append(argv) or 0)
    monkeypatch.setattr(lc, "read_rows", lambda path: [])
    args = lc.argparse.Namespace(layers="local,none", jobs=1, quick=False, allow_mixed=False, repetitions=None,
                                 sets=["train.epochs_ae=36", "loss.lambda_roi=3"])
    store, root = tmp_path / "store_x", tmp_path / "runs" / "store_x"
    for size in (3, "all"):
        lc.point_rows(store, size, root, args, tmp_path)
    small, whole = seen
    for argv in seen:
        sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
        assert sets[:2] == ["train.epochs_ae=36", "loss.lambda_roi=3"]
    assert small[small.index("--root") + 1] == str(root / "train-subjects-3") and "data.train_subjects=3" in small
    assert whole[whole.index("--root") + 1] == str(root) and "data.train_subjects=3" not in whole
