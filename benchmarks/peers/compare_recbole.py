"""Time to RecBole's validation quality: RecBole's SASRec run against ShopSage's, side by side.

Run: python3 benchmarks/peers/compare_recbole.py [--shopsage RESULT.json] [--recbole RESULT.json]

Reads the two result files (``bench_seq.py --no-refit`` for ShopSage, ``peers/bench_seq_recbole.py`` for
RecBole; both validate on every user's second-to-last item) and prints, for each RecBole epoch, its
validation NDCG@10, its wall seconds, the first ShopSage epoch that reached that NDCG@10 and its
seconds, and the ratio; then the same for RecBole's best epoch (the speed goal of issue 4).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def first_reaching(history: list[dict], target: float) -> dict | None:
    """ShopSage's first epoch whose validation NDCG@10 is at least ``target`` (None if never)."""
    return next((h for h in history if h["valid_ndcg@10"] >= target), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shopsage", default=str(RESULTS / "seq-beauty-sasrec-ce-beside-recbole.json"))
    ap.add_argument("--recbole", default=str(RESULTS / "seq-recbole-beauty.json"))
    args = ap.parse_args()
    ours = json.loads(Path(args.shopsage).read_text())["train"]["history"]
    theirs = json.loads(Path(args.recbole).read_text())["epochs_log"]
    print("| RecBole epoch (from 1) | its validation NDCG@10 | RecBole seconds | ShopSage reached it at | ratio |")
    print("|---:|---:|---:|---:|---:|")
    best = max(theirs, key=lambda e: e["valid_ndcg@10"])  # the first epoch with the best score
    for e in theirs:
        hit = first_reaching(ours, e["valid_ndcg@10"])
        where = f"{hit['seconds']:.0f} s (epoch {hit['epoch']})" if hit else "never"
        ratio = f"{e['wall_s'] / hit['seconds']:.1f}x" if hit else "–"
        mark = " (best)" if e is best else ""
        print(f"| {e['epoch'] + 1}{mark} | {e['valid_ndcg@10']:.4f} | {e['wall_s']:,.0f} | {where} | {ratio} |")
    hit = first_reaching(ours, best["valid_ndcg@10"])
    print(f"\nRecBole's best validation NDCG@10 {best['valid_ndcg@10']:.4f} at epoch {best['epoch'] + 1}, "
          f"{best['wall_s']:,.0f} s; ShopSage "
          + (f"reached it at {hit['seconds']:.0f} s (epoch {hit['epoch']}): {best['wall_s'] / hit['seconds']:.1f}x faster"
             if hit else "never reached it"))


if __name__ == "__main__":
    main()
