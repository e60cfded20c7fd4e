"""The ``augcn-pyg`` command line: a thin layer over the library.

Library code raises :class:`augcn_pyg.errors.InputError` for bad input; :func:`user_errors` turns it into
a ``click.ClickException`` (one line, exit code 1, no traceback).
"""
from __future__ import annotations

import functools
import warnings
from pathlib import Path

import click

from ._version import __version__
from .aus import PROTOCOLS
from .errors import InputError
from .landmarks import LANDMARK_BACKENDS
from .graph_report import describe
from .data.labels import FORMAT_PROTOCOLS, LABEL_FORMATS
from .relations import DEFAULT_THRESHOLDS, MEASURES, PAPER_RULES, SYMMETRIZE, RelationWarning
from .rois import ROI_SIZE_RANGE


#: --landmarks values: "auto" and the registered backends
LANDMARK_CHOICES = ["auto", *sorted(LANDMARK_BACKENDS)]


def user_errors(fn):
    """Report :class:`InputError` (and unreadable files) as one clear line instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="augcn-pyg")
def main() -> None:
    """AU detection with relation modelling on PyTorch Geometric.

    \b
    Example:
      augcn-pyg build-graph --protocol bp4d -o bp4d.json --plot bp4d.png
    """
    from ._allocator import keep_freed_memory

    keep_freed_memory()  # batches of large tensors reuse freed memory (see augcn_pyg/_allocator.py)


# --- relation graphs ---------------------------------------------------------------------------


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


@main.command("build-graph")
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
    from .relations import RelationBuilder, paper_graph, parse_rules
    from .viz import check_output, plot_roi_graph

    if plot_path is not None:
        check_output(plot_path)
    if labels_path is None:
        if threshold is not None or measure != "conditional" or intensity_threshold is not None:
            raise InputError("--threshold, --measure and --intensity-threshold need --labels: the paper's "
                             "Table 1 carries no statistics")
        graph = paper_graph(protocol or "bp4d", parse_rules(rules))
    else:
        from .data.labels import detect_label_format, read_labels

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


@main.command("plot-graph")
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
    from .relations import RelationGraph
    from .viz import plot_graph

    plot_graph(RelationGraph.load(graph_path), output, level)
    click.echo(f"wrote {output}")


@main.command("graph-info")
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
    from .relations import RelationGraph

    click.echo(describe(RelationGraph.load(graph_path)))


@main.command("demo")
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
    from .demo import run_demo

    run_demo(output, echo=click.echo, workers=workers)


# --- faces to ROI graphs -------------------------------------------------------------------

@main.command("prepare")
@click.option("--dataset", type=click.Choice(["bp4d", "disfa", "lists", "folder"]), required=True,
              help="How ROOT is laid out (native BP4D / DISFA folders, ME-GraphAU lists, a folder or video).")
@click.option("--root", type=click.Path(path_type=Path), required=True, help="The dataset's folder (or video).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="The ROI store directory.")
@click.option("--protocol", type=click.Choice(sorted(PROTOCOLS)), default=None,
              help="AU order and ROI table; default: the dataset's own (needed for lists/folder).")
@click.option("--landmarks", type=click.Choice(LANDMARK_CHOICES), default="auto", show_default=True,
              help="Landmark backend for frames without shipped landmarks (auto: insightface if a model pack "
                   "is in $INSIGHTFACE_HOME, else dlib).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Frames per chunk (the unit of work and of resume checkpoints).")
@click.option("--roi-size", type=click.IntRange(*ROI_SIZE_RANGE), default=25, show_default=True,
              help="ROI side n (pixels, on the 200-px aligned face).")
@click.option("--labels", "labels_path", type=click.Path(path_type=Path), default=None,
              help="Label file or folder (bp4d: instead of ROOT/AUCoding/AU_OCC; folder: any label format).")
@click.option("--openface", type=click.Path(path_type=Path), default=None,
              help="folder: an OpenFace 2 CSV whose landmarks are used instead of detecting them.")
@click.option("--images", type=click.Path(path_type=Path), default=None,
              help="disfa/lists: the folder of extracted frames (images) if not found under ROOT.")
@click.option("--landmarks-dir", type=click.Path(path_type=Path), default=None,
              help="bp4d/disfa: per-video OpenFace 2 CSVs {video}.csv (F001_T1.csv, SN001.csv; SynthAU's "
                   "ROOT/Landmarks) used instead of detecting; frames they lack are skipped.")
@click.option("--model-root", type=click.Path(path_type=Path), default=None,
              help="InsightFace model root or pack folder (default: $INSIGHTFACE_HOME, then ~/.insightface).")
@click.option("--intensity-threshold", type=click.IntRange(1, 5), default=None,
              help="disfa: an AU is present at or above this intensity (default 2).")
@click.option("--camera", type=click.Choice(["left", "right"]), default=None,
              help="disfa: which camera's video or frames (default left).")
@click.option("--track/--no-track", default=None,
              help="Follow the face from frame to frame within each video (of each chunk) instead of detecting "
                   "on every whole frame (default: on for bp4d and disfa with dlib; dlib only).")
@click.option("--overwrite", is_flag=True, help="Prepare again into a directory that holds a store.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@user_errors
def prepare_cmd(dataset, root, output, protocol, landmarks, workers, batch_size, roi_size, labels_path, openface,
                images, intensity_threshold, camera, landmarks_dir, model_root, track, overwrite, quiet):
    """Turn a dataset's frames into an ROI store: landmarks -> aligned face -> R crops of n x n.

    A run that is stopped (Ctrl-C, kill, power loss) resumes where it stopped when the same command is
    run again; frames without a usable face are listed in OUTPUT/skipped.csv. The reader's notes are
    printed before the work starts; a run that stores no face leaves nothing behind.

    \b
    Examples:
      augcn-pyg prepare --dataset bp4d --root /data/BP4D -o stores/bp4d --workers 4
      augcn-pyg prepare --dataset folder --root clip.mp4 --openface clip.csv --protocol disfa -o stores/clip
      augcn-pyg prepare --dataset bp4d --root synthau -o stores/synthau --landmarks-dir synthau/Landmarks
    """
    from .data.prepare import PrepareInterrupted, prepare

    disfa_only = {"intensity_threshold": intensity_threshold, "camera": camera}
    if dataset != "disfa" and any(v is not None for v in disfa_only.values()):
        raise InputError(f"{root}: --intensity-threshold and --camera apply to --dataset disfa only")
    options = {k: v for k, v in (("labels", labels_path), ("openface", openface), ("images", images),
                                 ("landmarks_dir", landmarks_dir), *disfa_only.items()) if v is not None}
    backend_options = {"model_root": model_root} if model_root else None
    try:
        summary = prepare(dataset, root, output, protocol, landmarks=landmarks, workers=workers,
                          batch_size=batch_size, roi_size=roi_size, overwrite=overwrite, progress=not quiet,
                          backend_options=backend_options, on_note=lambda n: click.echo(f"note: {n}", err=True),
                          track=track, **options)
    except PrepareInterrupted as stop:
        click.echo(f"\n{stop.line()}", err=True)
        raise click.exceptions.Exit(130) from None  # the shell's code for "stopped by SIGINT"
    click.echo(summary.line())


@main.command("show-rois")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help=".png, .svg or .pdf")
@click.option("--protocol", type=click.Choice(sorted(PROTOCOLS)), default="bp4d", show_default=True)
@click.option("--landmarks", "backend", type=click.Choice(LANDMARK_CHOICES), default="auto", show_default=True,
              help="Landmark backend (auto: insightface if a model pack is on disk, else dlib).")
@click.option("--landmarks-file", type=click.Path(path_type=Path), default=None,
              help="Use these landmarks instead of a detector: OpenFace 2 CSV, DISFA .mat (66 points) or .npy.")
@click.option("--model-root", type=click.Path(path_type=Path), default=None,
              help="InsightFace model root or pack folder (default: $INSIGHTFACE_HOME, then ~/.insightface).")
@click.option("--roi-size", type=click.IntRange(*ROI_SIZE_RANGE), default=25, show_default=True,
              help="ROI side n (pixels, on the 200-px aligned face).")
@click.option("--face", type=click.IntRange(min=1), default=None,
              help="Which face to draw when there are several: 1 = the best-scoring detection (default), "
                   "2 = the next, ...; with --landmarks-file, the file's sets in row order.")
@user_errors
def show_rois_command(image, output, protocol, backend, landmarks_file, model_root, roi_size, face):
    """Draw a photo's landmarks, AU centres and ROI boxes beside a montage of its ROI crops.

    A per-video OpenFace CSV is matched to the image by the frame number in the image's name
    (Sequences/F001/T1/850.jpg takes the row of frame 850). Detection runs on a copy at most
    1280 px long (landmarks mapped back to the photo).

    \b
    Examples:
      augcn-pyg show-rois face.jpg -o rois.png
      augcn-pyg show-rois group.jpg -o rois.png --face 2 --protocol disfa --landmarks dlib
      augcn-pyg show-rois Sequences/F001/T1/850.jpg -o rois.png --landmarks-file Landmarks/F001_T1.csv
    """
    from .roi_plots import show_rois

    options = {"model_root": model_root} if model_root is not None else {}
    picture = show_rois(image, output, protocol, backend, landmarks_file, roi_size, face=face, **options)
    for note in picture.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {picture.path}")


# --- SynthAU -------------------------------------------------------------------------------


@main.command("synth")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(),
              help="Output folder (created; a finished video is skipped when re-run).")
@click.option("--protocol", type=click.Choice(["bp4d", "disfa"]), default="bp4d", show_default=True,
              help="Native layout and AU preset.")
@click.option("--relations", type=click.Choice(["realistic", "independent"]), default="realistic",
              show_default=True, help="AU co-occurrence model; independent = same rates, no relations.")
@click.option("--subjects", type=click.IntRange(min=1), default=24, show_default=True)
@click.option("--frames-per-video", type=click.IntRange(min=1), default=60, show_default=True,
              help="Frames per task video (DISFA: per task segment of the subject's one video).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--difficulty", type=click.Choice(["easy", "medium", "hard"]), default="medium",
              show_default=True, help="Sets pose, lighting, blur and noise together.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--image-size", type=click.IntRange(min=64), default=256, show_default=True)
@click.option("--rotation", type=float, default=None, help="Override: max in-plane rotation (degrees).")
@click.option("--scale", type=float, default=None, help="Override: max relative scale change.")
@click.option("--translation", type=float, default=None, help="Override: max shift (fraction of the image).")
@click.option("--lighting", type=float, default=None, help="Override: max lighting-gradient strength.")
@click.option("--blur", type=float, default=None, help="Override: max Gaussian blur sigma (pixels).")
@click.option("--noise", type=float, default=None, help="Override: noise std (grey levels).")
@click.option("--jpeg-quality", type=click.IntRange(1, 100), default=None, help="Override: JPEG quality.")
@click.option("--no-resume", is_flag=True, help="Re-render videos that are already complete.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@user_errors
def synth_command(out_dir, protocol, relations, subjects, frames_per_video, seed, difficulty, workers,
                  image_size, no_resume, quiet, **knobs):
    """Render a SynthAU dataset (faces with known AU relations) in a native dataset layout.

    \b
    Examples:
      augcn-pyg synth -o synth_bp4d --protocol bp4d --subjects 24 --frames-per-video 60 --seed 0 --workers 2
      augcn-pyg synth -o synth_ind --relations independent --difficulty hard --rotation 20
      augcn-pyg synth -o synth_disfa --protocol disfa --subjects 27
    """
    from .data.synthetic import generate_synthau

    manifest = generate_synthau(out_dir, protocol=protocol, relations=relations, subjects=subjects,
                                frames_per_video=frames_per_video, seed=seed, difficulty=difficulty,
                                workers=workers, image_size=image_size, resume=not no_resume, progress=not quiet,
                                **knobs)
    rates = ", ".join(f"AU{a} {100 * r:.0f}%" for a, r in manifest["rates"].items())
    click.echo(f"wrote {manifest['frames_written']} faces ({manifest['videos_skipped']} videos already "
               f"complete) to {out_dir}\noccurrence: {rates}")


@main.command("synth-gallery")
@click.option("-o", "--output", "out_path", required=True, type=click.Path(dir_okay=False),
              help="PNG to write (.png).")
@click.option("--seed", type=click.IntRange(min=0), default=3, show_default=True, help="Which identity to show.")
@user_errors
def synth_gallery_command(out_path, seed):
    """Draw every SynthAU AU: a face at rest beside the same face at intensity 2 and 4.

    \b
    Example:
      augcn-pyg synth-gallery -o docs/img/synthau.png
    """
    from .data.synthetic import render_gallery

    click.echo(f"wrote {render_gallery(out_path, seed=seed)}")


# The model commands (layers, model-info, train, evaluate, cv) live in their own module.
from . import cli_model  # noqa: E402,F401
# ... and the commands that use a trained model (predict, export) in theirs.
from . import cli_predict  # noqa: E402,F401


if __name__ == "__main__":  # pragma: no cover
    # `python -m augcn_pyg.cli` runs this file as __main__: use the package's module, whose group holds
    # the model commands registered by cli_model.
    from augcn_pyg.cli import main as package_main

    package_main()
