"""The ``augcn-pyg`` command line: a thin layer over the library.

Library code raises :class:`augcn_pyg.core.errors.InputError` for bad input; :func:`user_errors` turns it into
a ``click.ClickException`` (one line, exit code 1, no traceback).
"""
from __future__ import annotations

import functools

import click

from augcn_pyg._version import __version__
from augcn_pyg.core.allocator import keep_freed_memory
from augcn_pyg.core.errors import InputError
from augcn_pyg.landmarks import LANDMARK_BACKENDS

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
    keep_freed_memory()  # batches of large tensors reuse freed memory (see augcn_pyg/core/allocator.py)


