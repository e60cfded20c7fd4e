"""FaceGraphLoader gives exactly the Batch that torch_geometric.loader.DataLoader gives."""
import numpy as np
import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader

from augcn_pyg.data.dataset import AUROIDataset
from augcn_pyg.data.loader import FaceGraphLoader
from augcn_pyg.data.store import write_store
from augcn_pyg.graph.relations import RelationBuilder, paper_graph


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(3)
    n = 23
    labels = rng.integers(0, 2, (n, 8)).astype(np.float32)
    labels[rng.random(labels.shape) < 0.2] = np.nan
    return write_store(tmp_path_factory.mktemp("store") / "s", "disfa",
                       rng.integers(0, 256, (n, 14, 3, 6, 6), dtype=np.uint8), labels,
                       np.array([f"SN{i % 4:03d}" for i in range(n)]), np.array([f"v{i % 3}" for i in range(n)]),
                       rng.integers(0, 5000, n))


def assert_same_batch(ours: Batch, ref: Batch):
    assert type(ours).__name__ == type(ref).__name__ == "DataBatch"
    assert list(ours.keys()) and sorted(ours.keys()) == sorted(ref.keys())
    for key in ref.keys():
        a, b = ours[key], ref[key]
        if isinstance(b, torch.Tensor):
            assert a.dtype == b.dtype and a.shape == b.shape, key
            assert torch.equal(a, b), key
        else:
            assert a == b, key
    assert ours.num_graphs == ref.num_graphs and ours.num_nodes == ref.num_nodes
    for name in ("_slice_dict", "_inc_dict"):
        mine, theirs = getattr(ours, name), getattr(ref, name)
        assert mine.keys() == theirs.keys(), name
        for key in theirs:
            if theirs[key] is None:
                assert mine[key] is None, (name, key)
            else:
                assert torch.equal(mine[key], theirs[key]), (name, key)


@pytest.mark.parametrize("batch_size, drop_last", [(5, False), (5, True), (23, False), (1, False)])
def test_equals_pyg_dataloader_in_order(store, batch_size, drop_last):
    ds = AUROIDataset(store, paper_graph("disfa"), split=["SN000", "SN001", "SN003"])
    ours = list(FaceGraphLoader(ds, batch_size, drop_last=drop_last))
    ref = list(DataLoader(ds, batch_size=batch_size, shuffle=False, drop_last=drop_last))
    assert len(ours) == len(ref) == len(FaceGraphLoader(ds, batch_size, drop_last=drop_last))
    for a, b in zip(ours, ref):
        assert_same_batch(a, b)


def test_equals_pyg_dataloader_shuffled(store):
    rows = store.indices_for_subjects(["SN000", "SN002"])
    graph = RelationBuilder("disfa", threshold=0.6).fit(store.labels[rows]).graph_  # fitted on train subjects
    ds = AUROIDataset(store, graph)
    loader = FaceGraphLoader(ds, batch_size=4, shuffle=True, seed=7)
    for epoch in range(2):
        order = loader.order(epoch).tolist()
        ref = list(DataLoader(ds, batch_size=4, sampler=order))
        ours = list(loader)  # iter() advances the epoch
        assert len(ours) == len(ref) == 6
        for a, b in zip(ours, ref):
            assert_same_batch(a, b)
    assert loader.order(0).tolist() != loader.order(1).tolist()
    assert sorted(loader.order(1).tolist()) == list(range(len(ds)))
    # Same seed and epoch -> same order in a new loader.
    assert FaceGraphLoader(ds, 4, shuffle=True, seed=7).order(1).tolist() == loader.order(1).tolist()
    # set_epoch(e) makes the next pass walk epoch e's order (e.g. when resuming a run)
    again = FaceGraphLoader(ds, 4, shuffle=True, seed=7)
    again.set_epoch(1)
    rows = torch.cat([b.row for b in again]).tolist()
    assert rows == ds.indices[loader.order(1)].tolist() and again.epoch == 2


def test_examples_round_trip(store):
    ds = AUROIDataset(store, paper_graph("disfa"))
    batch = FaceGraphLoader(ds, 8).collate([5, 0, 5, 22])
    for i, pos in enumerate([5, 0, 5, 22]):
        got, want = batch.get_example(i), ds[pos]
        for key in want.keys():
            assert (torch.equal(got[key], want[key]) if isinstance(want[key], torch.Tensor)
                    else got[key] == want[key]), key
    # Editing one batch in place does not leak into the cached topology.
    batch.edge_index += 1
    assert torch.equal(FaceGraphLoader(ds, 8).collate([5, 0, 5, 22]).edge_index,
                       Batch.from_data_list([ds[p] for p in [5, 0, 5, 22]]).edge_index)


def test_refuses_dataset_transform_and_applies_batch_transform(store):
    with pytest.raises(ValueError, match="batch transform"):
        FaceGraphLoader(AUROIDataset(store, paper_graph("disfa"), transform=lambda d: d), 4)
    ds = AUROIDataset(store, paper_graph("disfa"))
    to_float = lambda b: b.update({"x": b.x.float() / 255}) or b  # noqa: E731
    batch = next(iter(FaceGraphLoader(ds, 4, transform=to_float)))
    assert batch.x.dtype == torch.float32 and batch.x.shape == (4 * 14, 3, 6, 6)


@pytest.mark.parametrize("protocol", ["bp4d", "disfa"])
def test_flip_on_stored_rois_equals_rois_of_the_flipped_face(protocol):
    from augcn_pyg.data.loader import FlipROIs
    from augcn_pyg.face.align import template_for
    from augcn_pyg.face.rois import extract_rois, flip_faces

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (3, 200, 200, 3), dtype=np.uint8)
    points = (template_for(200) + rng.normal(0, 2.5, (3, 68, 2))).astype(np.float32)  # asymmetric faces
    rois = extract_rois(faces, points, protocol)  # (3, R, 3, 25, 25)
    flipped = extract_rois(*flip_faces(faces, points), protocol)
    assert torch.equal(FlipROIs(protocol).flip(rois), flipped)
    assert not torch.equal(rois, flipped)
    # FlipROIs leaves y and roi_y as they are: right only because left/right partner ROIs hold the same AUs
    from augcn_pyg.core.aus import get_protocol

    p = get_protocol(protocol)
    assert (p.mirror_permutation() != np.arange(p.num_rois)).sum() >= 2  # some ROIs do swap
    np.testing.assert_array_equal(p.membership()[p.mirror_permutation()], p.membership())


def test_flip_transform_on_batches(store):
    from augcn_pyg.data.loader import FlipROIs

    ds = AUROIDataset(store, paper_graph("disfa"))
    plain = FaceGraphLoader(ds, 6).collate(np.arange(6))
    always = FaceGraphLoader(ds, 6, transform=FlipROIs("disfa", p=1.0)).collate(np.arange(6))
    never = FaceGraphLoader(ds, 6, transform=FlipROIs("disfa", p=0.0)).collate(np.arange(6))
    x = plain.x.view(6, 14, 3, 6, 6)
    assert torch.equal(never.x, plain.x) and not never.flipped.any()
    assert torch.equal(always.x.view(6, 14, 3, 6, 6), x[:, torch.from_numpy(ds.protocol.mirror_permutation())].flip(-1))
    assert torch.equal(always.roi_y, plain.roi_y) and torch.equal(always.y, plain.y)
    half = FaceGraphLoader(ds, 6, transform=FlipROIs("disfa", p=0.5, seed=1)).collate(np.arange(6))
    chosen = half.flipped
    assert 0 < int(chosen.sum()) < 6
    hx = half.x.view(6, 14, 3, 6, 6)
    assert torch.equal(hx[chosen], always.x.view(6, 14, 3, 6, 6)[chosen]) and torch.equal(hx[~chosen], x[~chosen])
