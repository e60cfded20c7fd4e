"""The model commands of ``augcn-pyg``: layers, model-info, train, evaluate, cv (a thin layer over
:mod:`augcn_pyg.engine.trainer`, :mod:`augcn_pyg.engine.evaluate` and :mod:`augcn_pyg.engine.cv`)."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from augcn_pyg.cli.group import user_errors
from augcn_pyg.core.aus import PROTOCOLS
from augcn_pyg.core.errors import InputError
from augcn_pyg.engine import distributed, runs
from augcn_pyg.engine.config import load_config
from augcn_pyg.engine.cv import cross_validate
from augcn_pyg.engine.evaluate import evaluate, format_intensity_table, format_table
from augcn_pyg.engine.trainer import Trainer, train
from augcn_pyg.graph.relations import paper_graph
from augcn_pyg.nn.layers import PYG_PREFIX, RELATION_LAYERS, get_layer, layer_rows
from augcn_pyg.nn.layers.listing import markdown as layers_markdown
from augcn_pyg.nn.layers.listing import text_lines as layer_text
from augcn_pyg.nn.model import AUGCN, TASKS, count_flops


def _parse_ints(text: str, what: str, low: int | None = None, high: int | None = None) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{what} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise InputError(f"{what} is empty")
    for v in values:
        if (low is not None and v < low) or (high is not None and v > high):
            bounds = f"{low}..{high}" if high is not None else f">= {low}"
            raise InputError(f"{what}: {v} is out of range ({bounds})")
    return values


def _run_config(config_path, sets, data=None, layer=None, fold=None, epochs=None, select=None,
                freeze_encoders=None, seed=None, device=None, base=None, tensorboard=None, task=None):
    """The RunConfig from YAML defaults, then --set overrides, then the explicit flags."""
    flags = list(sets)
    if data is not None:
        flags.append(f"data.store={Path(data).resolve()}")  # the run must find its store from anywhere
    if layer is not None:
        flags.append(f"model.layer={layer}")
    if fold is not None:
        flags.append(f"data.fold={fold}")
    if epochs is not None:
        counts = _parse_ints(epochs, "--epochs (S1,S2)", low=0)
        if len(counts) != 2:
            raise InputError(f"--epochs takes the two stages' epoch counts as S1,S2 (e.g. 1,2), got {epochs!r}")
        flags += [f"train.epochs_ae={counts[0]}", f"train.epochs={counts[1]}"]
    if select is not None:
        flags.append(f"train.select={select}")
    if freeze_encoders:
        flags.append("train.freeze_encoders=true")
    if seed is not None:
        flags.append(f"train.seed={seed}")
    if device is not None:
        flags.append(f"train.device={device}")
    if tensorboard:
        flags.append("train.tensorboard=true")
    if task is not None:
        flags.append(f"model.task={task}")
    cfg = load_config(config_path, flags, base=base)
    get_layer(cfg.model.layer)  # an unknown layer fails here, listing the choices
    return cfg


def _config_options(fn):
    fn = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                      help="Override one config key, e.g. --set train.lr=0.05 --set model.hidden=64,12.")(fn)
    fn = click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
                      help="YAML file of config sections (data, graph, model, loss, train).")(fn)
    fn = click.option("--epochs", default=None, metavar="S1,S2",
                      help="Epochs of stage 1 (auto-encoders) and stage 2 (everything); the paper's: 12,40.")(fn)
    fn = click.option("--select", type=click.Choice(["last", "val"]), default=None,
                      help="Report the last epoch (default) or the best on validation subjects.")(fn)
    fn = click.option("--freeze-encoders", is_flag=True, default=None,
                      help="Stage 2 trains only the relation layers and classifier, on cached latents.")(fn)
    fn = click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
                      help="Where to train (default: auto = CUDA when present).")(fn)
    fn = click.option("-q", "--quiet", is_flag=True, help="No progress bars or per-epoch lines.")(fn)
    fn = click.option("--task", type=click.Choice(list(TASKS)), default=None,
                      help="presence (default), intensity (0-5, needs a store with intensities) or both.")(fn)
    fn = click.option("--tensorboard", is_flag=True, default=None,
                      help="Also log each epoch to TensorBoard, in RUN/tensorboard/ (the tensorboard extra).")(fn)
    return fn


@click.command("layers")
@click.option("--all", "show_all", is_flag=True,
              help="Also every PyG convolution (pyg:<ClassName>), with whether it trains here (a probe: one "
                   "forward and backward pass on the paper's BP4D graph) and why not.")
@click.option("--markdown", is_flag=True, help="With --all: the PyG table of docs/relation-layers.md.")
def layers_cmd(show_all, markdown):
    """List the relation layers: the registered ones, and with --all every PyG convolution.

    Any name listed here goes to --layer (train, cv, model-info) and model.layer; so does MODULE:ATTR, your
    own builder build(in_channels, out_channels, topology, **options) or MessagePassing class in an
    importable module (docs/relation-layers.md).

    \b
    Example:
      augcn-pyg layers
      augcn-pyg layers --all
      augcn-pyg train --data STORE --layer pyg:GENConv --set 'model.layer_options={aggr: mean}' -o runs/gen
    """
    if not show_all:
        width = max(len(n) for n in RELATION_LAYERS)
        for name, entry in RELATION_LAYERS.items():
            flags = [f for f, on in (("dense", entry.dense), ("edge weights", entry.uses_edge_weight),
                                     ("edge types", entry.uses_edge_type)) if on]
            click.echo(f"{name:<{width}}  {entry.description}" + (f"  [{', '.join(flags)}]" if flags else ""))
        click.echo("and pyg:<ClassName> for PyG's convolutions (augcn-pyg layers --all), MODULE:ATTR for your own")
        return
    rows = layer_rows()
    if markdown:
        click.echo(layers_markdown(rows), nl=False)
        return
    for line in layer_text(rows):
        click.echo(line)
    pyg = [r for r in rows if r.name.startswith(PYG_PREFIX)]
    click.echo(f"{sum(r.trains for r in pyg)} of {len(pyg)} PyG convolutions train here; weights, types: the "
               f"output changes with the edge weights / types")


@click.command("model-info")
@click.option("--layer", default="gcn", show_default=True,
              help="A relation layer: a name of `augcn-pyg layers --all` (pyg:<ClassName> too) or MODULE:ATTR.")
@click.option("--protocol", type=click.Choice(sorted(PROTOCOLS)), default="bp4d", show_default=True)
@click.option("--roi-size", type=click.IntRange(5, 100), default=25, show_default=True)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a model.* config key.")
@user_errors
def model_info_cmd(layer, protocol, roi_size, sets):
    """Parameters per part and FLOPs per face of the model (on the paper's Table 1 graph).

    \b
    Example:
      augcn-pyg model-info --layer gat --protocol disfa
    """
    cfg = _run_config(None, sets, layer=layer)
    model = AUGCN.from_config(protocol, paper_graph(protocol), cfg.model, roi_size=roi_size)
    params = model.parameter_counts()
    infer = count_flops(model)
    train_flops = count_flops(model, reconstruct=True)
    click.echo(f"{protocol.upper()} · layer {layer} · R={model.num_rois} ROIs of {roi_size}x{roi_size} · "
               f"d = {cfg.model.latent} -> {' -> '.join(map(str, cfg.model.hidden))}")
    click.echo(f"{'part':<16} {'parameters':>12} {'MFLOP/face':>11}")
    for part in params:
        if part == "total" or (part == "intensity head" and model.intensity_head is None):
            continue
        click.echo(f"{part:<16} {params[part]:>12,} {infer[part] / 1e6:>11.3f}")
    click.echo(f"{'total':<16} {params['total']:>12,} {infer['total'] / 1e6:>11.3f}")
    click.echo(f"inference (crops -> logits, ROI heads included): {infer['total'] / 1e6:.2f} MFLOP per face; "
               f"with the decoders (training): {train_flops['total'] / 1e6:.2f}. Matrix products only, counted by "
               f"torch.utils.flop_counter.")


@click.command("train")
@click.option("--data", type=click.Path(path_type=Path), default=None, help="ROI store (from `augcn-pyg prepare`).")
@click.option("--layer", default=None,
              help="Relation layer (default gcn): a name of `augcn-pyg layers --all` (pyg:<ClassName> too) or your "
                   "own MODULE:ATTR from a module on PYTHONPATH.")
@click.option("--fold", type=int, default=None, help="1, 2 or 3 (the standard subject-exclusive folds).")
@click.option("--seed", type=click.IntRange(0), default=None)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Run folder to write.")
@click.option("--resume", is_flag=True, help="Carry on an interrupted run in the folder.")
@click.option("--overwrite", is_flag=True, help="Replace the run in the folder.")
@click.option("--nproc", type=click.IntRange(1), default=1, show_default=True,
              help="Processes on this machine (DistributedDataParallel through torchrun; one per GPU with CUDA).")
@_config_options
@user_errors
def train_cmd(data, layer, fold, seed, output, resume, overwrite, nproc, epochs, select, freeze_encoders, device,
              quiet, task, tensorboard, config_path, sets):
    """Train AU-GCN (or another relation layer) on one fold of an ROI store.

    \b
    Examples:
      augcn-pyg train --data store --layer gcn --fold 1 -o runs/gcn-f1
      augcn-pyg train --data store --layer none --fold 1 -o runs/aunet-f1 --epochs 1,2
      augcn-pyg train -o runs/gcn-f1 --resume          # carry on after a crash
      augcn-pyg train --data store -o runs/gcn-f1 --nproc 2   # = torchrun --nproc-per-node 2 -m augcn_pyg.engine.trainer
      augcn-pyg train --data store -o runs/gcn-f1 --tensorboard   # then: tensorboard --logdir runs
    """
    base = None
    if resume and (output / runs.CONFIG).exists():
        base = load_config(output / runs.CONFIG)
    cfg = _run_config(config_path, sets, data, layer, fold, epochs, select, freeze_encoders, seed, device, base=base,
                      tensorboard=tensorboard, task=task)
    if distributed.started_by_torchrun():
        metrics = _train_rank(cfg, output, resume, overwrite, quiet)
        if metrics is None:
            return  # not rank 0: rank 0 reports
    elif nproc > 1:
        _launch(cfg, output, resume, overwrite, quiet, nproc)
        return  # rank 0 has reported
    else:
        metrics = train(cfg, output, resume=resume, overwrite=overwrite, quiet=quiet, echo=click.echo)
    test = metrics["test"]
    click.echo(f"test ({metrics['selected']} epoch {metrics['epoch']}): average F1 {100 * test['mean_f1']:.1f}, "
               f"AUC {100 * (test['mean_auc'] or float('nan')):.1f} -> {output}")


def _train_rank(cfg, output, resume, overwrite, quiet) -> dict | None:
    """This process's part of a torchrun run: the metrics on rank 0, None on the others."""

    dist = None
    try:
        dist, _ = distributed.setup(cfg.train.device)
        metrics = Trainer(cfg, output, resume=resume, overwrite=overwrite, quiet=quiet, echo=click.echo,
                          dist=dist).run()
    except InputError:
        if dist is None or dist.is_main:
            raise
        sys.exit(1)  # every rank meets the same bad input; rank 0 says what it is
    finally:
        distributed.teardown()
    return metrics if dist.is_main else None


def _launch(cfg, output, resume, overwrite, quiet, nproc) -> None:
    """``--nproc N``: the same run as N torchrun ranks, which read the resolved config from a file."""

    with tempfile.TemporaryDirectory(prefix="augcn-pyg-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(cfg.to_yaml())
        args = ["--config", str(config), "-o", str(output.resolve())]
        args += ["--resume"] * resume + ["--overwrite"] * overwrite + ["--quiet"] * quiet
        args += ["--tensorboard"] * cfg.train.tensorboard  # an output-only key: not in the config file
        distributed.launch(nproc, args)


@click.command("evaluate")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Score on this store's test part of the run's fold (default: the run's store); a store of "
                   "another protocol is scored whole, over the AUs both protocols share.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="cpu", show_default=True)
@user_errors
def evaluate_cmd(run, data, device):
    """Per-AU F1 (threshold 0.5) and AUC of a trained run on its fold's test subjects; with an intensity
    head also ICC(3,1), MAE and r. With --data of another protocol: a cross-dataset evaluation.

    \b
    Examples:
      augcn-pyg evaluate runs/gcn-f1
      augcn-pyg evaluate runs/bp4d-gcn-f1 --data stores/disfa     # cross-dataset, shared AUs 1 2 4 6 12
    """
    result = evaluate(run, data, device)
    scores = result.presence
    if result.cross is not None:
        c = result.cross
        click.echo(f"cross-dataset: a {c.model} run on a {c.store} store, all its faces; AUs scored: "
                   f"{', '.join(map(str, c.aus))}")
        for au, why in c.left_out.items():
            click.echo(f"left out: AU{au} ({why})")
    click.echo(format_table({"test": scores}, scores.aus))
    if result.intensity is not None:
        click.echo("intensity (0-5):")
        click.echo(format_intensity_table(result.intensity))
    if scores.undefined_auc:
        click.echo(f"note: no AUC for AU {', '.join(map(str, scores.undefined_auc))} (one class only in the test part)")
    click.echo(f"wrote {run / 'evaluation.json'} and {run / 'evaluation.csv'}")


@click.command("cv")
@click.option("--data", type=click.Path(path_type=Path), default=None, help="ROI store.")
@click.option("--layer", default=None,
              help="Relation layer (default gcn; pyg:<ClassName> and MODULE:ATTR too, see `augcn-pyg layers --all`).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Folder of the runs.")
@click.option("--folds", default="1,2,3", show_default=True, help="Folds to run.")
@click.option("--seeds", default="0", show_default=True, help="Seeds per fold, e.g. 0,1,2.")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True,
              help="Runs trained side by side, each a single-threaded process of its own.")
@_config_options
@user_errors
def cv_cmd(data, layer, output, folds, seeds, jobs, epochs, select, freeze_encoders, device, quiet, task, tensorboard,
           config_path, sets):
    """Cross-validate: every fold x seed, resumable; per-AU mean ± std table and plot.

    \b
    Example:
      augcn-pyg cv --data store --layer gcn -o cv/gcn --seeds 0,1,2
      augcn-pyg cv --data store --layer gcn -o cv/gcn --jobs 2     # two runs at a time, one thread each
      augcn-pyg cv --data store --layer gcn -o cv/gcn --tensorboard   # then: tensorboard --logdir cv/gcn
    """
    cfg = _run_config(config_path, sets, data, layer, None, epochs, select, freeze_encoders, None, device,
                      tensorboard=tensorboard, task=task)
    fold_list = _parse_ints(folds, "--folds", 1, 3)
    seed_list = _parse_ints(seeds, "--seeds", 0)
    summary = cross_validate(cfg, output, fold_list, seed_list, quiet=quiet, echo=click.echo, jobs=jobs)
    click.echo(f"\n{cfg.model.layer}: test scores, mean ± std over {len(summary['runs'])} runs "
               f"(folds {fold_list}, seeds {seed_list})")
    click.echo(format_table({cfg.model.layer: summary}, summary["aus"]))
    if "intensity" in summary:
        it = summary["intensity"]
        click.echo("intensity (0-5), mean ± std over runs:")
        click.echo(f"{'AU':>6} {'ICC(3,1)':>15} {'MAE':>15} {'r':>15}")
        for key in it["icc"]:
            click.echo(f"{key:>6} " + " ".join(f"{it[m][key]:>7.3f} ± {it[m + '_std'][key]:5.3f}"
                                               for m in ("icc", "mae", "r")))
        click.echo(f"wrote {output / 'summary_intensity.csv'}")
    click.echo(f"wrote {output / 'summary.csv'}, {output / 'summary.json'} and {output / 'f1.png'}")


COMMANDS = [layers_cmd, model_info_cmd, train_cmd, evaluate_cmd, cv_cmd]
