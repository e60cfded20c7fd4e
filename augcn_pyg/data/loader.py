"""A loader that builds PyG ``Batch`` objects for B faces without per-face Python collation.

Every face of a protocol has the same R nodes and the same E edges, so everything a ``Batch`` holds
besides the crops and labels depends only on B: the shifted ``edge_index``, ``edge_type``,
``edge_weight``, the ``batch`` and ``ptr`` vectors and PyG's slice/increment bookkeeping are computed
once per batch size with vectorised ops and reused. Per batch the loader does one sorted read of the B
store rows (:meth:`ROIStore.read_rows`), one fancy-index of the labels, and one broadcast product for
``roi_y``. The result equals ``torch_geometric.loader.DataLoader``'s batch attribute for attribute
(``tests/data/test_loader.py``), including ``_slice_dict``/``_inc_dict`` so ``batch.get_example(i)`` and
``batch.to_data_list()`` work.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.core.draws import batch_rand
from augcn_pyg.data.dataset import AUROIDataset


class _Topology:
    """The batch-size-dependent, data-independent part of a batch of B faces."""

    def __init__(self, edge_index, edge_type, edge_weight, num_rois: int, size: int):
        num_edges = edge_index.shape[1]
        graphs = torch.arange(size)
        node_offset = (graphs * num_rois).repeat_interleave(num_edges)  # (B*E,)
        self.edge_index = edge_index.repeat(1, size) + node_offset  # (2, B*E)
        self.edge_type = edge_type.repeat(size)  # (B*E,)
        self.edge_weight = edge_weight.repeat(size)  # (B*E,)
        self.batch = graphs.repeat_interleave(num_rois)  # (B*R,)
        self.ptr = torch.arange(size + 1) * num_rois  # (B+1,)
        per_graph = torch.arange(size + 1)
        node_slices = self.ptr
        edge_slices = per_graph * num_edges
        zeros = torch.zeros(size, dtype=torch.long)
        self.slice_dict = {"x": node_slices, "edge_index": edge_slices, "edge_type": edge_slices,
                           "edge_weight": edge_slices, "y": per_graph, "y_mask": per_graph, "roi_y": node_slices,
                           "subject": per_graph, "video": per_graph, "frame": per_graph, "row": per_graph}
        self.inc_dict = {"x": zeros, "edge_index": self.ptr[:-1], "edge_type": zeros, "edge_weight": zeros,
                         "y": zeros, "y_mask": zeros, "roi_y": zeros, "subject": None, "video": None,
                         "frame": zeros, "row": zeros}


class FaceGraphLoader:
    """Iterate over an :class:`AUROIDataset` in ``Batch``es of ``batch_size`` faces.

    Args:
        dataset: the faces (its per-item ``transform`` must be None; use ``transform`` here instead).
        batch_size: faces per batch (B).
        shuffle: a new permutation each epoch, drawn from ``seed`` and the epoch number
            (:meth:`set_epoch`, or counted up by each ``iter()``), so runs are reproducible.
        drop_last: drop the last incomplete batch.
        transform: optional callable applied to each whole ``Batch`` (e.g. a batched flip).
    """

    def __init__(self, dataset: AUROIDataset, batch_size: int = 256, shuffle: bool = False, seed: int = 0,
                 drop_last: bool = False, transform: Callable[[Batch], Batch] | None = None):
        if dataset.transform is not None:
            raise ValueError("FaceGraphLoader builds whole batches without per-face Data objects; pass a batch "
                             "transform to FaceGraphLoader(transform=...) instead of the dataset's transform")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.transform = transform
        self.epoch = 0
        self._topologies: dict[int, _Topology] = {}

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """(M,) dataset positions in the order of ``epoch`` (the current one by default)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        epoch = self.epoch if epoch is None else epoch
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def batch_positions(self, epoch: int | None = None) -> list[np.ndarray]:
        """The dataset positions of each batch of ``epoch``."""
        order = self.order(epoch)
        stop = len(self) * self.batch_size
        return [order[i:i + self.batch_size] for i in range(0, min(stop, len(order)), self.batch_size)]

    def __iter__(self) -> Iterator[Batch]:
        positions = self.batch_positions()
        self.epoch += 1
        for pos in positions:
            yield self.collate(pos)

    def _topology(self, size: int) -> _Topology:
        if size not in self._topologies:
            ds = self.dataset
            self._topologies[size] = _Topology(ds.edge_index, ds.edge_type, ds.edge_weight, ds.num_rois, size)
        return self._topologies[size]

    def collate(self, positions) -> Batch:
        """The ``Batch`` of the faces at dataset ``positions`` (B,), in that order."""
        ds = self.dataset
        rows = ds.indices[np.asarray(positions, dtype=np.int64)]  # (B,) store rows
        size, num_rois = len(rows), ds.num_rois
        topo = self._topology(size)
        x = torch.from_numpy(ds.store.read_rows(rows))  # (B, R, 3, n, n) uint8
        y, known = ds.labels_and_mask(rows)  # (B, C), (B, C)
        roi_y = ds.roi_labels(y)  # (B, R, C)
        batch = Batch(_base_cls=Data)
        # Attribute order as PyG's collate leaves it (the item's keys, then batch and ptr).
        batch.x = x.reshape(size * num_rois, *x.shape[2:])  # (B*R, 3, n, n)
        # Clones of the cached topology, so that editing one batch in place cannot change the next.
        batch.edge_index = topo.edge_index.clone()
        batch.edge_type = topo.edge_type.clone()
        batch.edge_weight = topo.edge_weight.clone()
        batch.y = y
        batch.y_mask = known
        batch.roi_y = roi_y.reshape(size * num_rois, roi_y.shape[-1])  # (B*R, C); B may be 0 (an empty share)
        batch.subject = ds.store.subject[rows].tolist()
        batch.video = ds.store.video[rows].tolist()
        batch.frame = torch.from_numpy(np.array(ds.store.frame[rows], dtype=np.int64))
        batch.row = torch.from_numpy(rows.copy())
        batch.batch = topo.batch.clone()
        batch.ptr = topo.ptr.clone()
        batch._num_graphs = size
        batch._slice_dict = topo.slice_dict
        batch._inc_dict = topo.inc_dict
        return self.transform(batch) if self.transform is not None else batch


class FlipROIs:
    """Batch transform: the paper's horizontal-flip augmentation, done on the stored ROIs.

    A flipped face's ROI r is the mirror image of the original's ROI ``protocol.mirror_permutation()[r]``
    (its left/right partner; the global ROI is its own), which is exactly what
    :func:`augcn_pyg.face.rois.extract_rois` gives on :func:`augcn_pyg.face.rois.flip_faces` (a test checks the
    equality), so no image needs decoding again. Labels are unchanged: partners carry the same AUs.
    Each face is flipped with probability ``p``; draws come from a generator seeded with ``seed``, one per
    face of the global batch whatever share of it this process holds (``share``).
    """

    def __init__(self, protocol, p: float = 0.5, seed: int = 0):
        self.protocol = get_protocol(protocol)
        self.p = float(p)
        self.permutation = torch.from_numpy(self.protocol.mirror_permutation())  # (R,)
        self.generator = torch.Generator().manual_seed(seed)
        # (offset, total) when the batches are shares of larger global batches (distributed training)
        self.share: tuple[int, int] | None = None

    def flip(self, x: torch.Tensor) -> torch.Tensor:
        """(B, R, 3, n, n) -> every face flipped."""
        return x[:, self.permutation].flip(-1)

    def draw(self, count: int) -> torch.Tensor:
        """(count,) bool: which faces of the next batch (or of this process's share of it) are flipped."""
        return batch_rand(count, share=self.share, generator=self.generator) < self.p

    def __call__(self, batch: Batch) -> Batch:
        num_rois = self.protocol.num_rois
        x = batch.x.view(-1, num_rois, *batch.x.shape[1:])  # (B, R, 3, n, n)
        chosen = self.draw(x.shape[0])  # (B,)
        if chosen.any():
            x = x.clone()
            x[chosen] = self.flip(x[chosen])
            batch.x = x.view_as(batch.x)
        batch.flipped = chosen
        return batch
