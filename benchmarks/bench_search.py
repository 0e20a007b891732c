"""Product-search benchmark on Home Depot: writes benchmarks/results/search[-suffix].{json,md}.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_search.py [--query-backend torch|torch-int8|onnx] [--int8-check] [--candidates N]
        [--no-dense-spelling]

The same as ``shopsage bench search --catalog .../product_titles.csv --judgments .../train.csv --json ...``.
``--query-backend`` picks the query encoder (items are always float32 torch vectors; ``--query-int8``
is ``--query-backend torch-int8``); ``--candidates`` sets
how many items each of lexical and vector search contributes to the pool hybrid and learned rank;
``--no-dense-spelling`` feeds the query encoder the query as typed (the default, as in the product,
is the spelling-corrected query).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from shopsage.search import SearchConfig
from shopsage.search.bench import BenchConfig, run_search_bench, write_report

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", ROOT.parent / "shared" / "data")) / "homedepot"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--query-backend", choices=["torch", "torch-int8", "onnx"], default="torch")
    ap.add_argument("--query-int8", action="store_true", help="the same as --query-backend torch-int8")
    ap.add_argument("--int8-check", action="store_true")
    ap.add_argument("--candidates", type=int, default=SearchConfig().candidates)
    ap.add_argument("--no-dense-spelling", action="store_true",
                    help="the query encoder reads the query as typed, not spelling-corrected (results: *-typed)")
    args = ap.parse_args()
    backend = "torch-int8" if args.query_int8 else args.query_backend
    cfg = BenchConfig(catalog=str(DATA / "product_titles.csv"), judgments=str(DATA / "train.csv"),
                      cache_dir=str(ROOT / "var" / "cache" / "embeddings"), int8_check=args.int8_check,
                      query_backend=backend,
                      search=SearchConfig(candidates=args.candidates, dense_spelling=not args.no_dense_spelling),
                      log=lambda m: print(m, file=sys.stderr, flush=True))
    results = run_search_bench(cfg)
    suffix = {"torch": "", "torch-int8": "-int8q", "onnx": "-onnxq"}[backend]
    suffix += (f"-c{args.candidates}" if args.candidates != SearchConfig().candidates else "")
    suffix += "-typed" if args.no_dense_spelling else ""
    md = write_report(results, ROOT / "benchmarks" / "results" / f"search{suffix}.json",
                      command="python benchmarks/bench_search.py " + " ".join(sys.argv[1:]))
    print(md.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
