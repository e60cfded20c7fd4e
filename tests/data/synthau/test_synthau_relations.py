"""SynthAU labels (no rendering): rates, Table 1 agreement, the independent control, determinism."""
import numpy as np
import pytest

from augcn_pyg.core.aus import get_protocol
from augcn_pyg.data.synthau.check import best_threshold, differing_pairs, msym, phi
from augcn_pyg.data.synthau.plan import sample_labels, subject_ids, videos
from augcn_pyg.data.synthau.prototypes import TARGET_RATES
from augcn_pyg.graph.paper import TABLE1

RATE_TOLERANCE = {"bp4d": 0.05, "disfa": 0.04}  # absolute, on 24 subjects x 8 tasks x 60 frames


@pytest.fixture(scope="module")
def realistic():
    return {p: sample_labels(p, "realistic", 24, 60, seed=0)[0] for p in ("bp4d", "disfa")}


def test_graph_rule_by_hand():
    y = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 1]], dtype=float)
    # P(AU2 | AU1) = 2/3, P(AU1 | AU2) = 1, P(AU3 | AU1) = 1/3, P(AU1 | AU3) = 1/2
    assert msym(y)[0, 1] == pytest.approx(2 / 3 + 1)
    assert msym(y)[0, 2] == pytest.approx(1 / 3 + 1 / 2)
    # Msym: (1,2) = 5/3, (1,3) = 5/6, (2,3) = 1/2 + 1/2 = 1
    table = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    assert differing_pairs(msym(y), table, 1.0) == 1  # (2,3) reaches 1.0
    assert differing_pairs(msym(y), table, 1.2) == 0
    assert best_threshold(msym(y), table) == (pytest.approx(1.01), 0)


@pytest.mark.parametrize("protocol", ["bp4d", "disfa"])
def test_rates_near_the_dataset(realistic, protocol):
    y = realistic[protocol]
    aus = get_protocol(protocol).aus
    assert y.shape == (24 * 8 * 60, len(aus))
    target = np.array([TARGET_RATES[protocol][a] for a in aus])
    assert np.abs(y.mean(0) - target).max() <= RATE_TOLERANCE[protocol]


@pytest.mark.parametrize("protocol", ["bp4d", "disfa"])
def test_a_threshold_reproduces_table1(realistic, protocol):
    thr, n = best_threshold(msym(realistic[protocol]), TABLE1[protocol])
    assert n <= 6  # SynthAU's relation target: at most 6 of the 66 (BP4D) / 28 (DISFA) pairs differ
    assert 0.5 <= thr <= 1.5


def test_relation_builder_agrees_with_the_rule(realistic):
    from augcn_pyg.graph import relations

    y = realistic["bp4d"]
    thr, _ = best_threshold(msym(y), TABLE1["bp4d"])
    b = relations.RelationBuilder(protocol="bp4d", threshold=thr).fit(y)
    iu = np.triu_indices(12, 1)
    assert (np.asarray(b.au_adjacency_)[iu] != (TABLE1["bp4d"][iu] > 0)).sum() <= 6


@pytest.mark.parametrize("protocol", ["bp4d", "disfa"])
def test_independent_preset_has_no_dependence_but_pairs_up_frequent_aus(protocol):
    # many short videos: frames of one video are autocorrelated, so keep videos short and inflate the
    # noise bound (phi * sqrt(N) ~ N(0, 1) for independent labels; we allow 4.5 sd with N / 3 effective)
    y = sample_labels(protocol, "independent", 200, 6, seed=1)[0]
    n = len(y)
    bound = 4.5 / np.sqrt(n / 3)
    iu = np.triu_indices(y.shape[1], 1)
    assert np.abs(phi(y)[iu]).max() < bound
    rates = y.mean(0)
    target = np.array([TARGET_RATES[protocol][a] for a in get_protocol(protocol).aus])
    assert np.abs(rates - target).max() < 0.03
    # ...while the paper's P(j|i) still links frequent AUs: Msym ~= r_i + r_j
    expected = rates[:, None] + rates[None, :]
    assert np.abs(msym(y)[iu] - expected[iu]).max() < 0.12
    if protocol == "bp4d":
        i7, i10 = 4, 5  # AU7 (55%) and AU10 (59%): independent, yet Msym > 1
        assert msym(y)[i7, i10] > 1.0 and abs(phi(y)[i7, i10]) < bound


def test_realistic_preset_has_real_dependence(realistic):
    f = phi(realistic["bp4d"])
    assert f[3, 6] > 0.3  # AU6 with AU12 (Duchenne smile)
    assert f[0, 1] > 0.3  # AU1 with AU2


def test_same_seed_same_labels_other_seed_other_labels():
    a = sample_labels("bp4d", "realistic", 3, 10, seed=5)
    b = sample_labels("bp4d", "realistic", 3, 10, seed=5)
    c = sample_labels("bp4d", "realistic", 3, 10, seed=6)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert a[1].min() >= 0 and a[1].max() <= 5
    # a subject's videos do not depend on how many subjects are drawn
    d = sample_labels("bp4d", "realistic", 2, 10, seed=5)
    np.testing.assert_array_equal(a[1][: len(d[1])], d[1])


def test_subject_ids_follow_the_official_folds():
    assert subject_ids("bp4d", 3) == ["F001", "M011", "F007"]
    assert len(set(subject_ids("bp4d", 50))) == 50
    assert subject_ids("disfa", 2) == ["SN002", "SN013"]
    assert [v.name for v in videos("bp4d", 1)] == [f"F001_T{t}" for t in range(1, 9)]
    assert [v.name for v in videos("disfa", 1)] == ["SN002"]
    # the real ids are exactly the fold lists, then made-up ids, as many as asked for
    from augcn_pyg.data.folds import FOLDS

    for protocol, real in (("bp4d", 41), ("disfa", 27)):
        ids = subject_ids(protocol, 3000)
        assert len(set(ids)) == 3000
        assert sorted(ids[:real]) == sorted(s for part in FOLDS[protocol] for s in part)
    assert subject_ids("bp4d", 43)[41:] == ["F024", "M024"] and subject_ids("disfa", 28)[27] == "SN033"
