"""Scores from store rows: batches given to the model as StoreRows give the uint8-crop results bit for bit."""
import numpy as np
import pytest
import torch

from augcn_pyg.data.loader import FlipROIs
from augcn_pyg.data.store import ROIStore
from augcn_pyg.engine.scoring import encode_rows, map_rois, predict_rows, predict_rows_both
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.model import AUGCN
from benchmarks.fixtures import make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "store"
    make_store(path, per_subject=8, intensity=True)
    return ROIStore(path)


def model_of(store, **options):
    torch.manual_seed(0)
    return AUGCN(store.protocol, paper_graph(store.protocol.name), latent=16, hidden=(8, 4), strip_channels=4,
                 roi_size=store.roi_size, **options).eval()


ROWS = np.array([5, 0, 17, 3, 3, 40, 41, 42, 11])  # shuffled, a repeat, a consecutive run
BATCH = 4


def plain(store, fn, transform=lambda x: x):
    """``fn`` on (B, R, 3, n, n) uint8 crops of ROWS read the plain way, in the scorers' batches, concatenated."""
    out = [fn(transform(torch.from_numpy(store.read_rows(ROWS[s:s + BATCH])))) for s in range(0, len(ROWS), BATCH)]
    return torch.cat(out)


@pytest.mark.parametrize("global_node", [True, False])
def test_latents_equal_those_of_uint8_crops_with_and_without_flips(store, global_node):
    model = model_of(store, global_node=global_node)
    flip = FlipROIs(store.protocol)
    with torch.no_grad():
        encode = lambda crops: model.autoencoders.encode(model.select_rois(crops))  # noqa: E731
        unflipped, flipped = plain(store, encode), plain(store, encode, flip.flip)
    device = torch.device("cpu")
    assert torch.equal(encode_rows(model, store, ROWS, device, batch_size=BATCH), unflipped)
    assert torch.equal(encode_rows(model, store, ROWS, device, batch_size=BATCH, flip=flip), flipped)
    assert not torch.equal(unflipped, flipped)


def test_probabilities_and_intensities_equal_those_of_uint8_crops(store):
    model = model_of(store, task="both")
    device = torch.device("cpu")
    expected = plain(store, model.predict_proba).numpy()
    np.testing.assert_array_equal(predict_rows(model, store, ROWS, device, batch_size=BATCH), expected)
    p, i = predict_rows_both(model, store, ROWS, device, batch_size=BATCH)
    np.testing.assert_array_equal(p, plain(store, lambda x: model.predict_both(x)[0]).numpy())
    np.testing.assert_array_equal(i, plain(store, lambda x: model.predict_both(x)[1]).numpy())
    # a store of another protocol: model ROI r shows store ROI roi_map[r], -1 a zero crop
    roi_map = np.arange(store.protocol.num_rois)[::-1].copy()
    roi_map[2] = -1
    p, _ = predict_rows_both(model, store, ROWS, device, batch_size=BATCH, roi_map=roi_map)
    want = plain(store, lambda x: model.predict_both(x)[0], lambda x: map_rois(x, roi_map))
    np.testing.assert_array_equal(p, want.numpy())
