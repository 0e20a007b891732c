"""Home Depot: the search ranker trained on simulated clicks alone vs on the judgments (issue 24, goal: >= 90%).

Run: .venv/bin/python benchmarks/bench_click_ranker.py [--data DIR] [--impressions 10] [--shown 20] [--eta 1.0]
     [--json benchmarks/results/click-ranker-homedepot.json]

The study is :func:`shopsage.rank.search_clicks.run_click_study` (its docstring: protocol, click model,
labels): both rankers are the engine's serving LambdaMART, scored on the same held-out queries
through the search front door (learned mode), lexical features only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from shopsage.evaluate.machine import describe
from shopsage.rank.clicks import ClickModelConfig
from shopsage.rank.search_clicks import ClickStudyConfig, run_click_study

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", str(ROOT.parent / "shared" / "data")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA / "homedepot")
    ap.add_argument("--impressions", type=int, default=10)
    ap.add_argument("--shown", type=int, default=20)
    ap.add_argument("--eta", type=float, default=1.0)
    ap.add_argument("--epsilon", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "click-ranker-homedepot.json")
    args = ap.parse_args()
    clicks = ClickModelConfig(max_relevance=2.0, shown=args.shown, impressions=args.impressions, eta=args.eta,
                              epsilon=args.epsilon, max_weight=float(args.shown), seed=args.seed)
    cfg = ClickStudyConfig(catalog=str(args.data / "product_titles.csv"), judgments=str(args.data / "train.csv"),
                           clicks=clicks, seed=args.seed)
    started = time.time()
    out = run_click_study(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    out.update({"command": "python benchmarks/bench_click_ranker.py " + " ".join(sys.argv[1:]),
                "seconds": round(time.time() - started, 1), "machine": describe(),
                "date": time.strftime("%Y-%m-%d", time.gmtime())})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(f"nDCG@10 judgments {out['judgments']['ndcg@10']:.4f}, simulated clicks {out['simulated_clicks']['ndcg@10']:.4f} "
          f"({out['ratio_ndcg@10']:.1%}), unweighted clicks {out['simulated_clicks_unweighted']['ndcg@10']:.4f}, "
          f"lexical {out['lexical']['ndcg@10']:.4f}")


if __name__ == "__main__":
    main()
