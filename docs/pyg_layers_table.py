"""The table of every PyG convolution and whether it trains here, written into docs/relation-layers.md
between its ``<!-- pyg-layers:begin -->`` and ``<!-- pyg-layers:end -->`` markers.

    python docs/pyg_layers_table.py           # rewrite the table from a fresh probe of every class
    python docs/pyg_layers_table.py --check   # exit 1 if the committed table differs

The table is ``augcn-pyg layers --all --markdown``: each class built on the paper's BP4D graph through the
adapter, one forward and backward pass (``augcn_pyg.nn.layers.pyg.probe``). tests/nn/test_pyg_layers.py
checks that the committed table is the generated one.
"""
from __future__ import annotations

import sys
from pathlib import Path

from augcn_pyg.nn.layers import layer_rows
from augcn_pyg.nn.layers.listing import DOC_BEGIN, DOC_END, markdown

DOC = Path(__file__).with_name("relation-layers.md")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = DOC.read_text()
    start, end = text.index(DOC_BEGIN) + len(DOC_BEGIN), text.index(DOC_END)
    new = f"{text[:start]}\n{markdown(layer_rows())}{text[end:]}"
    if "--check" in argv:
        if new != text:
            print(f"{DOC} has a stale PyG table: run python docs/pyg_layers_table.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    print(f"wrote the PyG table into {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
