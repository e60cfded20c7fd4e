"""The results of the throughput benchmark: the rows' CSV columns, the targets, the Markdown tables and the
plot (faces/s against batch size, or per relation layer when the run had one batch size)."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks.common import pyplot, save_figure
from benchmarks.throughput_measure import QUICK_NOTE, TARGETS
from benchmarks.throughput_steps import MODES, PATHS

CSV_FIELDS = ["part", "layer", "mode", "batch", "path", "median_ms", "min_ms", "faces_per_s", "gflop_per_s",
              "roofline_fraction", "runs", "torch_scatter", "source"]


def ratio(rows: list[dict], part: str, layer: str, mode: str, batch: int) -> tuple[float, float, float, float] | None:
    """(obvious faces/s, ours faces/s, ours / obvious of the medians, of the minima) of one cell, or None."""
    cell = {r["path"]: r for r in rows
            if r["part"] == part and r["layer"] == layer and r["mode"] == mode and r["batch"] == batch
            and r.get("source", "main") == "main"}
    if set(cell) != set(PATHS):
        return None
    o, u = cell["obvious"], cell["ours"]
    return o["faces_per_s"], u["faces_per_s"], u["faces_per_s"] / o["faces_per_s"], o["min_ms"] / u["min_ms"]


def targets(rows: list[dict], layers: list[str], batch: int) -> list[dict]:
    out = []
    for layer in layers:
        for mode in MODES:
            for part, goal in TARGETS.items():
                cell = ratio(rows, part, layer, mode, batch)
                if cell:
                    out.append({"layer": layer, "mode": mode, "part": part, "batch": batch, "obvious": cell[0],
                                "ours": cell[1], "speedup": cell[2], "speedup_of_minima": cell[3], "target": goal,
                                "met": cell[2] >= goal})
    return out


# what "ours" read, per result: setup["input"]; results measured before StoreRows have no key
OURS_INPUT = {
    "batch": {"read": "ours reads the store with `FaceGraphLoader` (a PyG `Batch` of uint8 crops)",
              "batching": "data batching: one batch from the loader (the obvious `DataLoader` collates `Data` "
                          "objects in memory; `FaceGraphLoader` reads the rows from the store on disk, so it also "
                          "pays the read);",
              "legend": "toolkit path (FaceGraphLoader, dense layers)"},
    "store_rows": {"read": "ours gives the model store rows (`StoreRows`, as the trainer does), which the "
                           "auto-encoders read and convert into their float input in one pass",
                   "batching": "data batching: one batch up to the auto-encoders' float input (the obvious "
                               "`DataLoader` collates `Data` objects in memory and its forward converts the uint8 "
                               "crops, `float() / 255`; ours makes the batch of store rows and the auto-encoders' "
                               "`pixels` reads them from the store on disk into their ROI-major float input, so "
                               "ours also pays the read);",
                   "legend": "toolkit path (store rows read by the encoders, dense layers)"},
}


def ours_input(setup: dict) -> dict:
    """The descriptions of what the result's "ours" path read (``OURS_INPUT``)."""
    return OURS_INPUT[setup.get("input", "batch")]


def markdown(doc: dict) -> str:
    rows, setup, m = doc["rows"], doc["setup"], doc["machine"]
    roof = doc["roofline_gflop_per_s"]
    lines = ["# Throughput: the toolkit's path against the obvious PyG implementation", ""]
    if setup["quick"]:
        lines += [f"**{QUICK_NOTE}**", ""]
    lines += [f"Store `{setup['store']}` ({setup['faces']:,} faces, {setup['protocol']}, R = {setup['rois']}, "
              f"{setup['roi_size']}×{setup['roi_size']} crops), the paper's {setup['protocol']} graph "
              f"({setup['edges']} edges), model d {setup['widths']}, torch threads: {setup['threads']}. The obvious path "
              f"batches a list of {setup['list_faces']:,} `Data` objects with PyG's `DataLoader`; "
              f"{ours_input(setup)['read']}. Medians of {setup['repeats']} runs (the whole model: {setup['model_repeats']}) "
              f"after {setup['warmup']} warm-up, the two paths alternating. torch-scatter in this process: "
              f"{doc['torch_scatter'] or 'not installed'}.", "",
              f"Roofline ({roof['size']}² float32 matrix product, the same threads): {roof['start']:.0f} GFLOP/s at the "
              f"start of the run, {roof['end']:.0f} at the end (and in each layer's loop: see the GFLOP/s table).", "",
              f"Load (`/proc/loadavg`; the machine has 2 cores and may be shared): `{doc['load']['start']}` at the "
              f"start, `{doc['load']['end']}` at the end. Other jobs inflate the timings; the ratios compare "
              f"runs taken in turns and are the figures to read.", ""]
    tg = doc["targets"]
    if tg:
        met = {part: [t for t in tg if t["part"] == part] for part in TARGETS}
        lines += [f"## Targets at batch {setup['target_batch']}", ""]
        for part, goal in TARGETS.items():
            cells = met[part]
            if cells:
                ok = sum(t["met"] for t in cells)
                worst = min(cells, key=lambda t: t["speedup"])
                lines.append(f"- {_part_name(part)} ≥ {goal:g}×: **met in {ok} of {len(cells)}** (layer, mode) cells; "
                             f"lowest {worst['speedup']:.1f}× (`{worst['layer']}`, {worst['mode']}), median "
                             f"{statistics.median(t['speedup'] for t in cells):.1f}×.")
        lines += ["", "| layer | mode | batching + relation: obvious | ours | × | × of minima | whole model: obvious | "
                  "ours | × | × of minima |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for layer in setup["layers"]:
            for mode in MODES:
                a = next((t for t in tg if t["layer"] == layer and t["mode"] == mode and t["part"] == "batching+relation"), None)
                b = next((t for t in tg if t["layer"] == layer and t["mode"] == mode and t["part"] == "model"), None)
                lines.append(f"| `{layer}` | {mode} | " + " | ".join(_cell(t) for t in (a, b)) + " |")
        lines += ["", "Faces/s of the medians; × = ours / obvious, **bold** where the target (10× and 2.5×) is met; "
                  "× of minima: the same ratio of the fastest runs (less sensitive to the other jobs, which lengthen "
                  "short steps proportionally more than long ones).", ""]
    lines += _by_batch_table(rows, setup)
    lines += _flops_table(doc)
    if doc.get("scatter"):
        lines += _scatter_table(doc["scatter"], setup)
    lines += ["## What is compared", "",
              "- " + ours_input(setup)["batching"],
              "- relation: the model's relation layers (with dropout and ReLU) on random latents (B, R, d0): the dense "
              "fast path against the same layers' `forward_sparse` (PyG's sparse layer on the batched edge_index, same "
              "weights; the edge_index the DataLoader builds is counted in data batching); a training step is "
              "forward, backward to the weights and the latents, SGD step;",
              "- whole model: one batch from the loader, then `predict_proba` (inference) or forward, the paper's "
              "losses, backward and an SGD step (training; no flips on either path);",
              "- batching + relation: the sum of the two medians.",
              "- GFLOP/s: FLOPs counted by `torch.utils.flop_counter` (matrix products and convolutions; element-wise "
              "work and sparse message passing are not counted) on one step, divided by the median time; the last "
              "column is the model's own `count_flops()` (encoders, relation layers, classifier) as a cross-check.",
              "- `learned` and `none` have no PyG layer: their sparse path is the reference computation "
              "(GCNConv without normalisation on the complete graph; on self-loops only).", "",
              f"Machine: {m['cpu']}, {m.get('cores', m.get('cpus'))} CPUs; Python {m['python']}, torch "
              f"{m.get('torch') or m['packages']['torch']}, torch-geometric "
              f"{m.get('torch_geometric') or m['packages']['torch-geometric']}; git {m['git']}; {m['date']}; "
              f"wall time {doc['wall_s']:.0f} s.", ""]  # older result files name the keys differently
    if setup["quick"]:
        lines += [QUICK_NOTE, ""]
    return "\n".join(lines)


def _part_name(part: str) -> str:
    return {"batching+relation": "data batching + relation layers", "model": "the whole model"}[part]


def _cell(t) -> str:
    if t is None:
        return "– | – | – | –"
    x = f"{t['speedup']:.1f}×"
    return (f"{t['obvious']:,.0f} | {t['ours']:,.0f} | " + (f"**{x}**" if t["met"] else x)
            + f" | {t['speedup_of_minima']:.1f}×")


def _by_batch_table(rows: list[dict], setup: dict) -> list[str]:
    layer = setup["layers"][0]
    parts = ["batching", "relation", "batching+relation", "model"]
    lines = [f"## Faces/s against batch size (`{layer}`)", "",
             "| mode | part | " + " | ".join(f"B = {b}" for b in setup["batches"]) + " |",
             "|---|---|" + "---:|" * len(setup["batches"])]
    for mode in MODES:
        for part in parts:
            for path in PATHS:
                cells = []
                for b in setup["batches"]:
                    r = next((r for r in rows if r["part"] == part and r["batch"] == b and r["path"] == path
                              and (part == "batching" or (r["layer"] == layer and r["mode"] == mode))), None)
                    cells.append(f"{r['faces_per_s']:,.0f}" if r else "–")
                lines.append(f"| {mode} | {part} {path} | " + " | ".join(cells) + " |")
            cell = [ratio(rows, part, "" if part == "batching" else layer, "any" if part == "batching" else mode, b)
                    for b in setup["batches"]]
            lines.append(f"| {mode} | {part} ours / obvious | " + " | ".join(f"{c[2]:.1f}×" if c else "–" for c in cell)
                         + " |")
    plot_name = setup.get("plot", "throughput_vs_batch.png")
    lines += ["", f"(Data batching is the same for both modes.) The plot: [{plot_name}]({plot_name}).", ""]
    return lines


def _flops_table(doc: dict) -> list[str]:
    setup, rows = doc["setup"], doc["rows"]
    b = max([x for x in setup["batches"] if x <= setup["target_batch"]] or setup["batches"][:1])
    lines = [f"## Achieved GFLOP/s of the whole model at batch {b}", "",
             f"Roofline: a {doc['roofline_gflop_per_s']['size']}² float32 matrix product taking its turn in each "
             "layer's whole-model loop at this batch size (so under the same load).", "",
             "| layer | mode | roofline GFLOP/s | obvious GFLOP/s | of roofline | ours GFLOP/s | of roofline | "
             "MFLOP per face: obvious / ours | ours by `count_flops()` |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for layer in setup["layers"]:
        f = doc["flops_per_face"].get(layer, {})
        roofs = doc["roofline_in_loop_gflop_per_s"].get(layer, {})
        for mode in MODES:
            cell = {r["path"]: r for r in rows if r["part"] == "model" and r["layer"] == layer and r["mode"] == mode
                    and r["batch"] == b}
            if set(cell) != set(PATHS):
                continue
            o, u, roof = cell["obvious"]["gflop_per_s"], cell["ours"]["gflop_per_s"], roofs[mode]
            lines.append(f"| `{layer}` | {mode} | {roof:.0f} | {o:.1f} | {100 * o / roof:.0f}% | {u:.1f} | "
                         f"{100 * u / roof:.0f}% | "
                         f"{f[mode]['obvious'] / 1e6:.1f} / {f[mode]['ours'] / 1e6:.1f} | "
                         + (f"{f['count_flops_inference'] / 1e6:.1f} |" if mode == "inference" else "– |"))
    return lines + [""]


def _scatter_table(sc: dict, setup: dict) -> list[str]:
    rows = sc["rows"]
    batches = sorted({r["batch"] for r in rows})
    lines = ["## With and without torch-scatter (relation layers)", "",
             f"Child processes without and with `{sc['site']}` on PYTHONPATH, in turns, {sc['rounds']} rounds each; "
             f"median over rounds of each child's median ({sc.get('date', '')}, {sc.get('wall_s', 0):.0f} s; load at "
             f"the start and end of each child: {_loads(sc['loads'])}). torch-scatter: "
             f"{next((r['torch_scatter'] for r in rows if r['torch_scatter']), '?')}. "
             "Install it (after torch) with `pip install --no-build-isolation torch-scatter`.", "",
             "| layer | mode | batch | sparse ms without | with | with / without | dense ms without | with |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]

    def ms(layer, mode, path, on, b):
        return next((r["median_ms"] for r in rows if r["layer"] == layer and r["mode"] == mode and r["batch"] == b
                     and r["path"] == path and (r["torch_scatter"] is not None) == on), float("nan"))
    for layer in sorted({r["layer"] for r in rows}, key=setup["layers"].index):
        for mode in MODES:
            for b in batches:
                s0, s1 = ms(layer, mode, "obvious", False, b), ms(layer, mode, "obvious", True, b)
                d0, d1 = ms(layer, mode, "ours", False, b), ms(layer, mode, "ours", True, b)
                lines.append(f"| `{layer}` | {mode} | {b} | {s0:.2f} | {s1:.2f} | {s1 / s0:.2f} | {d0:.2f} | {d1:.2f} |")
    ratios = {path: [ms(r["layer"], r["mode"], path, True, r["batch"]) / ms(r["layer"], r["mode"], path, False, r["batch"])
                     for r in rows if r["path"] == path and r["torch_scatter"] is None] for path in PATHS}
    lines += ["", "With / without over all cells: " + "; ".join(
        f"{'sparse' if path == 'obvious' else 'dense'} path median {statistics.median(v):.2f} "
        f"(range {min(v):.2f}–{max(v):.2f})" for path, v in ratios.items() if v) + "."]
    calls = sc.get("torch_scatter_calls")
    counted = (f"Calls into torch_scatter's functions counted in the with-torch-scatter children while they ran "
               f"these layers: {sum(sum(c.values()) for c in calls)} in all ({calls}). " if calls is not None else "")
    lines += ["", counted + "The dense path does not use torch-scatter: its columns show how much two child "
              "processes differ by load alone. On CPU, PyG 2.8 calls torch-scatter only for segment (CSR) reductions "
              "and `scatter_argmax` (`torch_geometric.utils`); sum, mean, min, max and mul go through torch's own "
              "`scatter_add_` / `scatter_reduce_`.", ""]
    return lines


def _loads(loads: dict) -> str:
    return "; ".join(f"{k}: " + ", ".join(f"{a.split()[0]}–{b.split()[0]}" for a, b in v) for k, v in loads.items())


def plot(doc: dict, path: Path) -> None:
    """Draw the result ``doc`` to ``path``: faces/s against batch size, or per layer when it holds one batch size."""
    if len(_main_batches(doc)) == 1:
        plot_layers_at_batch(doc, path)
    else:
        plot_vs_batch(doc, path)


def replot(result: Path) -> Path:
    """Draw the plot of an earlier result JSON again, beside it under the name its setup records; return the PNG."""
    doc = json.loads(Path(result).read_text())
    out = Path(result).parent / (doc["setup"].get("plot") or f"{Path(result).stem}_vs_batch.png")
    plot(doc, out)
    return out


def _main_batches(doc: dict) -> list[int]:
    """The batch sizes of the main run's rows (not the torch-scatter comparison's)."""
    return sorted({r["batch"] for r in doc["rows"] if r.get("source", "main") == "main"})


def plot_vs_batch(doc: dict, path: Path) -> None:
    """Faces/s against batch size per mode, both paths, whole model and batching + relation; bold: the first layer."""
    plt = pyplot()
    rows, setup = doc["rows"], doc["setup"]
    main = setup["layers"][0]
    colours = {"obvious": "tab:red", "ours": "tab:blue"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, mode in zip(axes, MODES):
        for layer in setup["layers"]:
            for path_ in PATHS:
                for part, style in (("model", "-"), ("batching+relation", "--")):
                    pts = sorted((r["batch"], r["faces_per_s"]) for r in rows if r["part"] == part and
                                 r["layer"] == layer and r["mode"] == mode and r["path"] == path_)
                    if not pts:
                        continue
                    x, y = zip(*pts)
                    bold = layer == main
                    label = f"{path_}: {'whole model' if part == 'model' else 'batching + relation'}" if bold else None
                    ax.plot(x, y, style, color=colours[path_], lw=2 if bold else 0.7, alpha=1 if bold else 0.35,
                            marker="o" if bold else None, ms=4, label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size (faces)")
        ax.set_title(f"{mode} ({'forward' if mode == 'inference' else 'training step'})")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("faces / s")
    axes[0].legend(fontsize=8, loc="upper left")
    others = " (thin lines: the other relation layers)" if len(setup["layers"]) > 1 else ""
    fig.suptitle(f"Throughput, ours vs the obvious PyG implementation; bold: {main}{others}"
                 + ("  [--quick: proves nothing]" if setup["quick"] else ""), fontsize=10)
    save_figure(fig, path)


BAR_PARTS = (("model", "whole model"), ("batching+relation", "data batching + relation layers"))
PATH_STYLE = {"obvious": ("tab:red", "obvious PyG path (DataLoader of Data objects, sparse layers)"),
              "ours": ("tab:blue", None)}  # ours' label: ours_input(setup)["legend"]


def plot_layers_at_batch(doc: dict, path: Path) -> None:
    """Grouped horizontal bars of faces/s per relation layer at the result's one batch size.

    A 2 x 2 grid: rows are the parts in ``BAR_PARTS``, columns the modes (``MODES``); in each panel one pair
    of bars per layer of ``doc["setup"]["layers"]`` (obvious, ours; log faces/s), ours / obvious written
    beside the pair, in bold where the part's target (``setup["targets"]``, {part: ratio}) is met. The cells
    come from ``ratio()`` over ``doc["rows"]`` (dicts with part, layer, mode, batch, path, faces_per_s).
    """
    plt = pyplot()
    setup = doc["setup"]
    batch = _main_batches(doc)[0]
    layers = setup["layers"]
    height = 2.4 + 0.42 * len(layers) * len(BAR_PARTS)
    fig, axes = plt.subplots(len(BAR_PARTS), len(MODES), figsize=(12, height), sharey=True, squeeze=False,
                             layout="constrained")  # constrained: room for the figure legend and the title
    for row, (part, name) in zip(axes, BAR_PARTS):
        for ax, mode in zip(row, MODES):
            _layer_bars(ax, doc, part, mode, batch)
            goal = setup.get("targets", TARGETS).get(part)
            ax.set_title(f"{name}, {_mode_name(mode)}" + (f"; target ≥ {goal:g}×" if goal else ""), fontsize=10)
    for ax in axes[:, 0]:
        ax.set_ylabel("relation layer")
    axes[0, 0].set_yticks(range(len(layers)), layers)
    axes[0, 0].set_ylim(len(layers) - 0.5, -0.5)  # first layer on top
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=9,
               frameon=False)
    fig.suptitle(_bar_title(doc, batch), fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _layer_bars(ax, doc: dict, part: str, mode: str, batch: int) -> None:
    """One panel: per layer the obvious and ours faces/s as two bars, and their ratio beside them."""
    layers, goal = doc["setup"]["layers"], doc["setup"].get("targets", TARGETS).get(part)
    cells = {layer: ratio(doc["rows"], part, layer, mode, batch) for layer in layers}
    values = [v for c in cells.values() if c for v in c[:2]]
    if not values:
        ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center")
        return
    low, high = min(values) / 2, max(values) * 3  # room on the right for the ratios
    height = 0.38
    for i, path_ in enumerate(PATHS):
        colour, label = PATH_STYLE[path_]
        label = label or ours_input(doc["setup"])["legend"]
        ys = [y + (i - 0.5) * height for y, layer in enumerate(layers) if cells[layer]]
        xs = [cells[layer][i] for layer in layers if cells[layer]]
        ax.barh(ys, [x - low for x in xs], height=height, left=low, color=colour, label=label)
    for y, layer in enumerate(layers):
        if cells[layer]:
            speedup = cells[layer][2]
            ax.text(max(cells[layer][:2]) * 1.12, y, f"{speedup:.1f}×", va="center", fontsize=8,
                    fontweight="bold" if goal and speedup >= goal else "normal")
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.set_xlabel(f"faces / s ({_mode_name(mode)}; log scale)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def _mode_name(mode: str) -> str:
    """A mode's name in the plot's labels."""
    return {"inference": "inference (forward)", "train": "training step"}[mode]


def _bar_title(doc: dict, batch: int) -> str:
    """The bar chart's title: batch size, threads, runs and the load at the start and end of the run."""
    setup, load = doc["setup"], doc["load"]
    threads = setup["threads"]
    return (f"Faces/s per relation layer at batch {batch}: the toolkit vs the obvious PyG implementation"
            + ("  [--quick: proves nothing]" if setup["quick"] else "") + "\n"
            f"{threads} torch thread{'s' if threads != 1 else ''}, medians of {setup['repeats']} runs "
            f"({setup['model_repeats']} for the whole model), load (1/5/15 min) {_load3(load['start'])} at the "
            f"start, {_load3(load['end'])} at the end\n× = ours / obvious, in bold where the target is met")


def _load3(loadavg: str) -> str:
    """The 1, 5 and 15 minute load averages of a ``/proc/loadavg`` line."""
    return " ".join(loadavg.split()[:3])
