"""The PyG dataset over an ROI store: one face = one ``Data`` graph of R ROI nodes.

Item fields (R ROIs, C AUs, n ROI side, E graph edges)::

    x           (R, 3, n, n) uint8   the ROI crops, RGB; kept uint8 (4x less memory than float32);
                                     the model converts with ``x.float() / 255``
    edge_index  (2, E) int64         the relation graph, shared by every face of the protocol
    edge_type   (E,) int64           edge rule (self / symmetric / co-occurrence / global)
    edge_weight (E,) float32
    y           (1, C) float32       1 present, 0 absent or unknown (see y_mask)
    y_mask      (1, C) bool          True where the label is known
    roi_y       (R, C) float32       roi_y[r, c] = y[c] if AU c belongs to ROI r else 0 (paper eq. 2);
                                     the global ROI belongs to every AU
    subject, video (str) · frame (int) · row (int, the face's row in the store)

The graph must come from the training subjects only: fit ``RelationBuilder(protocol).fit(
store.labels[train_rows])`` and pass its ``graph_`` (see :func:`fold_rows`), or a paper graph;
:func:`fold_datasets` does exactly that for one fold.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch_geometric.data import Data

from augcn_pyg.core.errors import InputError
from augcn_pyg.data.folds import fold_split
from augcn_pyg.data.store import ROIStore
from augcn_pyg.graph.relations import RelationBuilder, RelationGraph

#: split=("bp4d", 1, "train"): protocol, fold (1-3), part
PARTS = ("train", "test")


def open_store(store: ROIStore | str | os.PathLike) -> ROIStore:
    return store if isinstance(store, ROIStore) else ROIStore(store)


def load_graph(graph):
    """A RelationGraph, or one loaded from a graph JSON path; anything with ``edge_index``/``edge_type``/
    ``edge_weight`` (and ideally ``protocol``) is accepted."""
    if isinstance(graph, (str, os.PathLike)):
        return RelationGraph.load(Path(graph))
    return graph


def split_subjects(store: ROIStore, split) -> list[str] | None:
    """The subjects a ``split`` selects (None: all faces).

    ``split`` is None, a list of subject ids, or ``(protocol, fold, "train" | "test")`` for the standard
    subject-exclusive 3-fold protocol (:func:`augcn_pyg.data.folds.fold_split`).
    """
    if split is None:
        return None
    if isinstance(split, tuple) and len(split) == 3 and isinstance(split[1], (int, np.integer)):
        protocol, fold, part = split
        name = str(getattr(protocol, "name", protocol)).lower()  # a protocol name or a Protocol
        if part not in PARTS:
            raise InputError(f"split part {part!r} is not one of {PARTS}")
        if name != store.protocol.name:
            raise InputError(f"split protocol {name!r} does not match the store {store.path} "
                             f"(protocol {store.protocol.name!r})")

        train, test = fold_split(name, int(fold))
        return list(train if part == "train" else test)
    if isinstance(split, str):
        raise InputError(f"split must be a list of subjects or (protocol, fold, part), got the string {split!r}")
    return [str(s) for s in split]


def fold_rows(store: ROIStore | str | os.PathLike, split) -> np.ndarray:
    """(M,) int64 store rows of ``split`` (see :func:`split_subjects`), e.g. to fit the relation graph
    on ``store.labels[fold_rows(store, ("bp4d", 1, "train"))]``."""
    store = open_store(store)
    subjects = split_subjects(store, split)
    if subjects is None:
        return np.arange(len(store), dtype=np.int64)
    rows = store.indices_for_subjects(subjects)
    if len(rows) == 0:
        raise InputError(f"{store.path}: no faces of the split's subjects {subjects[:5]}"
                         f"{' ...' if len(subjects) > 5 else ''} (the store has {store.subjects[:5]} ...)")
    return rows


class AUROIDataset(torch.utils.data.Dataset):
    """Faces of an ROI store as PyG graphs sharing one relation graph.

    Args:
        store: an :class:`ROIStore` or its directory.
        graph: a ``RelationGraph`` (or a graph JSON path) of the store's protocol.
        split: None (every face), a list of subjects, or ``(protocol, fold, "train" | "test")``.
        transform: optional callable applied to each ``Data`` item (per face; the fast
            :class:`~augcn_pyg.data.loader.FaceGraphLoader` takes batch transforms instead).
    """

    def __init__(self, store, graph, split=None, transform: Callable | None = None):
        self.store = open_store(store)
        self.graph = load_graph(graph)
        self.protocol = self.store.protocol
        self.transform = transform
        graph_protocol = getattr(self.graph, "protocol", None)
        graph_protocol = getattr(graph_protocol, "name", graph_protocol)
        if graph_protocol is not None and str(graph_protocol).lower() != self.protocol.name:
            raise InputError(f"the relation graph is for protocol {graph_protocol!r} but the store {self.store.path} "
                             f"holds {self.protocol.name!r} faces")
        self.edge_index = torch.as_tensor(self.graph.edge_index, dtype=torch.long)  # (2, E)
        self.edge_type = torch.as_tensor(self.graph.edge_type, dtype=torch.long)  # (E,)
        self.edge_weight = torch.as_tensor(self.graph.edge_weight, dtype=torch.float32)  # (E,)
        num_rois = self.protocol.num_rois
        if self.edge_index.numel() and int(self.edge_index.max()) >= num_rois:
            raise InputError(f"the relation graph has a node index {int(self.edge_index.max())} but protocol "
                             f"{self.protocol.name!r} has {num_rois} ROIs")
        self.membership = torch.from_numpy(self.protocol.membership().astype(np.float32))  # (R, C)
        self.indices = fold_rows(self.store, split)  # (M,) store rows

    @property
    def num_rois(self) -> int:
        return self.protocol.num_rois

    @property
    def num_aus(self) -> int:
        return self.protocol.num_aus

    def __len__(self) -> int:
        return len(self.indices)

    def labels_and_mask(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C) float32 labels with unknown -> 0, and (B, C) bool known-mask, of store ``rows``."""
        labels = torch.from_numpy(np.array(self.store.labels[rows], dtype=np.float32))  # (B, C)
        known = ~torch.isnan(labels)
        return torch.where(known, labels, torch.zeros(())), known

    def roi_labels(self, y: torch.Tensor) -> torch.Tensor:
        """(B, R, C) float32 ROI-level labels from (B, C) face labels (paper eq. 2)."""
        return self.membership.unsqueeze(0) * y.unsqueeze(1)

    def __getitem__(self, i: int) -> Data:
        row = int(self.indices[i])
        y, known = self.labels_and_mask(np.array([row]))  # (1, C)
        data = Data(
            x=torch.from_numpy(self.store.read_rows([row])[0]),  # (R, 3, n, n) uint8
            edge_index=self.edge_index,
            edge_type=self.edge_type,
            edge_weight=self.edge_weight,
            y=y,
            y_mask=known,
            roi_y=self.roi_labels(y)[0],  # (R, C)
            subject=str(self.store.subject[row]),
            video=str(self.store.video[row]),
            frame=int(self.store.frame[row]),
            row=row,
        )
        return self.transform(data) if self.transform is not None else data

    def subjects(self) -> list[str]:
        return sorted(np.unique(self.store.subject[self.indices]).tolist())

    def __repr__(self) -> str:
        return (f"AUROIDataset({len(self)} faces, protocol={self.protocol.name!r}, R={self.num_rois}, "
                f"C={self.num_aus}, E={self.edge_index.shape[1]}, store={str(self.store.path)!r})")



def fold_datasets(store, fold: int, builder=None) -> tuple[AUROIDataset, AUROIDataset]:
    """(train, test) datasets of the standard 3-fold protocol, sharing one relation graph fitted on the
    training subjects' labels only. ``builder``: a ``RelationBuilder``; default ``RelationBuilder(protocol)``:
    the paper's measure and rules at the toolkit's default threshold (``relations.DEFAULT_THRESHOLDS``:
    P(j|i) + P(i|j) >= 1.0; the paper states none), the same graph ``build-graph`` fits without --threshold."""
    store = open_store(store)
    name = store.protocol.name
    train_rows = fold_rows(store, (name, fold, "train"))
    builder = builder if builder is not None else RelationBuilder(name)
    graph = builder.fit(store.labels[train_rows], source=f"{store.path} fold {fold} train").graph_
    return AUROIDataset(store, graph, (name, fold, "train")), AUROIDataset(store, graph, (name, fold, "test"))
