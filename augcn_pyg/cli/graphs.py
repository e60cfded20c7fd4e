"""Relation-graph commands: build-graph, graph-info, plot-graph, and the demo."""
from __future__ import annotations

import warnings
from pathlib import Path

import click

from augcn_pyg.cli.demo import run_demo
from augcn_pyg.cli.group import user_errors
from augcn_pyg.core.aus import PROTOCOLS
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.labels import FORMAT_PROTOCOLS, LABEL_FORMATS, detect_label_format, read_labels
from augcn_pyg.graph.relations import (
    DEFAULT_THRESHOLDS,
    MEASURES,
    PAPER_RULES,
    SYMMETRIZE,
    RelationBuilder,
    RelationGraph,
    RelationWarning,
    paper_graph,
    parse_rules,
)
from augcn_pyg.graph.report import describe
from augcn_pyg.viz.graphs import check_output, plot_graph, plot_roi_graph


def _echo_warnings(caught) -> None:
    for w in caught:
        click.echo(f"note: {w.message}", err=True)


def _label_protocol(labels_path: Path, label_format: str, protocol: str | None) -> str:
    """The protocol to read labels in: the one given, else the one a native format (bp4d, disfa) implies."""
    if protocol is not None:
        return protocol
    if label_format in FORMAT_PROTOCOLS:
        return FORMAT_PROTOCOLS[label_format]
    raise InputError(f"{labels_path}: --protocol is needed for {label_format!r} labels "
                     f"(choose the AU order: {', '.join(sorted(PROTOCOLS))})")


@click.command("build-graph")
@click.option("--labels", "labels_path", type=click.Path(path_type=Path),
              help="Training labels: a BP4D AU_OCC folder, a DISFA ActionUnit_Labels folder, a ME-GraphAU "
                   "label list, an OpenFace 2 CSV, or a CSV/NPY with an AU header. Without it: the paper's Table 1.")
@click.option("--format", "label_format", type=click.Choice(sorted(LABEL_FORMATS)), default=None,
              help="Label format; detected from the path if omitted.")
@click.option("--protocol", type=click.Choice(sorted(PROTOCOLS)), default=None,
              help="AU order and ROI table; default: the labels' own for BP4D and DISFA labels (needed for "
                   "the other formats), bp4d for Table 1.")
@click.option("--threshold", type=float, default=None,
              help="Keep AU pairs whose score is >= this. Default per measure (the paper states none): "
                   + ", ".join(f"{m} {t:g}" for m, t in DEFAULT_THRESHOLDS.items())
                   + " (conditional with --symmetrize sum: the middle of [0, 2], where SynthAU-BP4D gives "
                     "Table 1 back; mean/max/min: 0.5). The same defaults as training and fold_datasets; "
                     "docs/relation-graphs.md says how they were chosen.")
@click.option("--symmetrize", type=click.Choice(list(SYMMETRIZE)), default="sum", show_default=True,
              help="How P(j|i) becomes symmetric (sum = the paper's M + M^T, range [0, 2]).")
@click.option("--measure", type=click.Choice(list(MEASURES)), default="conditional",
              show_default=True, help="conditional = the paper's P(j|i); lift/phi/pmi correct for base rates.")
@click.option("--rules", default=",".join(PAPER_RULES), show_default=True,
              help="ROI-graph rules to apply, from self,symmetric,cooccurrence,global,negative.")
@click.option("--negative-threshold", type=float, default=0.05, show_default=True,
              help="The negative rule joins AUs with max(P(j|i), P(i|j)) <= this.")
@click.option("--intensity-threshold", type=click.IntRange(1, 5), default=None,
              help="DISFA labels only: an AU is present at or above this intensity (default 2).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Graph JSON file to write.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None,
              help="Also draw the ROI graph (.png, .svg or .pdf).")
@user_errors
def build_graph(labels_path, label_format, protocol, threshold, symmetrize, measure, rules, negative_threshold,
                intensity_threshold, output, plot_path):
    """Build an AU relation graph and its ROI graph, and write it as JSON.

    \b
    Examples:
      augcn-pyg build-graph --protocol bp4d -o bp4d_table1.json          # the paper's Table 1
      augcn-pyg build-graph --labels BP4D/AUCoding/AU_OCC -o bp4d.json --plot bp4d.png
      augcn-pyg build-graph --labels DISFA/ActionUnit_Labels --measure phi --threshold 0.1 -o d.json
    """
    if plot_path is not None:
        check_output(plot_path)
    if labels_path is None:
        if threshold is not None or measure != "conditional" or intensity_threshold is not None:
            raise InputError("--threshold, --measure and --intensity-threshold need --labels: the paper's "
                             "Table 1 carries no statistics")
        graph = paper_graph(protocol or "bp4d", parse_rules(rules))
    else:
        label_format = label_format or detect_label_format(labels_path)
        protocol = _label_protocol(labels_path, label_format, protocol)
        if intensity_threshold is not None and label_format != "disfa":
            raise InputError(f"{labels_path}: --intensity-threshold applies to DISFA intensity labels only "
                             f"(these are {label_format!r} labels)")
        label_set = read_labels(labels_path, protocol, format=label_format,
                                intensity_threshold=2 if intensity_threshold is None else intensity_threshold)
        for note in label_set.notes:
            click.echo(f"note: {note}", err=True)
        if label_set.ignored_aus:
            ignored = ", ".join(f"AU{a}" for a in label_set.ignored_aus)
            click.echo(f"note: {labels_path}: ignoring AUs not scored by {protocol}: {ignored}", err=True)
        builder = RelationBuilder(protocol, threshold, measure, symmetrize, rules, negative_threshold)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RelationWarning)
            graph = builder.fit(label_set.labels, source=f"labels:{label_set.source}").graph_
        _echo_warnings(caught)
    if plot_path is not None:
        plot_roi_graph(graph, plot_path)
    graph.save(output)
    click.echo(describe(graph))
    click.echo(f"\nwrote {output}" + (f" and {plot_path}" if plot_path else ""))


@click.command("plot-graph")
@click.argument("graph_path", metavar="GRAPH.json", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help=".png, .svg or .pdf")
@click.option("--level", type=click.Choice(["au", "roi", "heatmap"]), default="roi", show_default=True,
              help="au: AUs and their pairs (Table 1); roi: ROI nodes on a face; heatmap: the score matrix.")
@user_errors
def plot_graph_cmd(graph_path, output, level):
    """Draw a relation graph file.

    \b
    Example:
      augcn-pyg plot-graph graphs/bp4d_table1.json -o bp4d_roi.png --level roi
    """
    plot_graph(RelationGraph.load(graph_path), output, level)
    click.echo(f"wrote {output}")


@click.command("graph-info")
@click.argument("graph_path", metavar="GRAPH.json", type=click.Path(path_type=Path))
@user_errors
def graph_info(graph_path):
    """Print a graph's AU matrix, AU pairs, edge counts per rule, density and degree per ROI.

    For graphs fitted on labels, each AU pair also says whether independence alone (the AUs' base
    rates) would have produced it.

    \b
    Example:
      augcn-pyg graph-info graphs/bp4d_table1.json
    """
    click.echo(describe(RelationGraph.load(graph_path)))


@click.command("demo")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True)
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True, help="SynthAU render processes.")
@user_errors
def demo(output, workers):
    """Run the main job on the embedded default (SynthAU) and write everything under OUTPUT.

    The paper's Table 1 graphs; a small SynthAU-BP4D set; relation graphs fitted on its labels and
    compared with Table 1; its faces to an ROI store; the fold-1 PyG datasets and one batch; a ROI picture.

    \b
    Example:
      augcn-pyg demo -o demo-out
    """
    run_demo(output, echo=click.echo, workers=workers)


# --- faces to ROI graphs -------------------------------------------------------------------


COMMANDS = [build_graph, graph_info, plot_graph_cmd, demo]
