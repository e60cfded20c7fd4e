"""The ROI store: round trip, row reads, and the refusals of incomplete, damaged or old stores."""
import json
import pickle

import numpy as np
import pytest

from augcn_pyg.core.aus import BP4D, DISFA
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.store import FORMAT_VERSION, ROIStore, ROIStoreWriter, write_store


def _arrays(protocol, n, size=7, seed=0):
    rng = np.random.default_rng(seed)
    rois = rng.integers(0, 256, (n, protocol.num_rois, 3, size, size), dtype=np.uint8)
    labels = rng.integers(0, 2, (n, protocol.num_aus)).astype(np.float32)
    labels[rng.random(labels.shape) < 0.1] = np.nan
    subject = np.array([f"S{i % 3}" for i in range(n)])
    video = np.array([f"T{i % 2}" for i in range(n)])
    frame = np.arange(n, dtype=np.int64) + 100
    return rois, labels, subject, video, frame


def test_round_trip(tmp_path):
    rois, labels, subject, video, frame = _arrays(BP4D, 11)
    store = write_store(tmp_path / "s", "bp4d", rois, labels, subject, video, frame,
                        source=[f"img{i}.jpg" for i in range(11)], chunk=4)
    again = ROIStore(tmp_path / "s")
    for s in (store, again):
        assert len(s) == 11 and s.protocol is BP4D and s.roi_size == 7
        assert s.rois.shape == (11, 19, 3, 7, 7) and s.rois.dtype == np.uint8
        np.testing.assert_array_equal(s.rois, rois)
        np.testing.assert_array_equal(s.labels, labels)  # NaN compares equal here
        np.testing.assert_array_equal(s.mask, ~np.isnan(labels))
        assert s.subject.tolist() == subject.tolist() and s.video.tolist() == video.tolist()
        assert s.frame.tolist() == frame.tolist() and s.source[3] == "img3.jpg"
    assert not again.rois.flags.writeable
    meta = json.loads((tmp_path / "s" / "store.json").read_text())
    assert meta["version"] == FORMAT_VERSION and meta["complete"] is True and meta["count"] == 11
    assert meta["rois"] == BP4D.roi_names and meta["aus"] == list(BP4D.aus)
    assert (tmp_path / "s" / "rois.u8").stat().st_size == 11 * 19 * 3 * 7 * 7


def test_read_rows_any_order_and_repeats(tmp_path):
    rois, *meta = _arrays(DISFA, 20)
    store = write_store(tmp_path / "s", "disfa", rois, *meta)
    for idx in ([3], [0, 1, 2, 3], [19, 0, 5, 6, 7, 5, 5, 18], np.random.default_rng(1).permutation(20), []):
        got = store.read_rows(idx)
        assert got.shape == (len(idx), 14, 3, 7, 7)
        np.testing.assert_array_equal(got, rois[np.asarray(idx, dtype=int)])
    with pytest.raises(IndexError):
        store.read_rows([20])
    # A pickled store (spawned DataLoader workers) reopens its file.
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(store)).read_rows([4, 2]), rois[[4, 2]])


def test_read_rows_swaps_the_rois_of_the_faces_it_is_told_to(tmp_path):
    """swapped faces come back with each ROI's left/right partner in its place, crops not mirrored."""
    rois, *meta = _arrays(BP4D, 20)
    store = write_store(tmp_path / "s", "bp4d", rois, *meta)
    perm = BP4D.mirror_permutation()
    assert not np.array_equal(perm, np.arange(BP4D.num_rois))  # partners to swap
    rng = np.random.default_rng(2)
    for idx in ([3], [0, 1, 2, 3, 4], [19, 0, 5, 6, 7, 5, 5, 18], rng.permutation(20)):
        idx = np.asarray(idx)
        swapped = rng.random(len(idx)) < 0.5
        swapped[0] = True
        expected = rois[idx].copy()
        expected[swapped] = expected[swapped][:, perm]
        np.testing.assert_array_equal(store.read_rows(idx, swapped=swapped), expected)
        np.testing.assert_array_equal(store.read_rows(idx, swapped=np.zeros(len(idx), bool)), rois[idx])
    with pytest.raises(ValueError, match="flags"):
        store.read_rows([1, 2], swapped=[True])


def test_short_reads_are_finished(tmp_path, monkeypatch):
    """preadv may return fewer bytes than asked (signals, huge runs); read_rows carries on where it stopped."""
    import os

    rois, *meta = _arrays(BP4D, 6)
    store = write_store(tmp_path / "s", "bp4d", rois, *meta)
    preadv = os.preadv

    def at_most_100_bytes(fd, buffers, offset):
        first = [memoryview(b)[:100] for b in buffers[:1]]
        return preadv(fd, first, offset)

    monkeypatch.setattr(os, "preadv", at_most_100_bytes)
    idx, swapped = np.array([5, 0, 1, 2, 4]), np.array([True, False, False, False, True])
    expected = rois[idx].copy()
    expected[swapped] = expected[swapped][:, BP4D.mirror_permutation()]
    np.testing.assert_array_equal(store.read_rows(idx, swapped=swapped), expected)


def test_indices_for_subjects(tmp_path):
    rois, labels, subject, video, frame = _arrays(BP4D, 9)
    store = write_store(tmp_path / "s", "bp4d", rois, labels, subject, video, frame)
    assert store.indices_for_subjects(["S1"]).tolist() == [1, 4, 7]
    assert store.indices_for_subjects(["S2", "S0"]).tolist() == [0, 2, 3, 5, 6, 8]
    assert store.indices_for_subjects(["nobody"]).tolist() == []
    assert store.subjects == ["S0", "S1", "S2"]


def test_unfinished_store_never_reads_as_valid(tmp_path):
    rois, *meta = _arrays(BP4D, 4)
    writer = ROIStoreWriter(tmp_path / "s", "bp4d", 7, capacity=4)
    writer.write(0, rois)
    writer.flush()
    with pytest.raises(InputError, match=r"not a complete ROI store, store.json is missing"):
        ROIStore(tmp_path / "s")
    writer.finalize(4, *meta)
    assert len(ROIStore(tmp_path / "s")) == 4
    # Re-opening a writer on a finished store invalidates it at once.
    ROIStoreWriter(tmp_path / "s", "bp4d", 7, capacity=4)
    with pytest.raises(InputError, match="store.json is missing"):
        ROIStore(tmp_path / "s")


def _edit_json(path, **changes):
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


def test_old_new_and_damaged_stores_are_refused(tmp_path):
    rois, *meta = _arrays(BP4D, 5)
    write_store(tmp_path / "s", "bp4d", rois, *meta)
    js = tmp_path / "s" / "store.json"
    _edit_json(js, version=0)
    with pytest.raises(InputError, match=r"written by an older version of augcn-pyg.*re-run prepare") as err:
        ROIStore(tmp_path / "s")
    assert str(tmp_path / "s") in str(err.value)
    _edit_json(js, version=FORMAT_VERSION + 1)
    with pytest.raises(InputError, match="newer version"):
        ROIStore(tmp_path / "s")
    _edit_json(js, version=FORMAT_VERSION, complete=False)
    with pytest.raises(InputError, match="not complete"):
        ROIStore(tmp_path / "s")
    _edit_json(js, complete=True, rois=["a"] * 19)
    with pytest.raises(InputError, match="ROI table"):
        ROIStore(tmp_path / "s")
    _edit_json(js, rois=BP4D.roi_names)
    ROIStore(tmp_path / "s")
    # same names, but a crop placed by other landmarks (the ROI rules changed since the store was written)
    table = json.loads(js.read_text())["roi_table"]
    assert table[0] == ["inner_brow_left", [21], -0.5]
    table[0][1] = [20]
    _edit_json(js, roi_table=table)
    with pytest.raises(InputError, match="ROI table .* older version"):
        ROIStore(tmp_path / "s")
    table[0][1] = [21]
    _edit_json(js, roi_table=table)
    ROIStore(tmp_path / "s")
    with open(tmp_path / "s" / "rois.u8", "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(InputError, match=r"rois.u8: 100 bytes .* damaged"):
        ROIStore(tmp_path / "s")
    meta = json.loads(js.read_text())
    _edit_json(js, protocol="ckplus")
    with pytest.raises(InputError, match="unknown protocol") as err:
        ROIStore(tmp_path / "s")
    assert str(js) in str(err.value)
    js.write_text(json.dumps({k: v for k, v in meta.items() if k != "count"}))
    with pytest.raises(InputError, match="lacks count"):
        ROIStore(tmp_path / "s")
    js.write_text("{not json")
    with pytest.raises(InputError, match="unreadable store description"):
        ROIStore(tmp_path / "s")
    with pytest.raises(InputError, match="no such ROI store"):
        ROIStore(tmp_path / "missing")
