"""Design points for ``relation_layers.py --design KEY=V1,V2``: dimensions of the relation head's design
space (:data:`augcn_pyg.nn.model.DESIGN_OPTIONS`: ``hidden``, ``skip``, ``skip_alpha``, ``norm``,
``dropout``, ``layer_options``) and the stage-2 settings of :data:`STAGE2_KEYS` (``loss.dice``,
``loss.lambda_dice``, ``model.global_node``: the paper's Table 4 dimensions), compared under the benchmark's
own protocol.

    python -m benchmarks.relation_layers --data STORE --design skip=none,sum,concat,initial
    python -m benchmarks.relation_layers --data STORE --design norm=none,layer,batch --layers gcn,gat
    python -m benchmarks.relation_layers --data STORE --design 'hidden=[12],[30,12],[30,30,12],[30,30,30,12]'
    python -m benchmarks.relation_layers --data STORE --design 'layer_options={aggr: mean},{aggr: add}' --layers graphconv
    python -m benchmarks.relation_layers --data STORE --layers gcn,none \\
        --design loss.dice=true,false --design model.global_node=true,false      # Table 4: the dimensions crossed

A design point is a variant of a layer: a run like the layer's own (same budget, folds, seeds, stage-1
models, selection on validation subjects) with one config override per dimension it moves off the default.
Its runs live in their own run folders, named ``<layer>@<key>=<value>`` with one ``@<key>=<value>`` per such
dimension, in the order the dimensions were given (e.g. ``gcn@skip=sum``,
``none@loss.dice=false@model.global_node=false``); a head option's key is written without ``model.``. The
point whose values are all the budget's defaults (for ``skip``: ``none``, the paper's head) *is* the layer's
ordinary run, shared with the layer comparison, and it is always trained: every other point is compared with
it. Several ``--design`` options cross: every combination of their values is a point. Values are parsed as
YAML (lists and mappings in flow style: ``[30,12]``, ``{aggr: add}``) and separated by the commas outside
brackets; each is checked by the config and by building the model before anything is trained.

Only settings that leave stage 1 alone are design dimensions: every point shares its group's stage-1 model
(auto-encoders and ROI heads), as the layers of the comparison do; a point without the global node
(``model.global_node=false``) reads the shared model's ROI latents and leaves the whole-face one out.
"""
from __future__ import annotations

import itertools
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

#: before each of a design point's settings in its name (never in a layer's name)
SEPARATOR = "@"
#: stage-2 settings a design may vary besides the head's options (the paper's "D" and "F", Dice's weight)
STAGE2_KEYS = ("loss.dice", "loss.lambda_dice", "model.global_node")


@dataclass
class Dimension:
    """One design dimension: ``key`` (a :data:`DESIGN_OPTIONS` name or one of :data:`STAGE2_KEYS`), the
    budget's ``default`` value and the ``values`` given, each as one token (:func:`canonical`)."""
    key: str
    default: str
    values: list[str]


@dataclass
class Design:
    """Crossed design dimensions and their points, ``{name: {key: value}}`` per layer in the order given,
    each layer's default point (every dimension at its default) first."""
    dimensions: list[Dimension]
    points: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # layer -> {point: {key: value}}

    @property
    def keys(self) -> list[str]:
        return [d.key for d in self.dimensions]

    @property
    def title(self) -> str:
        return " × ".join(config_key(k) for k in self.keys)

    def names(self) -> list[str]:
        return [name for per_layer in self.points.values() for name in per_layer]

    def is_default(self, settings: dict[str, str]) -> bool:
        return all(settings[d.key] == d.default for d in self.dimensions)

    def to_dict(self) -> dict:
        return {"dimensions": [{"key": d.key, "default": d.default, "values": d.values} for d in self.dimensions],
                "points": self.points}


def config_key(key: str) -> str:
    """A dimension's config key: a head option's under ``model.``, a stage-2 setting's as it is."""
    return key if "." in key else f"model.{key}"


def config_value(cfg, key: str):
    section, _, name = config_key(key).partition(".")
    return getattr(getattr(cfg, section), name)


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
    """A config value as one token: strings as they are, numbers, booleans, lists and mappings as compact JSON
    (which YAML reads back to the same value). It names a design point's run folder, so it holds no ``/``."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)
    if "/" in text or SEPARATOR in text or TRIAL in text:
        raise InputError(f"a design value may not contain '/', {SEPARATOR!r} or {TRIAL!r}: {text!r}")
    return text


def point_name(layer: str, settings: dict[str, str]) -> str:
    """``("gcn", {"skip": "sum"})`` -> ``gcn@skip=sum``: one ``@key=value`` per setting, in the order given."""
    return layer + "".join(f"{SEPARATOR}{key}={value}" for key, value in settings.items())


def split_point(name: str) -> tuple[str, list[str]]:
    """A run name -> (the relation layer, its config overrides): ``gcn@skip=sum`` -> ``("gcn", ["model.skip=sum"])``,
    ``none@loss.dice=false`` -> ``("none", ["loss.dice=false"])``; a plain layer name has none. A tuning trial's
    values (``gcn@skip=sum#lr=0.03,heads=2``, ``relation_layers_budget``) add theirs; its layer options are
    merged into a ``layer_options`` design value."""
    point, values = split_trial(name)
    layer, *settings = point.split(SEPARATOR)
    extra = []
    for setting in settings:
        key, _, value = setting.partition("=")
        extra.append(f"{config_key(key)}={value}")
    if not values:
        return layer, extra
    design_options = next((yaml.safe_load(s.partition("=")[2]) for s in settings if s.startswith("layer_options=")),
                          None)
    if design_options is not None and any(k not in COMMON for k in values):
        extra = [e for e in extra if not e.startswith("model.layer_options=")]  # the merged mapping replaces it
    return layer, extra + trial_overrides(values, design_options)


def parse_design(spec: str) -> tuple[str, list]:
    """``KEY=V1,V2,...`` -> (key, [values as YAML reads them]); a head option's key with or without ``model.``."""
    key, sep, text = spec.partition("=")
    key = key.strip()
    if key.removeprefix("model.") in DESIGN_OPTIONS:
        key = key.removeprefix("model.")
    elif key not in STAGE2_KEYS:
        sep = ""
    if not sep:
        raise InputError(f"--design takes KEY=V1,V2 with KEY one of {', '.join(DESIGN_OPTIONS)} (the relation head's "
                         f"options) or {', '.join(STAGE2_KEYS)} (stage-2 settings), got {spec!r}")
    values = []
    for v in split_values(text):
        if not v:
            raise InputError(f"--design {spec!r}: an empty value")
        try:
            values.append(yaml.safe_load(v))
        except yaml.YAMLError:
            raise InputError(f"--design {spec!r}: {v!r} is not a YAML value") from None
    return key, values


def dimension(spec: str, layer: str, store, budget: str) -> Dimension:
    """One ``--design`` option, its values typed by the config (``0`` and ``0.0`` are one point)."""
    key, raw = parse_design(spec)
    default = canonical(config_value(bp.run_config(store, 1, 0, layer, budget, "frozen"), key))
    values: list[str] = []
    for value in raw:
        cfg = bp.run_config(store, 1, 0, layer, budget, "frozen", extra=[f"{config_key(key)}={canonical(value)}"])
        resolved = canonical(config_value(cfg, key))
        if resolved in values:
            raise InputError(f"--design {spec!r} gives the value {resolved} twice")
        values.append(resolved)
    return Dimension(key, default, values)


def design_points(specs: list[str], layers: list[str], store, budget: str, protocol: str, roi_size: int) -> Design:
    """The design points of ``specs`` (crossed) for every layer of ``layers``, each checked by the config and
    by building its model (a bad value or a layer option the layer lacks is one InputError, before any training)."""
    dimensions = [dimension(spec, layers[0], store, budget) for spec in specs]
    keys = [d.key for d in dimensions]
    if len(set(keys)) < len(keys):
        raise InputError(f"--design names a dimension twice: {', '.join(keys)}")
    design = Design(dimensions)
    graph = paper_graph(protocol)
    for layer in layers:
        points = {}
        axes = [[d.default, *(v for v in d.values if v != d.default)] for d in dimensions]
        for combination in itertools.product(*axes):
            settings = dict(zip(keys, combination))
            moved = {k: v for k, v, d in zip(keys, combination, dimensions) if v != d.default}
            name = point_name(layer, moved)
            cfg = bp.run_config(store, 1, 0, layer, budget, "frozen", extra=split_point(name)[1])
            try:
                AUGCN.from_config(protocol, graph, cfg.model, roi_size=roi_size)
            except InputError as exc:
                raise InputError(f"--design {', '.join(f'{k}={v}' for k, v in moved.items())} with layer "
                                 f"{layer!r}: {exc}") from None
            points[name] = settings
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
    """Add the design columns to ``rows``: ``design_layer`` (the relation layer), ``design_key`` (the
    dimensions' keys) and ``design_value`` (the point's values), several joined by ``, ``."""
    of = {name: (layer, settings) for layer, points in design.points.items() for name, settings in points.items()}
    for r in rows:
        layer, settings = of.get(r["layer"], (None, None))
        r["design_layer"] = layer
        r["design_key"] = ", ".join(design.keys) if layer else None
        r["design_value"] = ", ".join(settings.values()) if layer else None


def summarise_design(rows: list[dict], design: Design, folds: int) -> dict[str, list[dict]]:
    """Per protocol and design point: runs, F1 and AUC mean ± std, and the paired comparison with the
    layer's default point (``relation_layers_report.paired``, the statistics of the layer comparison)."""
    out = {}
    for protocol in PROTOCOLS:
        entries = []
        for layer, points in design.points.items():
            for name, settings in points.items():
                mine = [r for r in rows if r["protocol"] == protocol and r["layer"] == name]
                if not mine:
                    continue
                f1, auc = (np.array([r[k] for r in mine], float) for k in ("mean_f1", "mean_auc"))
                entries.append({
                    "layer": layer, "point": name, "settings": settings, "default": design.is_default(settings),
                    "runs": len(mine),
                    "f1_mean": float(f1.mean()), "f1_std": float(f1.std(ddof=1)) if len(mine) > 1 else 0.0,
                    "auc_mean": float(np.nanmean(auc)), "auc_std": float(np.nanstd(auc, ddof=1)) if len(mine) > 1 else 0.0,
                    "params_relation": mine[0].get("params_relation"),
                    "vs_default": paired(rows, protocol, name, layer, folds),
                    "vs_default_auc": paired(rows, protocol, name, layer, folds, key="mean_auc")})
        if entries:
            out[protocol] = entries
    return out


def design_markdown(design: Design, summary: dict[str, list[dict]]) -> str:
    keys = design.keys
    defaults = ", ".join(f"`{k}={d.default}`" for k, d in zip(keys, design.dimensions))
    lines = [f"## Design: {design.title}", "",
             f"Each point is the layer with {' and '.join(f'`{config_key(k)}`' for k in keys)} set to the values, "
             f"trained as the layers above are, and compared with the same layer at the default {defaults} over the "
             "same runs (cells as above: this point against the default).", ""]
    for protocol, entries in summary.items():
        lines += [f"### {protocol}", "",
                  f"| layer | {' | '.join(keys)} | runs | F1 | AUC | relation params | vs default (F1) | vs default (AUC) |",
                  "|---|" + "---|" * len(keys) + "---|---|---|---|---|---|"]
        for e in entries:
            cells = " | ".join(f"`{v} (default)`" if e["default"] else f"`{v}`" for v in e["settings"].values())
            lines.append(f"| {e['layer']} | {cells} | {e['runs']} | {pm(e['f1_mean'], e['f1_std'])} | "
                         f"{pm(e['auc_mean'], e['auc_std'])} | {e['params_relation'] or '?'} | "
                         f"{cmp_cell(e['vs_default'])} | {cmp_cell(e['vs_default_auc'])} |")
        lines.append("")
    return "\n".join(lines)
