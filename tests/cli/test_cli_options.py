"""One name and one behaviour per idea across the commands (read from the click command objects)."""
import click
import pytest
from click.testing import CliRunner

from augcn_pyg.cli import main

COMMANDS = sorted(main.commands)


def options(command: str) -> dict[str, click.Option]:
    """Every option of a command by each of its spellings (``-o``, ``--output``)."""
    return {name: p for p in main.commands[command].params if isinstance(p, click.Option) for name in p.opts}


@pytest.mark.parametrize("command", COMMANDS)
def test_what_a_command_writes_is_dash_o_output(command):
    opts = options(command)
    assert "--out" not in opts
    if "-o" in opts:
        assert opts["-o"] is opts.get("--output"), f"{command}: -o must be --output"


@pytest.mark.parametrize("command", COMMANDS)
def test_one_name_for_the_roi_size_with_one_rule(command):
    opts = options(command)
    assert "--size" not in opts
    if "--roi-size" in opts and command == "show-rois":
        assert isinstance(opts["--roi-size"].type, click.IntRange)


@pytest.mark.parametrize("command", ["prepare", "synth", "train", "cv"])
def test_long_work_with_a_progress_bar_has_quiet(command):
    assert options(command)["--quiet"].is_flag
    assert options(command)["-q"] is options(command)["--quiet"]


@pytest.mark.parametrize("command, option", [("prepare", "--landmarks"), ("show-rois", "--landmarks"),
                                             ("build-graph", "--format")])
def test_names_from_a_registry_are_a_choice(command, option):
    assert isinstance(options(command)[option].type, click.Choice)


def test_synth_quiet_and_output(tmp_path):
    out = tmp_path / "s"
    args = ["synth", "--output", str(out), "--subjects", "1", "--frames-per-video", "1", "--image-size", "64"]
    result = CliRunner().invoke(main, args + ["--quiet"])
    assert result.exit_code == 0, result.output
    assert "face/s" not in result.output and "wrote 8 faces" in result.output


@pytest.mark.parametrize("suffix", [".svg", ".txt", ".bmp", ""])
def test_synth_gallery_refuses_what_it_cannot_write(tmp_path, suffix):
    out = tmp_path / f"g{suffix}"
    result = CliRunner().invoke(main, ["synth-gallery", "-o", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"unsupported picture format {suffix or '(none)'!r}" in result.output and ".png" in result.output
    assert not out.exists() and not list(tmp_path.iterdir())
