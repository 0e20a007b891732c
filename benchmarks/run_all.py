"""`make bench`: the standard benchmarks, one after another (never at once: timings need a quiet machine).

    .venv/bin/python benchmarks/run_all.py [--only import,search] [--list]

Each entry is the command recorded in docs/benchmarks.md; each writes its own result file under
benchmarks/results/. The long training benchmarks (sequential models on Diginetica, fine-tuning,
RecBole) are not in this list: their commands, with the settings used, are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DATA = os.environ.get("SHOPSAGE_DATA_DIR", str(ROOT.parent / "shared" / "data"))

BENCHMARKS: dict[str, list[str]] = {
    "import": [PY, "benchmarks/bench_import.py", "--repeats", "3"],
    "search": [PY, "benchmarks/bench_search.py", "--query-backend", "onnx", "--candidates", "100"],
    "query-encoder": [PY, "benchmarks/bench_query_encoder.py"],
    "serve": [PY, "benchmarks/bench_serve.py"],
    "seq-latency": [PY, "benchmarks/bench_seq_latency.py", "--data", "beauty"],
    "rec-check": [PY, "benchmarks/check_recommenders.py"],
    "rec-peer": [PY, "benchmarks/peer_implicit.py"],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    ap.add_argument("--list", action="store_true", help="print the commands and exit")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "SHOPSAGE_DATA_DIR": DATA}
    failed = []
    for name in names:
        print(f"== {name}: {' '.join(BENCHMARKS[name][1:])}", flush=True)
        if args.list:
            continue
        started = time.perf_counter()
        rc = subprocess.call(BENCHMARKS[name], cwd=ROOT, env=env)
        print(f"== {name}: exit {rc} after {time.perf_counter() - started:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
