"""A trained sequential model blended with session-kNN (``Hybrid``), on Diginetica (issue 4).

    .venv/bin/python benchmarks/bench_seq_blend.py --model-dir var/models-bench/digi-sasrec

The sequential model comes from ``bench_seq.py --save DIR`` (trained on train + validation
targets, as ``shopsage bench rec`` refits). SKNN is fitted on the same data with the parameters
``shopsage bench rec`` tuned for Diginetica (benchmarks/results/rec-diginetica.json). The blend is
the library's :class:`~shopsage.recommend.Hybrid` rule: ``alpha * norm(sequential) + (1 - alpha) *
norm(sknn)``, per-row normalisation. ``alpha`` and the normalisation are chosen on the sequential model's own
early-stopping cases (the last item of a seeded 10% of the sequences, which it never trained on;
SKNN is fitted without them for this choice), then the test cases (every line of test_prefixes.tsv) are scored once with the choice, beside
each model alone. Ties rank the target last; seen items are kept (the Diginetica protocol).
Writes ``benchmarks/results/seq-diginetica-blend[-TAG].json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_seq_data import load  # noqa: E402
from machine import describe  # noqa: E402
from shopsage.data.splits import EvalCases, Sequences  # noqa: E402
from shopsage.recommend import SKNN, model_class  # noqa: E402
from shopsage.recommend.base import TrainData  # noqa: E402
from shopsage.recommend.hybrid import normalize_scores  # noqa: E402
from shopsage.recommend.sequential.base import holdout_valid  # noqa: E402
from shopsage.recommend.sequential.train import subsample_cases  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SKNN_PARAMS = {"neighbors": 106, "sample_size": 2500, "similarity": "cosine", "weighting": "quadratic", "idf": True}


def score_pairs(seq: object, knn: SKNN, cases: EvalCases, batch: int = 512):  # type: ignore[no-untyped-def]
    """Yield (sequential scores, sknn scores, targets) per batch of cases."""
    target = cases.target.astype(np.int64)
    for lo in range(0, len(cases), batch):
        hist = Sequences.from_lists([cases.history[c] for c in range(lo, min(lo + batch, len(cases)))])
        yield seq.score(hist), knn.score(hist), target[lo:lo + len(hist)]  # type: ignore[attr-defined]


def metrics(scores: np.ndarray, target: np.ndarray, k: int, sums: dict[str, float]) -> None:
    ts = scores[np.arange(len(target)), target][:, None]
    rank = (scores >= ts).sum(1) - 1  # 0-based, ties count against the target
    hit = rank < k
    sums[f"hr@{k}"] += float(hit.sum())
    sums[f"mrr@{k}"] += float((1.0 / (rank[hit] + 1)).sum())
    sums[f"ndcg@{k}"] += float((1.0 / np.log2(rank[hit] + 2)).sum())


def evaluate(seq: object, knn: SKNN, cases: EvalCases, settings: list[tuple[float, str]], k: int = 20
             ) -> dict[tuple[float, str], dict[str, float]]:
    sums = {s: {f"{m}@{k}": 0.0 for m in ("hr", "mrr", "ndcg")} for s in settings}
    for s_seq, s_knn, tgt in score_pairs(seq, knn, cases):
        normed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for alpha, how in settings:
            if how not in normed:
                normed[how] = normalize_scores(s_seq, how), normalize_scores(s_knn, how)
            a, b = normed[how]
            metrics(alpha * a + (1.0 - alpha) * b, tgt, k, sums[(alpha, how)])
    return {s: {m: v / len(cases) for m, v in d.items()} for s, d in sums.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model-dir", required=True, help="a sequential model saved by bench_seq.py --save")
    ap.add_argument("--valid-cases", type=int, default=5000)
    ap.add_argument("--test-cases", type=int, default=None, help="a seeded sample of the test cases (smoke runs)")
    ap.add_argument("--select", default="mrr@20", choices=["hr@20", "mrr@20", "ndcg@20"])
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    t0 = time.perf_counter()
    bench = load("diginetica")
    split = bench.split
    manifest = json.loads((Path(args.model_dir) / "manifest.json").read_text())
    seq = model_class(manifest["kind"].split("/", 1)[1]).load(args.model_dir)
    full = TrainData.from_split(split, with_valid_targets=True, item_text=bench.item_text)
    # The sequential model's own early-stopping cases (same seed and size as its fit): targets it never
    # trained on. SKNN for the choice is fitted without them; for the test, on everything.
    held = holdout_valid(full, seq.config.max_valid_cases, seq.config.seed)  # type: ignore[attr-defined]
    knn_select = SKNN(**SKNN_PARAMS)
    knn_select.fit(held)
    knn = SKNN(**SKNN_PARAMS)
    knn.fit(full)
    print(f"loaded and fitted in {time.perf_counter() - t0:.0f} s", flush=True)

    assert held.valid is not None
    valid = subsample_cases(held.valid, args.valid_cases, 0)
    test_cases = subsample_cases(split.test, args.test_cases, 0) if args.test_cases else split.test
    grid = [(round(a, 2), how) for how in ("minmax", "zscore", "rank") for a in np.linspace(0.0, 1.0, 11)]
    t1 = time.perf_counter()
    val = evaluate(seq, knn_select, valid, grid)
    best = max(grid, key=lambda s: val[s][args.select])
    print(f"validation grid ({len(valid)} cases, {time.perf_counter() - t1:.0f} s): best {best} {val[best]}", flush=True)
    t2 = time.perf_counter()
    test = evaluate(seq, knn, test_cases, [best, (1.0, best[1]), (0.0, best[1])])
    out = {"data": "diginetica", "protocol": split.protocol, "n_test": len(test_cases), "sequential": manifest,
           "sknn_params": SKNN_PARAMS, "select_on": args.select, "valid_cases": len(valid),
           "chosen": {"alpha": best[0], "normalization": best[1]},
           "valid_grid": [{"alpha": a, "normalization": h, **val[(a, h)]} for a, h in grid],
           "test": {"blend": test[best], "sequential alone": test[(1.0, best[1])], "sknn alone": test[(0.0, best[1])]},
           "test_seconds": round(time.perf_counter() - t2, 1), "machine": describe()}
    name = "seq-diginetica-blend" + (f"-{args.tag}" if args.tag else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    print(json.dumps(out["test"], indent=2), flush=True)


if __name__ == "__main__":
    main()
