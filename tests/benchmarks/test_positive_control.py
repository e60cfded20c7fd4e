"""The positive control's report: differences in differences from hand-made comparison rows whose answer is
known, oracles read from a tiny store with an occlusion manifest, and one clear line for missing inputs."""
import csv
import json
import shutil

import numpy as np
import pytest

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.store import write_store
from benchmarks import positive_control as pc

KEYS = [(fs, s, f) for fs in (0, 1, 2) for s in (fs,) for f in (1, 2, 3)]  # 3 assignments x 3 folds


def rows_of(scores: dict[str, list[float]]) -> list[dict]:
    """Comparison rows: one per (layer, run), with the split counts the ratio reads (8 test / 12 fitted)."""
    return [{"protocol": "frozen", "fold_seed": fs, "seed": s, "fold": f, "layer": layer, "mean_f1": v[i],
             "n_train_subjects": 12, "n_val_subjects": 4, "n_test_subjects": 8, "n_train_faces": 1200,
             "n_val_faces": 400, "n_test_faces": 800}
            for layer, v in scores.items() for i, (fs, s, f) in enumerate(KEYS)]


def oracles(local: float, relation: float) -> dict:
    return {(fs, f): {"local": local, "relation": relation} for fs, _, f in KEYS}


def test_did_is_the_gain_beyond_the_control():
    rng = np.random.default_rng(0)
    local_p, local_c = 0.50 + 0.01 * rng.standard_normal(9), 0.52 + 0.01 * rng.standard_normal(9)
    noise = 0.002 * rng.standard_normal(9)
    preset = rows_of({"local": list(local_p), "none": list(local_p + 0.10 + noise), "gcn": list(local_p + 0.03)})
    control = rows_of({"local": list(local_c), "none": list(local_c + 0.04), "gcn": list(local_c + 0.03)})
    doc = pc.report(preset, control, oracles(0.6, 0.8), oracles(0.6, 0.64))
    by = {d["layer"]: d for d in doc["designs"]}
    assert set(by) == {"none", "gcn"} and doc["runs"] == 9
    assert doc["test_train_ratio"] == pytest.approx(8 / 12)
    none = by["none"]
    assert none["vs_local"]["preset"]["mean_diff"] == pytest.approx(0.10 + noise.mean())
    assert none["vs_local"]["control"]["mean_diff"] == pytest.approx(0.04)
    assert none["vs_local"]["did"]["mean_diff"] == pytest.approx(0.06 + noise.mean())
    assert none["vs_local"]["did"]["verdict"] == "a"  # a sure positive signal
    # the share: DiD / ((relation oracle - local) - (relation oracle on the control - local on the control))
    room = (0.8 - local_p) - (0.64 - local_c)
    assert none["share"]["mean"] == pytest.approx(np.mean((0.06 + noise) / room))
    # the share of the oracles' gap: (0.8 - 0.6) - (0.64 - 0.6) = 0.16 in every run
    assert none["share_of_oracle_gap"]["mean"] == pytest.approx(np.mean((0.06 + noise) / 0.16))
    gcn = by["gcn"]
    assert gcn["vs_local"]["did"]["mean_diff"] == pytest.approx(0.0, abs=1e-12)  # the same gain on both: no signal
    assert gcn["vs_none"]["did"]["mean_diff"] == pytest.approx(-0.06 - noise.mean())
    assert "vs_none" not in none
    # what the spread of none's paired runs lets the verdict call real: from the interval, as at these runs
    did = none["vs_local"]["did"]
    spread = float(np.std(noise, ddof=1))
    assert pc.called_real_from(did) == (f"{100 * pc.smallest_real(spread, 9, 8 / 12, 0.01):+.1f} / "
                                        f"{100 * pc.smallest_real(spread, np.inf, 8 / 12, 0.01):+.1f}")
    assert "called real from" in pc.tables({"preset": "p", "control": "c", "report": doc})


def test_growth_pairs_the_difference_in_differences_across_variants():
    rng = np.random.default_rng(1)
    local = 0.60 + 0.02 * rng.standard_normal(9)  # the same runs' local at both rates: only the DiD moves
    low = (rows_of({"local": list(local), "none": list(local + 0.02)}), rows_of({"local": list(local),
                                                                                "none": list(local + 0.01)}))
    step = 0.05 + 0.003 * rng.standard_normal(9)
    high = (rows_of({"local": list(local), "none": list(local + 0.02 + step)}), low[1])
    up = pc.growth(low, high, "none", "local", 8 / 12)
    assert up["keys"] == KEYS and up["did"]["mean_diff"] == pytest.approx(step.mean())
    assert up["did"]["verdict"] == "a"
    assert pc.growth(low, low, "none", "local", 8 / 12)["did"]["mean_diff"] == pytest.approx(0.0, abs=1e-12)
    down = pc.growth(high, low, "none", "local", 8 / 12)["did"]
    assert down["mean_diff"] == pytest.approx(-step.mean()) and down["verdict"] == "b"
    # runs one variant lacks are left out, with the rest of their repetition; fewer than two runs give nothing
    part = pc.growth(low, (high[0][:4] + high[0][9:13], high[1]), "none", "local", 8 / 12)
    assert part["keys"] == KEYS[:3]
    assert pc.growth(low, (high[0][:2] + high[0][9:11], high[1]), "none", "local", 8 / 12) is None


def test_designs_are_those_both_comparisons_hold():
    """Every layer on the preset, four on the control: the report pairs the designs both stores hold."""
    preset = rows_of({"local": [0.5] * 9, "none": [0.6] * 9, "gcn": [0.6] * 9, "gat": [0.55] * 9})
    control = rows_of({"local": [0.5] * 9, "none": [0.52] * 9})
    doc = pc.report(preset, control, oracles(0.6, 0.8), oracles(0.6, 0.64))
    assert [d["layer"] for d in doc["designs"]] == ["none"] and list(doc["per_au"]) == []
    assert doc["designs"][0]["vs_local"]["did"]["mean_diff"] == pytest.approx(0.08)


def test_the_signal_is_also_read_in_auc():
    """A run-to-run shift of the scores moves F1 at 0.5 but not AUC: the same signal, noisy in F1, sure in AUC."""
    rng = np.random.default_rng(1)
    shift = 0.04 * rng.standard_normal(9)  # F1 noise a threshold adds, run by run
    preset = rows_of({"local": [0.5] * 9, "none": list(0.53 + shift)})
    control = rows_of({"local": [0.5] * 9, "none": [0.5] * 9})
    auc = {("preset", "local"): 0.70, ("preset", "none"): 0.73, ("control", "local"): 0.70, ("control", "none"): 0.70}
    small = 0.001 * rng.standard_normal(9)
    for side, rows in (("preset", preset), ("control", control)):
        for r in rows:
            r["mean_auc"] = auc[(side, r["layer"])] + (small[KEYS.index((r["fold_seed"], r["seed"], r["fold"]))]
                                                       if (side, r["layer"]) == ("preset", "none") else 0.0)
    doc = pc.report(preset, control, oracles(0.6, 0.8), oracles(0.6, 0.64))
    none = doc["designs"][0]
    assert none["vs_local"]["did"]["verdict"] == "unsure"
    a = none["auc"]
    assert a["preset"] == pytest.approx(0.73 + small.mean()) and a["control"] == pytest.approx(0.70)
    assert a["vs_local"]["did"]["mean_diff"] == pytest.approx(0.03 + small.mean())
    assert a["vs_local"]["did"]["verdict"] == "a"
    assert doc["local_auc"] == {"preset": pytest.approx(0.70), "control": pytest.approx(0.70)}
    table = pc.auc_table({"report": doc})
    assert "| local | 70.0 | 70.0 |" in table and "| none | 73.0 | 70.0 |" in table
    assert "## The same signal read in AUC" in pc.markdown({"preset": "p", "control": "c", "command": "x",
                                                            "report": doc})


def test_rows_without_auc_give_no_auc_reading():
    doc = pc.report(rows_of({"local": [0.5] * 9, "none": [0.6] * 9}), rows_of({"local": [0.5] * 9, "none": [0.5] * 9}),
                    oracles(0.6, 0.8), oracles(0.6, 0.64))
    assert "auc" not in doc["designs"][0] and np.isnan(doc["local_auc"]["preset"])
    assert "read in AUC" not in pc.markdown({"preset": "p", "control": "c", "command": "x", "report": doc})


def test_per_au_shows_where_the_signal_comes_from():
    def with_aus(rows, f1_au1, f1_au2):
        for r in rows:
            r.update({"f1_AU1": f1_au1[r["layer"]], "auc_AU1": 0.5 if r["layer"] == "local" else 0.9,
                      "f1_AU2": f1_au2[r["layer"]], "auc_AU2": 0.8})
        return rows

    preset = with_aus(rows_of({"local": [0.5] * 9, "none": [0.6] * 9}), {"local": 0.2, "none": 0.7},
                      {"local": 0.6, "none": 0.6})
    control = with_aus(rows_of({"local": [0.5] * 9, "none": [0.52] * 9}), {"local": 0.2, "none": 0.3},
                       {"local": 0.6, "none": 0.62})
    rows = pc.report(preset, control, oracles(0.6, 0.8), oracles(0.6, 0.64))["per_au"]
    assert [r["au"] for r in rows] == [1, 2]
    au1, au2 = (r["designs"]["none"] for r in rows)
    assert au1["gain_preset"] == pytest.approx(0.5) and au1["gain_control"] == pytest.approx(0.1)
    assert au1["did"] == pytest.approx(0.4) and au2["did"] == pytest.approx(-0.02) and au1["runs"] == 9
    assert rows[0]["local_auc"] == {"preset": 0.5, "control": 0.5} and rows[0]["local_f1"]["preset"] == 0.2
    table = pc.per_au_table({"report": {"per_au": rows}})
    assert "| AU1 | 20.0 | 50.0 | 50.0 | +50.0 / +10.0 / **+40.0** |" in table


def test_report_needs_local_runs():
    rows = rows_of({"none": [0.5] * 9, "gcn": [0.5] * 9})
    with pytest.raises(InputError, match="local"):
        pc.report(rows, rows, oracles(0.6, 0.7), oracles(0.6, 0.6))


def test_read_rows_turns_numbers_back(tmp_path):
    rows = rows_of({"local": [0.5] * 9})
    path = tmp_path / "relation_layers_s.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    back = pc.read_rows(path)
    assert back[0]["fold_seed"] == 0 and back[0]["mean_f1"] == 0.5 and back[0]["layer"] == "local"
    with pytest.raises(InputError, match="no comparison result"):
        pc.read_rows(tmp_path / "missing.csv")


def tiny_store(tmp_path, occluded: bool):
    """12 subjects x 4 frames of bp4d: AU1 (column 0) hidden (its ROIs covered) in every frame of odd subjects."""
    p = get_protocol("bp4d")
    n_sub, per = 12, 4
    n = n_sub * per
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, (n, p.num_aus)).astype(np.float32)
    subject = np.repeat([f"S{i:02d}" for i in range(n_sub)], per)
    cover = np.zeros((n, p.num_rois), np.float32)
    if occluded:
        au1_rois = np.nonzero(p.membership()[:, 0])[0]
        odd = np.isin(subject, [f"S{i:02d}" for i in range(1, n_sub, 2)])
        cover[np.ix_(odd, au1_rois)] = 1.0
    rois = np.zeros((n, p.num_rois, 3, 4, 4), np.uint8)
    store = tmp_path / ("store_occ" if occluded else "store_clean")
    write_store(store, p, rois, labels, subject, np.array(["T1"] * n), np.tile(np.arange(per), n_sub),
                occlusion=cover if occluded else None)
    root = tmp_path / "synth"
    root.mkdir(exist_ok=True)
    (root / "synthau.json").write_text(json.dumps({"weak_aus": {}}))
    return store, root, labels


def test_fold_oracles_from_the_store(tmp_path):
    store, root, labels = tiny_store(tmp_path, occluded=True)
    got = pc.fold_oracles(store, root, [(0, 1), (0, 2)])
    assert set(got) == {(0, 1), (0, 2)}
    for o in got.values():
        # every AU but AU1 is always visible: both oracles are perfect on 11 of 12 AUs, and AU1 (hidden in
        # half the test frames) is neither perfect nor lost
        for name in ("local", "relation"):
            assert 11 / 12 < o[name] < 1


def test_the_occluders_alone_are_told_apart_from_weak_aus(tmp_path):
    store, root, _ = tiny_store(tmp_path, occluded=True)
    plain = pc.fold_oracles(store, root, [(0, 1)])[(0, 1)]
    assert plain["occluders"] == {"local": plain["local"], "relation": plain["relation"]}  # no weak AU: the same
    # AU2 (column 1) drawn weakly by every subject: hidden for the oracles, not for the occluders alone
    (root / "synthau.json").write_text(json.dumps({"weak_aus": {f"S{i:02d}": {"2": 0.1} for i in range(12)}}))
    weak = pc.fold_oracles(store, root, [(0, 1)])[(0, 1)]
    assert weak["occluders"] == plain["occluders"] and weak["local"] < plain["local"]


def test_the_oracle_table_shows_the_occluders_alone():
    doc = pc.report(rows_of({"local": [0.5] * 9, "none": [0.6] * 9}), rows_of({"local": [0.5] * 9, "none": [0.5] * 9}),
                    {k: {**v, "occluders": {"local": 0.7, "relation": 0.75}} for k, v in oracles(0.6, 0.8).items()},
                    {k: {**v, "occluders": {"local": 0.7, "relation": 0.72}} for k, v in oracles(0.6, 0.64).items()})
    table = pc.tables({"preset": "p", "control": "c", "report": doc})
    assert "| oracle gap, occluders alone |" in table.splitlines()[0]
    assert "| difference in differences | | | | +16.0 | +3.0 |" in table
    bare = pc.report(rows_of({"local": [0.5] * 9, "none": [0.6] * 9}), rows_of({"local": [0.5] * 9, "none": [0.5] * 9}),
                     oracles(0.6, 0.8), oracles(0.6, 0.64))
    assert "occluders alone" not in pc.tables({"preset": "p", "control": "c", "report": bare})


def test_missing_by_au_is_where_the_manifest_hides_an_occurrence(tmp_path):
    store, root, labels = tiny_store(tmp_path, occluded=True)
    got = pc.missing_by_au(store, root)
    odd = np.repeat(np.arange(12) % 2 == 1, 4)  # AU1 hidden in every frame of the odd subjects
    assert got[1] == pytest.approx(labels[odd, 0].sum() / labels[:, 0].sum())
    assert all(v == 0 for au, v in got.items() if au != 1) and len(got) == 12
    doc = {"report": {"per_au": [{"au": 1, "missing": {"preset": 0.25, "control": 0.2},
                                  "local_f1": {"preset": 0.5, "control": 0.4},
                                  "local_auc": {"preset": 0.8, "control": 0.7},
                                  "designs": {"none": {"gain_preset": 0.1, "gain_control": 0.02, "did": 0.08}}}]}}
    head, _, row = pc.per_au_table(doc).splitlines()
    assert head.startswith("| AU | occurrences without local evidence, preset | local F1 preset")
    assert row == "| AU1 | 25 % | 50.0 | 80.0 | 70.0 | +10.0 / +2.0 / **+8.0** |"
    del doc["report"]["per_au"][0]["missing"]  # a report written before the column: the table as it was
    assert pc.per_au_table(doc).splitlines()[2] == "| AU1 | 50.0 | 80.0 | 70.0 | +10.0 / +2.0 / **+8.0** |"


def test_without_occluders_every_roi_is_visible(tmp_path):
    store, root, _ = tiny_store(tmp_path, occluded=False)  # no occlusion manifest: nothing is hidden
    for o in pc.fold_oracles(store, root, [(0, 1)]).values():
        assert o["local"] == pytest.approx(1.0) and o["relation"] == pytest.approx(1.0)


def test_fold_oracles_need_the_synthau_dataset(tmp_path):
    store, _, _ = tiny_store(tmp_path, occluded=True)
    with pytest.raises(InputError, match="not a SynthAU dataset"):
        pc.fold_oracles(store, tmp_path / "elsewhere", [(0, 1)])


def comparisons(tmp_path, scores, sets=(None, None)):
    """A preset store and its control with comparison rows (and, where ``sets`` names them, the comparisons'
    ``--set`` overrides in their JSON): the positive control's command line."""
    store_p, root, _ = tiny_store(tmp_path, occluded=True)
    ctrl_rows = rows_of({"local": [0.5] * 9, "none": [0.52] * 9})
    for (name, rows), grid in zip(((store_p.name, rows_of(scores)), ("store_ctrl", ctrl_rows)), sets):
        with (tmp_path / f"relation_layers_{name}.csv").open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        if grid is not None:
            (tmp_path / f"relation_layers_{name}.json").write_text(json.dumps({"grid_overrides": grid}))
    ctrl = tmp_path / "store_ctrl"
    shutil.copytree(store_p, ctrl)
    return store_p, ["--preset", str(store_p), "--preset-root", str(root), "--control", str(ctrl),
                     "--control-root", str(root), "--results", str(tmp_path), "--out", str(tmp_path)]


def test_main_writes_the_report(tmp_path):
    scores = {"local": [0.5] * 9, "none": list(0.55 + 0.01 * np.arange(9) / 9)}
    store_p, argv = comparisons(tmp_path, scores)
    assert pc.main(argv) == 0
    doc = json.loads((tmp_path / f"positive_control_{store_p.name}.json").read_text())
    assert doc["report"]["designs"][0]["layer"] == "none"
    assert doc["report"]["designs"][0]["vs_local"]["did"]["mean_diff"] == pytest.approx(np.mean(scores["none"]) - 0.5 - 0.02)
    assert "difference in differences" in (tmp_path / f"positive_control_{store_p.name}.md").read_text()


def test_the_comparisons_settings_are_named_and_must_agree(tmp_path):
    scores = {"local": [0.5] * 9, "none": [0.6] * 9}
    store_p, argv = comparisons(tmp_path, scores, sets=(["loss.lambda_roi=3"], ["loss.lambda_roi=3"]))
    assert pc.main(argv) == 0
    assert "with `--set loss.lambda_roi=3`" in (tmp_path / f"positive_control_{store_p.name}.md").read_text()
    _, argv = comparisons(tmp_path / "other", scores, sets=(["loss.lambda_roi=3"], None))
    with pytest.raises(InputError, match="different --set overrides"):
        pc.main(argv)
