"""An equal tuning budget for ``relation_layers.py --budget N``: every (layer, design point) of the frozen
comparison gets the same N trials in every (fold assignment, seed, fold), and each fold keeps the trial with
the best **validation** F1; the test subjects score only that one (its run already holds the test scores).

    python -m benchmarks.relation_layers --data STORE --parts frozen --budget 8
    python -m benchmarks.relation_layers --data STORE --budget 8 --budget-space 'lr=0.01:0.2:log,dropout=0:0.5'
    python -m benchmarks.relation_layers --data STORE --budget 8 --design skip=none,sum --layers gcn,gat

**The trials.** Trial 0 is the configuration as given (the budget's defaults: so ``--budget 1``, the
default, is the untuned comparison, and its runs are shared with it). Trials 1..N-1 are seeded random draws
from the space (``--budget-seed``, default 0): trial k's value of a dimension depends only on the seed, k
and the dimension's name, so every layer and design point draws the *same* lr, weight decay and dropout for
trial k (common random numbers), a rerun draws the same trials, and a longer budget keeps the shorter one's
trials. A space entry is ``NAME=LOW:HIGH`` (uniform), ``NAME=LOW:HIGH:log`` (log-uniform) or
``NAME=A|B|C`` (a choice); ``lr``, ``weight_decay`` and ``dropout`` are ``train.lr``, ``train.weight_decay``
and ``model.dropout``; any other name is a relation-layer option (``model.layer_options``), drawn only for the
layers whose builder takes it (``augcn_pyg.nn.layers.get_layer(name).options``: ``heads`` for gat, gatv2 and
transformer, ``steps`` for ggnn). A dimension the design varies (``--design dropout=...``) is not tuned.
Values are rounded to 3 significant digits; the rounded value is the one trained.

**A trial is an ordinary run** named ``<point>#<name>=<value>,...`` (e.g. ``gcn@skip=sum#lr=0.0312,
weight_decay=0.000412,dropout=0.37``): its run folder says what it trained, it is resumed and reused like any
run, and ``--shard`` shares it like any run (``relation_layers_design.split_point`` turns the name into
config overrides). Before anything trains, every trial's model is built from its config, so a value a layer
refuses is one error. Selection reads only each run's ``val_f1_at_selected`` (``test_metrics.json``); ties go
to the earlier trial (trial 0 first). The chosen run's row keeps its test scores and adds ``trial``,
``trial_name``, ``trials`` and ``tuned_<name>`` (the values it trained with; trial 0's read from its config).

``--e2e-budget N`` tunes the end-to-end part alike: each of its layers gets the first N of the same trials
(trial k has the same values in both parts), chosen per fold by validation F1; by default it is not tuned.
"""
from __future__ import annotations

import copy
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import runs
from benchmarks.common import layer_dir

#: between a design point's name and its trial's values in a run name (never in a layer's or point's name)
TRIAL = "#"
#: the space's names that are not layer options, and the config keys they set
COMMON = {"lr": "train.lr", "weight_decay": "train.weight_decay", "dropout": "model.dropout"}
#: the documented default space: the common dimensions, and heads / steps where a layer takes them
DEFAULT_SPACE = "lr=0.01:0.2:log,weight_decay=0:0.001,dropout=0:0.5,heads=1|2|4,steps=1|2|3"


@dataclass(frozen=True)
class Dim:
    """One dimension of the space: ``kind`` uniform, log or choice."""
    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple = ()

    def draw(self, seed: int, trial: int):
        """Trial ``trial``'s value: a function of the seed, the trial and this dimension's name only."""
        rng = np.random.default_rng([seed, trial, zlib.crc32(self.name.encode())])
        u = float(rng.random())
        if self.kind == "choice":
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        if self.kind == "log":
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        return float(f"{value:.3g}")

    def text(self) -> str:
        if self.kind == "choice":
            return f"{self.name}={'|'.join(str(c) for c in self.choices)}"
        return f"{self.name}={self.low:g}:{self.high:g}" + (":log" if self.kind == "log" else "")


def scalar(text: str):
    """'2' -> 2, '0.05' -> 0.05, 'mean' -> 'mean' (a trial value as its run name spells it)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def fmt(value) -> str:
    """A value as a run name spells it: positional decimals (no exponent), so YAML reads it back as a number."""
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    return str(value)


def parse_space(text: str | None) -> dict[str, Dim]:
    """``lr=0.01:0.2:log,weight_decay=0:1e-3,heads=1|2|4`` -> {name: Dim}; one InputError for a bad entry."""
    text = DEFAULT_SPACE if text is None else text
    out: dict[str, Dim] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, spec = part.partition("=")
        name = name.strip()
        bad = f"--budget-space entry {part!r}: expected NAME=LOW:HIGH, NAME=LOW:HIGH:log or NAME=A|B|C"
        if not sep or not name or not spec or any(c in name for c in "#@/=,:|") or name in out:
            raise InputError(bad + (f" (and {name!r} given twice)" if name in out else ""))
        if "|" in spec or ":" not in spec:
            choices = tuple(scalar(c.strip()) for c in spec.split("|"))
            if any(c == "" or any(x in str(c) for x in "#@/=,") for c in choices):
                raise InputError(bad)
            out[name] = Dim(name, "choice", choices=choices)
            continue
        bits = spec.split(":")
        try:
            low, high = float(bits[0]), float(bits[1])
        except (ValueError, IndexError):
            raise InputError(bad) from None
        kind = "log" if bits[2:] == ["log"] else "uniform" if len(bits) == 2 else None
        if kind is None or not high > low or (kind == "log" and low <= 0):
            raise InputError(bad + " with LOW < HIGH (and LOW > 0 for log)")
        out[name] = Dim(name, kind, low, high)
    if not out:
        raise InputError("--budget-space names no dimension")
    return out


def layer_option_names(layer: str) -> set[str]:
    """The options the layer's builder takes (a builder taking ``**options`` only: none is tuned)."""
    from augcn_pyg.nn.layers import get_layer

    return set(get_layer(layer).options)


def trial_values(space: dict[str, Dim], layer: str, trial: int, seed: int, fixed: set[str] = frozenset()) -> dict:
    """Trial ``trial`` (>= 1) of ``layer``: the common dimensions and the layer's own options, in the space's
    order, less the ``fixed`` ones (a design dimension)."""
    options = layer_option_names(layer)
    return {name: dim.draw(seed, trial) for name, dim in space.items()
            if name not in fixed and (name in COMMON or name in options)}


def trial_name(point: str, values: dict) -> str:
    return point + TRIAL + ",".join(f"{k}={fmt(v)}" for k, v in values.items()) if values else point


def split_trial(name: str) -> tuple[str, dict]:
    """``gcn@skip=sum#lr=0.03,heads=2`` -> ``("gcn@skip=sum", {"lr": 0.03, "heads": 2})``."""
    point, sep, rest = name.partition(TRIAL)
    values = {}
    for part in filter(None, rest.split(",")) if sep else ():
        key, _, value = part.partition("=")
        values[key] = scalar(value)
    return point, values


def trial_overrides(values: dict, layer_options: dict | None = None) -> list[str]:
    """A trial's config overrides: the common keys, and the layer options merged into ``layer_options``
    (a design point's own mapping, or the config's) as one ``model.layer_options`` override."""
    out = [f"{COMMON[k]}={fmt(v)}" for k, v in values.items() if k in COMMON]
    options = {k: v for k, v in values.items() if k not in COMMON}
    if options:
        merged = {**(layer_options or {}), **options}
        out.append("model.layer_options=" + yaml.safe_dump(merged, default_flow_style=True, width=10_000).strip())
    return out


@dataclass
class Budget:
    """``trials`` per (layer or design point, fold assignment, seed, fold), drawn from ``space`` with ``seed``."""
    trials: int
    space: dict[str, Dim]
    seed: int = 0
    fixed: frozenset = frozenset()  # dimensions a design varies: not tuned

    def names(self, point: str) -> list[str]:
        """The run names of ``point``'s trials: the point itself (trial 0), then its draws."""
        layer = point.split("@")[0]
        return [point] + [trial_name(point, trial_values(self.space, layer, k, self.seed, self.fixed))
                          for k in range(1, self.trials)]

    def expand(self, points) -> dict[str, list[str]]:
        return {p: self.names(p) for p in points}

    def to_dict(self) -> dict:
        return {"trials": self.trials, "seed": self.seed, "space": ",".join(d.text() for d in self.space.values()),
                "not_tuned": sorted(self.fixed)}


def tuned_settings_digest(path: Path, tuned: set[str]) -> str:
    """The digest of a run's config less the per-run keys and the tuned ones: equal for every trial of a point."""
    from benchmarks.relation_layers_runs import PER_RUN_KEYS

    config = copy.deepcopy(yaml.safe_load((Path(path) / runs.CONFIG).read_text()))
    for section, key in PER_RUN_KEYS:
        config.get(section, {}).pop(key, None)
    for name in tuned:
        if name in COMMON:
            section, key = COMMON[name].split(".")
            config.get(section, {}).pop(key, None)
        else:
            (config.get("model", {}).get("layer_options") or {}).pop(name, None)
    return runs.config_digest(config)[:16]


def trained_values(path: Path, names, layer: str) -> dict:
    """The values of the tuned ``names`` a run trained with, read from its config (a layer option it was not
    given: the builder's default): what trial 0, the configuration as given, stands for."""
    config = yaml.safe_load((Path(path) / runs.CONFIG).read_text())
    options = config.get("model", {}).get("layer_options") or {}
    out = {}
    for name in names:
        if name in COMMON:
            section, key = COMMON[name].split(".")
            out[name] = config.get(section, {}).get(key)
        else:
            out[name] = options.get(name, layer_option_defaults(layer).get(name))
    return out


def layer_option_defaults(layer: str) -> dict:
    from augcn_pyg.nn.layers import get_layer

    return dict(get_layer(layer).options)


def select(rows: list[dict], trials: dict[str, list[str]], root: Path, protocol: str = "frozen"
           ) -> tuple[list[dict], list[dict]]:
    """Per (point, fold assignment, seed, fold): the trial with the best validation F1 (the earliest on a tie).

    Returns the selected rows, relabelled as the point (with ``trial``, ``trial_name``, ``trials``,
    ``tuned_<name>`` and a settings digest less the tuned keys), and one row per trial for the trials table
    (validation F1 and whether it was chosen: no test score)."""
    by = {(r["layer"], r["fold_seed"], r["seed"], r["fold"]): r for r in rows if r["protocol"] == protocol}
    keys = sorted({(fs, s, f) for (_, fs, s, f) in by}, key=lambda k: (k[0] < 0, k))
    selected, table = [], []
    for point, names in trials.items():
        unique = list(dict.fromkeys(names))
        tuned = {k for n in unique for k in split_trial(n)[1]}
        for key in keys:
            got = [(i, n, by.get((n, *key))) for i, n in enumerate(unique)]
            if any(r is None for _, _, r in got):
                continue  # not every trial finished here: nothing is chosen from part of a budget
            best_i, best_name, best = max(got, key=lambda t: (t[2]["val_f1_at_selected"], -t[0]))
            for i, n, r in got:
                values = trained_values(layer_dir(root, protocol, n, key[2], key[1], key[0]), sorted(tuned),
                                        point.split("@")[0])
                table.append({"protocol": protocol, "point": point, "fold_seed": key[0], "seed": key[1],
                              "fold": key[2], "trial": i, "trial_name": n, **{f"tuned_{k}": v for k, v in
                                                                              values.items()},
                              "val_f1_at_selected": r["val_f1_at_selected"], "selected": i == best_i,
                              "git": r.get("git"), "config_digest": r.get("config_digest")})
            path = layer_dir(root, protocol, best_name, key[2], key[1], key[0])
            values = trained_values(path, sorted(tuned), point.split("@")[0])
            selected.append({**best, "layer": point, "trial": best_i, "trial_name": best_name,
                             "trials": len(names), **{f"tuned_{k}": v for k, v in values.items()},
                             "settings_digest": tuned_settings_digest(path, tuned)})
    return selected, table


def wins(selected: list[dict]) -> list[dict]:
    """Per point and trial: its values, how often it was chosen, out of how many (fold assignment, seed, fold)."""
    out = {}
    selected = [r for r in selected if "trial_name" in r]  # the tuned part's rows only
    for r in selected:
        per = [x for x in selected if x["layer"] == r["layer"] and x["protocol"] == r["protocol"]]
        key = (r["protocol"], r["layer"], r["trial"])
        if key not in out:
            out[key] = {"protocol": r["protocol"], "point": r["layer"], "trial": r["trial"], "as_given": r["trial"] == 0,
                        "values": {k[6:]: v for k, v in r.items() if k.startswith("tuned_")}, "chosen": 0,
                        "of": len(per)}
        out[key]["chosen"] += 1
    return sorted(out.values(), key=lambda w: (w["protocol"], w["point"], -w["chosen"], w["trial"]))


def _part_sentence(part: str, budget: Budget | None, table: list[dict]) -> str:
    if budget is None:
        return f"The {part} part is not tuned: each of its layers trains with the configuration as given."
    counts = {}
    for t in table:
        if t["protocol"] == part:
            counts.setdefault(t["point"], set()).add(t["trial_name"])
    per_point = sorted({len(v) for v in counts.values()}) or [0]
    return (f"**The {part} part, an equal budget:** every layer and design point had the same {budget.trials} trials "
            f"in each fold assignment, seed and fold. Distinct trials per point: "
            + ", ".join(str(n) for n in per_point) + ".")


def budget_markdown(budgets: dict[str, Budget | None], selected: list[dict], table: list[dict]) -> str:
    """The tuning section of the report; ``budgets`` per part (None: not tuned), at least one of them set.
    Both parts draw from one space and seed, so their trial k has the same values."""
    budget = max((b for b in budgets.values() if b is not None), key=lambda b: b.trials)
    lines = ["## Tuning budget", "",
             " ".join(_part_sentence(part, b, table) for part, b in budgets.items()) + " "
             "Trial 0 is the configuration as given, "
             + ("trial 1 a seeded random draw" if budget.trials == 2 else f"trials 1–{budget.trials - 1} seeded random draws")
             + f" (seed {budget.seed}, the same draws of the common dimensions for every point and both parts) over "
             f"`{budget.to_dict()['space']}` (layer options only where the layer takes them"
             + (f"; not tuned: {', '.join(budget.fixed)}, the design's dimension" if budget.fixed else "") + "). "
             "**Selection used validation subjects only**: in each fold the trial with the best validation F1 at "
             "its selected epoch was kept, and only that trial's test scores enter the tables and the paired "
             "statistics above (the other trials' test scores are not read).", "",
             "How often each trial was chosen (values as trained):", "",
             "| protocol | point | trial | values | chosen |", "|---|---|---|---|---|"]
    for w in wins(selected):
        values = ", ".join(f"{k}={fmt(v)}" for k, v in w["values"].items())
        values = (values + " (as given)" if w["as_given"] else values) or "as given"
        lines.append(f"| {w['protocol']} | {w['point']} | {w['trial']} | {values} | {w['chosen']} of {w['of']} |")
    lines += ["", "The choice per fold (validation F1 of the chosen trial):", "",
              "| point | fold seed | seed | fold | trial | values | val F1 |", "|---|---|---|---|---|---|---|"]
    for r in sorted(selected, key=lambda r: (r["layer"], r["fold_seed"], r["seed"], r["fold"])):
        values = ", ".join(f"{k[6:]}={fmt(v)}" for k, v in r.items() if k.startswith("tuned_"))
        values = (values + " (as given)" if r["trial"] == 0 else values) or "as given"
        lines.append(f"| {r['layer']} | {r['fold_seed']} | {r['seed']} | {r['fold']} | {r['trial']} | {values} | "
                     f"{100 * r['val_f1_at_selected']:.1f} |")
    return "\n".join(lines) + "\n"
