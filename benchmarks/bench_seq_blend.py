"""Trained sequential models blended with session-kNN (``Hybrid``), on Diginetica (issue 4).

    .venv/bin/python benchmarks/bench_seq_blend.py --model-dir var/models-bench/digi-sasrec
    .venv/bin/python benchmarks/bench_seq_blend.py --model-dir DIR_SASREC DIR_GRU4REC --tag ensemble

Each sequential model comes from ``bench_seq.py --save DIR`` (trained on train + validation
targets, as ``shopsage bench rec`` refits). SKNN is fitted on the same data with the parameters
``shopsage bench rec`` tuned for Diginetica (benchmarks/results/rec-diginetica.json). The blend is
the library's :class:`~shopsage.recommend.Hybrid` rule, nested when there are more parts:
``s = norm(m1)``, then ``s = alpha_i * norm(s) + (1 - alpha_i) * norm(part_i)`` for the other
sequential models, then SKNN, then (with ``--recent-decay``) ``RecentItems``, the session's own
items by recency; e.g. ``Hybrid(Hybrid(m1, m2, alpha=a1), sknn, alpha=a2)``. One model alone:
``alpha * norm(sequential) + (1 - alpha) * norm(sknn)``; per-row normalisation. The alphas (a grid
of all combinations, step ``--step``; ``--fixed`` pins the leading ones) and the normalisation are
chosen on the sequential models' own early-stopping cases (the last item of a seeded 10% of the
sequences, which they never trained on: the models must share ``max_valid_cases`` and ``seed``;
SKNN is fitted without them for this choice), then the test cases (every line of
test_prefixes.tsv) are scored once with the choice, beside each part alone. Ties rank the target
last; seen items are kept (the Diginetica protocol).
Writes ``benchmarks/results/seq-diginetica-blend[-TAG].json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_seq_data import load  # noqa: E402
from machine import describe  # noqa: E402
from shopsage.data.splits import EvalCases, Sequences  # noqa: E402
from shopsage.recommend import SKNN, RecentItems, model_class  # noqa: E402
from shopsage.recommend.base import TrainData  # noqa: E402
from shopsage.recommend.hybrid import normalize_scores  # noqa: E402
from shopsage.recommend.sequential.base import holdout_valid  # noqa: E402
from shopsage.recommend.sequential.train import subsample_cases  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SKNN_PARAMS = {"neighbors": 106, "sample_size": 2500, "similarity": "cosine", "weighting": "quadratic", "idf": True}


Setting = tuple[tuple[float, ...], str]  # (alphas, normalisation)


def score_parts(models: list[object], cases: EvalCases, batch: int = 512):  # type: ignore[no-untyped-def]
    """Yield (each model's scores, targets) per batch of cases."""
    target = cases.target.astype(np.int64)
    for lo in range(0, len(cases), batch):
        hist = Sequences.from_lists([cases.history[c] for c in range(lo, min(lo + batch, len(cases)))])
        yield [m.score(hist) for m in models], target[lo:lo + len(hist)]  # type: ignore[attr-defined]


def metrics(scores: np.ndarray, target: np.ndarray, k: int, sums: dict[str, float]) -> None:
    ts = scores[np.arange(len(target)), target][:, None]
    rank = (scores >= ts).sum(1) - 1  # 0-based, ties count against the target
    hit = rank < k
    sums[f"hr@{k}"] += float(hit.sum())
    sums[f"mrr@{k}"] += float((1.0 / (rank[hit] + 1)).sum())
    sums[f"ndcg@{k}"] += float((1.0 / np.log2(rank[hit] + 2)).sum())


def blend(normed: list[np.ndarray], alphas: tuple[float, ...], how: str, memo: dict[tuple[float, ...], np.ndarray]
          ) -> np.ndarray:
    """The nested Hybrid rule over already normalised parts; ``memo`` keeps the normalised inner blends."""
    if len(alphas) == 1:
        return alphas[0] * normed[0] + (1.0 - alphas[0]) * normed[1]
    inner = alphas[:-1]
    if inner not in memo:
        memo[inner] = normalize_scores(blend(normed, inner, how, memo), how)
    a = alphas[-1]
    return a * memo[inner] + (1.0 - a) * normed[len(alphas)]


def evaluate(models: list[object], cases: EvalCases, settings: list[Setting], k: int = 20
             ) -> dict[Setting, dict[str, float]]:
    sums = {s: {f"{m}@{k}": 0.0 for m in ("hr", "mrr", "ndcg")} for s in settings}
    hows = sorted({how for _, how in settings})
    for parts, tgt in score_parts(models, cases):
        for how in hows:
            normed = [normalize_scores(p, how) for p in parts]
            memo: dict[tuple[float, ...], np.ndarray] = {}
            for alphas, h in settings:
                if h == how:
                    metrics(blend(normed, alphas, how, memo), tgt, k, sums[(alphas, how)])
    return {s: {m: v / len(cases) for m, v in d.items()} for s, d in sums.items()}


def alone(i: int, n_parts: int, how: str) -> Setting:
    """The setting that gives part ``i`` all the weight (``n_parts - 1`` alphas)."""
    alphas = [1.0] * (n_parts - 1)
    if i > 0:
        alphas[i - 1] = 0.0
    return tuple(alphas), how


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model-dir", required=True, nargs="+",
                    help="sequential models saved by bench_seq.py --save (blended in this order, SKNN last)")
    ap.add_argument("--valid-cases", type=int, default=5000)
    ap.add_argument("--test-cases", type=int, default=None, help="a seeded sample of the test cases (smoke runs)")
    ap.add_argument("--select", default="mrr@20", choices=["hr@20", "mrr@20", "ndcg@20"])
    ap.add_argument("--recent-decay", type=float, default=None,
                    help="add RecentItems(decay) as the last part (a repeat boost: the session's own items by recency)")
    ap.add_argument("--fixed", default="",
                    help="comma-separated values for the first alphas (chosen by an earlier run on the same "
                         "validation cases); the grid covers the rest")
    ap.add_argument("--step", type=float, default=0.1, help="grid step of each alpha (0.1: 11 values)")
    ap.add_argument("--norms", default="minmax,zscore,rank",
                    help="normalisations to try (rank costs seconds per batch of 512 cases for each inner blend)")
    ap.add_argument("--valid-only", action="store_true", help="stop after the validation grid (comparing options)")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    t0 = time.perf_counter()
    bench = load("diginetica")
    split = bench.split
    manifests = [json.loads((Path(d) / "manifest.json").read_text()) for d in args.model_dir]
    seqs = [model_class(m["kind"].split("/", 1)[1]).load(d) for m, d in zip(manifests, args.model_dir, strict=True)]
    holdout = {(s.config.max_valid_cases, s.config.seed) for s in seqs}  # type: ignore[attr-defined]
    if len(holdout) > 1:
        raise SystemExit(f"the models held out different early-stopping cases (max_valid_cases, seed): {holdout}; "
                         "train them with the same values")
    full = TrainData.from_split(split, with_valid_targets=True, item_text=bench.item_text)
    # The sequential models' own early-stopping cases (same seed and size as their fits): targets they never
    # trained on. SKNN for the choice is fitted without them; for the test, on everything.
    most, seed = holdout.pop()
    held = holdout_valid(full, most, seed)
    knn_select = SKNN(**SKNN_PARAMS)
    knn_select.fit(held)
    knn = SKNN(**SKNN_PARAMS)
    knn.fit(full)
    print(f"loaded and fitted in {time.perf_counter() - t0:.0f} s", flush=True)

    assert held.valid is not None
    valid = subsample_cases(held.valid, args.valid_cases, 0)
    test_cases = subsample_cases(split.test, args.test_cases, 0) if args.test_cases else split.test
    steps = [round(float(a), 2) for a in np.linspace(0.0, 1.0, int(round(1.0 / args.step)) + 1)]
    extra: list[object] = []
    if args.recent_decay is not None:
        extra = [RecentItems(decay=args.recent_decay).fit(full)]
    fixed = tuple(float(a) for a in args.fixed.split(",") if a)
    free = len(seqs) + len(extra) - len(fixed)
    if free < 1:
        raise SystemExit(f"--fixed gives {len(fixed)} alphas; there are only {len(seqs) + len(extra)}")
    grid: list[Setting] = [(fixed + tuple(float(a) for a in alphas), how) for how in args.norms.split(",")
                           for alphas in itertools.product(steps, repeat=free)]
    t1 = time.perf_counter()
    val = evaluate([*seqs, knn_select, *extra], valid, grid)
    best = max(grid, key=lambda s: val[s][args.select])
    print(f"validation grid ({len(valid)} cases, {time.perf_counter() - t1:.0f} s): best {best} {val[best]}", flush=True)
    if args.valid_only:
        return
    t2 = time.perf_counter()
    names = ([f"{m['kind'].split('/', 1)[1]} ({Path(d).name})" for m, d in zip(manifests, args.model_dir, strict=True)]
             + ["sknn"] + [f"recent (decay {args.recent_decay})"] * len(extra))
    singles = {f"{name} alone": alone(i, len(names), best[1]) for i, name in enumerate(names)}
    test = evaluate([*seqs, knn, *extra], test_cases, list(dict.fromkeys([best, *singles.values()])))
    out = {"data": "diginetica", "protocol": split.protocol, "n_test": len(test_cases),
           "sequential": manifests[0] if len(manifests) == 1 else manifests, "parts": names,
           "sknn_params": SKNN_PARAMS, "recent_decay": args.recent_decay, "fixed_alphas": list(fixed),
           "select_on": args.select, "normalisations": args.norms.split(","),
           "valid_cases": len(valid),
           "chosen": {"alpha": best[0][0] if len(best[0]) == 1 else list(best[0]), "normalization": best[1]},
           "valid_grid": [{"alpha": a[0] if len(a) == 1 else list(a), "normalization": h, **val[(a, h)]} for a, h in grid],
           "test": {"blend": test[best], **{k: test[v] for k, v in singles.items()}},
           "test_seconds": round(time.perf_counter() - t2, 1), "machine": describe()}
    name = "seq-diginetica-blend" + (f"-{args.tag}" if args.tag else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    print(json.dumps(out["test"], indent=2), flush=True)


if __name__ == "__main__":
    main()
