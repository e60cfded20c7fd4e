r"""The relation graph shared by every face, as tensors a relation layer can use directly.

All faces of a protocol share one ROI graph, so a batch of B faces never needs B copies of it built in
Python: the dense layers use the (R, R) adjacency once for the whole batch, and the sparse PyG layers
get a batched ``edge_index`` that is built once per batch size and device, then reused.

Convention (PyG's): ``edge_index[0]`` is the source, ``edge_index[1]`` the target. The dense matrices put
the **target in the row**, ``A[target, source] = weight``, so that ``A @ X`` aggregates incoming
messages, which is what PyG's sparse ``source_to_target`` flow does.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from augcn_pyg.core.errors import InputError
from augcn_pyg.graph.relations import RULES


def _as_tensor(value, dtype: torch.dtype, name: str) -> Tensor:
    try:
        return torch.as_tensor(np.asarray(value) if not isinstance(value, Tensor) else value).to(dtype)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"topology {name} is not numeric: {exc}") from None


class GraphTopology(torch.nn.Module):
    """The relation graph shared by every face: R nodes, E directed edges (source -> target).

    Args:
        edge_index: (2, E) int, row 0 the source, row 1 the target.
        edge_type: (E,) int in ``0 .. num_relations - 1`` (an index into :data:`augcn_pyg.graph.relations.RULES`).
        edge_weight: (E,) float.
        num_nodes: R.
        num_relations: the number of edge types (default: the number of relation rules).

    A Module so that ``.to(device)`` moves its tensors; they are non-persistent buffers (the graph is
    saved with the run, not inside every layer's weights). Duplicate (source, target) pairs are refused:
    a dense adjacency could not tell them apart.
    """

    def __init__(self, edge_index, edge_type, edge_weight, num_nodes: int, num_relations: int = len(RULES)):
        super().__init__()
        edge_index = _as_tensor(edge_index, torch.long, "edge_index")
        edge_type = _as_tensor(edge_type, torch.long, "edge_type")
        edge_weight = _as_tensor(edge_weight, torch.float32, "edge_weight")
        num_nodes, num_relations = int(num_nodes), int(num_relations)
        if num_nodes < 1:
            raise InputError(f"a topology needs at least one node, got num_nodes={num_nodes}")
        if num_relations < 1:
            raise InputError(f"a topology needs at least one relation, got num_relations={num_relations}")
        if edge_index.dim() != 2 or edge_index.shape[0] != 2:
            raise InputError(f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}")
        E = edge_index.shape[1]
        if edge_type.shape != (E,) or edge_weight.shape != (E,):
            raise InputError(f"edge_type {tuple(edge_type.shape)} and edge_weight {tuple(edge_weight.shape)} "
                             f"must both have shape ({E},), one entry per edge")
        if E and (edge_index.min() < 0 or edge_index.max() >= num_nodes):
            raise InputError(f"edge_index holds node indices outside 0..{num_nodes - 1}")
        if E and (edge_type.min() < 0 or edge_type.max() >= num_relations):
            raise InputError(f"edge_type holds values outside 0..{num_relations - 1}")
        if not torch.isfinite(edge_weight).all():
            raise InputError("edge_weight holds non-finite values")
        if torch.unique(edge_index[1] * num_nodes + edge_index[0]).numel() != E:
            raise InputError("edge_index lists the same (source, target) pair more than once")
        self._num_nodes = num_nodes
        self._num_relations = num_relations
        self.register_buffer("edge_index", edge_index, persistent=False)   # (2, E)
        self.register_buffer("edge_type", edge_type, persistent=False)     # (E,)
        self.register_buffer("edge_weight", edge_weight, persistent=False)  # (E,)
        self._batched: dict[tuple[int, torch.device], tuple[Tensor, Tensor, Tensor]] = {}

    @classmethod
    def from_graph(cls, graph, keep: Sequence[int] | None = None) -> "GraphTopology":
        """From a :class:`~augcn_pyg.graph.relations.RelationGraph` (or anything with its four fields).

        ``keep``: node indices to keep, renumbered ``0 .. len(keep) - 1`` in the given order; edges that
        touch a dropped node are dropped (e.g. the graph without its global-face node).
        """
        edge_index = np.asarray(graph.edge_index, dtype=np.int64).reshape(2, -1)
        edge_type = np.asarray(graph.edge_type, dtype=np.int64)
        edge_weight = np.asarray(graph.edge_weight, dtype=np.float32)
        R = int(graph.num_nodes)
        if keep is None:
            return cls(edge_index, edge_type, edge_weight, R)
        keep = np.asarray(list(keep), dtype=np.int64)
        if keep.ndim != 1 or keep.size == 0:
            raise InputError("keep must be a non-empty sequence of node indices")
        if keep.min() < 0 or keep.max() >= R:
            raise InputError(f"keep holds node indices outside 0..{R - 1}: {keep.tolist()}")
        if np.unique(keep).size != keep.size:
            raise InputError(f"keep lists a node more than once: {keep.tolist()}")
        new_id = np.full(R, -1, dtype=np.int64)
        new_id[keep] = np.arange(keep.size)
        src, dst = new_id[edge_index[0]], new_id[edge_index[1]]
        kept = (src >= 0) & (dst >= 0)
        return cls(np.stack([src[kept], dst[kept]]), edge_type[kept], edge_weight[kept], keep.size)

    # --- sizes -------------------------------------------------------------------------------------

    @property
    def num_nodes(self) -> int:
        return self._num_nodes

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    @property
    def num_relations(self) -> int:
        return self._num_relations

    def extra_repr(self) -> str:
        return f"num_nodes={self.num_nodes}, num_edges={self.num_edges}, num_relations={self.num_relations}"

    # --- dense views -------------------------------------------------------------------------------

    def _values(self, weighted: bool) -> Tensor:
        return self.edge_weight if weighted else torch.ones_like(self.edge_weight)

    def adjacency(self, weighted: bool = True) -> Tensor:
        """(R, R) float: ``A[target, source]`` = the edge weight (1 when ``weighted=False``), 0 elsewhere."""
        R = self.num_nodes
        A = self.edge_weight.new_zeros(R, R)
        A[self.edge_index[1], self.edge_index[0]] = self._values(weighted)
        return A

    def relation_adjacency(self, weighted: bool = True) -> Tensor:
        """(num_relations, R, R) float: one adjacency per edge type, same convention as :meth:`adjacency`."""
        R = self.num_nodes
        A = self.edge_weight.new_zeros(self.num_relations, R, R)
        A[self.edge_type, self.edge_index[1], self.edge_index[0]] = self._values(weighted)
        return A

    # --- the sparse, batched view ------------------------------------------------------------------

    def batched(self, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
        """The graph repeated for ``batch_size`` faces, face b's nodes numbered ``b*R .. b*R + R - 1``.

        Returns ``edge_index`` (2, B*E), ``edge_type`` (B*E,), ``edge_weight`` (B*E,), face by face.
        Built once per (batch size, device) and cached: the sparse path never rebuilds it per face.
        """
        B = int(batch_size)
        if B < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        key = (B, self.edge_index.device)
        cached = self._batched.get(key)
        if cached is None:
            offsets = torch.arange(B, device=self.edge_index.device) * self.num_nodes  # (B,)
            edge_index = (self.edge_index.unsqueeze(1) + offsets.view(1, B, 1)).reshape(2, -1)  # (2, B*E)
            cached = (edge_index, self.edge_type.repeat(B), self.edge_weight.repeat(B))
            self._batched[key] = cached
        return cached

    def _apply(self, fn, *args, **kwargs):
        # a move or cast makes the cached batched copies stale
        self._batched.clear()
        return super()._apply(fn, *args, **kwargs)
