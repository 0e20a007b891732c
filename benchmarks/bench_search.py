"""Product-search benchmark on Home Depot: writes benchmarks/results/search.{json,md}.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_search.py [--query-int8] [--int8-check]

``--query-int8`` encodes queries with the int8 backend (items stay float32) and writes
``search-int8q.{json,md}``.

The same as ``shopsage bench search --catalog ... --judgments ... --json benchmarks/results/search.json``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from shopsage.search.bench import BenchConfig, run_search_bench, write_report

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", ROOT.parent / "shared" / "data")) / "homedepot"


def main() -> None:
    cfg = BenchConfig(catalog=str(DATA / "product_titles.csv"), judgments=str(DATA / "train.csv"),
                      cache_dir=str(ROOT / "var" / "cache" / "embeddings"), int8_check="--int8-check" in sys.argv,
                      query_backend="torch-int8" if "--query-int8" in sys.argv else "torch",
                      log=lambda m: print(m, file=sys.stderr, flush=True))
    results = run_search_bench(cfg)
    name = "search-int8q.json" if "--query-int8" in sys.argv else "search.json"
    md = write_report(results, ROOT / "benchmarks" / "results" / name,
                      command="python benchmarks/bench_search.py " + " ".join(sys.argv[1:]))
    print(md.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
