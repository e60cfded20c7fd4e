"""The typed run configuration: dataclasses, YAML defaults (``yaml.safe_load``), ``key=value`` overrides.

One :class:`RunConfig` describes a training run completely; the resolved config is written beside the
run's results (``config.yaml``) and read back by ``evaluate``, ``cv --resume`` and ``train --resume``.
Unknown keys and values of the wrong type are :class:`~augcn_pyg.core.errors.InputError`s naming the key.
"""
from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from augcn_pyg.core.errors import InputError
from augcn_pyg.graph.relations import MEASURES, SYMMETRIZE
from augcn_pyg.nn.model import NORMS, SKIPS


@dataclass
class DataConfig:
    store: str = ""  #: the ROI store directory
    fold: int = 1  #: 1, 2 or 3: the standard subject-exclusive folds
    fold_seed: int = -1  #: -1 = the protocol's standard folds; >= 0 = a random subject-exclusive 3-fold split
    val_fraction: float = 0.2  #: share of the training subjects held out for validation (subject-exclusive)
    train_subjects: int = 0  #: 0 = fit on every training subject; N = on N of them only (learning curves)
    sampling: str = "all"  #: "all" frames, or "paper": per video and AU, P positives and 2P negatives
    paper_positives: int = 0  #: P for sampling="paper"; 0 = the paper's (100 for BP4D, 800 for DISFA)


@dataclass
class GraphConfig:
    """How the relation graph is fitted on the training subjects' labels (``RelationBuilder``)."""
    measure: str = "conditional"
    threshold: float | None = None  #: None = the builder's default for the measure
    symmetrize: str = "sum"
    rules: list[str] = field(default_factory=lambda: ["self", "symmetric", "cooccurrence", "global"])
    negative_threshold: float = 0.05


@dataclass
class ModelConfig:
    layer: str = "gcn"  #: a registered relation layer, pyg:<ClassName> or MODULE:ATTR (``augcn-pyg layers --all``)
    latent: int = 150  #: d0
    #: d1, d2, ...: the relation layers' widths, one layer each, so also the depth (no upper limit: see
    #: docs/model-and-training.md, "The design space of the relation head")
    hidden: list[int] = field(default_factory=lambda: [30, 12])
    dropout: float = 0.2  #: after each relation layer, before its ReLU (the paper's order; rate not stated)
    skip: str = "none"  #: skip connections around the relation layers: none, sum, concat, initial (nn/model.py)
    skip_alpha: float = 0.1  #: alpha of skip "initial": layer_i((1 - alpha) h_i + alpha h_0); GCNII's 0.1
    norm: str = "none"  #: after each relation layer, before dropout and ReLU: none, layer, batch
    layer_options: dict[str, Any] = field(default_factory=dict)  #: e.g. {heads: 2} for gat, {steps: 3} for ggnn
    global_node: bool = True  #: the whole-face ROI as a node (the paper's "F")
    strip_rows: int = 5  #: auto-encoder strips: rows per strip (must divide the ROI size)
    strip_channels: int = 24  #: auto-encoder features per strip
    #: presence (AU logits), intensity (0–5 regression; presence = intensity >= 2) or both heads on the same
    #: relation layers; intensity needs a store with intensities (docs/model-and-training.md, "Intensity")
    task: str = "presence"


@dataclass
class LossConfig:
    lambda_recon: float = 3.0  #: lambda1 (eq. 3)
    #: weight of the ROI heads' BCE (eq. 2) in L_ROI; 1 is the paper's eq. 3. Eq. 2 averages over all C AUs, so
    #: an ROI's one or two own AUs get 1/C of a face's loss each: what supervises the latents is weak beside
    #: the reconstruction (docs/model-and-training.md, "How strongly stage 1 is supervised")
    lambda_roi: float = 1.0
    lambda_dice: float = 4.0  #: lambda2 (eq. 9)
    dice: bool = True  #: the Dice term on/off (the paper's "D")
    dice_eps: float = 1.0
    #: weight of the intensity term (task intensity or both); 10 balances MSE on intensity / 5 against the other
    #: terms (measured: benchmarks/results/intensity_loss.md)
    lambda_intensity: float = 10.0
    intensity_loss: str = "mse"  #: mse or huber, on intensity / 5 (docs/model-and-training.md, "Intensity")


@dataclass
class TrainConfig:
    epochs_ae: int = 12  #: stage 1: auto-encoders and ROI heads with L_ROI
    epochs: int = 40  #: stage 2: everything with L_au + L_ROI
    batch_size: int = 256
    lr: float = 0.1  #: the paper states none; chosen on SynthAU validation subjects (benchmarks/results/defaults.md)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_step: int = 0  #: epochs between learning-rate decays; 0 = no decay (chosen on validation subjects, 12 + 40)
    lr_gamma: float = 0.1
    flip: bool = True  #: horizontal flips (on the stored ROIs)
    flip_p: float = 0.5
    select: str = "last"  #: "last" epoch, or "val": the best validation average F1
    patience: int = 0  #: with select "val": end stage 2 after this many epochs without a better validation F1; 0 = never
    freeze_encoders: bool = False  #: stage 2 trains only the relation layers and classifier, on cached latents
    init: str = ""  #: a run folder or model file whose stage-1 weights (auto-encoders, ROI heads) start this run
    seed: int = 0
    threads: int = 0  #: torch threads; 0 = torch's default
    device: str = "auto"  #: auto, cpu, cuda
    #: per-epoch losses, learning rate and validation scores as TensorBoard events in RUN/tensorboard/ (the
    #: ``tensorboard`` extra). An option of the invocation, not of the run: see :data:`OUTPUT_ONLY`
    tensorboard: bool = False


#: keys that change what a run writes beside its results, not what it computes: left out of
#: :meth:`RunConfig.to_dict` (so of config.yaml, the config digest and the resume check), so a run can be
#: resumed, or reused by a benchmark, with another value, and is the same run either way
OUTPUT_ONLY = {"train": ("tensorboard",)}


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        """The resolved config as plain data, less the :data:`OUTPUT_ONLY` keys."""
        out = dataclasses.asdict(self)
        for section, keys in OUTPUT_ONLY.items():
            for key in keys:
                out[section].pop(key)
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# --- typed conversion --------------------------------------------------------------------------------

def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value, tp, key: str):
    """``value`` (from YAML or a ``key=value`` string already parsed by YAML) as type ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[0] if errors else f"config key {key!r}: bad value {value!r}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str):  # "30,12" from the command line
            value = [v for v in value.split(",") if v.strip()]
            value = [yaml.safe_load(v) for v in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # model.hidden=12: one layer
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise InputError(f"config key {key!r} must be a list, got {value!r}")
        return [_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"config key {key!r} must be a mapping, got {value!r}")
        return {str(k): v for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise InputError(f"config key {key!r} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InputError(f"config key {key!r} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                number = float("nan")
            if math.isfinite(number):
                return number
        raise InputError(f"config key {key!r} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise InputError(f"config key {key!r} must be a string, got {value!r}")
    if tp is Any:
        return value
    raise InputError(f"config key {key!r}: unsupported type {_type_name(tp)}")


def _fields(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _apply(obj, mapping: dict, prefix: str = "") -> None:
    fields = _fields(type(obj))
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if key not in fields:
            raise InputError(f"unknown config key {name!r}; {'the section takes' if prefix else 'sections are'}: "
                             f"{', '.join(fields)}")
        tp = fields[key]
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise InputError(f"config section {name!r} must be a mapping, got {value!r}")
            _apply(getattr(obj, key), value, f"{name}.")
        else:
            setattr(obj, key, _convert(value, tp, name))


def config_from_dict(mapping: dict | None, base: RunConfig | None = None) -> RunConfig:
    cfg = base if base is not None else RunConfig()
    if mapping:
        if not isinstance(mapping, dict):
            raise InputError(f"a config must be a mapping of sections, got {type(mapping).__name__}")
        _apply(cfg, mapping)
    return cfg


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | tuple[str, ...] = (),
                base: RunConfig | None = None) -> RunConfig:
    """A :class:`RunConfig` from a YAML file (or the defaults) and ``section.key=value`` overrides."""
    cfg = base if base is not None else RunConfig()
    if path is not None:
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read the config {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise InputError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if doc is not None and not isinstance(doc, dict):
            raise InputError(f"{path}: a config must be a YAML mapping of sections, got {type(doc).__name__}")
        config_from_dict(doc, cfg)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set takes section.key=value, got {item!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        nested: dict = {}
        node = nested
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        config_from_dict(nested, cfg)
    validate(cfg)
    return cfg


#: allowed values of the string keys (checked once, so a typo fails before any work is done)
CHOICES = {
    "data.sampling": ("all", "paper"),
    "train.select": ("last", "val"),
    "train.device": ("auto", "cpu", "cuda"),
    "graph.measure": MEASURES.choices(),
    "graph.symmetrize": SYMMETRIZE.choices(),
    "model.skip": SKIPS,
    "model.norm": NORMS.choices(),
}


def validate(cfg: RunConfig) -> RunConfig:
    for key, allowed in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value not in allowed:
            raise InputError(f"config key {key!r} must be one of {', '.join(allowed)}; got {value!r}")
    t, m, d = cfg.train, cfg.model, cfg.data
    positive = {"train.batch_size": t.batch_size, "model.latent": m.latent,
                "model.strip_rows": m.strip_rows, "model.strip_channels": m.strip_channels}
    for key, value in positive.items():
        if value < 1:
            raise InputError(f"config key {key!r} must be >= 1, got {value}")
    for key, value in {"train.epochs_ae": t.epochs_ae, "train.epochs": t.epochs, "train.threads": t.threads,
                       "data.paper_positives": d.paper_positives, "train.patience": t.patience,
                       "train.lr_step": t.lr_step}.items():
        if value < 0:
            raise InputError(f"config key {key!r} must be >= 0, got {value}")
    if t.epochs_ae == 0 and t.epochs == 0:
        raise InputError("config keys 'train.epochs_ae' and 'train.epochs' (--epochs S1,S2) are both 0: nothing "
                         "would be trained; give at least one of the two stages 1 or more epochs")
    lc = cfg.loss
    for key, value in {"loss.lambda_recon": lc.lambda_recon, "loss.lambda_roi": lc.lambda_roi,
                       "loss.lambda_dice": lc.lambda_dice, "loss.lambda_intensity": lc.lambda_intensity}.items():
        if not value >= 0:
            raise InputError(f"config key {key!r} must be >= 0, got {value}")
    if not m.hidden or any(h < 1 for h in m.hidden):
        raise InputError(f"config key 'model.hidden' must list one or more widths >= 1, got {m.hidden}")
    for key, value in {"model.dropout": m.dropout, "model.skip_alpha": m.skip_alpha, "train.flip_p": t.flip_p}.items():
        if not 0.0 <= value <= 1.0:
            raise InputError(f"config key {key!r} must be in [0, 1], got {value}")
    if not 0.0 < d.val_fraction < 1.0:
        raise InputError(f"config key 'data.val_fraction' must be in (0, 1), got {d.val_fraction}")
    if d.train_subjects < 0:
        raise InputError(f"config key 'data.train_subjects' must be 0 (all) or a number of subjects, got "
                         f"{d.train_subjects}")
    if d.fold not in (1, 2, 3):
        raise InputError(f"config key 'data.fold' must be 1, 2 or 3, got {d.fold}")
    if t.lr <= 0:
        raise InputError(f"config key 'train.lr' must be > 0, got {t.lr}")
    if t.patience and t.select != "val":
        raise InputError("config key 'train.patience' needs train.select=val: early stopping watches the validation F1")
    return cfg
