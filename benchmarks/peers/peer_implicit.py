"""Peer check (not part of `make test`): one leave-one-out split, one ALS model, scored by implicit's
own evaluation (``implicit.evaluation.ranking_metrics_at_k``), by ranx on the same top-k lists, and by
ShopSage's full-ranking protocol (``shopsage.evaluate.evaluate``: exclusion of seen items, top-k,
metrics). The three must agree.

The split is ShopSage's (``leave_one_out``); implicit gets identical matrices: the training matrix
holds each user's history before the test item (train + validation target, exactly what ShopSage
filters as "seen"), the test matrix each user's test item. With one target per user implicit's
``precision`` is the hit rate, its ``map`` the reciprocal rank (it divides by min(K, targets) = 1).

    .venv/bin/python benchmarks/peers/peer_implicit.py --data ../shared/data/amazon-beauty --format amazon-seq
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shopsage.data.importers import get_importer, run_import  # noqa: E402
from shopsage.data.splits import Sequences  # noqa: E402
from shopsage.data.stores import open_store  # noqa: E402
from shopsage.evaluate.machine import describe  # noqa: E402
from shopsage.evaluate.metrics import ranking_metrics  # noqa: E402
from shopsage.evaluate.protocols import EvalOptions, evaluate, make_split  # noqa: E402
from shopsage.recommend.base import ModelConfig, Recommender, TrainData  # noqa: E402


class _Frozen(ModelConfig):
    pass


class ImplicitUserScores(Recommender):
    """The fitted implicit model's scores for the owners of the cases, served in case order (the
    order in which ``evaluate`` asks): no refitting, so both evaluations rank the same scores."""

    name = "implicit-peer"
    Config = _Frozen

    def __init__(self, model: object, owners: np.ndarray, n_items: int) -> None:
        super().__init__()
        self.model, self.owners, self.cursor = model, owners, 0
        self.n_items, self.fitted = n_items, True

    def score(self, histories: Sequences) -> np.ndarray:
        users = self.owners[self.cursor:self.cursor + len(histories)]
        self.cursor += len(histories)
        return np.asarray(self.model.user_factors[users] @ self.model.item_factors.T, dtype=np.float32)  # type: ignore[attr-defined]

    def _fit(self, data: TrainData) -> None:  # pragma: no cover - never refitted
        raise NotImplementedError

    def _save(self, directory: Path) -> None:  # pragma: no cover
        raise NotImplementedError

    def _load(self, directory: Path) -> None:  # pragma: no cover
        raise NotImplementedError


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/amazon-beauty")
    ap.add_argument("--format", default="amazon-seq")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--reg", type=float, default=0.05)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", default="benchmarks/results/rec-peer-implicit.json")
    args = ap.parse_args()

    import implicit
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.evaluation import ranking_metrics_at_k

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/peer.db")
        run_import(store, get_importer(args.format, args.data))
        split = make_split(store, "leave-one-out")
        store.close()
    n_items, n_users = split.n_items, len(split.train)
    seen = split.train_with_valid()  # per user: everything before the test item
    train = seen.to_csr(n_items, binary=True)
    owners = split.test.owner.astype(np.int64)
    test = sp.csr_matrix((np.ones(len(owners), np.float32), (owners, split.test.target)), shape=(n_users, n_items))
    assert all(np.array_equal(np.sort(np.unique(seen[int(o)])), np.unique(split.test.history[c]))
               for c, o in enumerate(owners[:500])), "the seen items differ from the test histories"

    model = AlternatingLeastSquares(factors=args.factors, regularization=args.reg, iterations=args.iterations,
                                    random_state=0, num_threads=1)
    started = time.perf_counter()
    model.fit(train, show_progress=False)
    fit_s = time.perf_counter() - started

    started = time.perf_counter()
    peer = ranking_metrics_at_k(model, train, test, K=args.k, show_progress=False, num_threads=1)
    peer_s = time.perf_counter() - started

    started = time.perf_counter()
    ours = evaluate(ImplicitUserScores(model, owners, n_items), split.test, n_items,
                    EvalOptions(ks=(args.k,), filter_seen=True, beyond=False, batch_size=2048))
    ours_s = time.perf_counter() - started

    # ranx on implicit's own top-k lists (its recommend(), seen items filtered)
    ids, _ = model.recommend(owners, train[owners], N=args.k, filter_already_liked_items=True)
    on_lists = ranking_metrics(ids.astype(np.int64), split.test.target, ks=(args.k,))
    import ranx

    qrels = ranx.Qrels({str(c): {str(int(t)): 1} for c, t in enumerate(split.test.target)})
    run = ranx.Run({str(c): {str(int(i)): float(args.k - r) for r, i in enumerate(row) if i >= 0} for c, row in enumerate(ids)})
    rx = ranx.evaluate(qrels, run, [f"hit_rate@{args.k}", f"ndcg@{args.k}", f"mrr@{args.k}"])

    k = args.k
    rows = [
        ("hit rate (implicit: precision)", peer["precision"], ours[f"hr@{k}"], on_lists[f"hr@{k}"], rx[f"hit_rate@{k}"]),
        ("ndcg", peer["ndcg"], ours[f"ndcg@{k}"], on_lists[f"ndcg@{k}"], rx[f"ndcg@{k}"]),
        ("mrr (implicit: map)", peer["map"], ours[f"mrr@{k}"], on_lists[f"mrr@{k}"], rx[f"mrr@{k}"]),
        ("map", peer["map"], ours[f"map@{k}"], on_lists[f"map@{k}"], None),
    ]
    result = {
        "dataset": Path(args.data).name, "protocol": "leave-one-out, full ranking, seen items filtered",
        "n_users": n_users, "n_items": n_items, "n_test_cases": len(split.test), "k": k,
        "model": f"implicit {implicit.__version__} ALS factors={args.factors} reg={args.reg} "
                 f"iterations={args.iterations} seed=0", "fit_seconds": round(fit_s, 2),
        "seconds": {"implicit_eval": round(peer_s, 2), "shopsage_eval": round(ours_s, 2)},
        "metrics": [{"metric": r[0], "implicit": r[1], "shopsage_protocol": r[2], "shopsage_on_implicit_lists": r[3],
                     "ranx_on_implicit_lists": r[4]} for r in rows],
        "max_abs_difference": max(abs(r[1] - r[2]) for r in rows),
        "machine": describe(),
        "command": "python benchmarks/peers/peer_implicit.py " + " ".join(sys.argv[1:]),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"| metric@{k} | implicit.evaluation | ShopSage protocol | ShopSage metrics on implicit's lists | ranx on implicit's lists |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | " + " | ".join("–" if v is None else f"{v:.6f}" for v in r[1:]) + " |")
    print(f"max |implicit - ShopSage| = {result['max_abs_difference']:.2e}; load average {result['machine']['load_average_1m']}")


if __name__ == "__main__":
    main()
