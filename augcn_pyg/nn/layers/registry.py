"""The relation-layer registry: :data:`RELATION_LAYERS`, :func:`register_layer`, :func:`build_layer`.

Register a new layer with :func:`register_layer` over a builder
``build(in_channels, out_channels, topology, **options) -> RelationLayer``; its keyword arguments (with
defaults) are the options :func:`build_layer` accepts. Builders validate their options with the checks
below (:func:`positive_int`, :func:`probability`, :func:`number`, :func:`flag`, :func:`choice`), which
raise :class:`~augcn_pyg.core.errors.InputError`: a bad option value is user input.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.registry import Registry
from augcn_pyg.nn.layers.base import RelationLayer
from augcn_pyg.nn.topology import GraphTopology

_FIXED_ARGS = ("in_channels", "out_channels", "topology")


@dataclass(frozen=True)
class LayerEntry:
    """A registered relation layer and what it can do (the tests read these flags)."""

    name: str
    build: Callable
    description: str            # one line, for listings
    uses_edge_weight: bool      # the edge weights change the output
    uses_edge_type: bool        # the edge types (relation rules) change the output
    dense: bool                 # the fast path runs on the shared (R, R) topology
    pyg_layer: str | None       # the PyG class it is or equals; None for ours

    @property
    def options(self) -> dict:
        """The options the builder takes, with their defaults."""
        params = inspect.signature(self.build).parameters
        return {k: p.default for k, p in params.items() if k not in _FIXED_ARGS}


RELATION_LAYERS: Registry[LayerEntry] = Registry("relation layer")


def register_layer(name: str, *, description: str, uses_edge_weight: bool = False, uses_edge_type: bool = False,
                   dense: bool = True, pyg_layer: str | None = None):
    """Decorator: register ``build(in_channels, out_channels, topology, **options)`` under ``name``."""
    def decorator(build: Callable) -> Callable:
        args = list(inspect.signature(build).parameters)[:3]
        if tuple(args) != _FIXED_ARGS:
            raise TypeError(f"a layer builder takes {', '.join(_FIXED_ARGS)} first, {build.__name__} takes {args}")
        RELATION_LAYERS.register(name, LayerEntry(name, build, description, uses_edge_weight, uses_edge_type, dense,
                                                  pyg_layer))
        return build
    return decorator


def layer_names() -> list[str]:
    return RELATION_LAYERS.choices()


def get_layer(name: str) -> LayerEntry:
    return RELATION_LAYERS.lookup(name)


def build_layer(name: str, in_channels: int, out_channels: int, topology, **options) -> "RelationLayer":
    """The layer ``name`` for ``(B, R, in_channels) -> (B, R, out_channels)`` on ``topology``.

    ``topology``: a :class:`GraphTopology` or a :class:`~augcn_pyg.graph.relations.RelationGraph`.
    Raises :class:`InputError` for an unknown name, an option the layer does not take, or a bad value.
    """
    entry = get_layer(name)
    accepted = entry.options
    unknown = [k for k in options if k not in accepted]
    if unknown:
        takes = ", ".join(accepted) if accepted else "no options"
        raise InputError(f"relation layer {name!r} has no option {', '.join(map(repr, unknown))}; it takes {takes}")
    in_channels = positive_int("in_channels", in_channels)
    out_channels = positive_int("out_channels", out_channels)
    if not isinstance(topology, GraphTopology):
        if not all(hasattr(topology, f) for f in ("edge_index", "edge_type", "edge_weight", "num_nodes")):
            raise InputError(f"a relation layer needs a GraphTopology or a RelationGraph, got {type(topology).__name__}")
        topology = GraphTopology.from_graph(topology)
    return entry.build(in_channels, out_channels, topology, **options)


# --- option checks (bad values are user input) -------------------------------------------------------

def positive_int(name: str, value) -> int:
    """``value`` if it is an int >= 1 (not a bool), else an :class:`InputError` naming the option."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return value


def probability(name: str, value) -> float:
    """``value`` as a float if it is a number in [0, 1), else an :class:`InputError` naming the option."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise InputError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def number(name: str, value) -> float:
    """``value`` as a float if it is a finite number, else an :class:`InputError` naming the option."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def flag(name: str, value) -> bool:
    """``value`` if it is a bool, else an :class:`InputError` naming the option."""
    if not isinstance(value, bool):
        raise InputError(f"{name} must be true or false, got {value!r}")
    return value


def choice(name: str, value, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else an :class:`InputError` listing them."""
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value
