"""The relation-layer registry: :data:`RELATION_LAYERS`, :func:`register_layer`, :func:`build_layer`.

Register a new layer with :func:`register_layer` over a builder
``build(in_channels, out_channels, topology, **options) -> RelationLayer``; its keyword arguments (with
defaults) are the options :func:`build_layer` accepts. Builders validate their options with the checks
below (:func:`positive_int`, :func:`probability`, :func:`number`, :func:`flag`, :func:`choice`), which
raise :class:`~augcn_pyg.core.errors.InputError`: a bad option value is user input.

:func:`get_layer` and :func:`build_layer` also take two kinds of names that are not registered:

* ``pyg:<ClassName>``: a convolution of ``torch_geometric.nn.conv`` through the generic adapter
  :class:`~augcn_pyg.nn.layers.pyg.PyGLayer` (``augcn-pyg layers --all`` lists them);
* ``MODULE:ATTR``: a user's own builder (the registered builders' signature) or ``MessagePassing``
  subclass (through the same adapter), imported with :mod:`importlib` only when the name is looked up.
"""
from __future__ import annotations

import importlib
import inspect
import math
import re
from dataclasses import dataclass
from typing import Callable

from torch import nn
from torch_geometric.nn import MessagePassing

from augcn_pyg.core.errors import InputError
from augcn_pyg.core.registry import Registry
from augcn_pyg.nn.layers.base import RelationLayer
from augcn_pyg.nn.layers.pyg import PYG_PREFIX, PyGLayer, conv_spec, describe, probe_pyg, pyg_conv_class
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
    option_defaults: dict | None = None  # the options, where the builder's signature does not list them

    @property
    def options(self) -> dict:
        """The options the builder takes, with their defaults."""
        if self.option_defaults is not None:
            return dict(self.option_defaults)
        params = inspect.signature(self.build).parameters
        return {k: p.default for k, p in params.items()
                if k not in _FIXED_ARGS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

    @property
    def any_options(self) -> bool:
        """The builder takes ``**options``: it checks its options itself."""
        return self.option_defaults is None and any(
            p.kind == p.VAR_KEYWORD for p in inspect.signature(self.build).parameters.values())


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
    """The entry of a registered name, of ``pyg:<ClassName>``, or of a user's ``MODULE:ATTR``."""
    if isinstance(name, str) and ":" in name:
        return pyg_entry(name[len(PYG_PREFIX):]) if name.startswith(PYG_PREFIX) else user_entry(name)
    try:
        return RELATION_LAYERS.lookup(name)
    except InputError as exc:
        raise InputError(f"{exc}; or a PyG convolution as pyg:<ClassName> (augcn-pyg layers --all), or your own "
                         f"builder or MessagePassing class as MODULE:ATTR") from None


def signature_flags(spec) -> tuple[bool, bool]:
    """(uses edge weights, uses edge types) with the adapter's default options, from the forward signature."""
    weight = "edge_weight" in spec.forward_args or spec.takes_edge_attr  # edge_attr: the weight by default
    return weight, "edge_type" in spec.forward_args


def _adapter_entry(cls: type, name: str, pyg_layer: str | None, flags: tuple[bool, bool] | None = None) -> LayerEntry:
    spec = conv_spec(cls, name)
    if spec.reason:
        raise InputError(f"relation layer {name!r} cannot run on the relation graph: {spec.reason}")

    def build(in_channels, out_channels, topology, **options):
        return PyGLayer(cls, in_channels, out_channels, topology, name=name, **options)

    weight, types = flags or signature_flags(spec)
    return LayerEntry(name, build, describe(cls), weight, types, False, pyg_layer, spec.options)


def pyg_entry(class_name: str) -> LayerEntry:
    """The entry of ``pyg:<class_name>``: a ``torch_geometric.nn.conv`` class through :class:`PyGLayer`.
    Its flags are what :func:`~augcn_pyg.nn.layers.pyg.probe_pyg` measured (computed once per process)."""
    cls = pyg_conv_class(class_name)
    probe = probe_pyg(class_name) if not conv_spec(cls).reason else None
    flags = (probe.uses_edge_weight, probe.uses_edge_type) if probe is not None and probe.trains else None
    return _adapter_entry(cls, PYG_PREFIX + class_name, f"torch_geometric.nn.{class_name}", flags)


_USER_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def user_entry(name: str) -> LayerEntry:
    """The entry of a user's ``MODULE:ATTR``: a builder ``build(in_channels, out_channels, topology, **options)``
    or a ``MessagePassing`` subclass (through :class:`PyGLayer`), imported from MODULE only now."""
    if not _USER_NAME.match(name):
        raise InputError(f"relation layer {name!r} is neither a registered name, pyg:<ClassName>, nor MODULE:ATTR "
                         f"(a dotted module path, a colon, a name: mylayers:build)")
    module_name, attr = name.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise InputError(f"relation layer {name!r}: no module {module_name!r} can be imported; put the folder "
                             f"that holds it on PYTHONPATH") from None
        raise InputError(f"relation layer {name!r}: importing {module_name!r} failed "
                         f"(ModuleNotFoundError: {exc})") from None
    except Exception as exc:  # the user's module raised while importing: say what, in one line
        raise InputError(f"relation layer {name!r}: importing {module_name!r} failed "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise InputError(f"relation layer {name!r}: module {module_name!r} ({getattr(module, '__file__', '?')}) "
                         f"has no {attr!r}")
    if isinstance(obj, type) and issubclass(obj, MessagePassing):
        return _adapter_entry(obj, name, None)
    what = "a builder function build(in_channels, out_channels, topology, **options) or a MessagePassing subclass"
    if isinstance(obj, type):
        raise InputError(f"relation layer {name!r}: the class {attr} is no torch_geometric MessagePassing subclass; "
                         f"name {what}")
    if not callable(obj):
        raise InputError(f"relation layer {name!r} is a {type(obj).__name__}; name {what}")
    try:
        args = list(inspect.signature(obj).parameters)[:3]
    except (TypeError, ValueError):
        args = []
    if tuple(args) != _FIXED_ARGS:
        raise InputError(f"relation layer {name!r}: a layer builder takes {', '.join(_FIXED_ARGS)} first, "
                         f"{attr} takes {args}")
    doc = (inspect.getdoc(obj) or attr).split("\n\n")[0]
    return LayerEntry(name, obj, " ".join(doc.split()), bool(getattr(obj, "uses_edge_weight", False)),
                      bool(getattr(obj, "uses_edge_type", False)), bool(getattr(obj, "dense", False)), None)


def build_layer(name: str, in_channels: int, out_channels: int, topology, **options) -> "RelationLayer":
    """The layer ``name`` for ``(B, R, in_channels) -> (B, R, out_channels)`` on ``topology``.

    ``topology``: a :class:`GraphTopology` or a :class:`~augcn_pyg.graph.relations.RelationGraph`.
    Raises :class:`InputError` for an unknown name, an option the layer does not take, or a bad value.
    """
    entry = get_layer(name)
    accepted = entry.options
    unknown = [k for k in options if k not in accepted]
    if unknown and not entry.any_options:
        takes = ", ".join(accepted) if accepted else "no options"
        raise InputError(f"relation layer {name!r} has no option {', '.join(map(repr, unknown))}; it takes {takes}")
    in_channels = positive_int("in_channels", in_channels)
    out_channels = positive_int("out_channels", out_channels)
    if not isinstance(topology, GraphTopology):
        if not all(hasattr(topology, f) for f in ("edge_index", "edge_type", "edge_weight", "num_nodes")):
            raise InputError(f"a relation layer needs a GraphTopology or a RelationGraph, got {type(topology).__name__}")
        topology = GraphTopology.from_graph(topology)
    layer = entry.build(in_channels, out_channels, topology, **options)
    if not isinstance(layer, nn.Module):
        raise InputError(f"relation layer {name!r}: its builder returned a {type(layer).__name__}, not a torch Module")
    return layer


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
