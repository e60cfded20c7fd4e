"""Label readers on small files in each native format, written by the tests themselves."""
from __future__ import annotations

import json

import native_formats as native  # noqa: E402  (tests/data/native_formats.py)
import numpy as np
import pytest

from augcn_pyg.core.errors import InputError
from augcn_pyg.data.labels import LABEL_FORMATS, detect_label_format, parse_au_name, read_labels, read_openface_table

NAN = np.nan
BP4D = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
DISFA = (1, 2, 4, 6, 9, 12, 25, 26)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def bp4d_columns(rows: list[list[int]], extra: dict[int, list[int]] | None = None) -> dict[int, list[int]]:
    """Per-frame rows in BP4D's AU order -> {AU: column}, plus extra (non-protocol) AU columns."""
    cols = {au: [r[k] for r in rows] for k, au in enumerate(BP4D)}
    cols.update(extra or {})
    return cols


ROWS_T1 = [
    [1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0],
    [1, 1, 0, 1, 1, 9, 1, 0, 0, 0, 0, 0],
    [0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1],
]
ROWS_T8 = [[9] * 12, [0] * 12]


@pytest.fixture
def bp4d_root(tmp_path):
    occ = tmp_path / "BP4D" / "AUCoding" / "AU_OCC"
    native.bp4d_csv(occ / "F001_T1.csv", [2440, 2441, 2442], bp4d_columns(ROWS_T1, {11: [0, 1, 0]}))
    native.bp4d_csv(occ / "M002_T8.csv", [10, 11], bp4d_columns(ROWS_T8, {11: [9, 9]}))
    return tmp_path / "BP4D"


def test_parse_au_name():
    assert [parse_au_name(s) for s in ("AU1", "AU01", "au 12", "1", " 24 ", "0", "occlusion", "AU1_c")] == \
        [1, 1, 12, 1, 24, None, None, None]


def test_bp4d_folder_labels_unknown_and_keys(bp4d_root):
    ls = read_labels(bp4d_root / "AUCoding" / "AU_OCC", "bp4d")
    expected = np.array(ROWS_T1 + ROWS_T8, dtype=np.float32)
    expected[expected == 9] = np.nan
    np.testing.assert_array_equal(ls.labels, expected)  # NaN positions equal too
    assert ls.labels.dtype == np.float32 and ls.aus == BP4D
    assert list(ls.subject) == ["F001"] * 3 + ["M002"] * 2
    assert list(ls.video) == ["T1"] * 3 + ["T8"] * 2
    assert ls.frame.tolist() == [2440, 2441, 2442, 10, 11] and ls.frame.dtype == np.int64
    # AU11 is coded in F001_T1 -> ignored; AUs 3 and 8 are all-9 placeholders -> not reported
    assert ls.ignored_aus == (11,)


@pytest.mark.parametrize("sub", ["", "AUCoding", "AUCoding/AU_OCC", "AUCoding/AU_OCC/F001_T1.csv"])
def test_bp4d_detected_from_root_folder_or_file(bp4d_root, sub):
    path = bp4d_root / sub if sub else bp4d_root
    assert detect_label_format(path) == "bp4d"
    ls = read_labels(path, "bp4d")
    assert len(ls) == (3 if sub.endswith(".csv") else 5)


def test_bp4d_au_prefixed_header_and_occlusion_column(tmp_path):
    f = native.bp4d_csv(tmp_path / "F003_T2.csv", [5, 6, 7], bp4d_columns(ROWS_T1), header_style="AU",
                        occlusion=True)
    ls = read_labels(f, "bp4d", format="bp4d")
    assert ls.labels.shape == (3, 12) and ls.ignored_aus == ()
    assert np.isnan(ls.labels[1, BP4D.index(10)])
    assert ls.subject[0] == "F003" and ls.video[0] == "T2"


def test_bp4d_au_prefixed_headers_found_from_the_dataset_root(tmp_path):
    occ = tmp_path / "BP4D" / "AUCoding" / "AU_OCC"
    native.bp4d_csv(occ / "F003_T2.csv", [5, 6, 7], bp4d_columns(ROWS_T1), header_style="AU")
    for path in (tmp_path / "BP4D", tmp_path / "BP4D" / "AUCoding", occ):
        assert detect_label_format(path) == "bp4d"
        ls = read_labels(path, "bp4d")
        assert ls.frame.tolist() == [5, 6, 7] and ls.subject[0] == "F003" and np.isnan(ls.labels[1, BP4D.index(10)])


def test_bp4d_bad_value_missing_au_duplicate_frame(tmp_path):
    bad = [r[:] for r in ROWS_T1]
    bad[2][3] = 3
    f = native.bp4d_csv(tmp_path / "a" / "F001_T1.csv", [1, 2, 3], bp4d_columns(bad))
    with pytest.raises(InputError, match="not 0/1") as e:
        read_labels(f.parent, "bp4d")
    assert str(f) in str(e.value)

    cols = bp4d_columns(ROWS_T1)
    del cols[24]
    f = native.bp4d_csv(tmp_path / "b" / "F001_T1.csv", [1, 2, 3], cols)
    with pytest.raises(InputError, match="AU 24") as e:
        read_labels(f.parent, "bp4d")
    assert str(f) in str(e.value)

    f = native.bp4d_csv(tmp_path / "c" / "F001_T1.csv", [1, 2, 2], bp4d_columns(ROWS_T1))
    with pytest.raises(InputError, match="frame 2 appears 2 times") as e:
        read_labels(f, "bp4d", format="bp4d")
    assert str(f) in str(e.value)


def test_bp4d_empty_cells_are_unknown_and_text_raises(tmp_path):
    f = tmp_path / "F001_T1.csv"
    header = "0," + ",".join(map(str, BP4D))
    f.write_text(header + "\n7," + ",".join(["1"] * 11) + ",\n")
    ls = read_labels(f, "bp4d")
    assert np.isnan(ls.labels[0, -1]) and ls.labels[0, 0] == 1
    f.write_text(header + "\n7," + ",".join(["1"] * 11) + ",x\n")
    with pytest.raises(InputError, match="not a number") as e:
        read_labels(f, "bp4d")
    assert str(f) in str(e.value)


def test_bp4d_trailing_comma_on_every_row_is_tolerated(tmp_path):
    f = tmp_path / "F001_T1.csv"
    header = "0," + ",".join(map(str, BP4D))
    f.write_text(header + "\n" + "".join(f"{k}," + ",".join(map(str, r)) + ",\n" for k, r in enumerate(ROWS_T1)))
    expected = np.array(ROWS_T1, dtype=np.float32)
    expected[expected == 9] = np.nan
    np.testing.assert_array_equal(read_labels(f, "bp4d").labels, expected)
    f.write_text(header + "\n" + "".join(f"{k}," + ",".join(map(str, r)) + ",0\n" for k, r in enumerate(ROWS_T1)))
    with pytest.raises(InputError, match="rows have 14 fields but the header names 13"):
        read_labels(f, "bp4d")


# -------------------------------------------------------------------------------------------- DISFA

def disfa_intensities(n: int, rng) -> dict[int, list[int]]:
    return {au: rng.integers(0, 6, n).tolist() for au in (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)}


@pytest.fixture
def disfa_labels(tmp_path, rng):
    root = tmp_path / "DISFA" / "ActionUnit_Labels"
    data = {"SN001": disfa_intensities(6, rng), "SN002": disfa_intensities(4, rng)}
    for sn, intens in data.items():
        native.disfa_subject(root, sn, intens)
    return root, data


@pytest.mark.parametrize("threshold", [2, 1, 4])
def test_disfa_threshold_and_keys(disfa_labels, threshold):
    root, data = disfa_labels
    ls = read_labels(root.parent, "disfa", intensity_threshold=threshold)
    expected = np.concatenate([np.array([data[sn][au] for au in DISFA]).T for sn in ("SN001", "SN002")])
    np.testing.assert_array_equal(ls.labels, (expected >= threshold).astype(np.float32))
    assert ls.aus == DISFA and ls.ignored_aus == (5, 15, 17, 20)
    assert list(ls.subject) == ["SN001"] * 6 + ["SN002"] * 4
    assert ls.frame.tolist() == [1, 2, 3, 4, 5, 6, 1, 2, 3, 4]  # DISFA's 1-based frame numbers, kept
    assert detect_label_format(root) == "disfa" and detect_label_format(root.parent) == "disfa"


def test_disfa_unsorted_lines_are_aligned_by_frame(tmp_path):
    sub = tmp_path / "ActionUnit_Labels" / "SN003"
    sub.mkdir(parents=True)
    for au in DISFA:
        lines = ["2,3", "1,0", "3,5"] if au == 1 else ["1,0", "2,0", "3,2"]
        (sub / f"SN003_au{au}.txt").write_text("\n".join(lines) + "\n")
    ls = read_labels(tmp_path / "ActionUnit_Labels", "disfa")
    assert ls.frame.tolist() == [1, 2, 3]
    assert ls.labels[:, 0].tolist() == [0, 1, 1] and ls.labels[:, 1].tolist() == [0, 0, 1]


def test_disfa_frame_mismatch_names_the_file(disfa_labels):
    root, data = disfa_labels
    bad = root / "SN002" / "SN002_au9.txt"
    bad.write_text("1,0\n2,0\n3,1\n5,0\n")  # frame 4 missing, 5 extra
    with pytest.raises(InputError, match="frames differ") as e:
        read_labels(root, "disfa")
    assert str(bad) in str(e.value)


def test_disfa_missing_au_bad_intensity_bad_threshold(disfa_labels):
    root, _ = disfa_labels
    (root / "SN002" / "SN002_au26.txt").unlink()
    with pytest.raises(InputError, match="AU 26") as e:
        read_labels(root, "disfa")
    assert str(root / "SN002") in str(e.value)
    (root / "SN001" / "SN001_au1.txt").write_text("1,0\n2,7\n3,0\n4,0\n5,0\n6,0\n")
    with pytest.raises(InputError, match="0-5") as e:
        read_labels(root, "disfa")
    assert "SN001_au1.txt" in str(e.value)
    with pytest.raises(InputError, match="threshold"):
        read_labels(root, "disfa", intensity_threshold=0)


# -------------------------------------------------------------------------------------- list files

def test_list_with_image_paths(tmp_path):
    lab = tmp_path / "BP4D_test_label_fold1.txt"
    img = tmp_path / "BP4D_test_img_path_fold1.txt"
    rows = np.array(ROWS_T1)
    rows[rows == 9] = 0
    lab.write_text("\n".join(" ".join(map(str, r)) for r in rows) + "\n")
    img.write_text("F001/T1/2440.jpg\nF001/T1/2441.jpg\nM003/T4/0099.jpg\n")
    assert detect_label_format(lab) == "list"
    ls = read_labels(lab, "bp4d")
    np.testing.assert_array_equal(ls.labels, rows.astype(np.float32))
    assert list(ls.subject) == ["F001", "F001", "M003"] and list(ls.video) == ["T1", "T1", "T4"]
    assert ls.frame.tolist() == [2440, 2441, 99]
    img.write_text("F001/T1/2440.jpg\n")
    with pytest.raises(InputError, match="lists 1 images") as e:
        read_labels(lab, "bp4d")
    assert str(lab) in str(e.value)


def test_list_without_image_paths_and_wrong_width(tmp_path):
    lab = tmp_path / "DISFA_train_label_fold2.txt"
    lab.write_text("1 0 0 0 0 1 1 0\n0 0 0 0 0 0 0 0\n")
    ls = read_labels(lab, "disfa")
    assert ls.labels.shape == (2, 8) and list(ls.subject) == ["unknown", "unknown"] and ls.frame.tolist() == [1, 2]
    with pytest.raises(InputError, match="8 columns but protocol 'bp4d' scores 12") as e:
        read_labels(lab, "bp4d")
    assert str(lab) in str(e.value)


# --------------------------------------------------------------------------------------- OpenFace

OPENFACE_AUS = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45)  # OpenFace 2: no AU24


@pytest.mark.parametrize("spaces", [True, False])
def test_openface_success_zero_is_unknown(tmp_path, rng, spaces):
    n = 5
    au_c = {au: rng.integers(0, 2, n).tolist() for au in OPENFACE_AUS}
    success = [1, 0, 1, 1, 0]
    f = native.openface_csv(tmp_path / "clip.csv", au_c, success, spaces=spaces)
    assert detect_label_format(f) == "openface"
    ls = read_labels(f, "disfa")
    expected = np.array([au_c[au] for au in DISFA], dtype=np.float32).T
    expected[[1, 4]] = np.nan
    np.testing.assert_array_equal(ls.labels, expected)
    assert ls.frame.tolist() == [1, 2, 3, 4, 5] and ls.subject[0] == "clip"
    assert ls.ignored_aus == (5, 7, 10, 14, 15, 17, 20, 23, 28, 45)
    assert any("2 of 5 rows" in note for note in ls.notes)
    with pytest.raises(InputError, match="AU 24") as e:  # BP4D scores AU24, which OpenFace 2 lacks
        read_labels(f, "bp4d")
    assert str(f) in str(e.value)


def test_openface_text_columns_are_not_read(tmp_path):
    """augcn-pyg predict writes a `note` column (text for an unreadable image): only frame, success and
    AUxx_c are read."""
    f = tmp_path / "pred.csv"
    f.write_text("frame,face_id,success,confidence,AU01_c,AU02_c,note\n"
                 "1,0,1,0.9,1,0,\n"
                 "2,0,0,0,,,unreadable image: not a decodable image\n"
                 "3,0,1,0.8,0,1,\n")
    names, data = read_openface_table(f)
    assert names == ["frame", "success", "AU01_c", "AU02_c"]
    np.testing.assert_array_equal(data, [[1, 1, 1, 0], [2, 0, NAN, NAN], [3, 1, 0, 1]])


# -------------------------------------------------------------------------------------- plain CSV

def test_plain_csv_names_meta_and_unknown_forms(tmp_path):
    f = tmp_path / "labels.csv"
    names = ["AU01", "2", "AU4", "au6", "AU9", "AU12", "AU25", "AU26", "AU43"]
    f.write_text("Subject,video,frame," + ",".join(names) + ",note\n"
                 "s1,v1,10,1,0,,NaN,-1,9,1,0,1,hello\n"
                 "s2,v9,11,0,1,1,0,0,0,0,1,0,\n")
    assert detect_label_format(f) == "csv"
    ls = read_labels(f, "disfa")
    np.testing.assert_array_equal(ls.labels, np.array([[1, 0, NAN, NAN, NAN, NAN, 1, 0],
                                                       [0, 1, 1, 0, 0, 0, 0, 1]], dtype=np.float32))
    assert list(ls.subject) == ["s1", "s2"] and list(ls.video) == ["v1", "v9"] and ls.frame.tolist() == [10, 11]
    assert ls.ignored_aus == (43,)


def test_plain_csv_bad_inputs_name_the_path(tmp_path):
    f = tmp_path / "labels.csv"
    f.write_text("AU1,AU2,AU4,AU6,AU9,AU12,AU25,AU26\n1,0,0,0,0,0,0,2\n")
    with pytest.raises(InputError, match="not 0/1") as e:
        read_labels(f, "disfa")
    assert str(f) in str(e.value)
    f.write_text("AU1,AU2\n1,0\n")
    with pytest.raises(InputError, match="AU 4, 6, 9, 12, 25, 26") as e:
        read_labels(f, "disfa")
    assert str(f) in str(e.value)
    f.write_text("a,b\n1,0\n")
    with pytest.raises(InputError, match="no AU columns"):
        read_labels(f, "disfa")
    f.write_text("AU1,AU2,AU4,AU6,AU9,AU12,AU25,AU26\n")
    with pytest.raises(InputError, match="no labelled frames") as e:
        read_labels(f, "disfa")
    assert str(f) in str(e.value)


DISFA_HEADER = "AU1,AU2,AU4,AU6,AU9,AU12,AU25,AU26"


@pytest.mark.parametrize("header_comma", [False, True])
def test_plain_csv_trailing_comma_on_every_row_is_tolerated(tmp_path, header_comma):
    f = tmp_path / "labels.csv"
    f.write_text("frame," + DISFA_HEADER + ("," if header_comma else "") + "\n"
                 "1,1,0,0,0,0,0,1,0,\n2,0,1,9,0,0,0,0,1,\n")
    ls = read_labels(f, "disfa")
    np.testing.assert_array_equal(ls.labels, np.array([[1, 0, 0, 0, 0, 0, 1, 0], [0, 1, NAN, 0, 0, 0, 0, 1]],
                                                      dtype=np.float32))
    assert ls.frame.tolist() == [1, 2]
    f.write_text("frame," + DISFA_HEADER + "\n1,1,0,0,0,0,0,1,0,1\n")  # an extra field that is not empty
    with pytest.raises(InputError, match="10 fields but the header names 9") as e:
        read_labels(f, "disfa")
    assert str(f) in str(e.value)


def test_plain_csv_rows_of_another_width_name_the_row(tmp_path):
    f = tmp_path / "labels.csv"
    f.write_text(DISFA_HEADER + "\n1,0,0,0,0,0,1,0\n1,0,0,0,0,0,1\n")
    with pytest.raises(InputError, match="data row 2 has 7 fields but the header names 8") as e:
        read_labels(f, "disfa")
    assert str(f) in str(e.value)
    f.write_text(DISFA_HEADER + "\n1,0,0,0,0,0,1,0\n1,0,0,0,0,0,1,0,0,0\n")
    with pytest.raises(InputError, match="data row 2 has 10 fields"):
        read_labels(f, "disfa")


def test_plain_csv_repeated_frame_is_refused(tmp_path):
    f = tmp_path / "labels.csv"
    f.write_text("subject,frame," + DISFA_HEADER + "\ns1,7,1,0,0,0,0,0,1,0\ns2,7,1,0,0,0,0,0,1,0\n")
    assert read_labels(f, "disfa").frame.tolist() == [7, 7]  # frame 7 of two subjects: two frames
    f.write_text("subject,frame," + DISFA_HEADER + "\ns1,7,1,0,0,0,0,0,1,0\ns1,7,0,0,0,0,0,0,1,0\n")
    with pytest.raises(InputError, match="frame 7 of subject 's1', video 's1' appears 2 times") as e:
        read_labels(f, "disfa")
    assert str(f) in str(e.value)
    f.write_text("frame," + DISFA_HEADER + "\n3,1,0,0,0,0,0,1,0\n3,1,0,0,0,0,0,1,0\n3,1,0,0,0,0,0,1,0\n")
    with pytest.raises(InputError, match="frame 3 appears 3 times"):
        read_labels(f, "disfa")


def test_plain_csv_keeps_text_ids_bom_crlf_blank_lines_and_spaces(tmp_path):
    f = tmp_path / "labels.csv"
    body = ["", "subject,video,frame," + DISFA_HEADER, "01,007,1, 1,0,0,0,0,0,1,0", "", "02,T1,2,0,NA,null,0,0,0,0,1"]
    f.write_bytes(("\ufeff" + "\r\n".join(body) + "\r\n").encode())
    ls = read_labels(f, "disfa")
    assert list(ls.subject) == ["01", "02"] and list(ls.video) == ["007", "T1"] and ls.frame.tolist() == [1, 2]
    np.testing.assert_array_equal(ls.labels, np.array([[1, 0, 0, 0, 0, 0, 1, 0], [0, NAN, NAN, 0, 0, 0, 0, 1]],
                                                      dtype=np.float32))
    f.write_text("frame," + DISFA_HEADER + "\n1,1,0,0,0,0,0,1,0\n2,1,0,yes,0,0,0,1,0\n")
    with pytest.raises(InputError, match="cell 'yes' \\(data row 2, column AU4\\) is not a number") as e:
        read_labels(f, "disfa")
    assert str(f) in str(e.value)


# -------------------------------------------------------------------------------------------- NPY

def test_npy_sidecars_default_order_and_errors(tmp_path):
    arr = np.array([[1, 0, 9, 1, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1, -1, 0, 0]], dtype=np.int8)
    f = tmp_path / "y.npy"
    np.save(f, arr)
    (tmp_path / "y.aus.txt").write_text("AU26 AU25 AU12 AU9 AU6 AU4 AU2 AU1 AU5\n")  # reversed + AU5
    ls = read_labels(f, "disfa")
    np.testing.assert_array_equal(ls.labels, np.array([[1, 1, 0, 0, 1, NAN, 0, 1], [0, NAN, 1, 1, 0, 0, 0, 0]],
                                                      dtype=np.float32))
    assert ls.ignored_aus == (5,)
    (tmp_path / "y.aus.txt").unlink()
    (tmp_path / "y.aus.json").write_text(json.dumps({"aus": [26, 25, 12, 9, 6, 4, 2, 1, 5]}))
    np.testing.assert_array_equal(read_labels(f, "disfa").labels, ls.labels)
    (tmp_path / "y.aus.json").unlink()
    with pytest.raises(InputError, match="9 columns") as e:  # no sidecar, width != C
        read_labels(f, "disfa")
    assert str(f) in str(e.value)
    np.save(f, arr[:, :8])
    assert read_labels(f, "disfa").labels[0, 0] == 1  # no sidecar, width == C: protocol order
    np.save(f, np.array([[{"a": 1}]], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="object arrays are refused") as e:
        read_labels(f, "disfa")
    assert str(f) in str(e.value)


def test_npy_structured_array(tmp_path):
    dt = [("subject", "U8"), ("frame", "i8")] + [(f"AU{a}", "f4") for a in DISFA]
    arr = np.zeros(2, dtype=dt)
    arr["subject"] = ["SN001", "SN002"]
    arr["frame"] = [3, 4]
    arr["AU12"] = [1, np.nan]
    f = tmp_path / "s.npy"
    np.save(f, arr)
    ls = read_labels(f, "disfa")
    assert list(ls.subject) == ["SN001", "SN002"] and ls.frame.tolist() == [3, 4]
    assert ls.labels[0, DISFA.index(12)] == 1 and np.isnan(ls.labels[1, DISFA.index(12)])
    arr = arr.astype([("frame", "f8") if n == "frame" else (n, arr.dtype[n]) for n in arr.dtype.names])
    arr["frame"] = [3, 4.5]  # not truncated to 4 in silence
    np.save(f, arr)
    with pytest.raises(InputError, match="frame numbers must be integers") as e:
        read_labels(f, "disfa")
    assert str(f) in str(e.value)


# ------------------------------------------------------------------------------- entry-point errors

def test_registry_names():
    assert set(LABEL_FORMATS) == {"bp4d", "disfa", "list", "openface", "csv", "npy"}


def test_bad_paths_and_formats_raise_with_the_path(tmp_path, bp4d_root):
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError, match="does not exist") as e:
        read_labels(missing, "bp4d")
    assert str(missing) in str(e.value)
    with pytest.raises(InputError, match="unknown label format 'xml'.*bp4d") as e:
        read_labels(bp4d_root, "bp4d", format="xml")
    assert str(bp4d_root) in str(e.value)
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(InputError, match="cannot tell the label format") as e:
        read_labels(empty, "bp4d")
    assert str(empty) in str(e.value)
    odd = tmp_path / "labels.xml"
    odd.write_text("<x/>")
    with pytest.raises(InputError, match="cannot tell") as e:
        read_labels(odd, "bp4d")
    assert str(odd) in str(e.value)
    with pytest.raises(InputError, match="unknown protocol"):
        read_labels(bp4d_root, "ckplus")
    with pytest.raises(InputError, match="no DISFA label folders") as e:
        read_labels(bp4d_root, "disfa", format="disfa")
    assert str(bp4d_root) in str(e.value)
    with pytest.raises(InputError, match="empty") as e:
        (tmp_path / "blank.csv").write_text("")
        read_labels(tmp_path / "blank.csv", "bp4d")
    assert "blank.csv" in str(e.value)


def test_unreadable_file_raises_input_error(tmp_path):
    f = tmp_path / "bin.csv"
    f.write_bytes(b"\xff\xfe\x00\x81AU1\n")
    with pytest.raises(InputError) as e:
        read_labels(f, "bp4d", format="csv")
    assert str(f) in str(e.value)


# ------------------------------------------------------------------------------- round-trip property

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0, 1, 9]), min_size=12, max_size=12), min_size=1, max_size=8),
       st.booleans(), st.permutations(list(BP4D)))
def test_bp4d_round_trip_any_column_order(tmp_path_factory, rows, crlf, order):
    """Whatever the column order, line endings and unknown codes, the labels read back are the labels
    written (9 -> NaN), in the protocol's order."""
    folder = tmp_path_factory.mktemp("rt")
    f = folder / "F009_T3.csv"
    header = "0," + ",".join(str(au) for au in order)
    body = [",".join([str(100 + i)] + [str(r[BP4D.index(au)]) for au in order]) for i, r in enumerate(rows)]
    f.write_bytes(((("\r\n" if crlf else "\n").join([header] + body)) + "\n").encode())
    ls = read_labels(f, "bp4d")
    expected = np.array(rows, dtype=np.float32)
    expected[expected == 9] = np.nan
    np.testing.assert_array_equal(ls.labels, expected)
    assert ls.frame.tolist() == [100 + i for i in range(len(rows))]
