"""The ROI-graph rules: which ROI pairs each rule joins, and the ROI graph's edges from an AU graph.

The paper (§3.4) joins ROIs: (1) self-loops, (2) left/right (upper/lower) partners, (3) every ROI of AU *i*
to every ROI of AU *j* when :math:`M^{bool}_{ij} = 1`, (4) the global ROI to every node. Beyond the paper:
a ``negative`` rule (pairs that almost never co-occur).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from augcn_pyg.core.aus import Protocol
from augcn_pyg.core.errors import InputError

#: ROI-graph rules in precedence order: an edge made by several rules carries the first one's type.
RULES: tuple[str, ...] = ("self", "symmetric", "global", "cooccurrence", "negative")
PAPER_RULES: tuple[str, ...] = ("self", "symmetric", "cooccurrence", "global")


def rule_edges(protocol: Protocol, rule: str, au_adjacency: np.ndarray | None = None,
               au_negative: np.ndarray | None = None) -> np.ndarray:
    """(R, R) bool: the directed ROI pairs that one rule joins (both directions, as PyG expects)."""
    p = protocol
    R = p.num_rois
    g = p.global_index
    local = np.ones(R, dtype=bool)
    local[g] = False
    mask = np.zeros((R, R), dtype=bool)
    if rule == "self":
        np.fill_diagonal(mask, True)
    elif rule == "symmetric":
        partner = np.array([r.partner for r in p.rois])
        mask[np.arange(R), partner] = True
        np.fill_diagonal(mask, False)
    elif rule == "global":
        mask[g, local] = True
        mask[local, g] = True
    elif rule in ("cooccurrence", "negative"):
        au_mask = au_adjacency if rule == "cooccurrence" else au_negative
        if au_mask is None:
            return mask
        member = p.membership().astype(np.int64)  # (R, C)
        member[g] = 0  # the global ROI is joined by its own rule
        # ROI u ~ ROI v when some AU of u is related to some AU of v: (R, C) (C, C) (C, R)
        mask = (member @ np.asarray(au_mask, dtype=np.int64) @ member.T) > 0
        np.fill_diagonal(mask, False)  # self-loops are the `self` rule's job
    else:
        raise InputError(f"unknown rule {rule!r}; choose from {', '.join(RULES)}")
    return mask


def parse_rules(rules: str | Sequence[str]) -> tuple[str, ...]:
    """``"self,global"`` or a sequence -> a tuple in precedence order; unknown names are an error."""
    names = [r.strip() for r in (rules.split(",") if isinstance(rules, str) else rules) if r.strip()]
    unknown = [r for r in names if r not in RULES]
    if unknown:
        raise InputError(f"unknown rule(s) {', '.join(unknown)}; choose from {', '.join(RULES)}")
    return tuple(r for r in RULES if r in names)


def roi_edges(protocol: Protocol, rules: Sequence[str], au_adjacency: np.ndarray,
              au_score: np.ndarray | None = None, au_negative: np.ndarray | None = None):
    """Build the ROI graph's edges.

    Returns ``edge_index`` (2, E) int64, ``edge_type`` (E,) int64 (index into :data:`RULES`),
    ``edge_weight`` (E,) float32 (the largest AU-pair score for co-occurrence edges, 1 otherwise),
    sorted by (source, target). An ROI pair joined by several rules takes the first rule's type.
    """
    p = protocol
    R = p.num_rois
    rule_of = np.full((R, R), -1, dtype=np.int64)
    for rule in parse_rules(rules):
        mask = rule_edges(p, rule, au_adjacency, au_negative) & (rule_of < 0)
        rule_of[mask] = RULES.index(rule)
    src, dst = np.nonzero(rule_of >= 0)  # row-major: sorted by (source, target)
    edge_type = rule_of[src, dst]
    weight = np.ones(len(src), dtype=np.float32)
    co = edge_type == RULES.index("cooccurrence")
    if au_score is not None and co.any():
        member = p.membership()  # (R, C)
        related = np.where(np.asarray(au_adjacency, dtype=bool), au_score, -np.inf)  # (C, C)
        # ROI pair (u, v): the largest score over AU pairs (i of u, j of v) that are related
        pairs = member[:, None, :, None] & member[None, :, None, :]  # (R, R, C, C)
        roi_score = np.where(pairs, related, -np.inf).max(axis=(2, 3))  # (R, R)
        weight[co] = roi_score[src[co], dst[co]]
    return np.stack([src, dst]).astype(np.int64), edge_type, weight
