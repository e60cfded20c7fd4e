"""Oracle bounds from the generator: what a local model and a relation model could reach at best on a SynthAU
set whose local evidence is missing in a known way (``docs/synthau.md``, "Oracle bounds").

They need the labels and the manifest only (no images, no model):

* :func:`read_manifest` -- a dataset's ``Occlusion/*.csv`` (covered fraction of each ROI per frame) and
  ``synthau.json`` (``weak_aus``: the AUs each subject shows weakly), row-aligned to its label frames;
* :func:`local_evidence` -- (N, C) bool: AU c has local evidence in frame n when at least one of its own ROIs
  (the protocol's membership, the whole-face ROI excluded) is covered less than :data:`VISIBLE_BELOW` and
  the subject does not show c weakly;
* :func:`local_oracle` -- per AU, F1 of a model perfect where c has local evidence and guessing elsewhere;
* :func:`relation_oracle` -- per AU, perfect where c has local evidence, and elsewhere a logistic regression
  on the true labels of the AUs that do have local evidence in that frame, fitted on the training subjects;
* :func:`gain_share`, :func:`relation_signal` -- a design's share of the available relation gain and the
  difference in differences against the control (``relations independent``, same occlusion), with a
  corrected-resampled-t interval over paired runs.

Everything is scored on the frames of the test subjects (those not in ``train_subjects``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from augcn_pyg.core.aus import Protocol, get_protocol
from augcn_pyg.core.errors import InputError
from augcn_pyg.data.synthau.occlusion import read_cover

#: an ROI counts as visible when less than this fraction of it is covered
VISIBLE_BELOW = 0.5
#: a weakly shown AU (drawing factor below this) has no local evidence
WEAK_BELOW = 0.5
#: the decision thresholds a threshold is chosen from (0.05, 0.10, ..., 0.95)
THRESHOLDS = np.linspace(0.05, 0.95, 19)


def f1_counts(tp, fp, fn) -> float:
    """F1 from (expected) counts; 0 when there is nothing to find and nothing was said."""
    denom = 2 * tp + fp + fn
    return float(2 * tp / denom) if denom > 0 else 0.0


# --- the manifest ---------------------------------------------------------------------------------

def read_manifest(root, protocol: str | Protocol, subjects, videos, frames) -> tuple[np.ndarray, np.ndarray]:
    """(cover (N, R) float32, weak (N, C) bool) for the N label rows given by ``subjects``, ``videos`` and
    ``frames`` (e.g. a store's columns or a reader's frames) of the SynthAU dataset at ``root``. Frames of a
    video without an ``Occlusion/`` file, or a row the file lacks, read as uncovered (0)."""
    root, protocol = Path(root), get_protocol(protocol)
    subjects, videos, frames = (np.asarray(a) for a in (subjects, videos, frames))
    cover = read_cover(root, protocol, subjects, videos, frames)
    weak = np.zeros((len(frames), protocol.num_aus), dtype=bool)
    meta = root / "synthau.json"
    weak_aus = json.loads(meta.read_text()).get("weak_aus", {}) if meta.exists() else {}
    for subject, gains in weak_aus.items():
        cols = [protocol.aus.index(int(a)) for a, g in gains.items()
                if int(a) in protocol.aus and float(g) < WEAK_BELOW]
        if cols:
            weak[np.ix_(subjects == subject, cols)] = True
    return cover, weak


def local_evidence(cover: np.ndarray, weak: np.ndarray | None, protocol: str | Protocol,
                   visible_below: float = VISIBLE_BELOW) -> np.ndarray:
    """(N, R) covered fractions and (N, C) weak flags -> (N, C) bool: AU c has local evidence in frame n (one
    of its own ROIs, not the whole face, covered less than ``visible_below``, and c not shown weakly).
    A NaN cover (face not aligned) counts as covered."""
    protocol = get_protocol(protocol)
    own = protocol.membership().copy()
    own[protocol.global_index] = False  # (R, C)
    visible_roi = np.nan_to_num(np.asarray(cover, float), nan=1.0) < visible_below  # (N, R)
    out = (visible_roi.astype(np.int64) @ own.astype(np.int64)) > 0  # (N, C): some own ROI visible
    if weak is not None:
        out &= ~np.asarray(weak, bool)
    return out


def missing_share(labels: np.ndarray, visible: np.ndarray) -> float:
    """The share of AU occurrences (label 1) without local evidence."""
    present = np.asarray(labels) == 1
    return float((present & ~np.asarray(visible, bool)).sum() / max(present.sum(), 1))


# --- the oracles ----------------------------------------------------------------------------------

def _split(subjects, train_subjects) -> tuple[np.ndarray, np.ndarray]:
    train = np.isin(np.asarray(subjects), list(train_subjects))
    if not train.any() or train.all():
        raise InputError("the oracles need training subjects and test subjects (got "
                         f"{int(train.sum())} training and {int((~train).sum())} test frames)")
    return train, ~train


def local_oracle(labels, visible, subjects, train_subjects, guess: str = "rate") -> np.ndarray:
    """(C,) F1 per AU on the test subjects of a local model that is right wherever the AU has local evidence.

    Where it has none the model knows nothing about that AU, so it guesses, the same way in every such frame:
    ``guess="rate"`` says "present" with probability r_c, the AU's rate on the training subjects (the F1 of
    the expected counts: TP = TP_vis + r P_hid, FP = r N_hid, FN = (1 - r) P_hid); ``guess="best"`` takes the
    better of always "present" and always "absent" there, chosen on the training subjects (the best a
    constant can do: F1 is linear-fractional in the share said "present", so an end point is best)."""
    y, v = np.asarray(labels, float), np.asarray(visible, bool)
    train, test = _split(subjects, train_subjects)
    out = np.zeros(y.shape[1])
    for c in range(y.shape[1]):
        rate = float(np.nanmean(y[train, c]))
        if guess == "best":
            q = max((0.0, 1.0), key=lambda q: _local_f1(y[train, c], v[train, c], q))
        elif guess == "rate":
            q = rate
        else:
            raise InputError(f"guess must be 'rate' or 'best', got {guess!r}")
        out[c] = _local_f1(y[test, c], v[test, c], q)
    return out


def _local_f1(y: np.ndarray, v: np.ndarray, q: float) -> float:
    known = ~np.isnan(y)
    y, v = y[known], v[known]
    tp_vis = np.sum((y == 1) & v)
    p_hid, n_hid = np.sum((y == 1) & ~v), np.sum((y == 0) & ~v)
    return f1_counts(tp_vis + q * p_hid, q * n_hid, (1 - q) * p_hid)


def relation_features(labels: np.ndarray, visible: np.ndarray, c: int) -> np.ndarray:
    """(N, 2(C-1)): for every other AU j, [y_j if j has local evidence else 0, whether it has]: what a model
    could read from the other AUs' own ROIs if it read them perfectly."""
    y = np.nan_to_num(np.asarray(labels, float), nan=0.0)
    v = np.asarray(visible, bool)
    others = [j for j in range(y.shape[1]) if j != c]
    return np.hstack([y[:, others] * v[:, others], v[:, others].astype(float)])


def relation_oracle(labels, visible, subjects, train_subjects, C: float = 1.0) -> np.ndarray:
    """(C,) F1 per AU on the test subjects of a model that is right wherever the AU has local evidence and
    elsewhere predicts it from the true labels of the AUs with local evidence in that frame
    (:func:`relation_features`) with a scikit-learn ``LogisticRegression`` fitted on the training subjects'
    frames; its decision threshold is the one (of 0.05, 0.10, ..., 0.95) with the best F1 on the training
    subjects (:data:`THRESHOLDS`). Where a training set has one class only, the oracle says that class."""
    y, v = np.asarray(labels, float), np.asarray(visible, bool)
    train, test = _split(subjects, train_subjects)
    out = np.zeros(y.shape[1])
    for c in range(y.shape[1]):
        x = relation_features(y, v, c)
        known = ~np.isnan(y[:, c])
        fit = train & known
        target = y[fit, c].astype(int)
        if np.unique(target).size < 2:
            p = np.full(len(y), float(target[0]) if target.size else 0.0)
        else:
            model = LogisticRegression(C=C, max_iter=1000).fit(x[fit], target)
            p = model.predict_proba(x)[:, 1]
        best = max(THRESHOLDS, key=lambda t: _scored_f1(y[fit, c], v[fit, c], p[fit] >= t))
        keep = test & known
        out[c] = _scored_f1(y[keep, c], v[keep, c], p[keep] >= best)
    return out


def _scored_f1(y: np.ndarray, v: np.ndarray, said: np.ndarray) -> float:
    pred = np.where(v, y == 1, said)
    truth = y == 1
    return f1_counts(np.sum(pred & truth), np.sum(pred & ~truth), np.sum(~pred & truth))


# --- shares and the difference in differences -----------------------------------------------------

def gain_share(f1, local, relation):
    """(F1 - local) / (relation - local): a design's share of the relation gain the generator makes available
    (NaN where nothing is available). Any shapes that broadcast; F1 values on one scale (0-1 or 0-100)."""
    f1, local, relation = (np.asarray(a, float) for a in (f1, local, relation))
    room = relation - local
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(room > 0, (f1 - local) / np.where(room > 0, room, 1.0), np.nan)


def corrected_interval(diffs, test_train_ratio: float = 0.0, confidence: float = 0.95) -> dict:
    """Mean and interval of J paired differences: the Nadeau-Bengio corrected resampled t
    (variance (1/J + n_test/n_train) s², J - 1 degrees of freedom); ``test_train_ratio`` = 0 gives the plain
    paired t. NaN bounds with fewer than two differences."""
    d = np.asarray(diffs, float)
    d = d[~np.isnan(d)]
    J = len(d)
    mean = float(d.mean()) if J else float("nan")
    if J < 2:
        return {"mean": mean, "low": float("nan"), "high": float("nan"), "n": J}
    from scipy import stats

    se = np.sqrt((1 / J + test_train_ratio) * d.var(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, J - 1) * se)
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": J}


def relation_signal(design, local, design_control, local_control, relation=None, relation_control=None,
                    test_train_ratio: float = 0.0, confidence: float = 0.95, local_oracle=None,
                    local_oracle_control=None) -> dict:
    """The relation signal of paired runs (one value per run, the same runs on the preset and on its
    control): the difference in differences (design - local) - (design_control - local_control), with its
    interval; and, given the relation oracles, the corrected share of the available relation gain,
    ((design - local) - (design_c - local_c)) / ((relation - local) - (relation_c - local_c)): overlap between
    ROIs lets a non-local model gain on the control too, and that part is not relational.

    That share measures its room from the local *model*, so the room also holds the local model's perception
    gap to the oracles on each store; where those gaps nearly cancel the room is small and noisy, and the share's
    mean over runs is unstable. Given the local oracles too, ``share_of_oracle_gap`` divides by the oracles' own
    difference in differences instead, ((relation - local oracle) - (relation_c - local oracle_c)): what
    relations can add at best on the preset beyond the control, perception held perfect."""
    design, local, design_control, local_control = (np.asarray(a, float) for a in
                                                    (design, local, design_control, local_control))
    did = (design - local) - (design_control - local_control)
    out = {"did": corrected_interval(did, test_train_ratio, confidence)}

    def share_of(room):
        with np.errstate(divide="ignore", invalid="ignore"):
            return corrected_interval(np.where(room > 0, did / np.where(room > 0, room, 1.0), np.nan),
                                      test_train_ratio, confidence)

    if relation is not None and relation_control is not None:
        relation, relation_control = np.asarray(relation, float), np.asarray(relation_control, float)
        out["share"] = share_of((relation - local) - (relation_control - local_control))
        if local_oracle is not None and local_oracle_control is not None:
            out["share_of_oracle_gap"] = share_of((relation - np.asarray(local_oracle, float))
                                                  - (relation_control - np.asarray(local_oracle_control, float)))
    return out


def oracle_report(labels, visible, subjects, train_subjects, guess: str = "rate") -> dict:
    """Per AU and averaged: the local and relation oracles' F1 (0-1) and the share of occurrences without
    local evidence on the test subjects."""
    _, test = _split(subjects, train_subjects)
    loc = local_oracle(labels, visible, subjects, train_subjects, guess)
    rel = relation_oracle(labels, visible, subjects, train_subjects)
    return {"local": loc, "relation": rel, "local_mean": float(loc.mean()), "relation_mean": float(rel.mean()),
            "missing_share": missing_share(np.asarray(labels)[test], np.asarray(visible)[test])}
