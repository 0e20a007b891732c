"""Pool the paired tests of several `bench_finetune_items.py` runs (one per held-out bucket).

Run: .venv/bin/python benchmarks/pool_finetune_items.py benchmarks/results/finetune-scientific-wise-query-near20-e3*.json

Each run holds out its own 10% of the items (`--cold-seed`), so its test cases are disjoint from the
other runs' (a case belongs to the bucket of its target). The discordant Recall@10 hits (targets only
the tuned encoder finds in the top 10, and only zero-shot) therefore add up across runs, and the
pooled exact McNemar test is a binomial test of the summed counts. A run where WiSE-FT kept the
zero-shot weights counts with 0 / 0: its shop would have served the zero-shot model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scipy.stats import binomtest


def cold_seed(run: dict) -> int:
    argv = run["argv"]
    return int(argv[argv.index("--cold-seed") + 1]) if "--cold-seed" in argv else 0


def row(name: str, run: dict) -> tuple[str, dict[str, tuple[int, int]]]:
    zs, tuned = run["zero-shot"], run["full"]
    paired = tuned.get("paired_vs_zero_shot")
    if paired is None:
        raise SystemExit(f"{name} has no paired tests against zero-shot: run it again with the current bench")
    counts = {side: (paired[side]["hits_only_tuned"], paired[side]["hits_only_zero_shot"]) for side in ("cold", "all")}
    seed = cold_seed(run)
    alpha = tuned.get("wise_alpha", 1.0)
    line = (f"| {seed} | {run['held_out']} / {run['test_cases']} | {alpha:g} "
            f"| {zs['cold_recall@10']:.3f} -> {tuned['cold_recall@10']:.3f} "
            f"| {zs['cold_ndcg@10']:.3f} -> {tuned['cold_ndcg@10']:.3f} "
            f"| {zs['all_recall@10']:.3f} -> {tuned['all_recall@10']:.3f} "
            f"| {counts['cold'][0]} / {counts['cold'][1]}; {counts['all'][0]} / {counts['all'][1]} "
            f"| {paired['cold']['mcnemar_p']:.2f}; {paired['all']['mcnemar_p']:.2f} |")
    return line, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="result JSON files of bench_finetune_items.py")
    args = ap.parse_args()
    print("| held-out bucket (--cold-seed) | held-out items / test cases | alpha kept | test cold Recall@10 "
          "zero-shot -> tuned | test cold NDCG@10 | test all-items Recall@10 | hits only tuned / only "
          "zero-shot (cold; all) | McNemar p (cold; all) |")
    print("|---|---|---:|---|---|---|---|---|")
    total = {"cold": [0, 0], "all": [0, 0]}
    cases = hits_zs = hits_tuned = 0
    ndcg_zs = ndcg_tuned = 0.0
    runs = sorted(((path, json.loads(path.read_text())) for path in args.runs), key=lambda pr: cold_seed(pr[1]))
    for path, run in runs:
        line, counts = row(path.name, run)
        print(line)
        for side, (t, z) in counts.items():
            total[side][0] += t
            total[side][1] += z
        n = run["test_cases"]
        cases += n
        hits_zs += round(run["zero-shot"]["cold_recall@10"] * n)
        hits_tuned += round(run["full"]["cold_recall@10"] * n)
        ndcg_zs += run["zero-shot"]["cold_ndcg@10"] * n
        ndcg_tuned += run["full"]["cold_ndcg@10"] * n
    print()
    print(f"pooled over {len(args.runs)} buckets, {cases} test cases: cold Recall@10 "
          f"{hits_zs / cases:.4f} -> {hits_tuned / cases:.4f} ({hits_tuned - hits_zs:+d} targets), cold NDCG@10 "
          f"{ndcg_zs / cases:.4f} -> {ndcg_tuned / cases:.4f}")
    for side, (t, z) in total.items():
        p = binomtest(t, t + z).pvalue if t + z else 1.0
        print(f"  {side}: only tuned {t}, only zero-shot {z}, exact McNemar p = {p:.4f}")


if __name__ == "__main__":
    main()
