"""AUROIDataset items: shapes, dtypes, labels with unknowns, ROI labels by hand, splits."""
import numpy as np
import pytest
import torch

from augcn_pyg.core.aus import BP4D
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.dataset import AUROIDataset, fold_rows
from augcn_pyg.data.store import write_store
from augcn_pyg.graph.relations import RelationBuilder, default_threshold, paper_graph


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    rois = rng.integers(0, 256, (n, 19, 3, 5, 5), dtype=np.uint8)
    labels = rng.integers(0, 2, (n, 12)).astype(np.float32)
    labels[2] = [1, 0, np.nan, 1, 0, 0, 1, 1, 0, 0, 1, np.nan]
    subject = np.array(["F001", "F002", "M001"] * 4)
    return write_store(tmp_path / "s", "bp4d", rois, labels, subject, np.array(["T1"] * n), np.arange(n) * 2 + 7)


def test_item_fields(store):
    graph = paper_graph("bp4d")
    ds = AUROIDataset(store, graph)
    assert len(ds) == 12
    d = ds[2]
    assert d.x.dtype == torch.uint8 and d.x.shape == (19, 3, 5, 5)
    assert torch.equal(d.x, torch.from_numpy(np.array(store.rois[2])))
    assert d.num_nodes == 19
    assert torch.equal(d.edge_index, torch.as_tensor(graph.edge_index))
    assert d.edge_type.dtype == torch.long and d.edge_weight.dtype == torch.float32
    assert d.y.shape == (1, 12) and d.y.dtype == torch.float32
    # unknown -> 0 in y and False in the mask
    assert d.y[0].tolist() == [1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0]
    assert d.y_mask[0].tolist() == [True, True, False] + [True] * 8 + [False]
    assert d.subject == "M001" and d.video == "T1" and d.frame == 11 and d.row == 2


def test_roi_labels_by_hand(store):
    d = AUROIDataset(store, paper_graph("bp4d"))[2]
    y = d.y[0]
    assert d.roi_y.shape == (19, 12)
    names = BP4D.roi_names
    # inner brow (AU1, column 0), both sides
    expect = torch.zeros(12)
    expect[0] = y[0]
    assert torch.equal(d.roi_y[names.index("inner_brow_left")], expect)
    assert torch.equal(d.roi_y[names.index("inner_brow_right")], expect)
    # lip corners hold AU12, AU14, AU15 = columns 6, 7, 8: y = 1, 1, 0
    assert d.roi_y[names.index("lip_corner_right")].tolist() == [0] * 6 + [1, 1, 0] + [0] * 3
    # lips: AU23, AU24 = columns 10, 11: 1 and unknown (0)
    assert d.roi_y[names.index("lips_upper")].tolist() == [0] * 10 + [1, 0]
    # global ROI = every AU
    assert torch.equal(d.roi_y[names.index("global")], y)


def test_splits_and_graph_fitted_on_train_subjects(store):
    rows = fold_rows(store, ["F001", "M001"])
    assert rows.tolist() == [0, 2, 3, 5, 6, 8, 9, 11]
    builder = RelationBuilder("bp4d", threshold=0.8).fit(store.labels[rows])
    ds = AUROIDataset(store, builder.graph_, split=["F001", "M001"])
    assert len(ds) == 8 and [ds[i].row for i in range(8)] == rows.tolist()
    assert ds.subjects() == ["F001", "M001"]
    assert ds[0].edge_index.shape[1] == builder.graph_.edge_index.shape[1]


def test_graph_file_path(store, tmp_path):
    path = tmp_path / "g.json"
    paper_graph("bp4d").save(path)
    ds = AUROIDataset(store.path, path)
    assert torch.equal(ds[0].edge_index, torch.as_tensor(paper_graph("bp4d").edge_index))


def test_bad_inputs(store):
    with pytest.raises(InputError, match="protocol 'disfa'.*holds 'bp4d'"):
        AUROIDataset(store, paper_graph("disfa"))
    with pytest.raises(InputError, match="no faces of the split's subjects"):
        AUROIDataset(store, paper_graph("bp4d"), split=["SN001"])
    with pytest.raises(InputError, match="split must be"):
        AUROIDataset(store, paper_graph("bp4d"), split="F001")
    with pytest.raises(InputError, match="split part"):
        AUROIDataset(store, paper_graph("bp4d"), split=("bp4d", 1, "val"))
    with pytest.raises(InputError, match="split protocol"):
        AUROIDataset(store, paper_graph("bp4d"), split=("disfa", 1, "train"))


def test_transform(store):
    ds = AUROIDataset(store, paper_graph("bp4d"), transform=lambda d: d.update({"x": d.x.float() / 255}) or d)
    assert ds[0].x.dtype == torch.float32 and float(ds[0].x.max()) <= 1.0


def test_fold_split_and_graph_fitted_on_training_subjects_only(tmp_path):
    from augcn_pyg.data.dataset import fold_datasets

    rng = np.random.default_rng(1)
    # fold 1 trains on parts 1 + 2 (F001, M011 here) and tests on part 3 (F007)
    subject = np.array(["F001"] * 30 + ["M011"] * 30 + ["F007"] * 30)
    labels = (rng.random((90, 12)) < 0.1).astype(np.float32)
    labels[:, 0] = labels[:, 1] = 1.0  # AU1 and AU2 in every frame: an edge in any fit
    labels[60:] = 1.0  # the test subject shows every AU at once: only a fit that peeks at it links them all
    store = write_store(tmp_path / "s", "bp4d", np.zeros((90, 19, 3, 4, 4), np.uint8), labels, subject,
                        subject, np.arange(90))
    train, test = fold_datasets(store, 1)
    assert train.subjects() == ["F001", "M011"] and test.subjects() == ["F007"]
    assert len(train) == 60 and len(test) == 30 and train.graph is test.graph
    assert train.graph.threshold == default_threshold() == 1.0  # the one default, as build-graph's
    own = RelationBuilder("bp4d").fit(labels[:60]).graph_
    peeking = RelationBuilder("bp4d").fit(labels).graph_
    np.testing.assert_array_equal(train.graph.au_adjacency, own.au_adjacency)
    assert torch.equal(train[0].edge_index, torch.as_tensor(own.edge_index))
    assert own.au_adjacency.sum() < peeking.au_adjacency.sum()
    # fold 2 tests on part 2 (M011), fold 3 on part 1 (F001)
    assert AUROIDataset(store, own, split=("bp4d", 2, "test")).subjects() == ["M011"]
    assert AUROIDataset(store, own, split=("bp4d", 3, "test")).subjects() == ["F001"]
    assert AUROIDataset(store, own, split=("bp4d", 3, "train")).subjects() == ["F007", "M011"]
    # the protocol may be given as a Protocol object, as everywhere else
    assert AUROIDataset(store, own, split=(BP4D, 1, "test")).subjects() == ["F007"]
