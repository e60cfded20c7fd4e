"""Learning curves: average F1 against the number of training subjects fitted on, for the relation-free
``local``, ``none`` and relation layers, on a preset and (optionally) its control. An explicit graph is a prior,
and a prior should matter most with few subjects.

    python -m benchmarks.learning_curves --preset store_occ --control store_occ_ind --sizes 3,6,all \\
        --layers local,none,gcn --repetitions 3 --jobs 2
    python -m benchmarks.learning_curves --quick     # a tiny store: checks the pipeline, proves nothing

``--set KEY=VALUE`` (repeatable) passes config overrides to every run of every point, stage-1 models included
(as ``relation_layers --set``); ``--root DIR`` keeps each store's runs under ``DIR/<store>`` (default:
``bench/<store>`` beside the store), so ``all`` reuses a comparison run there with the same overrides.

Each point is the frozen comparison of ``benchmarks.relation_layers`` (the same protocol, folds, selection on
validation subjects, paired statistics), with every run of its grid, **stage-1 models included**, fitted on N
of each fold's training subjects only (``--set data.train_subjects=N``, under its own run root
``<root>/train-subjects-N``): the ROI heads of stage 1 are supervised, so a point whose encoders had seen
every subject's labels would not be a point of a learning curve. The N subjects are the first N of one seeded
order of the fold's training subjects (smaller sets nest in larger ones); validation and test subjects are
the same at every N. ``all`` is the comparison's own grid at its default configuration (trial 0 of a tuned
comparison, the same runs), so it costs nothing when that comparison ran. No point is tuned: every layer
trains with the configuration as given at every N.

Per store and N it reports each layer's mean F1 (± std over runs) and the paired comparisons none - local and
layer - none; with a control, the difference in differences of each (as ``benchmarks.positive_control``), in F1 and in
AUC (threshold-free: positive_control says why both).
Results: ``benchmarks/results/learning_curves_<preset>.{json,md,png}``.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from augcn_pyg.core.errors import InputError
from benchmarks import relation_layers as rl
from benchmarks.common import RESULTS, machine_info, pyplot, run_cli, save_figure, write_report
from benchmarks.positive_control import AUC, LOCAL, NONE, read_rows, signal
from benchmarks.relation_layers_report import paired, std1

ALL = "all"
FOLDS = 3


def parse_sizes(text: str) -> list:
    """'3,6,all' -> [3, 6, 'all']: numbers of training subjects (>= 1) and 'all'."""
    out = []
    for item in (t.strip() for t in text.split(",")):
        if item == ALL:
            out.append(ALL)
        elif item.isdigit() and int(item) >= 1:
            out.append(int(item))
        else:
            raise InputError(f"--sizes takes numbers of training subjects (1 or more) and 'all', got {item!r}")
    if not out:
        raise InputError("--sizes lists no size")
    return sorted(set(out), key=lambda s: (s == ALL, s if s != ALL else 0))


def point_rows(store: Path, size, root: Path, args, work: Path) -> list[dict]:
    """The frozen comparison's rows at one size: trained now, resumed or reused."""
    out = work / f"{store.name}-{size}"
    argv = ["--data", str(store), "--out", str(out), "--parts", "frozen", "--layers", args.layers,
            "--jobs", str(args.jobs)] + (["--quick"] if args.quick else []) + (["--allow-mixed"] if args.allow_mixed else [])
    argv += [x for kv in args.sets for x in ("--set", kv)]
    if args.repetitions is not None:
        argv += ["--repetitions", str(args.repetitions)]
    if size == ALL:
        argv += ["--root", str(root)]
    else:
        argv += ["--root", str(root / f"train-subjects-{size}"), "--set", f"data.train_subjects={size}"]
    rl.main(argv)
    name = "quick" if args.quick else store.resolve().name
    return read_rows(out / f"relation_layers_{name}.csv")


def curve(rows_by_size: dict, layers: list[str]) -> list[dict]:
    """Per size and layer: runs, subjects fitted on, mean and std F1, and the paired tests none - local and
    layer - none at that size."""
    out = []
    for size, rows in rows_by_size.items():
        for layer in layers:
            mine = [r for r in rows if r["protocol"] == "frozen" and r["layer"] == layer]
            if not mine:
                continue
            f1 = np.array([r["mean_f1"] for r in mine], float)
            entry = {"size": size, "layer": layer, "runs": len(mine),
                     "train_subjects": float(np.mean([r.get("n_train_subjects", np.nan) for r in mine])),
                     "f1_mean": float(f1.mean()), "f1_std": std1(f1)}
            for ref in (LOCAL, NONE):
                if layer not in (LOCAL, ref):
                    entry[f"vs_{ref}"] = paired(rows, "frozen", layer, ref, FOLDS)
            out.append(entry)
    return out


def differences(preset: dict, control: dict, layers: list[str], ratio_of) -> list[dict]:
    """Per size and layer: the difference in differences against local and against none (positive_control), in
    F1 (``did_vs_<ref>``) and in AUC (``did_vs_<ref>_auc``, None where the rows hold no AUC)."""
    out = []
    for size in preset:
        if size not in control:
            continue
        for layer in layers:
            if layer == LOCAL:
                continue
            entry = {"size": size, "layer": layer}
            for ref in (LOCAL, NONE):
                if ref != layer:
                    for suffix, key in (("", "mean_f1"), ("_auc", AUC)):
                        s = signal(preset[size], control[size], layer, ref, ratio_of(size), key=key)
                        entry[f"did_vs_{ref}{suffix}"] = None if s is None else s["did"]
            out.append(entry)
    return out


def _cell(c) -> str:
    if not c:
        return "-"
    return f"{100 * c['mean_diff']:+.1f} [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}] {c['verdict']}"


def markdown(doc: dict) -> str:
    lines = [f"# Learning curves on `{doc['preset']}`" + (f" and its control `{doc['control']}`" if doc['control'] else ""),
             "", f"Frozen comparison at each number of training subjects fitted on (stage-1 models fitted on the "
             f"same subjects), untuned, {doc['repetitions']} re-split fold assignments x {FOLDS} folds; F1 in points, "
             "mean ± std over runs; paired differences with the corrected interval and the comparison's verdict. "
             f"Command: `{doc['command']}`.", ""]
    if doc["quick"]:
        lines += ["**--quick: a tiny store and budget; this checks the pipeline and proves nothing about accuracy.**", ""]
    return "\n".join(lines) + tables(doc)


def tables(doc: dict) -> str:
    """Per store the points of the curves, then the differences in differences (also the README's block)."""
    lines = []
    for side in ("preset", "control"):
        if not doc[side]:
            continue
        lines += [f"**`{doc[side]}`**", "", "| subjects | layer | runs | F1 | - local | - none |", "|---|---|---|---|---|---|"]
        for e in doc["curves"][side]:
            lines.append(f"| {e['size']} ({e['train_subjects']:.0f}) | {e['layer']} | {e['runs']} | "
                         f"{100 * e['f1_mean']:.1f} ± {100 * e['f1_std']:.1f} | {_cell(e.get('vs_local'))} | "
                         f"{_cell(e.get('vs_none'))} |")
        lines.append("")
    if doc.get("differences"):
        auc = any("did_vs_local_auc" in e for e in doc["differences"])  # results since AUC was read too
        lines += ["**Difference in differences (preset - control)**", "",
                  "| subjects | layer | against local | against none |"
                  + (" against local, in AUC | against none, in AUC |" if auc else ""),
                  "|---|---|---|---|" + ("---|---|" if auc else "")]
        for e in doc["differences"]:
            lines.append(f"| {e['size']} | {e['layer']} | {_cell(e.get('did_vs_local'))} | {_cell(e.get('did_vs_none'))} |"
                         + (f" {_cell(e.get('did_vs_local_auc'))} | {_cell(e.get('did_vs_none_auc'))} |" if auc else ""))
        lines.append("")
    return "\n".join(lines)


def plot(doc: dict, path: Path) -> Path:
    plt = pyplot()
    sides = [s for s in ("preset", "control") if doc[s]]
    fig, axes = plt.subplots(1, len(sides), figsize=(5 * len(sides), 3.6), squeeze=False, sharey=True)
    for ax, side in zip(axes[0], sides):
        for layer in doc["layers"]:
            pts = [e for e in doc["curves"][side] if e["layer"] == layer]
            ax.errorbar([e["train_subjects"] for e in pts], [100 * e["f1_mean"] for e in pts],
                        yerr=[100 * e["f1_std"] for e in pts], marker="o", capsize=3, label=layer)
        ax.set_title(doc[side])
        ax.set_xlabel("training subjects fitted on")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("average F1 (test subjects)")
    axes[0][0].legend()
    return save_figure(fig, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", type=Path, help="ROI store")
    ap.add_argument("--control", type=Path, help="its control's ROI store (the same subjects, relations independent)")
    ap.add_argument("--sizes", default="3,6,all", help="numbers of training subjects fitted on, and 'all'")
    ap.add_argument("--layers", default="local,none,gcn", help="comma list; local and none are the references")
    ap.add_argument("--repetitions", type=int, default=None, help="re-split fold assignments (default: the comparison's)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--root", type=Path, default=None,
                    help="run roots: DIR/<store> for each store (default: bench/<store> beside the store)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                    help="config override for every run of every point, stage-1 models included (repeatable)")
    ap.add_argument("--allow-mixed", action="store_true",
                    help="report a point whose runs mix revisions or stage-1 models (relation_layers --allow-mixed); "
                         "the points' revisions are listed in the result either way")
    ap.add_argument("--quick", action="store_true",
                    help="two tiny stores (preset and control), sizes 1 and all: checks the pipeline")
    args = ap.parse_args(argv)
    layers = [x for x in args.layers.split(",") if x]
    if LOCAL not in layers or NONE not in layers:
        raise InputError(f"--layers must include {LOCAL} and {NONE}: every point is measured from them")
    with tempfile.TemporaryDirectory(prefix="learning_curves_") as tmp:
        work = Path(tmp)
        if args.quick:
            from benchmarks.fixtures import make_store

            args.preset, args.control = work / "preset", work / "control"
            make_store(args.preset)
            make_store(args.control, seed=1)
            sizes = parse_sizes("1,all")
        elif args.preset is None:
            raise InputError("--preset STORE is needed (or --quick)")
        else:
            sizes = parse_sizes(args.sizes)
        stores = {"preset": args.preset.resolve(), "control": args.control.resolve() if args.control else None}
        for s in stores.values():
            if s is not None and not (s / "store.json").exists():
                raise InputError(f"{s}: not a prepared ROI store (no store.json)")
        root_of = lambda s: (args.root or s.parent / "bench") / s.name  # noqa: E731
        rows = {side: {size: point_rows(s, size, root_of(s), args, work) for size in sizes}
                for side, s in stores.items() if s is not None}
    doc = {"preset": stores["preset"].name, "control": stores["control"].name if stores["control"] else None,
           "quick": args.quick, "sizes": sizes, "layers": layers,
           "repetitions": len({r["fold_seed"] for r in rows["preset"][sizes[0]]}),
           "command": "python -m benchmarks.learning_curves " + " ".join(sys.argv[1:] if argv is None else argv),
           "grid_overrides": list(args.sets),
           "machine": machine_info(),
           "revisions": {side: {str(size): sorted({str(r.get("git")) for r in rs}) for size, rs in by.items()}
                         for side, by in rows.items()},
           "curves": {side: curve(by, layers) for side, by in rows.items()}}
    if "control" in rows:
        def ratio_of(size):
            c = next((e["vs_local"] for e in doc["curves"]["preset"] if e["size"] == size and e.get("vs_local")), None)
            return c["test_train_ratio"] if c else 0.5

        doc["differences"] = differences(rows["preset"], rows["control"], layers, ratio_of)
    name = "quick" if args.quick else doc["preset"]
    args.out.mkdir(parents=True, exist_ok=True)
    plot(doc, args.out / f"learning_curves_{name}.png")
    write_report(args.out, f"learning_curves_{name}", doc, markdown(doc))
    return 0


if __name__ == "__main__":
    run_cli(main, "learning_curves")
