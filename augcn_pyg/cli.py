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


if __name__ == "__main__":  # pragma: no cover
    main()
