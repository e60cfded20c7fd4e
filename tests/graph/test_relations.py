import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augcn_pyg.core.aus import BP4D, DISFA
from augcn_pyg.core.errors import InputError
from augcn_pyg.graph.relations import (
    DEFAULT_THRESHOLDS,
    MEASURES,
    PAPER_RULES,
    RULES,
    SYMMETRIZE,
    RelationBuilder,
    RelationGraph,
    RelationWarning,
    default_threshold,
    graph_from_adjacency,
    independence_score,
    pair_counts,
    paper_graph,
    roi_edges,
    rule_edges,
    score_range,
    symmetric_score,
)

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"
NAN = np.nan


def brute_force_counts(labels):
    """Reference: count every pair frame by frame, skipping frames where either label is unknown."""
    labels = np.asarray(labels, dtype=float)
    C = labels.shape[1]
    n11, n1x, n = (np.zeros((C, C)) for _ in range(3))
    for row in labels:
        for i, j in itertools.product(range(C), repeat=2):
            if np.isnan(row[i]) or np.isnan(row[j]):
                continue
            n[i, j] += 1
            n1x[i, j] += row[i] == 1
            n11[i, j] += (row[i] == 1) and (row[j] == 1)
    return n11, n1x, n


def disfa_labels(*columns):
    """An (N, 8) DISFA label matrix from a few columns (the rest present in every frame)."""
    cols = [np.asarray(c, dtype=float) for c in columns]
    n = len(cols[0])
    rest = [np.ones(n) for _ in range(DISFA.num_aus - len(cols))]
    return np.stack(cols + rest, axis=1)


# --- counts and measures ---------------------------------------------------------------------------

def test_pair_counts_match_brute_force_with_unknowns():
    rng = np.random.default_rng(0)
    labels = (rng.random((40, 5)) < 0.4).astype(float)
    labels[rng.random((40, 5)) < 0.2] = NAN
    labels[3, 1] = 9  # BP4D's unknown code
    labels[5, 2] = -1
    c = pair_counts(labels)
    ref_labels = np.where((labels == 9) | (labels == -1), NAN, labels)
    n11, n1x, n = brute_force_counts(ref_labels)
    np.testing.assert_array_equal(c.n11, n11)
    np.testing.assert_array_equal(c.n1x, n1x)
    np.testing.assert_array_equal(c.n, n)


def test_conditional_hand_computed():
    # AU1 present in frames 0,1,2; AU2 in 0,1 and 3: P(2|1) = 2/3, P(1|2) = 2/3; AU4 with AU1 once.
    au1 = [1, 1, 1, 0]
    au2 = [1, 1, 0, 1]
    au4 = [0, 0, 1, 0]
    builder = RelationBuilder("disfa", threshold=1.0).fit(disfa_labels(au1, au2, au4))
    M = builder.conditional_
    assert M[0, 1] == pytest.approx(2 / 3) and M[1, 0] == pytest.approx(2 / 3)
    assert M[0, 2] == pytest.approx(1 / 3) and M[2, 0] == pytest.approx(1.0)
    assert builder.score_[0, 1] == pytest.approx(4 / 3)  # Msym = M + M^T
    assert builder.score_[0, 2] == pytest.approx(4 / 3)
    assert builder.score_[1, 2] == pytest.approx(0.0 + 0.0)
    # threshold 1.0: AU1-AU2 and AU1-AU4 related, AU2-AU4 not
    adj = builder.au_adjacency_
    assert adj[0, 1] and adj[0, 2] and not adj[1, 2]
    np.testing.assert_array_equal(np.diag(adj), True)
    np.testing.assert_allclose(builder.rates_[:3], [3 / 4, 3 / 4, 1 / 4])


def test_unknown_is_left_out_not_counted_as_absent():
    # frame 3 has AU2 unknown: P(2|1) = 2/2 over the frames where both are known, not 2/3
    au1 = [1, 1, 0, 1]
    au2 = [1, 1, 0, NAN]
    M = RelationBuilder("disfa", threshold=1.0).fit(disfa_labels(au1, au2)).conditional_
    assert M[0, 1] == pytest.approx(1.0)
    assert M[1, 0] == pytest.approx(1.0)


def test_lift_and_phi_closed_forms():
    rng = np.random.default_rng(1)
    labels = (rng.random((500, 4)) < [0.2, 0.5, 0.7, 0.4]).astype(float)
    labels[:, 3] = np.maximum(labels[:, 3], labels[:, 0])  # AU 3 follows AU 0
    c = pair_counts(labels)
    # phi on complete binary data is Pearson's correlation
    np.testing.assert_allclose(MEASURES["phi"].fn(c), np.corrcoef(labels.T), atol=1e-12)
    p = labels.mean(0)
    p_joint = labels.T @ labels / len(labels)
    np.testing.assert_allclose(MEASURES["lift"].fn(c), p_joint / np.outer(p, p), rtol=1e-12)
    np.testing.assert_allclose(MEASURES["pmi"].fn(c), np.log(p_joint / np.outer(p, p)), rtol=1e-12)


def test_independence_score_is_sum_of_rates_for_the_paper_measure():
    rates = np.array([0.2, 0.5, 0.9])
    np.testing.assert_allclose(independence_score("conditional", "sum", rates), rates[:, None] + rates[None, :])
    np.testing.assert_allclose(independence_score("conditional", "max", rates),
                               np.maximum(rates[:, None], rates[None, :]))
    np.testing.assert_array_equal(independence_score("phi", "sum", rates), 0.0)
    np.testing.assert_array_equal(independence_score("lift", "sum", rates), 1.0)


def test_frequent_independent_aus_look_related_under_p_j_given_i_but_not_under_phi():
    rng = np.random.default_rng(2)
    labels = (rng.random((20000, DISFA.num_aus)) < 0.6).astype(float)  # independent, frequent
    paper = RelationBuilder("disfa", threshold=1.0).fit(labels)
    off = ~np.eye(DISFA.num_aus, dtype=bool)
    assert paper.au_adjacency_[off].all()  # Msym ~ 0.6 + 0.6 = 1.2 >= 1.0 for every pair
    explained = paper.graph_.explained_by_independence()
    assert explained[off].all()
    corrected = RelationBuilder("disfa", threshold=0.1, measure="phi").fit(labels)
    assert not corrected.au_adjacency_[off].any()


def test_never_occurring_au_warns_and_gets_no_edges():
    labels = np.ones((10, DISFA.num_aus))
    labels[:, 4] = 0  # AU9 never occurs
    with pytest.warns(RelationWarning, match="AU9"):
        builder = RelationBuilder("disfa", threshold=0.5).fit(labels)
    assert not builder.au_adjacency_[4].any() and not builder.au_adjacency_[:, 4].any()
    nose = DISFA.roi_names.index("nose")
    g = builder.graph_
    co = g.edge_type == RULES.index("cooccurrence")
    assert nose not in g.edge_index[:, co]


@pytest.mark.parametrize("kwargs, message", [
    ({"threshold": 2.5}, "outside the range"),
    ({"threshold": -0.1}, "outside the range"),
    ({"threshold": 1.5, "symmetrize": "mean"}, r"\[0, 1\]"),
    ({"threshold": 1.5, "measure": "phi"}, r"\[-1, 1\]"),
    ({"measure": "mutual-info"}, "unknown measure"),
    ({"rules": "self,neighbours"}, "unknown rule"),
    ({"protocol": "ck+"}, "unknown protocol"),
])
def test_bad_parameters_are_input_errors(kwargs, message):
    with pytest.raises(InputError, match=message):
        RelationBuilder(**{"protocol": "disfa", **kwargs}).fit(np.ones((3, DISFA.num_aus)))


@pytest.mark.parametrize("labels, message", [
    (np.ones((0, 8)), "empty"),
    (np.ones((4, 5)), "needs"),
    (np.full((4, 8), 2.0), "1, 0 or unknown"),
])
def test_bad_labels_are_input_errors(labels, message):
    with pytest.raises(InputError, match=message):
        RelationBuilder("disfa").fit(labels)


# --- property tests --------------------------------------------------------------------------------

label_matrices = st.integers(min_value=1, max_value=30).flatmap(
    lambda n: st.lists(st.lists(st.sampled_from([0.0, 1.0, NAN]), min_size=8, max_size=8), min_size=n, max_size=n)
).map(lambda rows: np.array(rows, dtype=float))


@settings(max_examples=60, deadline=None)
@given(labels=label_matrices, measure=st.sampled_from(sorted(MEASURES)),
       symmetrize=st.sampled_from(["sum", "mean", "max", "min"]))
def test_score_is_symmetric(labels, measure, symmetrize):
    score = symmetric_score(measure, symmetrize, pair_counts(labels))
    np.testing.assert_array_equal(score, score.T)


@settings(max_examples=60, deadline=None)
@given(labels=label_matrices, t1=st.floats(0, 2), t2=st.floats(0, 2))
def test_higher_threshold_never_adds_an_edge(labels, t1, t2):
    low, high = sorted((t1, t2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RelationWarning)
        g_low = RelationBuilder("disfa", threshold=low).fit(labels)
        g_high = RelationBuilder("disfa", threshold=high).fit(labels)
    assert not (g_high.au_adjacency_ & ~g_low.au_adjacency_).any()
    edges_low = set(map(tuple, g_low.graph_.edge_index.T.tolist()))
    edges_high = set(map(tuple, g_high.graph_.edge_index.T.tolist()))
    assert edges_high <= edges_low


@settings(max_examples=60, deadline=None)
@given(labels=label_matrices, column=st.integers(0, 7), fill=st.sampled_from([0.0, 1.0]))
def test_unknown_labels_never_change_counts_of_known_pairs(labels, column, fill):
    filled = labels.copy()
    filled[np.isnan(filled[:, column]), column] = fill
    a, b = pair_counts(labels), pair_counts(filled)
    others = np.array([c for c in range(8) if c != column])
    for attr in ("n11", "n1x", "n"):
        np.testing.assert_array_equal(getattr(a, attr)[np.ix_(others, others)], getattr(b, attr)[np.ix_(others, others)])


def _edge_set(graph):
    return {(s, t, RULES[k]) for (s, t), k in zip(graph.edge_index.T.tolist(), graph.edge_type.tolist())}


def _pairs(graph):
    return set(map(tuple, graph.edge_index.T.tolist()))


@settings(max_examples=40, deadline=None)
@given(adjacency=st.lists(st.booleans(), min_size=66, max_size=66), dropped=st.sampled_from(RULES))
def test_rules_toggle_exactly_their_edges(adjacency, dropped):
    upper = np.zeros((12, 12), dtype=bool)
    upper[np.triu_indices(12, 1)] = adjacency
    adj = upper | upper.T | np.eye(12, dtype=bool)
    negative = ~adj
    full = roi_edges(BP4D, RULES, adj, au_negative=negative)
    without = roi_edges(BP4D, [r for r in RULES if r != dropped], adj, au_negative=negative)
    alone = {r: set(zip(*np.nonzero(rule_edges(BP4D, r, adj, negative)))) for r in RULES}
    pairs = lambda e: set(zip(e[0][0].tolist(), e[0][1].tolist()))  # noqa: E731
    assert pairs(full) == set().union(*alone.values())
    assert pairs(without) == set().union(*(alone[r] for r in RULES if r != dropped))
    # edges typed `dropped` come from that rule; the ones that disappear without it were typed so
    typed = {(s, t) for (s, t), k in zip(full[0].T.tolist(), full[1].tolist()) if RULES[k] == dropped}
    assert pairs(full) - pairs(without) <= typed <= alone[dropped]


def test_single_rules_on_bp4d():
    adj = np.eye(12, dtype=bool)
    R = BP4D.num_rois
    count = lambda rule: len(roi_edges(BP4D, [rule], adj)[1])  # noqa: E731
    assert count("self") == R
    assert count("symmetric") == 2 * 9  # 9 left/right or upper/lower pairs, both directions
    assert count("global") == 2 * (R - 1)
    # with only the diagonal, co-occurrence joins the ROIs that share an AU: the 9 pairs again
    assert count("cooccurrence") == 2 * 9


# --- the paper's Table 1 ---------------------------------------------------------------------------

# Table 1 of the paper, transcribed independently of augcn_pyg/graph/paper.py (rows in the AU order).
TABLE1_ROWS = {
    "bp4d": ["110001000000", "110001100000", "001010000000", "000111111100", "001111111110",
             "110111111110", "010111111110", "000111111111", "000111111100", "000111111111",
             "000011110110", "000000010101"],
    "disfa": ["11000000", "11000000", "00101000", "00010110", "00101000", "00010110", "00010111", "00000011"],
}


@pytest.mark.parametrize("protocol, rois", [("bp4d", 19), ("disfa", 14)])
def test_graph_files_equal_code_and_table1(protocol, rois):
    doc = json.loads((GRAPHS / f"{protocol}_table1.json").read_text())
    assert doc == json.loads(json.dumps(paper_graph(protocol).to_dict()))
    expected = np.array([[int(ch) for ch in row] for row in TABLE1_ROWS[protocol]])
    np.testing.assert_array_equal(np.array(doc["au_adjacency"]), expected)
    assert len(doc["rois"]) == rois
    for key in ("protocol", "aus", "au_adjacency", "rois", "edge_index", "edge_type", "edge_weight",
                "threshold", "source"):
        assert key in doc
    assert len(doc["edge_index"][0]) == len(doc["edge_type"]) == len(doc["edge_weight"])


def test_table1_roi_graph_follows_the_four_rules():
    g = paper_graph("bp4d")
    names = BP4D.roi_names
    pairs = _pairs(g)
    idx = names.index
    assert (idx("inner_brow_left"), idx("inner_brow_left")) in pairs  # self
    assert (idx("lid_left"), idx("lid_right")) in pairs  # symmetric
    assert (idx("lips_upper"), idx("lips_lower")) in pairs  # upper/lower lip partners
    assert (idx("inner_brow_left"), idx("upper_lip_right")) in pairs  # AU1-AU10 in Table 1
    assert (idx("inner_brow_left"), idx("lid_left")) not in pairs  # AU1-AU7 not in Table 1
    assert (idx("lip_corner_left"), idx("lips_upper")) in pairs  # AU12-AU23
    assert (idx("brow_lowerer_left"), idx("cheek_left")) not in pairs  # AU4-AU6 not
    glob = BP4D.global_index
    assert all((glob, r) in pairs and (r, glob) in pairs for r in range(BP4D.num_rois))
    # undirected: every edge listed in both directions, with the same type and weight
    typed = {(s, t): (k, w) for (s, t), k, w in zip(g.edge_index.T.tolist(), g.edge_type, g.edge_weight)}
    assert all(typed[(t, s)] == v for (s, t), v in typed.items())


# --- the graph object ------------------------------------------------------------------------------

def test_fitted_graph_round_trips_through_json(tmp_path):
    rng = np.random.default_rng(3)
    labels = (rng.random((200, 12)) < 0.4).astype(float)
    graph = RelationBuilder("bp4d", threshold=0.8, rules=list(RULES)).fit(labels).graph_
    graph.save(tmp_path / "g.json")
    loaded = RelationGraph.load(tmp_path / "g.json")
    np.testing.assert_array_equal(loaded.edge_index, graph.edge_index)
    np.testing.assert_array_equal(loaded.edge_type, graph.edge_type)
    np.testing.assert_allclose(loaded.edge_weight, graph.edge_weight, atol=1e-6)
    np.testing.assert_allclose(loaded.stats["score"], graph.stats["score"], atol=1e-6)
    assert loaded.to_dict() == json.loads(json.dumps(graph.to_dict()))
    co = graph.edge_type == RULES.index("cooccurrence")
    assert (graph.edge_weight[co] >= 0.8).all() and (graph.edge_weight[~co] == 1).all()


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a JSON graph file"),
    ('{"nodes": []}', "not an augcn-pyg relation graph"),
    ('{"format": "augcn-pyg/relation-graph", "format_version": 99}', "version 99"),
    ('{"format": "augcn-pyg/relation-graph", "format_version": 1, "protocol": "bp4d"}', "malformed"),
])
def test_foreign_graph_files_are_refused(tmp_path, content, message):
    path = tmp_path / "g.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        RelationGraph.load(path)
    assert str(path) in str(err.value)


def test_conversions():
    g = paper_graph("disfa")
    data = g.to_data()
    assert data.num_nodes == 14 and data.edge_index.shape == (2, g.num_edges)
    assert data.edge_type.dtype.is_floating_point is False
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == 14
    assert nxg.number_of_edges() == len({tuple(sorted(e)) for e in g.edge_index.T.tolist()})
    au = g.to_networkx(level="au")
    assert sorted(au.nodes) == list(DISFA.aus) and au.number_of_edges() == 6
    adj = g.dense_adjacency()
    np.testing.assert_array_equal(adj, adj.T)


def test_graph_from_adjacency_checks_shape():
    with pytest.raises(InputError, match="needs"):
        graph_from_adjacency("bp4d", np.eye(8))
    assert PAPER_RULES == ("self", "symmetric", "cooccurrence", "global")


def test_cooccurrence_weight_is_the_largest_score_over_the_au_pairs_behind_the_edge():
    aus = list(BP4D.aus)
    adj = np.eye(12, dtype=bool)
    score = np.full((12, 12), 0.3)
    for a, b, s in ((1, 12, 1.1), (1, 14, 1.5), (1, 15, 0.2)):  # AU15 scores low and is not related
        i, j = aus.index(a), aus.index(b)
        score[i, j] = score[j, i] = s
        adj[i, j] = adj[j, i] = s >= 1.0
    edge_index, edge_type, weight = roi_edges(BP4D, ["cooccurrence"], adj, score)
    names = BP4D.roi_names
    lookup = {(s, t): w for (s, t), w in zip(edge_index.T.tolist(), weight.tolist())}
    u, v = names.index("inner_brow_left"), names.index("lip_corner_right")  # AU1 ~ AU12/14/15
    assert lookup[(u, v)] == pytest.approx(1.5) and lookup[(v, u)] == pytest.approx(1.5)
    # same-AU edges (diagonal of Mbool) carry the AU's own score
    assert lookup[(names.index("lid_left"), names.index("lid_right"))] == pytest.approx(0.3)


# --- the default threshold -------------------------------------------------------------------------

@pytest.mark.parametrize("measure", list(MEASURES))
@pytest.mark.parametrize("symmetrize", list(SYMMETRIZE))
def test_default_threshold_is_used_and_lies_in_the_measure_range(measure, symmetrize):
    low, high = score_range(measure, symmetrize)
    t = default_threshold(measure, symmetrize)
    assert low < t < high and t == pytest.approx(DEFAULT_THRESHOLDS[measure] * (
        SYMMETRIZE[symmetrize][1] / 2 if MEASURES[measure].directed else 1))
    labels = np.random.default_rng(0).integers(0, 2, (50, DISFA.num_aus))
    fitted = RelationBuilder("disfa", measure=measure, symmetrize=symmetrize).fit(labels)
    explicit = RelationBuilder("disfa", threshold=t, measure=measure, symmetrize=symmetrize).fit(labels)
    assert fitted.threshold_ == fitted.graph_.threshold == t
    np.testing.assert_array_equal(fitted.graph_.edge_index, explicit.graph_.edge_index)


def test_default_graph_on_synthau_bp4d_is_table1():
    """SynthAU-BP4D's relations follow Table 1: the default builder (the one training uses) gives it back."""
    from augcn_pyg.data.synthau import sample_labels

    labels = sample_labels("bp4d", "realistic", 24, 60, seed=0)[0]
    graph = RelationBuilder("bp4d").fit(labels).graph_
    table1 = paper_graph("bp4d")
    np.testing.assert_array_equal(graph.au_adjacency, table1.au_adjacency)
    np.testing.assert_array_equal(graph.edge_index, table1.edge_index)
    assert graph.num_edges == 225


def test_default_threshold_of_an_unknown_measure_is_an_input_error():
    with pytest.raises(InputError, match="unknown measure"):
        default_threshold("mutual-info")
