"""The folder-level import graph of augcn_pyg as a Mermaid diagram, written into docs/architecture.md
between its ``<!-- imports:begin -->`` and ``<!-- imports:end -->`` markers.

    python docs/architecture_graph.py           # rewrite the diagram from the code's imports
    python docs/architecture_graph.py --check   # exit 1 if the committed diagram differs (run by the tests)
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import grimp

DOC = Path(__file__).with_name("architecture.md")
BEGIN, END = "<!-- imports:begin -->", "<!-- imports:end -->"
#: the layers, top first (setup.cfg's import-linter contract); folders on one line are independent
LAYERS = [["cli"], ["inference", "viz"], ["engine"], ["data", "nn"], ["face", "graph"], ["landmarks"], ["core"]]


def folder(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and any(parts[1] in layer for layer in LAYERS) else None


def diagram() -> str:
    graph = grimp.build_graph("augcn_pyg")
    counts: Counter = Counter()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            a, b = folder(importer), folder(imported)
            if a and b and a != b:
                counts[a, b] += 1
    modules = Counter(folder(m) for m in graph.modules if folder(m))
    lines = ["```mermaid", "flowchart TD"]
    for layer in LAYERS:
        for name in layer:
            lines.append(f"    {name}[\"{name}/ ({modules[name]} modules)\"]")
    for (a, b), n in sorted(counts.items()):
        lines.append(f"    {a} -->|{n}| {b}")
    lines.append("```")
    return "\n".join(lines)


def render(text: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{diagram()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    new = render(text)
    if "--check" in argv:
        if new != text:
            print(f"{DOC} is out of date: run `python docs/architecture_graph.py`")
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
