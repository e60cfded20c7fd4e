"""The one registry helper, and every registry of the package built with it."""
from __future__ import annotations

import click
import pytest

from augcn_pyg.cli import main
from augcn_pyg.core.errors import InputError
from augcn_pyg.core.registry import Registry
from augcn_pyg.data.labels import LABEL_FORMATS
from augcn_pyg.data.readers import DATASET_READERS
from augcn_pyg.graph.relations import MEASURES, SYMMETRIZE
from augcn_pyg.inference.output import OUTPUT_FORMATS
from augcn_pyg.landmarks import LANDMARK_BACKENDS, LANDMARK_FILE_READERS
from augcn_pyg.nn.layers import RELATION_LAYERS

REGISTRIES = {"relation layers": RELATION_LAYERS, "landmark backends": LANDMARK_BACKENDS,
              "landmark files": LANDMARK_FILE_READERS, "datasets": DATASET_READERS, "label formats": LABEL_FORMATS,
              "measures": MEASURES, "symmetrize": SYMMETRIZE, "output formats": OUTPUT_FORMATS}
#: (command, option) -> the registry its choices must come from
CLI_CHOICES = {("prepare", "dataset"): DATASET_READERS, ("build-graph", "label_format"): LABEL_FORMATS,
               ("build-graph", "measure"): MEASURES, ("build-graph", "symmetrize"): SYMMETRIZE,
               ("predict", "output_format"): OUTPUT_FORMATS, ("predict", "landmarks"): LANDMARK_BACKENDS}


def test_lookup_names_the_choices():
    reg = Registry("colour")
    reg.register("red", 1)

    @reg.register("blue")
    def blue():
        return 2

    assert reg.lookup("blue") is blue and reg["red"] == 1 and list(reg) == ["red", "blue"]
    with pytest.raises(InputError, match=r"unknown colour 'green'; choose from red, blue: palette.txt"):
        reg.lookup("green", where="palette.txt")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("red", 3)
    del reg["red"]
    assert reg.choices() == ["blue"] and "red" not in reg


def test_lowercase_registries_match_any_case():
    reg = Registry("dataset", lowercase=True)
    reg.register("BP4D", 1)
    assert reg.lookup("bp4d") == 1 and "Bp4d" in reg and reg.choices() == ["bp4d"]


@pytest.mark.parametrize("name", REGISTRIES)
def test_every_registry_uses_the_helper(name):
    reg = REGISTRIES[name]
    assert isinstance(reg, Registry) and len(reg) > 0
    with pytest.raises(InputError, match="choose from"):
        reg.lookup("no-such-entry")


@pytest.mark.parametrize("command, option", CLI_CHOICES)
def test_cli_choices_come_from_the_registries(command, option):
    param = next(p for p in main.commands[command].params if p.name == option)
    assert isinstance(param.type, click.Choice)
    assert set(param.type.choices) == set(CLI_CHOICES[command, option])
