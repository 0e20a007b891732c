"""Import speed: Amazon Beauty into SQLite and PostgreSQL, events per second, side by side.

Run: .venv/bin/python benchmarks/bench_import.py [--repeats 3]
Writes benchmarks/results/import.json and prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402
from shopsage.data.import_bench import measure_import  # noqa: E402

DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg", default="postgresql://127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stores = {"sqlite": f"sqlite:///{tmp}/bench.db", "postgresql": f"{args.pg}?schema=bench_{uuid.uuid4().hex[:8]}"}
        sets = [("amazon-beauty", "amazon-seq", DATA / "amazon-beauty"), ("diginetica", "sessions", DATA / "diginetica")]
        results = []
        for name, fmt, path in sets:
            for backend, url in stores.items():
                r = measure_import(fmt, str(path), url, repeats=args.repeats)
                r["dataset"] = name
                results.append(r)
                print(f"{name} {backend}: best {r['best_events_per_s']:,} median {r['median_events_per_s']:,} events/s",
                      flush=True)
    out = {"machine": describe(), "results": results}
    path = Path(__file__).resolve().parent / "results" / "import.json"
    path.write_text(json.dumps(out, indent=2))
    print("\n| data set | store | events | best events/s | median events/s | runs (s) |\n|---|---|---:|---:|---:|---|")
    for r in results:
        print(f"| {r['dataset']} | {r['store']} | {r['runs'][0]['events']:,} | {r['best_events_per_s']:,} | "
              f"{r['median_events_per_s']:,} | {' '.join(str(x['seconds']) for x in r['runs'])} |")
    print(f"\nmachine: {out['machine']}")


if __name__ == "__main__":
    main()
