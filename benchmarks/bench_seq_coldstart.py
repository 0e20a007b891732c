"""Cold-start items on Amazon Scientific (issue 4): text-aware SASRec against popularity and random.

    .venv/bin/python benchmarks/bench_seq_coldstart.py [--set key=value ...]

Protocol: the items whose seeded hash of the ASIN falls in the held-out 10% bucket
(``shopsage.data.splits.cold_start_items``, seed 0) are removed from every training sequence and
every validation case; the test cases (leave-one-out, full ranking, seen items filtered) whose
target is one of them are scored. The models never saw a cold item in training; SASRec with
``item_repr="text-fuse"`` represents it by its text alone. Popularity gives every cold item the
same (zero) count; random's recall@k is computed exactly (k / candidates). Writes
``benchmarks/results/seq-coldstart.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_seq import parse_sets  # noqa: E402
from bench_seq_data import load  # noqa: E402
from machine import describe  # noqa: E402
from shopsage.data.splits import EvalCases, Sequences, cold_start_items  # noqa: E402
from shopsage.recommend.base import TrainData  # noqa: E402
from shopsage.recommend.popularity import Popularity  # noqa: E402
from shopsage.recommend.sequential import SASRec  # noqa: E402
from shopsage.recommend.sequential.train import rank_metrics  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
KS = (10, 20, 50)


def drop_items(seqs: Sequences, bad: np.ndarray) -> Sequences:
    return Sequences.from_lists([s[~bad[s]] for s in (seqs[i] for i in range(len(seqs)))])


def select(cases: EvalCases, keep: np.ndarray) -> EvalCases:
    idx = np.flatnonzero(keep)
    return EvalCases(cases.owner[idx], Sequences.from_lists([cases.history[int(c)] for c in idx]),
                     Sequences.from_lists([cases.targets[int(c)] for c in idx]))


def random_metrics(cases: EvalCases, n_items: int) -> dict[str, float]:
    """Expected metrics of a uniformly random ranking of the unseen items."""
    cand = n_items - np.array([len(np.unique(cases.history[c])) for c in range(len(cases))])
    out = {}
    for k in KS:
        out[f"hr@{k}"] = float(np.mean(np.minimum(k, cand) / cand))
        out[f"ndcg@{k}"] = float(np.mean([sum(1 / np.log2(r + 2) for r in range(min(k, c))) / c for c in cand]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", nargs="*", default=[], help="SASRec config overrides key=value")
    ap.add_argument("--modes", default="text-fuse,id", help="item representations to train")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    bench = load("scientific")
    split = bench.split
    cold_ext = cold_start_items(split.items.ids, 0.1, seed=0)
    cold = np.zeros(split.n_items, dtype=bool)
    cold[[split.items.index(e) for e in cold_ext]] = True
    train = drop_items(split.train, cold)
    valid = split.valid
    valid = select(valid, ~cold[valid.target])
    valid = EvalCases(valid.owner, drop_items(valid.history, cold), valid.targets)
    test_cold = select(split.test, cold[split.test.target])
    test_warm = select(split.test, ~cold[split.test.target])
    print(f"{int(cold.sum())} cold items; {len(test_cold)} test cases with a cold target, {len(test_warm)} warm; "
          f"train events {len(split.train.items)} -> {len(train.items)}", flush=True)
    data = TrainData(split.n_items, train, item_text=bench.item_text, valid=valid)
    rows: dict[str, dict[str, object]] = {}
    pop = Popularity().fit(data)

    class _Dense:  # rank_metrics needs score_tensor; popularity's dense scores serve
        def __init__(self, model: Popularity) -> None:
            self.model = model

        def score_tensor(self, seqs: list[np.ndarray]):  # type: ignore[no-untyped-def]
            import torch

            return torch.from_numpy(self.model.score(Sequences.from_lists(seqs)).copy())

    rows["popularity"] = {"cold": rank_metrics(_Dense(pop), test_cold, KS),  # type: ignore[arg-type]
                          "warm": rank_metrics(_Dense(pop), test_warm, KS)}  # type: ignore[arg-type]
    rows["random"] = {"cold": random_metrics(test_cold, split.n_items), "warm": random_metrics(test_warm, split.n_items)}
    overrides = {"verbose": True, **parse_sets(args.set)}
    for mode in args.modes.split(","):
        t0 = time.perf_counter()
        model = SASRec(**{**overrides, "item_repr": mode}).fit(data)
        rows[f"sasrec-{mode}"] = {"cold": rank_metrics(model, test_cold, KS), "warm": rank_metrics(model, test_warm, KS),
                                  "train": model.report, "seconds": time.perf_counter() - t0}
        print(mode, rows[f"sasrec-{mode}"]["cold"], flush=True)
    out = {"data": "scientific", "protocol": "leave-one-out, cold-start items removed from training",
           "n_cold_items": int(cold.sum()), "n_test_cold": len(test_cold), "n_test_warm": len(test_warm),
           "results": rows, "config": overrides, "machine": describe()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"seq-coldstart{'-' + args.tag if args.tag else ''}.json").write_text(json.dumps(out, indent=2, default=float), encoding="utf-8")
    for name, r in rows.items():
        print(name, {k: round(v, 4) for k, v in r["cold"].items() if k.startswith(("hr", "ndcg"))})  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
