r"""Any PyG convolution as a relation layer: ``pyg:<ClassName>``, and a user's own ``MessagePassing`` class.

:class:`PyGLayer` is the one generic adapter. It runs a convolution of ``torch_geometric.nn.conv`` (or any
``MessagePassing`` subclass) on the batched ``edge_index`` of the shared topology
(:meth:`~augcn_pyg.nn.topology.GraphTopology.batched`), ``(B, R, in) -> (B, R, out)``. Nothing is written
per class except the three small tables below; everything else is read from the class's signatures:

* **constructor**: ``in_channels`` / ``out_channels`` are the layer's widths. A class without that pair
  (``channels`` only, ``out_channels`` only, ``in_channels`` only, or none: ``GatedGraphConv``, ``APPNP``,
  ``GINConv``, ``GCN2Conv``, ...) gets ``Linear(in, out)`` first and runs at width ``out``, as the
  built-in ``ggnn`` does. From the graph: ``num_relations`` / ``num_edge_types`` (the topology's edge
  types), ``num_node_types`` (1: every ROI is one node type), ``deg`` (the in-degree histogram, PNA), the
  width of ``edge_attr`` into the first of ``edge_dim``, ``in_edge_channels``, ``dim`` the class takes.
  ``cached`` is always False: the batched graph changes with the batch size. A required argument
  without a PyG default takes its value from :data:`REQUIRED_DEFAULTS` (``K``, ``alpha``, ...) and a
  module argument from :data:`MODULE_ARGUMENTS` (``nn`` of GIN/GINE/NNConv/EdgeConv, ``conv`` of
  GPS/DirGNN); :data:`CLASS_DEFAULTS` changes a PyG default that cannot run at every width. Every
  other constructor argument with a default is an option (``model.layer_options``), and so are these.
* **forward**: ``x`` and the batched ``edge_index``, and wherever ``forward`` takes them:
  ``edge_weight`` (the topology's weights), ``edge_type`` (its edge types), ``edge_attr`` (see below),
  ``batch`` (the face of each node), ``x_0`` (the layer's own input, GCNII's and FAConv's initial
  features), ``node_type`` (zeros). Other optional arguments keep their defaults.
* **edge_attr** (the adapter's option ``edge_attr``): ``"weight"`` (default) passes the edge weight as a
  ``(E, 1)`` feature, ``"type"`` the one-hot edge type ``(E, num_relations)``, ``"both"`` the two side
  by side ``(E, 1 + num_relations)``, ``"none"`` nothing.
* **output**: a tuple's first element (``PANConv``); a width other than ``out`` (concatenated heads,
  ``MixHopConv``'s powers) gets ``Linear(width, out)`` after.

There is no dense fast path: ``forward`` and ``forward_sparse`` are the same computation.

:func:`conv_spec` says from the signatures alone whether a class can run on a fixed node set (and why
not: positions, hyperedges, heterogeneous dicts, ...); :func:`probe` builds it on a tiny topology and
runs one forward and backward pass, and measures whether edge weights and edge types change its output.
:func:`pyg_listing` is that for every class in ``torch_geometric.nn.conv`` (``augcn-pyg layers --all``).
"""
from __future__ import annotations

import difflib
import functools
import inspect
import re
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch_geometric.nn.conv as pyg_conv
from torch import Tensor, nn
from torch.nn import functional as F
from torch_geometric.nn import GCNConv

from augcn_pyg.core.errors import InputError
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.layers.base import RelationLayer
from augcn_pyg.nn.topology import GraphTopology

PYG_PREFIX = "pyg:"
EDGE_ATTR_MODES = ("weight", "type", "both", "none")

#: values for required constructor arguments that have no PyG default (used only where PyG has none)
REQUIRED_DEFAULTS: dict[str, object] = {
    "K": 2,                  # ChebConv, APPNP: hops
    "alpha": 0.1,            # APPNP, SSGConv, GCN2Conv: teleport / initial-residual weight
    "num_layers": 2,         # GatedGraphConv: steps (as the built-in ggnn)
    "kernel_size": 2,        # GMMConv, SplineConv
    "filter_size": 2,        # PANConv: path length
    "first_aggr": True,      # SignedConv
    "aggregators": ["mean", "min", "max", "std"],                    # PNAConv (the PNA paper's)
    "scalers": ["identity", "amplification", "attenuation"],        # PNAConv
    "edge_type_emb_dim": 4,  # HEATConv
    "edge_attr_emb_dim": 4,  # HEATConv
    "hidden_channels": None,  # PDNConv: None = out_channels
}

#: PyG defaults changed because they cannot run at every width (EGConv needs heads | out_channels)
CLASS_DEFAULTS: dict[str, dict[str, object]] = {"EGConv": {"num_heads": 1}}


def _mlp(width_in: int, width_out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(width_in, width_out), nn.ReLU(), nn.Linear(width_out, width_out))


#: (class name, argument) -> a module from (in width, out width, edge_attr width), for module arguments
MODULE_ARGUMENTS: dict[tuple[str, str], Callable[[int, int, int], nn.Module]] = {
    ("GINConv", "nn"): lambda i, o, e: _mlp(i, o),
    ("GINEConv", "nn"): lambda i, o, e: _mlp(i, o),
    ("EdgeConv", "nn"): lambda i, o, e: _mlp(2 * i, o),       # on [x_t, x_s - x_t]
    ("NNConv", "nn"): lambda i, o, e: nn.Linear(e, i * o),   # edge feature -> an (in, out) weight
    ("GPSConv", "conv"): lambda i, o, e: GCNConv(i, o),
    ("DirGNNConv", "conv"): lambda i, o, e: GCNConv(i, o),
}

#: constructor arguments the adapter fills from the widths and the graph (never options)
_WIDTHS = ("in_channels", "out_channels", "channels")
_FROM_GRAPH = ("num_relations", "num_edge_types", "num_node_types", "deg", "cached")
_EDGE_WIDTH = ("edge_dim", "in_edge_channels", "dim")  # the first the class takes gets edge_attr's width
#: forward arguments the adapter supplies (beyond x and edge_index)
FORWARD_ARGS = ("edge_weight", "edge_attr", "edge_type", "batch", "x_0", "node_type")

#: why a forward argument that the adapter cannot supply rules a class out
_NEEDS = {
    "pos": "needs node positions (pos)",
    "normal": "needs surface normals (normal)",
    "hyperedge_index": "needs hyperedges (hyperedge_index)",
    "pos_edge_index": "needs a signed graph (positive and negative edge sets)",
    "csr": "needs a CSR/CSC graph (csr, csc, perm)",
}


@dataclass(frozen=True)
class ConvSpec:
    """What the adapter reads from a convolution's signatures."""

    cls: type
    name: str                        # the layer name: "pyg:GCNConv" or "module:Class"
    reason: str                      # why it cannot run on a fixed node set; "" when it can
    project: bool = False            # Linear(in, out) first: no (in_channels, out_channels) pair
    forward_args: tuple[str, ...] = ()   # the FORWARD_ARGS its forward takes
    edge_width_arg: str | None = None    # the constructor argument that gets edge_attr's width
    options: dict = field(default_factory=dict)  # what model.layer_options may set, with defaults
    required: tuple[str, ...] = ()   # required constructor arguments the adapter cannot fill

    @property
    def takes_edge_attr(self) -> bool:
        return "edge_attr" in self.forward_args


def _params(fn) -> list[inspect.Parameter]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    return [p for p in sig.parameters.values() if p.name != "self"]


def _named(params) -> list[inspect.Parameter]:
    return [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _signature_text(params) -> str:
    return ", ".join(("*" if p.kind == p.VAR_POSITIONAL else "**" if p.kind == p.VAR_KEYWORD else "") + p.name
                     for p in params)


def _pyg_name(cls: type) -> str | None:
    """The class name the tables are keyed by: PyG's own classes only (a user's class may share a name)."""
    return cls.__name__ if cls.__module__.startswith("torch_geometric.") else None


def conv_spec(cls: type, name: str | None = None) -> ConvSpec:
    """Whether ``cls`` can run on a fixed node set, read from its signatures, and how to fill it."""
    name = name or f"{PYG_PREFIX}{cls.__name__}"
    fwd_all = _params(cls.forward)
    fwd = _named(fwd_all)
    names = [p.name for p in fwd]
    text = f"forward({_signature_text(fwd_all)})"
    if any(p.name.endswith("_dict") for p in fwd_all):
        return ConvSpec(cls, name, f"needs a heterogeneous graph (dicts per node and edge type): {text}")
    if "edge_index" not in names:
        for arg, why in _NEEDS.items():
            if arg in names:
                return ConvSpec(cls, name, f"{why}: {text}")
        if names[1:] in ([], ["batch"]):
            return ConvSpec(cls, name, f"builds its own graph from the node features, no edge_index: {text}")
        return ConvSpec(cls, name, f"takes no edge_index: {text}")
    missing = [p.name for p in fwd[1:] if p.default is p.empty and p.name != "edge_index"
               and p.name not in FORWARD_ARGS]
    if missing:
        why = next((_NEEDS[m] for m in missing if m in _NEEDS), f"needs {', '.join(missing)}")
        return ConvSpec(cls, name, f"{why}: {text}")
    init = _named(_params(cls.__init__))
    init_names = {p.name for p in init}
    forward_args = tuple(a for a in FORWARD_ARGS if a in names)
    project = not {"in_channels", "out_channels"} <= init_names
    edge_width_arg = next((a for a in _EDGE_WIDTH if a in init_names), None) if "edge_attr" in names else None
    class_defaults = CLASS_DEFAULTS.get(_pyg_name(cls), {})
    options, required = {}, []
    for p in init:
        if p.name in _WIDTHS or p.name in _FROM_GRAPH or p.name == edge_width_arg:
            continue
        if (_pyg_name(cls), p.name) in MODULE_ARGUMENTS:
            continue  # a module: not something a config file can hold
        if p.name in class_defaults:
            options[p.name] = class_defaults[p.name]
        elif p.default is not p.empty:
            options[p.name] = p.default
        elif p.name in REQUIRED_DEFAULTS:
            options[p.name] = REQUIRED_DEFAULTS[p.name]
        else:
            required.append(p.name)
    if "edge_attr" in names:
        options["edge_attr"] = "weight"
    return ConvSpec(cls, name, "", project, forward_args, edge_width_arg, options, tuple(required))


def _degree_histogram(topology: GraphTopology) -> Tensor:
    """(max in-degree + 1,) long: how many nodes have each in-degree (PNAConv's ``deg``)."""
    indeg = torch.bincount(topology.edge_index[1].cpu(), minlength=topology.num_nodes)
    return torch.bincount(indeg)


def _one_line(exc: BaseException, limit: int = 200) -> str:
    """``Type: message`` on one line; for a bare ``assert``, the failing line of source instead."""
    text = " ".join(str(exc).split())
    if not text:
        frames = traceback.extract_tb(exc.__traceback__)
        last = frames[-1] if frames else None
        text = f"`{last.line}` in {Path(last.filename).name}" if last and last.line else "(no message)"
    text = re.sub(r" at 0x[0-9a-f]+", "", text)  # object addresses differ from run to run
    return f"{type(exc).__name__}: {text[:limit]}"


class PyGLayer(RelationLayer):
    """A PyG convolution (or a user's ``MessagePassing`` class) on the batched graph of B faces.

    Args:
        conv_class: the convolution's class.
        in_channels, out_channels, topology: as every relation layer.
        name: the layer's name in messages (``pyg:GATConv``).
        **options: the class's constructor options (see :func:`conv_spec`) and ``edge_attr``.
    """

    def __init__(self, conv_class: type, in_channels: int, out_channels: int, topology: GraphTopology,
                 name: str | None = None, **options):
        super().__init__(in_channels, out_channels, topology)
        spec = conv_spec(conv_class, name)
        self.name = spec.name
        if spec.reason:
            raise InputError(f"{spec.name} cannot run on the relation graph: {spec.reason}")
        unknown = [k for k in options if k not in spec.options]
        if unknown:
            raise InputError(f"relation layer {spec.name!r} has no option {', '.join(map(repr, unknown))}; it takes "
                             f"{', '.join(spec.options) or 'no options'}")
        settings = {**spec.options, **options}
        mode = settings.pop("edge_attr", "none")
        if mode not in EDGE_ATTR_MODES:
            raise InputError(f"edge_attr must be one of {', '.join(EDGE_ATTR_MODES)}, got {mode!r}")
        self.edge_attr = mode
        self.forward_args = tuple(a for a in spec.forward_args if a != "edge_attr" or mode != "none")
        edge_width = {"weight": 1, "type": topology.num_relations, "both": 1 + topology.num_relations}.get(mode, 0)
        width = out_channels if spec.project else in_channels
        self.lin = nn.Linear(in_channels, out_channels) if spec.project else None
        kwargs = self._constructor_args(spec, width, out_channels, edge_width, topology, settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self.conv = conv_class(**kwargs)
            except InputError:
                raise
            except Exception as exc:  # PyG's own checks of its arguments
                given = f" with options {options}" if options else ""
                raise InputError(f"{spec.name} cannot be built{given} ({_one_line(exc)})") from None
        self.out_lin = None
        self.refused: tuple[str, ...] = ()  # optional graph inputs the class refused in its trial pass
        try:
            produced = self._output_width()
        except InputError:
            # e.g. FAConv's default normalize=True asserts that no edge_weight is given: run without the
            # optional graph inputs if that works, and say so (repr, listing)
            optional = {p.name for p in _named(_params(conv_class.forward)) if p.default is not p.empty}
            kept = tuple(a for a in self.forward_args if a not in optional or a == "x_0")
            if kept == self.forward_args:
                raise
            self.forward_args, self.refused = kept, tuple(a for a in self.forward_args if a not in kept)
            produced = self._output_width()
        if produced != out_channels:
            self.out_lin = nn.Linear(produced, out_channels)

    @staticmethod
    def _constructor_args(spec: ConvSpec, width: int, out: int, edge_width: int, topology: GraphTopology,
                          settings: dict) -> dict:
        if spec.required:
            raise InputError(f"{spec.name} needs the option{'s' * (len(spec.required) > 1)} "
                             f"{', '.join(spec.required)} (set with model.layer_options)")
        params = {p.name for p in _named(_params(spec.cls.__init__))}
        kwargs = dict(settings)
        fills = {"in_channels": width, "out_channels": out, "channels": width, "cached": False,
                 "num_relations": topology.num_relations, "num_edge_types": topology.num_relations,
                 "num_node_types": 1, "deg": lambda: _degree_histogram(topology)}
        for k, v in fills.items():
            if k in params:
                kwargs[k] = v() if callable(v) else v
        if kwargs.get("hidden_channels", 0) is None and "hidden_channels" in params:
            kwargs["hidden_channels"] = out
        if spec.edge_width_arg and edge_width:
            kwargs[spec.edge_width_arg] = edge_width
        elif spec.edge_width_arg and spec.edge_width_arg not in kwargs and \
                inspect.signature(spec.cls.__init__).parameters[spec.edge_width_arg].default is inspect.Parameter.empty:
            raise InputError(f"{spec.name} needs edge features: edge_attr cannot be 'none'")
        for (cls_name, arg), make in MODULE_ARGUMENTS.items():
            if cls_name == _pyg_name(spec.cls) and arg in params:
                kwargs[arg] = make(width, out, edge_width)
        return kwargs

    def _output_width(self) -> int:
        """The width the convolution produces, from one pass over a face of zeros."""
        was = self.training
        device = self.topology.edge_index.device
        self.to(device).eval()  # where the graph is (the new modules are on the CPU)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = self._conv(torch.zeros(self.topology.num_nodes, self.in_channels, device=device), 1)
        except Exception as exc:
            raise InputError(f"{self.name} fails on the relation graph ({_one_line(exc)})") from None
        finally:
            self.train(was)
        if out.dim() != 2 or out.shape[0] != self.topology.num_nodes:
            raise InputError(f"{self.name} returns {tuple(out.shape)} for {self.topology.num_nodes} nodes; "
                             f"a relation layer needs one feature row per node")
        return int(out.shape[1])

    # --- the graph of B faces ----------------------------------------------------------------------

    def _graph(self, x: Tensor, batch_size: int) -> tuple[Tensor, Tensor, Tensor]:
        if torch.jit.is_tracing():  # an exported graph must follow the batch size, not hold one batch's graph
            topo, R = self.topology, self.topology.num_nodes
            faces = torch.arange(x.shape[0] // R, device=x.device)                                # (B,)
            edge_index = (topo.edge_index.unsqueeze(1) + (faces * R).view(1, -1, 1)).reshape(2, -1)  # (2, B*E)
            ones = torch.ones_like(faces).view(-1, 1)
            return edge_index, (topo.edge_type.view(1, -1) * ones).reshape(-1), \
                (topo.edge_weight.view(1, -1) * ones).reshape(-1)
        return self.topology.batched(batch_size)

    def _arguments(self, x: Tensor, x0: Tensor, batch_size: int) -> dict:
        edge_index, edge_type, edge_weight = self._graph(x, batch_size)
        R = self.topology.num_nodes
        args = {"edge_index": edge_index}
        for name in self.forward_args:
            if name == "edge_weight":
                args[name] = edge_weight.to(x.dtype)
            elif name == "edge_type":
                args[name] = edge_type
            elif name == "edge_attr":
                parts = []
                if self.edge_attr in ("weight", "both"):
                    parts.append(edge_weight.to(x.dtype).unsqueeze(1))                           # (B*E, 1)
                if self.edge_attr in ("type", "both"):
                    parts.append(F.one_hot(edge_type, self.topology.num_relations).to(x.dtype))  # (B*E, T)
                args[name] = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
            elif name == "batch":
                args[name] = torch.arange(x.shape[0] // R, device=x.device).repeat_interleave(R)  # (B*R,)
            elif name == "x_0":
                args[name] = x0
            elif name == "node_type":
                args[name] = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        return args

    def _conv(self, x: Tensor, batch_size: int) -> Tensor:
        """(B*R, in) -> (B*R, width of the convolution's output), before the output Linear."""
        if self.lin is not None:
            x = self.lin(x)                                   # (B*R, out)
        out = self.conv(x, **self._arguments(x, x, batch_size))
        return out[0] if isinstance(out, tuple) else out

    def _sparse(self, x: Tensor, batch_size: int) -> Tensor:
        out = self._conv(x, batch_size)                         # (B*R, width)
        return out if self.out_lin is None else self.out_lin(out)  # (B*R, out)

    def _fast(self, x: Tensor) -> Tensor:
        B, R = x.shape[0], self.topology.num_nodes
        return self._sparse(x.reshape(B * R, -1), B).view(B, R, -1)

    def extra_repr(self) -> str:
        refused = f", refuses {'/'.join(self.refused)}" if self.refused else ""
        return f"{self.name}, {super().extra_repr()}, passes={'/'.join(self.forward_args) or '-'}{refused}"


# --- the PyG classes, and what a probe finds ---------------------------------------------------------------

def pyg_conv_names() -> list[str]:
    """Every convolution class ``torch_geometric.nn.conv`` exports (``MessagePassing`` itself excepted)."""
    return [n for n in pyg_conv.__all__ if n != "MessagePassing" and isinstance(getattr(pyg_conv, n, None), type)]


def pyg_conv_class(class_name: str) -> type:
    """The class ``torch_geometric.nn.conv.<class_name>``; an unknown name is an :class:`InputError`."""
    names = pyg_conv_names()
    if class_name == "MessagePassing":
        raise InputError(f"{PYG_PREFIX}MessagePassing is PyG's base class, not a convolution; `augcn-pyg layers --all` "
                         f"lists the {len(names)} convolutions")
    if class_name not in names:
        lower = {n.lower(): n for n in names}
        close = [lower[n] for n in difflib.get_close_matches(class_name.lower(), list(lower), n=3)]
        hint = f"did you mean {', '.join(PYG_PREFIX + n for n in close)}? " if close else ""
        raise InputError(f"unknown PyG convolution {PYG_PREFIX}{class_name}: torch_geometric.nn.conv has no "
                         f"{class_name!r}; {hint}`augcn-pyg layers --all` lists its {len(names)} convolutions")
    return getattr(pyg_conv, class_name)


def describe(cls: type) -> str:
    """The first sentence of a class's docstring, on one line, without reStructuredText links."""
    doc = inspect.getdoc(cls) or cls.__name__
    text = " ".join(doc.split("\n\n")[0].split())
    text = re.sub(r"`+\"?([^`\"<]+?)\"?\s*<[^>]*>`_+", r'"\1"', text)  # `"Title" <url>`_ -> "Title"
    text = re.sub(r":(?:class|obj|meth|func):`~?([^`]+)`", r"\1", text).replace("``", "")
    return text.rstrip(".")


def probe_topology() -> GraphTopology:
    """The graph a probe runs on: the paper's BP4D graph (19 ROIs, 225 edges of 4 kinds, self-loops)."""
    return GraphTopology.from_graph(paper_graph("bp4d"))


@dataclass(frozen=True)
class Probe:
    """What building a layer on :func:`probe_topology` and one forward and backward pass found."""

    name: str
    trains: bool                    # built, ran, finite output of the right shape, a gradient reached the input
    reason: str                     # why not ("" when it trains): from its signatures or the exception
    uses_edge_weight: bool | None   # the output changes with the edge weights (None: not measured)
    uses_edge_type: bool | None     # the output changes with the edge types (None: not measured)
    passes: tuple[str, ...] = ()    # what the adapter passes to forward beyond x and edge_index
    refused: tuple[str, ...] = ()   # optional graph inputs it refused in its trial pass, so not passed
    adapter: tuple[str, ...] = ()   # what the adapter added around the class (a Linear before or after)


def _strip_name(message: str, name: str) -> str:
    return message[len(name):].lstrip(": ") if message.startswith(name) else message


def probe(cls: type, name: str | None = None) -> Probe:
    """:func:`probe_layer` of ``cls`` through :class:`PyGLayer`, or the reason its signatures rule it out."""
    spec = conv_spec(cls, name)
    if spec.reason:
        return Probe(spec.name, False, spec.reason, None, None)
    return probe_layer(lambda i, o, topology: PyGLayer(cls, i, o, topology, name=spec.name), spec.name)


def probe_layer(build: Callable, name: str, in_channels: int = 8, out_channels: int = 4) -> Probe:
    """Build a layer with ``build(in_channels, out_channels, topology)`` on :func:`probe_topology`, run a
    forward and a backward pass on 2 faces, and measure whether edge weights and edge types change the output."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny products: more threads only wait on each other (20x slower on a busy machine)
    try:
        return _probe(build, name, in_channels, out_channels)
    finally:
        torch.set_num_threads(threads)


def _probe(build: Callable, name: str, in_channels: int, out_channels: int) -> Probe:
    topology = probe_topology()
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        try:
            layer = build(in_channels, out_channels, topology)
        except InputError as exc:
            return Probe(name, False, _strip_name(str(exc), name), None, None)
        except Exception as exc:
            return Probe(name, False, f"cannot be built ({_one_line(exc)})", None, None)
        passes, refused = getattr(layer, "forward_args", ()), getattr(layer, "refused", ())
        x = torch.randn(2, topology.num_nodes, in_channels, requires_grad=True)
        try:
            out = layer(x)
            (out * torch.randn_like(out)).sum().backward()
        except Exception as exc:
            return Probe(name, False, f"fails in a forward and backward pass ({_one_line(exc)})", None, None,
                         passes, refused)
        if out.shape != (2, topology.num_nodes, out_channels) or not torch.isfinite(out).all():
            return Probe(name, False, f"gives output of shape {tuple(out.shape)} or non-finite values", None,
                         None, passes, refused)
        if x.grad is None or not torch.isfinite(x.grad).all() or not x.grad.abs().sum() > 0:
            return Probe(name, False, "no gradient reaches its input", None, None, passes, refused)
        layer.eval()
        # weights that differ from edge to edge: a uniform scale would not change a normalised layer
        scale = 1.0 + 0.5 * torch.sin(torch.arange(topology.num_edges, dtype=torch.float32))
        reweighted = GraphTopology(topology.edge_index, topology.edge_type, topology.edge_weight * scale,
                                   topology.num_nodes)
        retyped = GraphTopology(topology.edge_index, (topology.edge_type + 1) % topology.num_relations,
                                topology.edge_weight, topology.num_nodes)
        changed = []
        with torch.no_grad():
            base = layer(x)
            for other in (reweighted, retyped):  # the same parameters on another graph
                changed.append(not torch.allclose(build_on(build, in_channels, out_channels, layer, other)(x), base,
                                                  atol=1e-6))
            build_on(build, in_channels, out_channels, layer, topology)
    return Probe(name, True, "", changed[0], changed[1], passes, refused, adapter_notes(layer))


def adapter_notes(layer: nn.Module) -> tuple[str, ...]:
    """What :class:`PyGLayer` put around its convolution, in words (empty for other layers)."""
    notes = []
    if getattr(layer, "lin", None) is not None and isinstance(layer, PyGLayer):
        notes.append("Linear(in, out) first")
    if getattr(layer, "out_lin", None) is not None:
        notes.append(f"Linear after: its output is {layer.out_lin.in_features / layer.out_channels:g} x out wide")
    return tuple(notes)


def build_on(build: Callable, in_channels: int, out_channels: int, layer: nn.Module, topology: GraphTopology):
    """A layer built by ``build`` on ``topology`` with ``layer``'s parameters and buffers (a :class:`PyGLayer`
    derives nothing from its topology but ``deg``, which a reweighted or retyped graph keeps: it is moved)."""
    if isinstance(layer, PyGLayer):
        layer.topology = topology
        return layer
    torch.manual_seed(0)
    other = build(in_channels, out_channels, topology)
    other.load_state_dict(layer.state_dict())
    return other.eval()


@functools.lru_cache(maxsize=None)
def probe_pyg(class_name: str) -> Probe:
    """:func:`probe` of ``torch_geometric.nn.conv.<class_name>``, computed once per process."""
    return probe(pyg_conv_class(class_name))


def pyg_listing() -> list[Probe]:
    """A probe of every class of ``torch_geometric.nn.conv``, in its order."""
    return [probe_pyg(n) for n in pyg_conv_names()]
