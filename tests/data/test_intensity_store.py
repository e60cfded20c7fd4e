"""Intensities into the store: the three sources (files the tests write), masking, the optional store
column, and prepare filling it from SynthAU's true intensities."""
import json

import numpy as np
import pytest

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.labels.intensity import (
    intensity_rows,
    read_bp4d_intensity,
    read_disfa_intensity,
    read_intensities,
    read_synthau_intensity,
)
from augcn_pyg.data.store import ROIStore, write_store
from benchmarks.fixtures import make_store

BP4D = get_protocol("bp4d")
DISFA = get_protocol("disfa")


def write_fera(root, au, video, lines, header=False):
    d = root / "AUCoding" / "AU_INT" / f"AU{au:02d}"
    d.mkdir(parents=True, exist_ok=True)
    text = ("frame,intensity\n" if header else "") + "".join(f"{f},{v}\n" for f, v in lines)
    (d / f"{video}_AU{au:02d}.csv").write_text(text)


def test_bp4d_fera2015_layout_nine_is_unknown(tmp_path):
    write_fera(tmp_path, 6, "F001_T1", [(1, 0), (2, 3), (3, 9)])
    write_fera(tmp_path, 12, "F001_T1", [(1, 5), (2, 9)], header=True)  # a header row is tolerated
    write_fera(tmp_path, 20, "F001_T1", [(1, 2)])  # not a bp4d-protocol AU: ignored
    found = read_bp4d_intensity(tmp_path, BP4D)
    six, twelve = BP4D.aus.index(6), BP4D.aus.index(12)
    row1, row2, row3 = found[("F001", "T1", 1)], found[("F001", "T1", 2)], found[("F001", "T1", 3)]
    assert row1[six] == 0 and row1[twelve] == 5 and row2[six] == 3
    assert np.isnan(row2[twelve]) and np.isnan(row3[six]) and np.isnan(row3[twelve])  # 9 and no line
    assert np.isnan(row1[BP4D.aus.index(1)])  # AUs the release does not code
    assert read_intensities("bp4d", tmp_path, BP4D) is not None
    assert read_intensities("bp4d", tmp_path / "AUCoding", BP4D) is not None  # the AUCoding folder itself
    (tmp_path / "empty").mkdir()
    assert read_intensities("bp4d", tmp_path / "empty", BP4D) is None  # nothing there: presence only


def test_bp4d_bad_value_is_one_line(tmp_path):
    write_fera(tmp_path, 6, "F001_T1", [(1, 7)])
    with pytest.raises(InputError, match="not 0-5 or 9"):
        read_bp4d_intensity(tmp_path, BP4D)


def test_disfa_files_are_intensities(tmp_path):
    d = tmp_path / "ActionUnit_Labels" / "SN001"
    d.mkdir(parents=True)
    for au in (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26):
        (d / f"SN001_au{au}.txt").write_text("1,0\n2,3\n" if au == 12 else "1,1\n2,0\n")
    found = read_disfa_intensity(tmp_path, DISFA)
    assert found[("SN001", "SN001", 2)][DISFA.aus.index(12)] == 3
    assert found[("SN001", "SN001", 1)][DISFA.aus.index(1)] == 1  # below the presence threshold, still kept
    rows = intensity_rows(found, [("SN001", "SN001", 1), ("SN001", "SN001", 99)], DISFA.num_aus)
    assert rows.shape == (2, 8) and np.isnan(rows[1]).all()


def test_synthau_csv_wins_over_floored_files(tmp_path):
    (tmp_path / "AUIntensity").mkdir()
    (tmp_path / "AUIntensity" / "F001_T1.csv").write_text("frame,AU01,AU06,AU12\n1,0.5,2.25,5.0\n2,0,0,1.5\n")
    found = read_synthau_intensity(tmp_path, BP4D)
    row = found[("F001", "T1", 1)]
    assert row[BP4D.aus.index(6)] == pytest.approx(2.25) and row[BP4D.aus.index(1)] == pytest.approx(0.5)
    assert np.isnan(row[BP4D.aus.index(7)])  # not in the CSV
    assert read_intensities("bp4d", tmp_path, BP4D)[("F001", "T1", 2)][BP4D.aus.index(12)] == pytest.approx(1.5)


def test_store_column_is_optional(tmp_path):
    old = make_store(tmp_path / "old", per_subject=4, subjects_per_part=1)
    assert not old.has_intensity and old.intensities is None
    new = make_store(tmp_path / "new", per_subject=4, subjects_per_part=1, intensity=True)
    assert new.has_intensity and new.intensities.shape == new.labels.shape
    known = ~np.isnan(new.labels)
    np.testing.assert_array_equal(np.isnan(new.intensities), ~known)  # unknown labels: unknown intensity
    assert ((new.intensities[known] >= 2) == (new.labels[known] == 1)).all()  # present = >= 2
    np.testing.assert_array_equal(old.labels, make_store(tmp_path / "again", per_subject=4,
                                                         subjects_per_part=1).labels)
    # a store written before the column existed (no "intensity" key at all) reads as presence-only
    meta = json.loads((tmp_path / "old" / "store.json").read_text())
    meta.pop("intensity", None)
    (tmp_path / "old" / "store.json").write_text(json.dumps(meta))
    assert ROIStore(tmp_path / "old").intensities is None


def test_store_refuses_out_of_range(tmp_path):
    rois = np.zeros((1, BP4D.num_rois, 3, 10, 10), np.uint8)
    with pytest.raises(ValueError, match="0–5"):
        write_store(tmp_path / "s", "bp4d", rois, np.zeros((1, 12)), ["F001"], ["T1"], [1],
                    intensities=np.full((1, 12), 6.0))


def test_prepare_fills_intensity_from_synthau(tmp_path):
    from augcn_pyg.data.prepare import prepare
    from augcn_pyg.data.synthetic import generate_synthau

    root = tmp_path / "synthau"
    generate_synthau(root, protocol="disfa", subjects=1, frames_per_video=1, image_size=128, progress=False)
    prepare("disfa", root, tmp_path / "store", landmarks="no-detector-allowed", progress=False,
            landmarks_dir=root / "Landmarks", roi_size=10)
    store = ROIStore(tmp_path / "store")
    assert store.has_intensity and not np.isnan(store.intensities).all()
    known = ~np.isnan(store.labels) & ~np.isnan(store.intensities)
    assert ((store.intensities[known] >= 2) == (store.labels[known] == 1)).all()
