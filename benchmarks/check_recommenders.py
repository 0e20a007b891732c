"""Sanity check of the classic recommenders on real data (not the official tables: see bench_rec).

Imports the data with ``shopsage.data.importers`` into a temporary SQLite store, splits it
(Beauty: leave-one-out; Diginetica: session prefixes), picks each model's hyperparameters from a
small grid on the validation cases (a seeded sample of them, never test), refits on train +
validation targets where the protocol has owners, and scores the test cases over ALL items.
Beauty filters seen items (the reference figures do); Diginetica does not (session papers don't).

Run: .venv/bin/python benchmarks/check_recommenders.py --data beauty [--models pop,itemknn] [--no-tune]
Writes benchmarks/results/recommenders_<data>.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402
from shopsage.data.importers import get_importer, run_import  # noqa: E402
from shopsage.data.splits import EvalCases, Sequences, SplitData, leave_one_out, session_prefix  # noqa: E402
from shopsage.data.stores import open_store  # noqa: E402
from shopsage.errors import CapacityError  # noqa: E402
from shopsage.recommend import create  # noqa: E402
from shopsage.recommend.base import TrainData  # noqa: E402

DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
SETS = {"beauty": ("amazon-seq", DATA / "amazon-beauty", 10, True),
        "diginetica": ("sessions", DATA / "diginetica", 20, False)}
GRIDS: dict[str, dict[str, list[Any]]] = {
    "pop": {"distinct": [True, False]},
    "itemknn": {"neighbors": [50, 200, 1000], "shrink": [0.0, 10.0, 100.0]},
    "ease": {"reg": [25.0, 50.0, 100.0, 250.0, 1000.0]},
    "als": {"embedding_dim": [128], "reg": [1.0, 10.0, 100.0], "alpha": [2.0, 10.0, 40.0]},
    "bpr": {"embedding_dim": [128], "learning_rate": [0.02, 0.1], "reg": [0.001, 0.01], "epochs": [200]},
    "fbt": {"measure": ["count", "confidence", "lift"], "min_support": [1, 2]},
    "sknn": {"neighbors": [50, 200], "sample_size": [1000, 5000], "weighting": ["none", "div"]},
}

# Diginetica is 8x Beauty in sessions and 3.5x in items, on a shared 2-core machine: smaller grids.
GRIDS_BY_DATA: dict[str, dict[str, dict[str, list[Any]]]] = {"diginetica": {
    "itemknn": {"neighbors": [100, 1000], "shrink": [0.0, 10.0]},
    "fbt": {"measure": ["confidence", "lift"], "min_support": [1, 2]},
    "sknn": {"neighbors": [50, 200], "sample_size": [1000], "weighting": ["none", "div"]},
    "als": {"embedding_dim": [128], "reg": [1.0], "alpha": [10.0, 40.0]},
    "bpr": {"embedding_dim": [128], "learning_rate": [0.1], "reg": [0.01], "epochs": [100]},
}}


def metrics(model: Any, cases: EvalCases, k: int, filter_seen: bool, batch: int = 2048) -> dict[str, float]:
    """hr@k, ndcg@k, mrr@k of one-target cases, ranking over all items."""
    target = cases.target
    hit_all, ndcg_all, rr_all = [], [], []
    h = cases.history
    for s in range(0, len(cases), batch):
        e = min(s + batch, len(cases))
        sub = Sequences(h.indptr[s:e + 1] - h.indptr[s], h.items[h.indptr[s]:h.indptr[e]])
        ids = model.recommend(sub, k, filter_seen=filter_seen).ids
        match = ids == target[s:e, None]
        hit, rank = match.any(axis=1), np.argmax(match, axis=1)
        hit_all.append(hit)
        ndcg_all.append(np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0))
        rr_all.append(np.where(hit, 1.0 / (rank + 1.0), 0.0))
    return {f"hr@{k}": float(np.concatenate(hit_all).mean()), f"ndcg@{k}": float(np.concatenate(ndcg_all).mean()),
            f"mrr@{k}": float(np.concatenate(rr_all).mean())}


def sample(cases: EvalCases, n: int, seed: int = 0) -> EvalCases:
    if len(cases) <= n:
        return cases
    pick = np.sort(np.random.default_rng(seed).choice(len(cases), n, replace=False))
    return EvalCases(cases.owner[pick], Sequences.from_lists([cases.history[int(c)] for c in pick]),
                     Sequences.from_lists([cases.targets[int(c)] for c in pick]))


def run_model(name: str, split: SplitData, k: int, filter_seen: bool, tune: bool, n_valid: int,
              grids: dict[str, dict[str, list[Any]]]) -> dict[str, Any]:
    train = TrainData.from_split(split)
    valid = sample(split.valid, n_valid)
    best, best_val, trials = {}, -1.0, []
    grid = grids.get(name, {}) if tune else {}
    for values in itertools.product(*grid.values()):
        cfg = dict(zip(grid, values, strict=True))
        t0 = time.time()
        m = metrics(create(name, **cfg).fit(train), valid, k, filter_seen)
        trials.append({"config": cfg, **m, "seconds": round(time.time() - t0, 1)})
        print(f"  valid {name} {cfg}: ndcg@{k} {m[f'ndcg@{k}']:.4f} hr@{k} {m[f'hr@{k}']:.4f}", flush=True)
        if m[f"ndcg@{k}"] > best_val:
            best, best_val = cfg, m[f"ndcg@{k}"]
    refit = TrainData.from_split(split, with_valid_targets=bool((split.valid.owner >= 0).any()))
    t0 = time.time()
    model = create(name, **best).fit(refit)
    fit_s = time.time() - t0
    t0 = time.time()
    test = metrics(model, split.test, k, filter_seen)
    return {"config": model.config.model_dump(), **{k_: round(v, 4) for k_, v in test.items()},
            "fit_seconds": round(fit_s, 1), "score_seconds": round(time.time() - t0, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), "valid_trials": trials}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", choices=sorted(SETS), default="beauty")
    parser.add_argument("--models", default="pop,itemknn,ease,als,bpr,fbt,sknn")
    parser.add_argument("--no-tune", action="store_true")
    parser.add_argument("--valid-sample", type=int, default=5000, help="validation cases used for tuning")
    args = parser.parse_args()
    fmt, path, k, filter_seen = SETS[args.data]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/check.db")
        run_import(store, get_importer(fmt, str(path)))
        split = leave_one_out(store) if args.data == "beauty" else session_prefix(store)
        store.close()
    print(f"{args.data}: {split.protocol}, {split.n_items} items, {len(split.train)} train sequences, "
          f"{len(split.valid)} valid / {len(split.test)} test cases", flush=True)
    out_path = Path(__file__).resolve().parent / "results" / f"recommenders_{args.data}.json"
    report: dict[str, Any] = json.loads(out_path.read_text()) if out_path.is_file() else {"models": {}}
    report.update({"dataset": args.data, "protocol": split.protocol, "filter_seen": filter_seen,
                   "command": " ".join(["benchmarks/check_recommenders.py", *sys.argv[1:]])})
    for name in args.models.split(","):
        try:
            grids = {**GRIDS, **GRIDS_BY_DATA.get(args.data, {})}
            res = run_model(name, split, k, filter_seen, not args.no_tune, args.valid_sample, grids)
        except CapacityError as exc:
            res = {"refused": str(exc)}
        res["machine"] = describe()
        report["models"][name] = res
        out_path.write_text(json.dumps(report, indent=2))
        print(f"{name}: {json.dumps({k_: v for k_, v in res.items() if k_ != 'valid_trials'})}", flush=True)
    print(f"\n| model | hr@{k} | ndcg@{k} | mrr@{k} | fit s | score s | peak RSS MB | config |\n|---|---:|---:|---:|---:|---:|---:|---|")
    for name, r in report["models"].items():
        if "refused" in r:
            print(f"| {name} | refused: {r['refused'][:80]}... | | | | | | |")
            continue
        print(f"| {name} | {r[f'hr@{k}']} | {r[f'ndcg@{k}']} | {r[f'mrr@{k}']} | {r['fit_seconds']} | {r['score_seconds']} | "
              f"{r['peak_rss_mb']} | {r['config']} |")


if __name__ == "__main__":
    main()
