"""Ablations of AU-GCN on one store: the paper's Table 4, the relation-graph threshold sweep, fixed vs
learned graphs, and what the learned relations look like next to the true ones.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ablation.py --data /work/data/store_bp4d
    PYTHONPATH=$PWD .venv/bin/python benchmarks/ablation.py --data /work/data/store_bp4d --parts table-e2e --seeds 0
    PYTHONPATH=$PWD .venv/bin/python benchmarks/ablation.py --quick          # plumbing only, < 1 minute

Every run goes through ``bench_protocol`` (one shared stage-1 model per (fold, seed), selection on the
validation subjects, locked reusable run folders under ``--root``), so a part that stopped resumes and
runs the relation-layers benchmark trained already (``gcn``, ``none``, ``learned``, ``gat``) are reused.
Each part (``--parts``) writes its own section of ``ablation.json``; the other outputs are rebuilt from
whatever parts are there:

* ``table-frozen`` / ``table-e2e``: Table 4's six variants (GCN: ``gcn`` vs ``none``; D: ``loss.dice``;
  F: ``model.global_node``) under the frozen and the end-to-end protocol, with paired comparisons
  (``paired_stats.compare``) of every variant against the full model and of each step the paper claims.
* ``sweep``: average F1 of frozen ``gcn`` against the co-occurrence threshold of every measure.
* ``learned``: frozen ``learned`` and ``gat`` against ``gcn`` (paired), and their learned adjacency /
  mean test-face attention against the fitted graph and the generator's true relations.
* ``rules``: frozen ``gcn`` on graphs of fewer ROI-graph rules (self-loops alone, plus one rule at a time),
  each paired against ``none`` and the paper's graph: which kind of edge costs or buys accuracy.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_protocol as bp  # noqa: E402
from paired_stats import compare  # noqa: E402

from augcn_pyg.errors import InputError  # noqa: E402

RESULTS = Path(__file__).with_name("results")
PARTS = ("table-frozen", "sweep", "learned", "table-e2e", "rules")
QUICK_NOTE = "quick mode: a tiny synthetic store and a few epochs; it proves nothing about accuracy."


# ---------------------------------------------------------------------------------------------------
# What is compared
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Variant:
    key: str  # run name (None-like "gcn" for the full model: the plain layer run, shared)
    label: str
    layer: str
    extra: tuple[str, ...]
    paper_f1: float  # Table 4, BP4D
    paper_auc: float
    gcn: bool
    dice: bool
    face: bool

    @property
    def name(self) -> str | None:
        """The run name for ``layer_run``: None when the variant is the plain layer run."""
        return self.key if self.extra else None


NO_F, NO_D = "model.global_node=false", "loss.dice=false"
VARIANTS = (
    Variant("au-net", "AU-Net", "none", (NO_F, NO_D), 54.0, 81.3, False, False, False),
    Variant("au-net+d", "AU-Net+D", "none", (NO_F,), 56.4, 83.7, False, True, False),
    Variant("gcn-noF-noD", "AU-GCN w/o F,D", "gcn", (NO_F, NO_D), 59.1, 83.9, True, False, False),
    Variant("gcn-noF", "AU-GCN w/o F", "gcn", (NO_F,), 61.5, 85.8, True, True, False),
    Variant("gcn-noD", "AU-GCN w/o D", "gcn", (NO_D,), 61.9, 86.8, True, False, True),
    Variant("gcn", "AU-GCN", "gcn", (), 62.8, 87.3, True, True, True),
)
FULL = "gcn"
#: the steps the paper's text claims help, (from, to)
STEPS = (("au-net", "au-net+d"), ("au-net", "gcn-noF-noD"), ("gcn-noF-noD", "gcn-noF"),
         ("gcn-noF-noD", "gcn-noD"), ("gcn-noF", "gcn"), ("gcn-noD", "gcn"))

#: threshold sweep points per measure (the default threshold of each is among them)
SWEEP = {"conditional": (0.6, 0.8, 1.0, 1.2, 1.4), "lift": (1.1, 1.3, 1.5, 2.0, 2.5),
         "phi": (0.0, 0.05, 0.1, 0.2, 0.3), "pmi": (0.1, 0.25, 0.4, 0.7, 1.0)}
QUICK_SWEEP = {"conditional": (0.8, 1.0)}  # 1.0: the plain gcn run, reused


def sweep_point(measure: str, threshold: float) -> tuple[str | None, tuple[str, ...]]:
    """(run name, overrides) of one sweep point; the default graph is the plain ``gcn`` run."""
    from augcn_pyg.relations import default_threshold

    if measure == "conditional" and threshold == default_threshold("conditional"):
        return None, ()
    return f"gcn-{measure}-{threshold:g}", (f"graph.measure={measure}", f"graph.threshold={threshold}")


def run_dir(root: Path, fold: int, seed: int, layer: str, protocol: str, name: str | None = None,
            fold_seed: int = -1) -> Path:
    """Where ``bench_protocol.layer_run`` keeps a run (its naming, repeated here to read runs back)."""
    return bp.run_root(root, fold_seed) / protocol / (name or layer) / f"fold{fold}-seed{seed}"


# ---------------------------------------------------------------------------------------------------
# Runs and their scores
# ---------------------------------------------------------------------------------------------------

@dataclass
class Setup:
    store: Path
    root: Path
    budget: str
    folds: tuple[int, ...]
    seeds: tuple[int, ...]

    def pairs(self, seeds=None):
        """(fold, seed) in one fixed order: paired comparisons line runs up by position."""
        return [(f, s) for s in (seeds or self.seeds) for f in self.folds]


def run_scores(setup: Setup, layer: str, protocol: str, extra=(), name=None, seeds=None) -> list[dict]:
    """One row per (fold, seed): test F1 / AUC (0-1), the epoch chosen on validation, training time, and
    the F1 selecting epoch and threshold on the test fold would have reported."""
    rows = []
    for fold, seed in setup.pairs(seeds):
        t0 = time.perf_counter()
        m = bp.layer_run(setup.store, fold, seed, layer, setup.root, setup.budget, protocol, extra=extra, name=name)
        cost = bp.selection_cost(m["test_fold_epochs"])
        rows.append({"fold": fold, "seed": seed, "f1": m["test"]["mean_f1"], "auc": m["test"]["mean_auc"],
                     "epoch": m["epoch"], "train_seconds": m["train_seconds"],
                     "test_selected_f1": cost["test_selected_with_threshold_f1"],
                     "wall_seconds": time.perf_counter() - t0})
        print(f"  {protocol} {name or layer} fold {fold} seed {seed}: F1 {100 * rows[-1]['f1']:.1f} "
              f"({rows[-1]['wall_seconds']:.0f} s; load {_load()})", flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    f1, auc, peek = (np.array([r[k] for r in rows], float) for k in ("f1", "auc", "test_selected_f1"))
    sd = (lambda v: float(v.std(ddof=1)) if len(v) > 1 else 0.0)
    return {"runs": len(rows), "f1": float(f1.mean()), "f1_std": sd(f1), "auc": float(auc.mean()), "auc_std": sd(auc),
            "test_selected_f1": float(peek.mean()), "train_seconds": float(sum(r["train_seconds"] for r in rows))}


def paired(a: list[dict], b: list[dict], folds: int, key: str = "f1") -> dict:
    """``compare`` of a against b on ``key``, runs lined up by (fold, seed)."""
    assert [(r["fold"], r["seed"]) for r in a] == [(r["fold"], r["seed"]) for r in b]
    return compare([r[key] for r in a], [r[key] for r in b], folds=folds).to_dict()


#: the order variants are trained in: the full model and the single ablations first, so that a table cut
#: short by time still answers the main questions
RUN_ORDER = ("gcn", "au-net", "gcn-noF", "gcn-noD", "au-net+d", "gcn-noF-noD")


def table_part(setup: Setup, protocol: str, variants=VARIANTS, on_variant=None) -> dict:
    """Table 4 under ``protocol``; ``on_variant(result so far)`` after each variant (partial tables are written)."""
    runs = {}
    for v in sorted(variants, key=lambda v: RUN_ORDER.index(v.key)):
        runs[v.key] = run_scores(setup, v.layer, protocol, v.extra, v.name)
        result = table_result(setup, protocol, [v for v in variants if v.key in runs], runs)
        if on_variant is not None:
            on_variant(result)
    return result


def table_result(setup: Setup, protocol: str, variants, runs: dict) -> dict:
    keys = [v.key for v in variants]
    folds = len(setup.folds)
    vs_full = {k: {m: paired(runs[k], runs[FULL], folds, m) for m in ("f1", "auc")} for k in keys if k != FULL and FULL in runs}
    steps = {f"{a} -> {b}": {m: paired(runs[b], runs[a], folds, m) for m in ("f1", "auc")}
             for a, b in STEPS if a in runs and b in runs}
    return {"protocol": protocol, "variants": {k: summary(runs[k]) for k in keys}, "runs": runs,
            "vs_full": vs_full, "steps": steps, "missing": [v.key for v in VARIANTS if v.key not in runs]}


def sweep_part(setup: Setup, points: dict, seeds=None, before: dict | None = None) -> dict:
    """Every (measure, threshold) in ``points``; points of an earlier call with the same seeds (``before``)
    that this one does not repeat are kept, so a sweep can be run a few measures at a time."""
    none = run_scores(setup, "none", "frozen", seeds=seeds)  # no graph at all: the floor a graph must beat
    seeds_used = list(seeds or setup.seeds)
    fresh = []
    for measure, thresholds in points.items():
        for t in thresholds:
            name, extra = sweep_point(measure, t)
            rows = run_scores(setup, "gcn", "frozen", extra, name, seeds=seeds)
            pairs = [au_pairs(run_dir(setup.root, r["fold"], r["seed"], "gcn", "frozen", name)) for r in rows]
            fresh.append({"measure": measure, "threshold": t, "name": name or "gcn", **summary(rows),
                          "au_pairs": float(np.mean(pairs)), "vs_none": paired(rows, none, len(setup.folds)), "rows": rows})
    done = {(p["measure"], p["threshold"]) for p in fresh}
    kept = [p for p in (before or {}).get("points", []) if (p["measure"], p["threshold"]) not in done
            and before.get("seeds") == seeds_used]
    order = {m: i for i, m in enumerate(SWEEP)}
    merged = sorted(kept + fresh, key=lambda p: (order.get(p["measure"], 99), p["threshold"]))
    return {"points": merged, "none": summary(none), "none_rows": none}


#: the ROI-graph rules given to frozen gcn, one rule added to the self-loops at a time: which edges cost
#: (or buy) accuracy. With self-loops alone the normalised graph is I, so gcn computes what none does.
RULE_SETS = {"self": ("self",), "self+symmetric": ("self", "symmetric"), "self+cooccurrence": ("self", "cooccurrence"),
             "self+global": ("self", "global"), "all (the paper's)": ("self", "symmetric", "cooccurrence", "global")}
QUICK_RULE_SETS = {k: RULE_SETS[k] for k in ("self", "all (the paper's)")}


def rules_part(setup: Setup, rule_sets: dict, seeds=None) -> dict:
    """Frozen gcn on graphs made by each rule set, paired against none (no graph) and the paper's graph."""
    none = run_scores(setup, "none", "frozen", seeds=seeds)
    out, rows_by = {}, {}
    for label, rules in rule_sets.items():
        paper = rules == RULE_SETS["all (the paper's)"]
        name, extra = (None, ()) if paper else (f"gcn-rules-{'+'.join(rules)}", ("graph.rules=" + ",".join(rules),))
        rows = run_scores(setup, "gcn", "frozen", extra, name, seeds=seeds)
        edges = [len(json.loads((run_dir(setup.root, r["fold"], r["seed"], "gcn", "frozen", name) / "graph.json")
                                .read_text())["edge_weight"]) for r in rows]
        rows_by[label] = rows
        out[label] = {"rules": list(rules), "name": name or "gcn", "edges": float(np.mean(edges)), **summary(rows),
                      "vs_none": paired(rows, none, len(setup.folds))}
    full = rows_by.get("all (the paper's)")
    if full is not None:
        for label, rows in rows_by.items():
            if label != "all (the paper's)":
                out[label]["vs_paper_graph"] = paired(rows, full, len(setup.folds))
    return {"rule_sets": out, "none": summary(none), "runs": {"none": summary(none)} | {k: summary(v) for k, v in rows_by.items()}}


def rules_markdown(part: dict) -> list[str]:
    none = part["none"]
    lines = [f"No graph (`none`, frozen): F1 {_pct(none['f1'])} ± {_pct(none['f1_std'])} over {none['runs']} runs. "
             "Each row is frozen `gcn` on the graph those rules make (a minus b in F1 points, corrected 95% interval, "
             "verdict of both tests).", "",
             "| rules | ROI edges (mean) | F1 | AUC | vs none | vs the paper's graph |", "|---|---:|---:|---:|---|---|"]
    word = {"a": "this better", "b": "other better", "equal": "equal", "unsure": "unsure"}
    for label, r in part["rule_sets"].items():
        cells = []
        for key in ("vs_none", "vs_paper_graph"):
            c = r.get(key)
            cells.append(f"{100 * c['mean_diff']:+.1f} [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}] "
                         f"{word[c['verdict']]}" if c else "—")
        lines.append(f"| {label} | {r['edges']:.0f} | {_pct(r['f1'])} ± {_pct(r['f1_std'])} | "
                     f"{_pct(r['auc'])} ± {_pct(r['auc_std'])} | {cells[0]} | {cells[1]} |")
    return lines


def au_pairs(run: Path) -> int:
    """Number of related AU pairs (off-diagonal, upper triangle) in a run's fitted graph."""
    adj = np.asarray(json.loads((run / "graph.json").read_text())["au_adjacency"], bool)
    return int(np.triu(adj, 1).sum())


# ---------------------------------------------------------------------------------------------------
# Learned relations
# ---------------------------------------------------------------------------------------------------

def true_relations(store_path: Path, labels: np.ndarray) -> tuple[np.ndarray, str]:
    """(C, C) phi of every AU pair under the generator's own relation model, and where it came from.

    For a SynthAU store: labels drawn afresh from the generator (120 subjects, seed 1, no rendering), so
    the truth is the model the faces were made from, not the 24 subjects' sample. Any other store: phi of
    its own labels, which is only the sample's relations."""
    from augcn_pyg.data.synthau.check import phi
    from augcn_pyg.data.synthau.plan import sample_labels

    created = json.loads((store_path / "store.json").read_text()).get("created", {})
    meta = Path(str(created.get("root", ""))) / "synthau.json"
    if created.get("root") and meta.exists():
        params = json.loads(meta.read_text())["parameters"]
        sample = sample_labels(params["protocol"], params["relations"], 120, params["frames_per_video"], seed=1)[0]
        return phi(sample), f"SynthAU generator ({params['protocol']}, {params['relations']}): phi over 120 fresh subjects"
    return phi(labels), "phi of the store's own labels (not a SynthAU store: no generator truth)"


def au_level(roi_matrix: np.ndarray, protocol, keep: np.ndarray) -> np.ndarray:
    """(R', R') ROI relation weights, A[target, source] -> (C, C) AU-pair weights: the mean of
    (A[u, v] + A[v, u]) / 2 over distinct local ROIs u of AU i and v of AU j (the global node left out)."""
    member = protocol.membership()[keep].astype(float)  # (R', C)
    member[keep == protocol.global_index] = 0.0  # the whole face is not one AU's region
    sym = (roi_matrix + roi_matrix.T) / 2
    np.fill_diagonal(sym, 0.0)
    distinct = 1.0 - np.eye(len(keep))
    total = member.T @ sym @ member  # (C, C)
    count = member.T @ distinct @ member
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def relation_scores(weights: np.ndarray, truth: np.ndarray, true_edges: np.ndarray, table: np.ndarray) -> dict:
    """How well (C, C) AU-pair weights find the true relations, over the C(C-1)/2 pairs."""
    from scipy.stats import spearmanr

    iu = np.triu_indices(len(truth), 1)
    w, t = weights[iu], truth[iu]
    k_true, k_table = int(true_edges[iu].sum()), int(table[iu].sum())
    order = np.argsort(-w, kind="stable")
    rho = spearmanr(w, t).statistic if np.ptp(w) > 0 else float("nan")
    return {"spearman": float(rho),
            "precision_at_k": float(true_edges[iu][order[:k_true]].mean()), "k": k_true,
            "precision_at_k_table1": float(table[iu][order[:k_table]].mean()), "k_table1": k_table}


def model_relations(run: Path, store, layer: str) -> dict:
    """(R, R) matrices of one trained run: learned adjacency (and its start) or mean test-face attention,
    per relation layer, plus the fitted graph's AU scores."""
    import torch

    from augcn_pyg.data.splits import run_splits
    from augcn_pyg.nn.layers import gcn_adjacency
    from augcn_pyg.train import encode_rows, load_model

    model, doc = load_model(run)
    cfg = doc["config"]
    out = {"keep": model.keep.numpy(), "fitted_score": np.asarray(doc["graph"]["stats"]["score"], float),
           "fitted_adjacency": np.asarray(doc["graph"]["au_adjacency"], bool)}
    if layer == "learned":
        out["layers"] = [lay.adjacency_matrix().detach().numpy() for lay in model.relation]  # each (R, R)
        out["init"] = gcn_adjacency(model.topology).detach().numpy()
        return out
    splits = run_splits(store, cfg["data"]["fold"], cfg["data"]["val_fraction"], 0, cfg["data"]["fold_seed"])
    z = encode_rows(model, store, splits.test_rows, "cpu")  # (M, R, d0)
    means = []
    with torch.no_grad():
        for lay in model.relation:
            means.append(lay.attention(z).mean(dim=(0, 1)).numpy())  # (B, H, R, R) -> (R, R)
            z = torch.relu(lay(z))  # eval: dropout off
    out["layers"] = means
    return out


def learned_part(setup: Setup, seeds=None, train_e2e: bool = False) -> dict:
    from augcn_pyg.train import open_store as open_roi_store
    from augcn_pyg.paper import TABLE1

    store = open_roi_store(setup.store)
    protocol = store.protocol
    truth, truth_source = true_relations(setup.store, np.asarray(store.labels))
    true_edges = truth >= 0.1  # clearly above independence (the phi measure's default threshold)
    table = np.asarray(TABLE1[protocol.name], bool) if protocol.name in TABLE1 else true_edges
    runs = {layer: run_scores(setup, layer, "frozen", seeds=seeds) for layer in ("gcn", "learned", "gat")}
    folds = len(setup.folds)
    tests = {f"{layer} vs gcn": {m: paired(runs[layer], runs["gcn"], folds, m) for m in ("f1", "auc")}
             for layer in ("learned", "gat")}
    e2e = {}
    for layer in ("gcn", "learned"):  # end to end: trained with train_e2e, else only where both finished already
        done = [run_dir(setup.root, f, s, layer, "end-to-end") for f, s in setup.pairs(seeds)]
        if train_e2e or all((d / "test_metrics.json").exists() for d in done):
            e2e[layer] = run_scores(setup, layer, "end-to-end", seeds=seeds)
    if len(e2e) == 2:
        tests["learned vs gcn (end-to-end)"] = {m: paired(e2e["learned"], e2e["gcn"], folds, m) for m in ("f1", "auc")}
    kinds = {"fitted graph (label score)": [], "learned adjacency": [], "learned minus its start": [],
             "GAT attention (test-face mean)": []}
    mats = {k: [] for k in kinds}
    for fold, seed in setup.pairs(seeds):
        learned = model_relations(run_dir(setup.root, fold, seed, "learned", "frozen"), store, "learned")
        gat = model_relations(run_dir(setup.root, fold, seed, "gat", "frozen"), store, "gat")
        keep = learned["keep"]
        au = {"fitted graph (label score)": learned["fitted_score"],
              "learned adjacency": np.mean([au_level(a, protocol, keep) for a in learned["layers"]], 0),
              "learned minus its start": np.mean([au_level(a - learned["init"], protocol, keep)
                                                  for a in learned["layers"]], 0),
              "GAT attention (test-face mean)": np.mean([au_level(a, protocol, gat["keep"]) for a in gat["layers"]], 0)}
        for k, m in au.items():
            kinds[k].append(relation_scores(m, truth, true_edges, table))
            mats[k].append(m)
    iu = np.triu_indices(len(truth), 1)
    scores = {k: {"spearman": float(np.nanmean([r["spearman"] for r in v])),
                  "spearman_std": float(np.nanstd([r["spearman"] for r in v])),
                  "precision_at_k": float(np.mean([r["precision_at_k"] for r in v])),
                  "precision_at_k_table1": float(np.mean([r["precision_at_k_table1"] for r in v]))}
              for k, v in kinds.items()}
    return {"truth_source": truth_source, "true_edges": int(true_edges[iu].sum()), "pairs": len(iu[0]),
            "chance_precision": float(true_edges[iu].mean()), "chance_precision_table1": float(table[iu].mean()),
            "table1_pairs": int(table[iu].sum()), "scores": scores, "per_run": kinds,
            "runs": {k: summary(v) for k, v in runs.items()}, "run_rows": runs, "tests": tests,
            "end_to_end": {k: summary(v) for k, v in e2e.items()},
            "matrices": {"truth": truth.tolist(), **{k: np.mean(v, 0).tolist() for k, v in mats.items()}},
            "roi": _roi_matrices(setup, store, seeds)}


def _roi_matrices(setup: Setup, store, seeds) -> dict:
    """Mean (over runs) ROI-level matrices of the first relation layer, for the face drawings."""
    fold, seed = setup.pairs(seeds)[0]
    learned = model_relations(run_dir(setup.root, fold, seed, "learned", "frozen"), store, "learned")
    gat = model_relations(run_dir(setup.root, fold, seed, "gat", "frozen"), store, "gat")
    return {"run": f"fold{fold}-seed{seed}", "keep": learned["keep"].tolist(), "gat_keep": gat["keep"].tolist(),
            "fitted": learned["init"].tolist(), "learned": learned["layers"][0].tolist(), "gat": gat["layers"][0].tolist()}


# ---------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------

def _load() -> str:
    return open("/proc/loadavg").read().split()[0]


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def _verdict(c: dict, a: str = "a", b: str = "b") -> str:
    """One comparison of a against b in words: ``a``/``b`` name the better side when the tests agree."""
    word = {"a": f"{a} better", "b": f"{b} better", "equal": "practically equal", "unsure": "unsure"}[c["verdict"]]
    return (f"{100 * c['mean_diff']:+.1f} [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}], p {c['p']:.3f}, "
            f"P(a better / equal / b better) {c['p_a_better']:.2f}/{c['p_equal']:.2f}/{c['p_b_better']:.2f}: **{word}**")


def table_markdown(part: dict) -> list[str]:
    by_key = {v.key: v for v in VARIANTS}
    head = ("| variant | GCN | D | F | paper F1 | paper AUC | our F1 | our AUC | our F1, test-fold selected | "
            "ΔF1 vs full (ours / paper) |")
    lines = [head, "|---|:-:|:-:|:-:|---:|---:|---:|---:|---:|---:|"]
    full = part["variants"].get(FULL)
    for key, s in part["variants"].items():
        v = by_key[key]
        mark = lambda b: "✓" if b else "×"  # noqa: E731
        delta = (f"{100 * (s['f1'] - full['f1']):+.1f} / {v.paper_f1 - by_key[FULL].paper_f1:+.1f}" if full else "")
        lines.append(f"| {v.label} (`{key}`) | {mark(v.gcn)} | {mark(v.dice)} | {mark(v.face)} | {v.paper_f1:.1f} | "
                     f"{v.paper_auc:.1f} | {_pct(s['f1'])} ± {_pct(s['f1_std'])} | {_pct(s['auc'])} ± {_pct(s['auc_std'])} | "
                     f"{_pct(s['test_selected_f1'])} | {delta} |")
    if part.get("missing"):
        lines += ["", f"**Not run yet** (cut short by time; the runs resume): {', '.join(f'`{k}`' for k in part['missing'])}."]
    lines += ["", f"Paired tests on F1 ({part['variants'][FULL]['runs'] if full else '?'} runs: a minus b in F1 points, "
              "95% interval of the corrected resampled t-test, its p, baycomp's posterior with a 1-point ROPE; a side "
              "is called better only when both tests agree):", ""]
    lines += [f"* a = `{k}`, b = full `gcn`: {_verdict(c['f1'], 'variant', 'full')}" for k, c in part["vs_full"].items()]
    lines += [f"* step `{k}`, a = after, b = before: {_verdict(c['f1'], 'after', 'before')}" for k, c in part["steps"].items()]
    return lines


def sweep_markdown(part: dict) -> list[str]:
    none = part["none"]
    lines = [f"No graph (`none`, frozen): F1 {_pct(none['f1'])} ± {_pct(none['f1_std'])} over {none['runs']} runs.", "",
             "| measure | threshold | AU pairs joined (mean over folds) | F1 | AUC | vs none (F1) |",
             "|---|---:|---:|---:|---:|---|"]
    for p in part["points"]:
        c = p["vs_none"]
        word = {"a": "graph better", "b": "none better", "equal": "equal", "unsure": "unsure"}[c["verdict"]]
        lines.append(f"| {p['measure']} | {p['threshold']:g} | {p['au_pairs']:.1f} | {_pct(p['f1'])} ± {_pct(p['f1_std'])} | "
                     f"{_pct(p['auc'])} ± {_pct(p['auc_std'])} | {100 * c['mean_diff']:+.1f} ({word}) |")
    return lines


def learned_markdown(part: dict) -> list[str]:
    return relation_markdown(part) + [""] + fixed_vs_learned_markdown(part)


def relation_markdown(part: dict) -> list[str]:
    lines = [f"Truth: {part['truth_source']}; true edges: phi >= 0.1, {part['true_edges']} of {part['pairs']} AU pairs "
             f"(precision by chance {part['chance_precision']:.2f}); Table 1 has {part['table1_pairs']} pairs "
             f"(chance {part['chance_precision_table1']:.2f}).", "",
             "| AU-pair weights | Spearman ρ with true phi (mean ± std over runs) | precision@k, true edges | "
             "precision@k, Table 1 |", "|---|---:|---:|---:|"]
    for k, s in part["scores"].items():
        lines.append(f"| {k} | {s['spearman']:.2f} ± {s['spearman_std']:.2f} | {s['precision_at_k']:.2f} | "
                     f"{s['precision_at_k_table1']:.2f} |")
    return lines


def fixed_vs_learned_markdown(part: dict) -> list[str]:
    lines = ["| layer | F1 | AUC |", "|---|---:|---:|"]
    lines += [f"| `{k}` | {_pct(s['f1'])} ± {_pct(s['f1_std'])} | {_pct(s['auc'])} ± {_pct(s['auc_std'])} |"
              for k, s in part["runs"].items()]
    lines += [f"| `{k}` end-to-end | {_pct(s['f1'])} ± {_pct(s['f1_std'])} | {_pct(s['auc'])} ± {_pct(s['auc_std'])} |"
              for k, s in part["end_to_end"].items()]
    lines += [""] + [f"* {k} (a = {k.split()[0]}, b = gcn): {_verdict(c['f1'], k.split()[0], 'gcn')}"
                     for k, c in part["tests"].items()]
    return lines


def _header(part: dict) -> list[str]:
    m = part["machine"]
    return [f"{m['date']}, git {m['git']}, {m['cpus']} CPUs, torch {m['torch']}; budget `{part['budget']}` "
            f"{json.dumps(part['budget_overrides'])}; folds {part['folds']}, seeds {part['seeds']}; this invocation's wall "
            f"{part['wall_seconds'] / 60:.1f} min; the runs' own training time {part['train_seconds'] / 60:.1f} min "
            f"(runs trained before, here or by another benchmark, are reused); load average {part['load_start']} at "
            f"the start, {part['load_end']} at the end."
            + (f" **{QUICK_NOTE}**" if part["quick"] else ""), ""]


def write_outputs(doc: dict, out: Path) -> list[Path]:
    """Rebuild every table and picture from the parts in ``doc``."""
    import pandas as pd

    parts, written = doc["parts"], []
    md = ["# Ablations (benchmarks/ablation.py)", "",
          f"Store `{doc['store']}`. SynthAU is not BP4D: the paper's numbers are on BP4D and selected on the test "
          "fold; ours are selected on validation subjects (the 'test-fold selected' column shows what peeking "
          "would add).", ""]
    rows = []
    for key in ("table-frozen", "table-e2e"):
        if key in parts:
            p = parts[key]
            md += [f"## Table 4, {p['protocol']} protocol", ""] + _header(p) + table_markdown(p) + [""]
            for k, s in p["variants"].items():
                rows.append({"protocol": p["protocol"], "variant": k, **{c: s[c] for c in s}})
    if "learned" in parts:
        p = parts["learned"]
        md += ["## Fixed vs learned graphs", ""] + _header(p) + fixed_vs_learned_markdown(p) + [""]
    if "rules" in parts:
        p = parts["rules"]
        md += ["## Which edges cost accuracy: frozen gcn on graphs of fewer rules", ""] + _header(p) + rules_markdown(p) + [""]
    if rows:
        written.append(_csv(pd.DataFrame(rows), out / "ablation.csv"))
        written.append(_plot_table(parts, out / "ablation.png"))
    written.append(_text(out / "ablation.md", "\n".join(md)))
    written.append(_text(out / "ablation.json", json.dumps(doc, indent=1)))
    if "sweep" in parts:
        p = parts["sweep"]
        flat = [{k: v for k, v in pt.items() if k not in ("rows", "vs_none")} | {"vs_none_f1": pt["vs_none"]["mean_diff"],
                "vs_none_verdict": pt["vs_none"]["verdict"]} for pt in p["points"]]
        written.append(_csv(pd.DataFrame(flat), out / "threshold_sweep.csv"))
        written.append(_text(out / "threshold_sweep.md", "\n".join(
            ["# Threshold sweep: frozen gcn, average F1 against the relation graph's threshold", ""] + _header(p) + sweep_markdown(p))))
        written.append(_plot_sweep(p, out / "threshold_sweep.png"))
    if "learned" in parts:
        p = parts["learned"]
        written.append(_text(out / "learned_relations.md", "\n".join(
            ["# The learned relations against the true ones", ""] + _header(p) + learned_markdown(p)
            + ["", "![learned relations](learned_relations.png)"])))
        written.append(_plot_learned(p, doc["protocol"], out / "learned_relations.png"))
    return written


def _text(path: Path, text: str) -> Path:
    from augcn_pyg.io import write_text_atomic

    write_text_atomic(path, text + "\n")
    return path


def _csv(frame, path: Path) -> Path:
    frame.to_csv(path, index=False, float_format="%.4f")
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_table(parts: dict, path: Path) -> Path:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    x = np.arange(len(VARIANTS))
    series = [("paper (BP4D)", None)] + [(parts[k]["protocol"], parts[k]) for k in ("table-frozen", "table-e2e") if k in parts]
    width = 0.8 / len(series)
    for ax, metric in zip(axes, ("f1", "auc")):
        for i, (label, part) in enumerate(series):
            if part is None:
                vals = [getattr(v, f"paper_{metric}") for v in VARIANTS]
                err = None
            else:
                vals = [100 * part["variants"].get(v.key, {}).get(metric, np.nan) for v in VARIANTS]
                err = [100 * part["variants"].get(v.key, {}).get(f"{metric}_std", np.nan) for v in VARIANTS]
            ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, yerr=err, capsize=2, label=label)
        ax.set_xticks(x, [v.label for v in VARIANTS], rotation=25, ha="right", fontsize=8)
        ax.set_ylabel(f"{metric.upper()} (%)")
        ax.set_ylim(40 if metric == "f1" else 60, 100)
        ax.set_title(f"Table 4 variants: {metric.upper()} (ours: mean ± std over folds x seeds)", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_sweep(part: dict, path: Path) -> Path:
    plt = _pyplot()
    measures = list(dict.fromkeys(p["measure"] for p in part["points"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(4 * len(measures), 3.6), squeeze=False, sharey=True)
    none = part["none"]
    for ax, measure in zip(axes[0], measures):
        pts = [p for p in part["points"] if p["measure"] == measure]
        t = [p["threshold"] for p in pts]
        ax.errorbar(t, [100 * p["f1"] for p in pts], yerr=[100 * p["f1_std"] for p in pts], marker="o", capsize=3)
        for p in pts:
            ax.annotate(f"{p['au_pairs']:.0f}", (p["threshold"], 100 * p["f1"]), textcoords="offset points",
                        xytext=(4, 6), fontsize=7, color="#555555")
        ax.axhline(100 * none["f1"], color="#999999", ls="--", lw=1, label="no graph (none)")
        ax.set_xlabel(f"{measure} threshold")
        ax.set_title(f"{measure} (numbers: AU pairs joined)", fontsize=9)
    axes[0][0].set_ylabel("average F1 (%), mean ± std over runs")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_learned(part: dict, protocol_name: str, path: Path) -> Path:
    """Top: AU x AU matrices (true phi, fitted label score, learned adjacency, GAT attention). Bottom: the
    strongest ROI relations drawn on the face like the paper's Table 1 graph."""
    from augcn_pyg.aus import get_protocol
    from augcn_pyg.relations import paper_graph
    from augcn_pyg.viz import FACE_CONTOURS, roi_positions

    plt = _pyplot()
    protocol = get_protocol(protocol_name)
    names = [str(a) for a in protocol.aus]
    mats = part["matrices"]
    panels = [("truth", "true relations (phi)"), ("fitted graph (label score)", "fitted from labels (Msym)"),
              ("learned adjacency", "learned adjacency (AU level)"), ("GAT attention (test-face mean)", "GAT attention (AU level)")]
    fig, axes = plt.subplots(2, 4, figsize=(19, 9.5))
    for ax, (key, title) in zip(axes[0], panels):
        m = np.array(mats[key], float)
        np.fill_diagonal(m, np.nan)
        lim = np.nanmax(np.abs(m)) or 1.0
        im = ax.imshow(m, cmap="RdBu_r" if np.nanmin(m) < 0 else "viridis", vmin=-lim if np.nanmin(m) < 0 else 0, vmax=lim)
        score = part["scores"].get(key)
        ax.set_title(title + (f"\nρ {score['spearman']:.2f}, precision@k {score['precision_at_k']:.2f}" if score else
                              f"\n{part['true_edges']} pairs with phi >= 0.1"), fontsize=9)
        ax.set_xticks(range(len(names)), names, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    roi = part["roi"]
    pos, face = roi_positions(paper_graph(protocol))
    learned, start = np.array(roi["learned"], float), np.array(roi["fitted"], float)
    bottom = [(start, "keep", "fitted graph, GCN-normalised (the learned layer's start)"),
              (learned, "keep", "learned adjacency, layer 1"),
              (learned - start, "keep", "learned minus its start, layer 1 (blue: weakened)"),
              (np.array(roi["gat"], float), "gat_keep", "GAT attention, layer 1, test-face mean")]
    for ax, (matrix, keep_key, title) in zip(axes[1], bottom):
        _draw_roi_relations(ax, matrix, np.array(roi[keep_key]), pos, face, FACE_CONTOURS, protocol)
        ax.set_title(f"{title}\n({roi['run']}; the 30 strongest pairs of local ROIs, width ∝ |weight|)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _draw_roi_relations(ax, matrix, keep, pos, face, contours, protocol, top: int = 30) -> None:
    """The ``top`` strongest distinct pairs of local ROIs of an (R', R') matrix on the face outline
    (red positive, blue negative); the whole-face node's edges faint grey beside it."""
    for first, last, closed in contours:
        idx = list(range(first, last + 1)) + ([first] if closed else [])
        ax.plot(face[idx, 0], -face[idx, 1], color="#cfcfcf", lw=1.2, zorder=0)
    sym = (matrix + matrix.T) / 2
    iu = np.triu_indices(len(keep), 1)
    local = (keep[iu[0]] != protocol.global_index) & (keep[iu[1]] != protocol.global_index)
    values = np.where(local, sym[iu], 0.0)
    order = [k for k in np.argsort(-np.abs(values))[:top] if values[k] != 0]  # no edge: nothing to draw
    strongest = np.abs(values[order[0]]) if len(order) else 1.0
    for k in order:
        u, v = keep[iu[0][k]], keep[iu[1][k]]
        ax.plot([pos[u, 0], pos[v, 0]], [-pos[u, 1], -pos[v, 1]], color="#d62728" if values[k] > 0 else "#1f77b4",
                lw=0.5 + 3.5 * abs(values[k]) / (strongest or 1.0), alpha=0.7, zorder=1)
    for k in np.nonzero(~local)[0]:
        u, v = keep[iu[0][k]], keep[iu[1][k]]
        ax.plot([pos[u, 0], pos[v, 0]], [-pos[u, 1], -pos[v, 1]], color="#dddddd", lw=0.5, zorder=0)
    ax.scatter(pos[keep, 0], -pos[keep, 1], s=160, c="#fde9c9", edgecolors="#444444", zorder=2)
    for r in keep:
        roi = protocol.rois[r]
        ax.text(pos[r, 0], -pos[r, 1], "F" if roi.is_global else "/".join(str(a) for a in roi.aus), fontsize=6,
                ha="center", va="center", zorder=3)
    ax.set_aspect("equal")
    ax.set_axis_off()


# ---------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------

def parse_measures(text: str, grid: dict) -> dict:
    """``conditional,phi=0.1/0.2`` -> {measure: thresholds}: a whole measure of ``grid`` or chosen points."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        measure, _, values = item.partition("=")
        if measure not in grid:
            raise InputError(f"unknown measure {measure!r}; the sweep has {', '.join(grid)}")
        try:
            out[measure] = tuple(float(v) for v in values.split("/")) if values else grid[measure]
        except ValueError:
            raise InputError(f"--measures {item!r}: thresholds must be numbers separated by /") from None
    return out


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="ROI store (e.g. /work/data/store_bp4d)")
    ap.add_argument("--out", help="results folder (default benchmarks/results; --quick: a new temporary folder)")
    ap.add_argument("--root", help="run root (default: DATA/../bench/<store name>, shared with the other benchmarks)")
    ap.add_argument("--quick", action="store_true", help="tiny store, tiny budget, few variants: plumbing only")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, from {', '.join(PARTS)}")
    ap.add_argument("--seeds", type=_ints, help="default 0,1,2 (--quick: 0)")
    ap.add_argument("--sweep-seeds", type=_ints, help="seeds of the sweep (default --seeds)")
    ap.add_argument("--measures", help=f"sweep only these measures (from {', '.join(SWEEP)}), optionally at chosen "
                                       "thresholds: conditional=0.8/1.2,phi; earlier points are kept")
    ap.add_argument("--learned-e2e", action="store_true", help="learned part: also train learned and gcn end to end")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch threads of this process (0: torch's default). Not part of the run configs, so "
                         "runs stay shared; 1 is faster on a machine other jobs keep busy")
    args = ap.parse_args(argv)
    try:
        return run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args) -> int:
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise InputError(f"unknown part(s) {', '.join(bad)}; choose from {', '.join(PARTS)}")
    if args.quick:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from model_fixtures import make_store

        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="ablation-quick-"))
        store = out / "tiny-store"
        if not (store / "store.json").exists():
            make_store(store)
        root, budget = Path(args.root) if args.root else out / "runs", "quick"
        print(QUICK_NOTE)
    else:
        if not args.data:
            raise InputError("--data STORE is required (or --quick)")
        store = Path(args.data).resolve()
        if not (store / "store.json").exists():
            raise InputError(f"{store} is not a ROI store (no store.json)")
        out = Path(args.out) if args.out else RESULTS
        root, budget = (Path(args.root) if args.root else store.parent / "bench" / store.name), "full"
    out.mkdir(parents=True, exist_ok=True)
    args.seeds = args.seeds or ((0,) if args.quick else (0, 1, 2))
    setup = Setup(store, root, budget, (1, 2, 3), tuple(args.seeds))  # whole 3-fold CVs: what the tests assume
    from augcn_pyg.train import open_store as open_roi_store

    doc_path = out / "ablation.json"
    doc = json.loads(doc_path.read_text()) if doc_path.exists() else {"parts": {}}
    doc.update(store=str(store), protocol=open_roi_store(store).protocol.name, root=str(root))
    variants = [v for v in VARIANTS if v.key in ("au-net", "gcn")] if args.quick else VARIANTS  # quick: 2 of 6
    for part in parts:
        print(f"{part}: folds {setup.folds}, seeds {setup.seeds}, budget {budget}", flush=True)
        t0, load0 = time.perf_counter(), _load()
        def finish(result):  # record the part (so far) and rebuild every output
            train = result.get("variants") or result.get("runs") or {}
            result.update(machine=bp.machine(), budget=budget, budget_overrides=bp.BUDGETS[budget], quick=args.quick,
                          folds=list(setup.folds),
                          seeds=list(args.sweep_seeds if part == "sweep" and args.sweep_seeds else setup.seeds),
                          wall_seconds=time.perf_counter() - t0, load_start=load0, load_end=_load(),
                          train_seconds=float(sum(s.get("train_seconds", 0.0) for s in train.values()))
                          if part != "sweep" else float(sum(p["train_seconds"] for p in result["points"])))
            doc["parts"][part] = result
            for path in write_outputs(doc, out):
                print(f"wrote {path}")

        if part in ("table-frozen", "table-e2e"):
            table_part(setup, "frozen" if part == "table-frozen" else "end-to-end", variants, finish)
            continue
        if part == "sweep":
            grid = QUICK_SWEEP if args.quick else SWEEP
            if args.measures:
                grid = parse_measures(args.measures, grid)
            result = sweep_part(setup, grid, args.sweep_seeds, doc["parts"].get("sweep"))
        elif part == "rules":
            result = rules_part(setup, QUICK_RULE_SETS if args.quick else RULE_SETS)
        else:
            result = learned_part(setup, train_e2e=args.learned_e2e)
        finish(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
