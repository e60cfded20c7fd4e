"""The package's import rules (docs/architecture.md): folders by job, dependencies that point down only.

import-linter checks the layer contract in setup.cfg; the rules it has no contract type for (no cycles,
no imports of another module's private names, package imports at module level) are checked here from
the import graph grimp builds (import-linter's own graph library) and from the source's syntax tree.
"""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "augcn_pyg"
#: optional or slow-to-import third-party packages that may be imported inside the functions that use them
#: (start-up time of `augcn-pyg --help` and of the modules that do not need them; see docs/architecture.md)
LAZY_IMPORTS = {"cv2", "matplotlib", "onnx", "onnxruntime", "insightface", "dlib", "scipy", "pandas", "pyarrow",
                "tensorboard", "torch.utils.tensorboard"}


def lazy(module: str) -> bool:
    """Whether ``module`` is one of LAZY_IMPORTS or inside one (a dotted name counts with its submodules)."""
    return any(module == name or module.startswith(f"{name}.") for name in LAZY_IMPORTS)


def lint_imports(cwd: Path, env=None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--config", str(cwd / "setup.cfg"), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True)


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("importer, imported", [
    ("core/errors.py", "augcn_pyg.engine.runs"),   # core up to engine
    ("nn/model.py", "augcn_pyg.data.store"),        # nn sideways into data
    ("engine/trainer.py", "augcn_pyg.cli"),         # anything into the CLI
])
def test_an_upward_import_breaks_the_contracts(tmp_path, importer, imported):
    copy = tmp_path / "tree"
    shutil.copytree(PACKAGE, copy / "augcn_pyg", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "setup.cfg", copy / "setup.cfg")
    target = copy / "augcn_pyg" / importer
    target.write_text(target.read_text() + f"\nimport {imported}  # noqa: E402,F401\n")
    result = lint_imports(copy, env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stdout[-2000:]
    assert "BROKEN" in result.stdout
    module = "augcn_pyg." + importer[:-3].replace("/", ".")
    assert module in result.stdout  # the report names the offending import


def test_no_import_cycles():
    graph = grimp.build_graph("augcn_pyg")
    edges = nx.DiGraph((m, t) for m in graph.modules for t in graph.find_modules_directly_imported_by(m))
    cycles = list(nx.simple_cycles(edges))
    assert cycles == [], f"{len(cycles)} import cycles, e.g. {' -> '.join(min(cycles, key=len))}"


def test_no_module_imports_another_modules_private_names():
    offences = []
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("augcn_pyg"):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                offences += [f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{n}" for n in private]
    assert offences == []


def test_no_module_calls_another_modules_private_methods():
    """``obj._name`` outside ``self``/``cls`` only for names the package does not define (torch's and PyG's
    own internals): a method one module calls on another's objects is part of that class's public API."""
    trees = list(modules())
    private = {fn.name for _, tree in trees for fn in ast.walk(tree)
               if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name.startswith("_")
               and not fn.name.startswith("__")} - set(dir(torch.nn.Module()))  # torch's own, and overrides of them
    offences = []
    for path, tree in trees:
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr in private
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert offences == []


def test_package_imports_sit_at_module_level():
    """Imports inside functions only for the optional or slow third-party packages of LAZY_IMPORTS."""
    offences = []
    for path, tree in modules():
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                else:
                    continue
                names = [n for n in names if not lazy(n)]
                offences += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names]
    assert offences == []


def test_the_architecture_picture_matches_the_code():
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "architecture_graph.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
