"""What the explore stage costs a ``for_you`` answer, in process (``Service.recommend``, no HTTP).

The synthetic shop (``shopsage.testing.shop``) plus ``--new`` new items (no interaction: all of them
candidates of ``source = "new_items"``), one shopper, ``--requests`` answers of 10 items each without
the stage, with LinUCB and with linear Thompson sampling (100 posterior draws) filling positions 3
and 7 from 100 candidates. Prints and writes p50 / p99 per configuration.

    .venv/bin/python benchmarks/bench_explore_latency.py --json benchmarks/results/explore-latency.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from shopsage.data.rows import ItemRow
from shopsage.serving.config import ExploreConfig
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop


def _latency(svc: Service, requests: int) -> dict[str, float]:
    took = []
    for _ in range(requests):
        start = time.perf_counter()
        svc.recommend("for_you", user="u2", n=10)
        took.append(time.perf_counter() - start)
    p50, p99 = np.percentile(took, [50, 99]) * 1000
    return {"p50_ms": float(p50), "p99_ms": float(p99)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--new", type=int, default=500)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/shop.db"
        make_shop(url).close()
        svc = Service(ServiceOptions(store_url=url, home=Path(tmp) / "home", reload_interval_s=0, segments=False)).start()
        svc.upsert_items([ItemRow(f"new{i}", f"Toolo tool new{i}", "A tool", ("Tools", "Saws" if i % 2 else "Drills"),
                                  "Toolo", 5.0, "EUR", None, True, 5) for i in range(args.new)])
        out: dict[str, object] = {"benchmark": "explore-latency", "new_items": args.new, "requests": args.requests}
        _latency(svc, 100)  # warm up
        out["none"] = _latency(svc, args.requests)
        for policy in ("linucb", "lints"):
            svc.pipelines.scenarios["for_you"].explore = ExploreConfig(policy=policy, slots=[3, 7])
            out[policy] = _latency(svc, args.requests)
        svc.close()
    print(json.dumps(out, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
