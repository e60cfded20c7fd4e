"""StoreRows: a batch as store row indices gives the auto-encoders exactly what the uint8 crop batch gave."""
import numpy as np
import pytest
import torch

from augcn_pyg.core.aus import BP4D
from augcn_pyg.data.loader import FlipROIs
from augcn_pyg.data.rows import StoreRows
from augcn_pyg.data.store import write_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(0)
    n = 30
    rois = rng.integers(0, 256, (n, BP4D.num_rois, 3, 5, 5), dtype=np.uint8)
    labels = rng.integers(0, 2, (n, BP4D.num_aus)).astype(np.float32)
    return write_store(tmp_path_factory.mktemp("rows") / "s", "bp4d", rois, labels, np.array(["S"] * n),
                       np.array(["T1"] * n), np.arange(n))


def flipped_crops(store, rows, flipped):
    """(B, R, 3, n, n) uint8 as the loader's Batch holds them after FlipROIs."""
    x = torch.from_numpy(store.read_rows(rows))
    chosen = torch.from_numpy(flipped)
    x[chosen] = FlipROIs(BP4D).flip(x[chosen])
    return x


def ragged_flips(size, seed=0):
    flips = np.random.default_rng(seed).random(size) < 0.5
    flips[:3] = [True, True, False]  # runs of both kinds
    return flips


def roi_major(crops: torch.Tensor) -> np.ndarray:
    """(B, R, 3, n, n) -> (R, B, 3, n, n) float32, what ROIAutoEncoders.pixels makes of a tensor."""
    return crops.float().transpose(0, 1).contiguous().numpy()


def test_crops_and_pixels_equal_the_flipped_batch(store):
    rows = np.array([7, 3, 3, 29, 0, 12, 13, 14, 5, 8])
    flips = ragged_flips(len(rows))
    batch = StoreRows(store, rows, flips)
    expected = flipped_crops(store, rows, flips)
    assert batch.shape == expected.shape and len(batch) == len(rows)
    assert torch.equal(batch.crops(), expected)
    out = np.full((BP4D.num_rois, len(rows), 3, 5, 5), -1, np.float32)
    np.testing.assert_array_equal(batch.gather_pixels(out), roi_major(expected))
    # no flags, all flipped, none flipped
    for flags in (None, np.ones(len(rows), bool), np.zeros(len(rows), bool)):
        plain = flipped_crops(store, rows, np.zeros(len(rows), bool) if flags is None else flags)
        assert torch.equal(StoreRows(store, rows, flags).crops(), plain)
        np.testing.assert_array_equal(StoreRows(store, rows, flags).gather_pixels(out), roi_major(plain))


def test_roi_selection_is_index_arithmetic_before_the_read(store):
    rows, flips = np.array([4, 9, 1, 22]), np.array([True, False, True, True])
    expected = flipped_crops(store, rows, flips)
    keep = torch.tensor([0, 5, 2, 18])
    picked = StoreRows(store, rows, flips).index_select(1, keep)
    assert picked.shape == (4, 4, 3, 5, 5)
    assert torch.equal(picked.crops(), expected.index_select(1, keep))
    # a ROI map with zero crops (-1), composed with the selection
    mapped = picked.select([3, -1, 0])
    want = expected.index_select(1, torch.tensor([18, 0, 0]))
    want[:, 1] = 0
    assert torch.equal(mapped.crops(), want)
    out = np.full((3, 4, 3, 5, 5), 7, np.float32)
    np.testing.assert_array_equal(mapped.gather_pixels(out), roi_major(want))


def test_misuse_is_refused(store):
    batch = StoreRows(store, [1, 2])
    with pytest.raises(ValueError, match="flip flags"):
        StoreRows(store, [1, 2], [True])
    with pytest.raises(ValueError, match="ROI axis"):
        batch.index_select(0, torch.tensor([0]))
    with pytest.raises(IndexError):
        batch.index_select(1, torch.tensor([-1]))
    with pytest.raises(IndexError):
        batch.select([BP4D.num_rois])
    with pytest.raises(ValueError, match="float32"):
        batch.gather_pixels(np.zeros((BP4D.num_rois, 2, 3, 5, 5), np.float64))
    with pytest.raises(IndexError):
        StoreRows(store, [30]).crops()
