"""Hybrid blend on Beauty: item-kNN + title embeddings (all-MiniLM-L6-v2), side by side in one run.

alpha (weight of item-kNN) and the normalisation are chosen on a seeded sample of validation
cases; test: leave-one-out, full ranking, seen items filtered, refit on train + validation targets.
Run: .venv/bin/python benchmarks/check_hybrid.py   (writes benchmarks/results/hybrid_beauty.json)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_recommenders import DATA, metrics, sample  # noqa: E402
from machine import describe  # noqa: E402
from shopsage.data.importers import get_importer, run_import  # noqa: E402
from shopsage.data.splits import leave_one_out  # noqa: E402
from shopsage.data.stores import open_store  # noqa: E402
from shopsage.recommend import ContentScorer, Hybrid, ItemKNN  # noqa: E402
from shopsage.recommend.base import TrainData  # noqa: E402
from shopsage.text.encoder import TextEncoder  # noqa: E402

KNN = {"neighbors": 200, "shrink": 10.0}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/check.db")
        run_import(store, get_importer("amazon-seq", str(DATA / "amazon-beauty")))
        split = leave_one_out(store)
        titles = {row.ext_id: row.title or "" for _, row in store.items()}
        store.close()
    texts = [titles.get(ext, "") for ext in split.items.ids]  # item-index order
    t0 = time.time()
    emb = TextEncoder().encode(texts)
    encode_s = round(time.time() - t0, 1)
    train, valid = TrainData.from_split(split), sample(split.valid, 5000)
    trials = []
    for norm in ("minmax", "rank"):
        for alpha in (1.0, 0.95, 0.9, 0.8, 0.6, 0.0):
            h = Hybrid(ItemKNN(**KNN), ContentScorer(emb), alpha=alpha, normalization=norm).fit(train)
            m = metrics(h, valid, 10, True)
            trials.append({"alpha": alpha, "normalization": norm, **m})
            print(f"valid alpha={alpha} {norm}: ndcg@10 {m['ndcg@10']:.4f} hr@10 {m['hr@10']:.4f}", flush=True)
    best = max(trials, key=lambda t: t["ndcg@10"])
    refit = TrainData.from_split(split, with_valid_targets=True)
    results = {}
    for label, alpha in (("itemknn", 1.0), ("content", 0.0), ("hybrid", best["alpha"])):
        h = Hybrid(ItemKNN(**KNN), ContentScorer(emb), alpha=alpha, normalization=best["normalization"]).fit(refit)
        results[label] = {"alpha": alpha, **{k: round(v, 4) for k, v in metrics(h, split.test, 10, True).items()}}
        print(label, results[label], flush=True)
    out = {"dataset": "beauty", "protocol": split.protocol, "filter_seen": True, "itemknn": KNN,
           "normalization": best["normalization"], "encode_seconds": encode_s, "valid_trials": trials,
           "test": results, "machine": describe()}
    (Path(__file__).resolve().parent / "results" / "hybrid_beauty.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
