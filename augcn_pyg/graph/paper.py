"""Numbers transcribed from the AU-GCN paper (Liu et al., "Relation Modeling with Graph Convolutional
Networks for Facial Action Unit Detection"), Table 1: the AU connection matrices ``Mbool``.

Rows and columns follow each protocol's AU order (:mod:`augcn_pyg.core.aus`). The paper does not state the
threshold it used.
"""
from __future__ import annotations

import numpy as np

_BP4D = """
1 1 0 0 0 1 0 0 0 0 0 0
1 1 0 0 0 1 1 0 0 0 0 0
0 0 1 0 1 0 0 0 0 0 0 0
0 0 0 1 1 1 1 1 1 1 0 0
0 0 1 1 1 1 1 1 1 1 1 0
1 1 0 1 1 1 1 1 1 1 1 0
0 1 0 1 1 1 1 1 1 1 1 0
0 0 0 1 1 1 1 1 1 1 1 1
0 0 0 1 1 1 1 1 1 1 0 0
0 0 0 1 1 1 1 1 1 1 1 1
0 0 0 0 1 1 1 1 0 1 1 0
0 0 0 0 0 0 0 1 0 1 0 1
"""

_DISFA = """
1 1 0 0 0 0 0 0
1 1 0 0 0 0 0 0
0 0 1 0 1 0 0 0
0 0 0 1 0 1 1 0
0 0 1 0 1 0 0 0
0 0 0 1 0 1 1 0
0 0 0 1 0 1 1 1
0 0 0 0 0 0 1 1
"""


def _parse(text: str) -> np.ndarray:
    return np.array([[int(v) for v in line.split()] for line in text.strip().splitlines()], dtype=np.int8)


#: protocol name -> (C, C) int8 Mbool of the paper's Table 1
TABLE1: dict[str, np.ndarray] = {"bp4d": _parse(_BP4D), "disfa": _parse(_DISFA)}
