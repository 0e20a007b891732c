"""Print the docs/benchmarks.md tables of issue 3 from benchmarks/results/rec-*.json.

    .venv/bin/python benchmarks/bench_rec_table.py benchmarks/results/rec-beauty.json hr@10 ndcg@10
    .venv/bin/python benchmarks/bench_rec_table.py benchmarks/results/rec-diginetica.json hr@20 mrr@20
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    path, cols = Path(sys.argv[1]), sys.argv[2:] or ["hr@10", "ndcg@10"]
    report = json.loads(path.read_text())
    extra = ["coverage@10", "novelty@10"]
    print("| model | " + " | ".join(cols + extra) + " | train s | peak MB | chosen on validation |")
    print("|---|" + "---:|" * (len(cols) + len(extra) + 2) + "---|")
    for name, res in report["models"].items():
        if res.get("status") != "ok":
            print(f"| {name} | " + " | ".join("–" for _ in cols + extra) + f" | – | – | {res['status']}: "
                  f"{res.get('message', '')[:160]} |")
            continue
        tuned = res.get("params", {}) if "tuning" in res else {}
        shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in tuned.items()
                          if k not in ("seed", "num_threads", "threads", "max_items"))
        print(f"| {name} | " + " | ".join(f"{res[c]:.4f}" for c in cols) + " | "
              + " | ".join(f"{res[c]:.4f}" if c.startswith("coverage") else f"{res[c]:.2f}" for c in extra)
              + f" | {res['train_seconds']:.1f} | {res['peak_rss_mb']:.0f} | {shown or 'defaults'} |")
    m = report.get("machine", {})
    print(f"\n{report['n_items']:,} items, {report['n_test_cases']:,} test cases; wall {report.get('wall_seconds')} s; "
          f"load average (1 min) at the end {m.get('load_average_1m')}")


if __name__ == "__main__":
    main()
