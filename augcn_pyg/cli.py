"""The ``augcn-pyg`` command line: a thin layer over the library.

Library code raises :class:`augcn_pyg.errors.InputError` for bad input; :func:`user_errors` turns it into
a ``click.ClickException`` (one line, exit code 1, no traceback).
"""
from __future__ import annotations

import functools

import click

from ._version import __version__
from .errors import InputError


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


# --- relation graphs (issue 2) -----------------------------------------------------------------

# --- faces to ROI graphs (issue 3) -------------------------------------------------------------

# --- SynthAU (issue 4) -------------------------------------------------------------------------


@main.command("synth")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder (created; a finished video is skipped when re-run).")
@click.option("--protocol", type=click.Choice(["bp4d", "disfa"]), default="bp4d", show_default=True,
              help="Native layout and AU preset.")
@click.option("--relations", type=click.Choice(["realistic", "independent"]), default="realistic",
              show_default=True, help="AU co-occurrence model; independent = same rates, no relations.")
@click.option("--subjects", type=click.IntRange(min=1), default=24, show_default=True)
@click.option("--frames-per-video", type=click.IntRange(min=1), default=60, show_default=True,
              help="Frames per task video (DISFA: per task segment of the subject's one video).")
@click.option("--seed", type=int, default=0, show_default=True)
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
@user_errors
def synth_command(out_dir, protocol, relations, subjects, frames_per_video, seed, difficulty, workers,
                  image_size, no_resume, **knobs):
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
                                workers=workers, image_size=image_size, resume=not no_resume, **knobs)
    rates = ", ".join(f"AU{a} {100 * r:.0f}%" for a, r in manifest["rates"].items())
    click.echo(f"wrote {manifest['frames_written']} faces ({manifest['videos_skipped']} videos already "
               f"complete) to {out_dir}\noccurrence: {rates}")


@main.command("synth-gallery")
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="PNG to write.")
@click.option("--seed", type=int, default=3, show_default=True, help="Which identity to show.")
@user_errors
def synth_gallery_command(out_path, seed):
    """Draw every SynthAU AU: a face at rest beside the same face at intensity 2 and 4.

    \b
    Example:
      augcn-pyg synth-gallery -o docs/img/synthau.png
    """
    from .data.synthetic import render_gallery

    click.echo(f"wrote {render_gallery(out_path, seed=seed)}")


if __name__ == "__main__":  # pragma: no cover
    main()
