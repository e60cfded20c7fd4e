"""Every module of the benchmarks package imports (from the repository root, without sys.path tricks) and
every script exposes ``main``; the scripts' --quick forms run in the other tests of this folder."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
MODULES = sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", MODULES)
def test_the_module_imports(name):
    module = importlib.import_module(f"benchmarks.{name}")
    source = (BENCHMARKS / f"{name}.py").read_text()
    if 'if __name__ == "__main__":' in source:  # a script: `python -m benchmarks.NAME`
        assert callable(getattr(module, "main", None)), f"benchmarks/{name}.py runs as a script but has no main()"
    assert "sys.path" not in source
