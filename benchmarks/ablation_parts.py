"""The parts of the ablation benchmark: what each compares (Table 4's variants, the threshold sweep's
points, the ROI-graph rule sets), the runs behind them and their scores, and the learned relations set
against the true ones. Every run goes through ``bench_protocol.layer_run``."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import bench_protocol as bp
from benchmarks.common import layer_dir, load_average, run_provenance
from benchmarks.paired_stats import compare

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
    from augcn_pyg.graph.relations import default_threshold

    if measure == "conditional" and threshold == default_threshold("conditional"):
        return None, ()
    return f"gcn-{measure}-{threshold:g}", (f"graph.measure={measure}", f"graph.threshold={threshold}")


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
        run_dir = layer_dir(setup.root, protocol, name or layer, fold, seed)
        rows.append({"fold": fold, "seed": seed, **run_provenance(run_dir), "f1": m["test"]["mean_f1"], "auc": m["test"]["mean_auc"],
                     "epoch": m["epoch"], "train_seconds": m["train_seconds"],
                     "test_selected_f1": cost["test_selected_with_threshold_f1"],
                     "wall_seconds": time.perf_counter() - t0})
        print(f"  {protocol} {name or layer} fold {fold} seed {seed}: F1 {100 * rows[-1]['f1']:.1f} "
              f"({rows[-1]['wall_seconds']:.0f} s; load {load_average().split()[0]})", flush=True)
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
            pairs = [au_pairs(layer_dir(setup.root, "frozen", name or "gcn", r["fold"], r["seed"])) for r in rows]
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
        edges = [len(json.loads((layer_dir(setup.root, "frozen", name or "gcn", r["fold"], r["seed"]) / "graph.json")
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
    from augcn_pyg.engine.models import load_model
    from augcn_pyg.engine.scoring import encode_rows
    from augcn_pyg.nn.layers import gcn_adjacency

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
    from augcn_pyg.engine.models import open_store as open_roi_store
    from augcn_pyg.graph.paper import TABLE1

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
        done = [layer_dir(setup.root, "end-to-end", layer, f, s) for f, s in setup.pairs(seeds)]
        if train_e2e or all((d / "test_metrics.json").exists() for d in done):
            e2e[layer] = run_scores(setup, layer, "end-to-end", seeds=seeds)
    if len(e2e) == 2:
        tests["learned vs gcn (end-to-end)"] = {m: paired(e2e["learned"], e2e["gcn"], folds, m) for m in ("f1", "auc")}
    kinds = {"fitted graph (label score)": [], "learned adjacency": [], "learned minus its start": [],
             "GAT attention (test-face mean)": []}
    mats = {k: [] for k in kinds}
    for fold, seed in setup.pairs(seeds):
        learned = model_relations(layer_dir(setup.root, "frozen", "learned", fold, seed), store, "learned")
        gat = model_relations(layer_dir(setup.root, "frozen", "gat", fold, seed), store, "gat")
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
                  "spearman_std": float(np.nanstd([r["spearman"] for r in v], ddof=1)) if len(v) > 1 else 0.0,
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
    learned = model_relations(layer_dir(setup.root, "frozen", "learned", fold, seed), store, "learned")
    gat = model_relations(layer_dir(setup.root, "frozen", "gat", fold, seed), store, "gat")
    return {"run": f"fold{fold}-seed{seed}", "keep": learned["keep"].tolist(), "gat_keep": gat["keep"].tolist(),
            "fitted": learned["init"].tolist(), "learned": learned["layers"][0].tolist(), "gat": gat["layers"][0].tolist()}
