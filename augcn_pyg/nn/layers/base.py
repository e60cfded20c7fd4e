"""What every relation layer is built on: the :class:`RelationLayer` base and :class:`Twin`.

A relation layer maps the node features of B faces, ``(B, R, in)``, to ``(B, R, out)`` over the one
relation graph that every face shares (:class:`~augcn_pyg.nn.topology.GraphTopology`), with a fast path
(``forward``, once for the batch on the shared ``(R, R)`` adjacency) and a sparse reference
(``forward_sparse``, PyG's sparse layer on the batched ``edge_index``) that share one set of parameters;
a :class:`Twin` runs PyG's other implementation of a layer (dense or sparse) with the owner's parameters.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from augcn_pyg.core.errors import InputError
from augcn_pyg.nn.topology import GraphTopology


class Twin:
    """PyG's other implementation of a layer, run with the owner's parameters.

    Held outside the module tree (it owns nothing): ``functional_call`` swaps the owner's tensors in on
    every call, so one set of weights serves both paths and the state dict holds no duplicates.
    ``rename`` maps the twin's parameter names to the owner's where PyG named them differently.
    """

    def __init__(self, module: nn.Module, rename: dict[str, str] | None = None):
        self.module = module
        rename = rename or {}
        names = [n for n, _ in module.named_parameters()] + [n for n, _ in module.named_buffers()]
        self._getters = {n: attrgetter(rename.get(n, n)) for n in names}

    def __call__(self, owner: nn.Module, *args, **kwargs):
        tensors = {n: get(owner) for n, get in self._getters.items()}
        if torch.jit.is_tracing():  # functional_call refuses the TorchScript tracer (ONNX export)
            return self._call_swapped(tensors, args, kwargs)
        return functional_call(self.module, tensors, args, kwargs, strict=True)

    def _call_swapped(self, tensors: dict[str, Tensor], args, kwargs):
        """What functional_call does, by hand: the owner's tensors put in the twin's slots, then put back."""
        saved = []
        for name, tensor in tensors.items():
            path, _, attr = name.rpartition(".")
            module = self.module.get_submodule(path)
            slots = module._parameters if attr in module._parameters else module._buffers
            saved.append((slots, attr, slots[attr]))
            slots[attr] = tensor
        try:
            return self.module(*args, **kwargs)
        finally:
            for slots, attr, original in saved:
                slots[attr] = original


class RelationLayer(nn.Module):
    """Base: ``(B, R, in) -> (B, R, out)`` on a shared topology, a fast path and a sparse reference.

    Subclasses implement ``_fast(x)`` on ``(B, R, in)`` and ``_sparse(x, B)`` on the flattened
    ``(B*R, in)``; the graph matrices they derive from the topology are cached per device and dtype.
    """

    def __init__(self, in_channels: int, out_channels: int, topology: GraphTopology):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.topology = topology  # a shared submodule: moves with .to(), owns no saved state
        self._matrices: dict[str, Tensor] = {}

    def _check(self, x: Tensor) -> int:
        R = self.topology.num_nodes
        if x.dim() != 3 or x.shape[1] != R or x.shape[2] != self.in_channels:
            raise InputError(f"{type(self).__name__} expects node features of shape (B, {R}, {self.in_channels}), "
                             f"got {tuple(x.shape)}")
        return x.shape[0]

    def forward(self, x: Tensor) -> Tensor:
        """(B, R, in) -> (B, R, out), the fast path."""
        self._check(x)
        return self._fast(x)

    def forward_sparse(self, x: Tensor) -> Tensor:
        """(B, R, in) -> (B, R, out), the same weights through the sparse reference on the batched graph."""
        B = self._check(x)
        return self._sparse(x.reshape(B * self.topology.num_nodes, -1), B).view(B, self.topology.num_nodes, -1)

    def _fast(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _sparse(self, x: Tensor, batch_size: int) -> Tensor:
        raise NotImplementedError

    def _matrix(self, name: str, compute: Callable[[], Tensor]) -> Tensor:
        """A graph matrix computed once from the topology (again only if its device or dtype changed)."""
        ref = self.topology.edge_weight
        hit = self._matrices.get(name)
        if hit is None or hit.device != ref.device or hit.dtype != ref.dtype:
            with torch.no_grad():
                hit = compute()
            self._matrices[name] = hit
        return hit

    def _mask(self, self_loops: bool = False) -> Tensor:
        """(R, R) bool: the edges, plus the diagonal when ``self_loops``."""
        def compute():
            mask = self.topology.adjacency(weighted=False) > 0
            return mask | torch.eye(self.topology.num_nodes, dtype=torch.bool, device=mask.device) if self_loops \
                else mask
        return self._matrix(f"mask{int(self_loops)}", compute)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, num_nodes={self.topology.num_nodes}"
