"""Design points for ``relation_layers.py --design KEY=V1,V2``: one dimension of the relation head's design
space (:data:`augcn_pyg.nn.model.DESIGN_OPTIONS`: ``hidden``, ``skip``, ``skip_alpha``, ``norm``,
``dropout``, ``layer_options``) compared under the benchmark's own protocol.

    python -m benchmarks.relation_layers --data STORE --design skip=none,sum,concat,initial
    python -m benchmarks.relation_layers --data STORE --design norm=none,layer,batch --layers gcn,gat
    python -m benchmarks.relation_layers --data STORE --design 'hidden=[12],[30,12],[30,30,12],[30,30,30,12]'
    python -m benchmarks.relation_layers --data STORE --design 'layer_options={aggr: mean},{aggr: add}' --layers graphconv

A design point is a variant of a layer: a run like the layer's own (same budget, folds, seeds, stage-1
models, selection on validation subjects) with one config override, ``model.KEY=VALUE``. Its runs live in
their own run folders, named ``<layer>@<key>=<value>`` (e.g. ``gcn@skip=sum``); the point whose value is
the budget's default (for ``skip``: ``none``, the paper's head) *is* the layer's ordinary run, shared with
the layer comparison, and it is always trained: every other point is compared with it. Values are parsed
as YAML (lists and mappings in flow style: ``[30,12]``, ``{aggr: add}``) and separated by the commas
outside brackets; each is checked by the config and by building the model before anything is trained.

Only the head's options are design dimensions: points that differ in them share one stage-1 model
(auto-encoders and ROI heads), as the layers of the comparison do.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import yaml

from augcn_pyg.core.errors import InputError
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.model import AUGCN, DESIGN_OPTIONS
from benchmarks import bench_protocol as bp
from benchmarks.common import pm
from benchmarks.relation_layers_budget import COMMON, TRIAL, split_trial, trial_overrides
from benchmarks.relation_layers_report import PROTOCOLS, cmp_cell, paired

#: between a layer's name and its design override in a design point's name (never in a layer's name)
SEPARATOR = "@"


@dataclass
class Design:
    """One design dimension: ``key`` (a :data:`DESIGN_OPTIONS` name), the budget's ``default`` value and the
    points, ``{name: value}`` per layer in the order given, each layer's default point first."""
    key: str
    default: str
    values: list[str]
    points: dict[str, dict[str, str]] = field(default_factory=dict)  # layer -> {point name: value}

    def names(self) -> list[str]:
        return [name for per_layer in self.points.values() for name in per_layer]

    def to_dict(self) -> dict:
        return {"key": self.key, "default": self.default, "values": self.values, "points": self.points}


def split_values(text: str) -> list[str]:
    """'none,sum' -> ['none', 'sum']; '[30,12],[12]' -> ['[30,12]', '[12]']: commas outside brackets split."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [v.strip() for v in out]


def canonical(value) -> str:
    """A config value as one token: strings as they are, numbers, lists and mappings as compact JSON (which
    YAML reads back to the same value). It names a design point's run folder, so it holds no ``/``."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)
    if "/" in text or SEPARATOR in text or TRIAL in text:
        raise InputError(f"a design value may not contain '/', {SEPARATOR!r} or {TRIAL!r}: {text!r}")
    return text


def point_name(layer: str, key: str, value: str) -> str:
    return f"{layer}{SEPARATOR}{key}={value}"


def split_point(name: str) -> tuple[str, list[str]]:
    """A run name -> (the relation layer, its config overrides): ``gcn@skip=sum`` -> ``("gcn", ["model.skip=sum"])``;
    a plain layer name has none. A tuning trial's values (``gcn@skip=sum#lr=0.03,heads=2``,
    ``relation_layers_budget``) add theirs; its layer options are merged into a ``layer_options`` design value."""
    point, values = split_trial(name)
    layer, sep, override = point.partition(SEPARATOR)
    extra = [f"model.{override}"] if sep else []
    if not values:
        return layer, extra
    design_options = None
    if sep and override.startswith("layer_options="):
        design_options = yaml.safe_load(override.partition("=")[2])
        if any(k not in COMMON for k in values):
            extra = []  # the merged mapping below replaces the design's own
    return layer, extra + trial_overrides(values, design_options)


def parse_design(spec: str) -> tuple[str, list]:
    """``KEY=V1,V2,...`` -> (key, [values as YAML reads them]); ``model.KEY`` is accepted too."""
    key, sep, text = spec.partition("=")
    key = key.strip().removeprefix("model.")
    if not sep or key not in DESIGN_OPTIONS:
        raise InputError(f"--design takes KEY=V1,V2 with KEY one of {', '.join(DESIGN_OPTIONS)} (the relation head's "
                         f"options), got {spec!r}")
    values = []
    for v in split_values(text):
        if not v:
            raise InputError(f"--design {spec!r}: an empty value")
        try:
            values.append(yaml.safe_load(v))
        except yaml.YAMLError:
            raise InputError(f"--design {spec!r}: {v!r} is not a YAML value") from None
    return key, values


def design_points(spec: str, layers: list[str], store, budget: str, protocol: str, roi_size: int) -> Design:
    """The design points of ``spec`` for every layer of ``layers``, each value checked by the config and by
    building its model (a bad value or a layer option the layer lacks is one InputError, before any training)."""
    key, raw = parse_design(spec)
    graph = paper_graph(protocol)
    default = canonical(getattr(bp.run_config(store, 1, 0, layers[0], budget, "frozen").model, key))
    values: list[str] = []
    for value in raw:
        text = canonical(value)
        cfg = bp.run_config(store, 1, 0, layers[0], budget, "frozen", extra=[f"model.{key}={text}"])
        resolved = canonical(getattr(cfg.model, key))  # typed by the config: 0 and 0.0 are one point
        if resolved in values:
            raise InputError(f"--design {spec!r} gives the value {resolved} twice")
        values.append(resolved)
    design = Design(key, default, values)
    for layer in layers:
        points = {}
        for value in [default, *(v for v in values if v != default)]:
            name = layer if value == default else point_name(layer, key, value)
            cfg = bp.run_config(store, 1, 0, layer, budget, "frozen", extra=split_point(name)[1])
            try:
                AUGCN.from_config(protocol, graph, cfg.model, roi_size=roi_size)
            except InputError as exc:
                raise InputError(f"--design {key}={value} with layer {layer!r}: {exc}") from None
            points[name] = value
        design.points[layer] = points
    return design


def check_runs(names, store, budget: str, protocol: str, roi_size: int) -> None:
    """Build the model of every run name (a tuning trial's too: ``gcn#lr=0.03,heads=2``) from its config before
    anything is trained: a value the config or the layer refuses is one InputError naming the run."""
    graph = paper_graph(protocol)
    for name in names:
        layer, extra = split_point(name)
        try:
            cfg = bp.run_config(store, 1, 0, layer, budget, "frozen", extra=extra)
            AUGCN.from_config(protocol, graph, cfg.model, roi_size=roi_size)
        except InputError as exc:
            raise InputError(f"run {name!r}: {exc}") from None


def annotate(rows: list[dict], design: Design) -> None:
    """Add the design columns to ``rows``: ``design_layer`` (the relation layer), ``design_key``, ``design_value``."""
    of = {name: (layer, value) for layer, points in design.points.items() for name, value in points.items()}
    for r in rows:
        layer, value = of.get(r["layer"], (None, None))
        r["design_layer"], r["design_key"], r["design_value"] = layer, design.key if layer else None, value


def summarise_design(rows: list[dict], design: Design, folds: int) -> dict[str, list[dict]]:
    """Per protocol and design point: runs, F1 and AUC mean ± std, and the paired comparison with the
    layer's default point (``relation_layers_report.paired``, the statistics of the layer comparison)."""
    out = {}
    for protocol in PROTOCOLS:
        entries = []
        for layer, points in design.points.items():
            for name, value in points.items():
                mine = [r for r in rows if r["protocol"] == protocol and r["layer"] == name]
                if not mine:
                    continue
                f1, auc = (np.array([r[k] for r in mine], float) for k in ("mean_f1", "mean_auc"))
                entries.append({
                    "layer": layer, "point": name, "key": design.key, "value": value,
                    "default": value == design.default, "runs": len(mine),
                    "f1_mean": float(f1.mean()), "f1_std": float(f1.std(ddof=1)) if len(mine) > 1 else 0.0,
                    "auc_mean": float(np.nanmean(auc)), "auc_std": float(np.nanstd(auc, ddof=1)) if len(mine) > 1 else 0.0,
                    "params_relation": mine[0].get("params_relation"),
                    "vs_default": paired(rows, protocol, name, layer, folds),
                    "vs_default_auc": paired(rows, protocol, name, layer, folds, key="mean_auc")})
        if entries:
            out[protocol] = entries
    return out


def design_markdown(design: Design, summary: dict[str, list[dict]]) -> str:
    lines = [f"## Design: model.{design.key}", "",
             f"Each point is the layer with `model.{design.key}` set to the value, trained as the layers above are, "
             f"and compared with the same layer at the default `{design.key}={design.default}` over the same runs "
             "(cells as above: this point against the default).", ""]
    for protocol, entries in summary.items():
        lines += [f"### {protocol}", "",
                  f"| layer | {design.key} | runs | F1 | AUC | relation params | vs default (F1) | vs default (AUC) |",
                  "|---|---|---|---|---|---|---|---|"]
        for e in entries:
            value = f"{e['value']} (default)" if e["default"] else e["value"]
            lines.append(f"| {e['layer']} | `{value}` | {e['runs']} | {pm(e['f1_mean'], e['f1_std'])} | "
                         f"{pm(e['auc_mean'], e['auc_std'])} | {e['params_relation'] or '?'} | "
                         f"{cmp_cell(e['vs_default'])} | {cmp_cell(e['vs_default_auc'])} |")
        lines.append("")
    return "\n".join(lines)
