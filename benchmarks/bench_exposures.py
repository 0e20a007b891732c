"""What recording exposures costs ``for_you`` (issue 24's latency goal: p99 <= 15 ms at 200/s), in process.

Run: HF_HUB_OFFLINE=1 flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_exposures.py [--seconds 10]
     [--blocks 3] [--rate 200] [--out benchmarks/results/exposures.json]

Amazon Scientific (``../shared/data/amazon-scientific``, recbole format) is imported into a fresh
SQLite store (``synchronous=full``, the default); a started :class:`~shopsage.serving.service.Service`
(the built-in pipelines, popularity and item-kNN trained on start) answers ``for_you`` for a random
store user, 10 items, on one thread at an open-loop ``--rate`` (latency counted from each request's
due time, so a slow answer delays the next ones as on a server). Three arms, each run in
``--blocks`` interleaved blocks of ``--seconds`` (off, on, sync, off, on, sync, ...), so drift of the
shared machine falls on all arms alike:

- ``off``: ``ServiceOptions(exposures=False)``: answers carry their ids and positions, nothing recorded;
- ``on``: the shipped path: each answer's 10 rows queued, the background writer commits every 0.25 s;
- ``sync``: as ``on`` but each request also waits for its rows to be committed (``flush()``), the
  cost a synchronous write on the request path would have.

The writer's rows are counted in the store afterwards (every queued exposure of ``on`` and ``sync``
must be there, ``off`` adds none).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from shopsage.data.importers import get_importer, run_import
from shopsage.data.stores import open_store
from shopsage.evaluate.machine import describe
from shopsage.serving.service import Service, ServiceOptions

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", ROOT / ".." / "shared" / "data"))


def _block(svc: Service, users: list[str], rate: float, seconds: float, sync: bool, rng: random.Random) -> list[float]:
    """Latencies (ms, from each due time) of an open loop of for_you requests."""
    n = int(rate * seconds)
    out = []
    start = time.perf_counter() + 0.05
    for k in range(n):
        due = start + k / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        svc.recommend("for_you", user=rng.choice(users), n=10)
        if sync:
            svc.exposure_log.flush()
        out.append((time.perf_counter() - due) * 1000.0)
    return out


def _summary(ms: list[float]) -> dict[str, Any]:
    a = np.asarray(ms)
    return {"requests": len(ms), "p50": round(float(np.percentile(a, 50)), 3), "p90": round(float(np.percentile(a, 90)), 3),
            "p99": round(float(np.percentile(a, 99)), 3), "max": round(float(a.max()), 3),
            "mean": round(float(a.mean()), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per block")
    ap.add_argument("--blocks", type=int, default=3, help="blocks per arm (interleaved)")
    ap.add_argument("--rate", type=float, default=200.0, help="requests per second")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "exposures.json")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-exposures-") as d:
        url = f"sqlite:///{Path(d) / 'shop.db'}"
        store = open_store(url)
        summary = run_import(store, get_importer("recbole", str(DATA / "amazon-scientific")))
        users = sorted(store.user_ids())
        store.close()
        print(f"imported {summary.accepted:,} rows, {len(users):,} users", flush=True)
        services = {arm: Service(ServiceOptions(store_url=url, home=Path(d) / "home", reload_interval_s=0,
                                                exposures=arm != "off")).start()
                    for arm in ("off", "on", "sync")}
        for svc in services.values():  # warm every path once
            _block(svc, users, args.rate, 1.0, False, rng)
        lat: dict[str, list[float]] = {arm: [] for arm in services}
        blocks: list[dict[str, Any]] = []
        for b in range(args.blocks):
            for arm, svc in services.items():
                ms = _block(svc, users, args.rate, args.seconds, arm == "sync", rng)
                lat[arm] += ms
                blocks.append({"block": b, "arm": arm, **_summary(ms)})
                print(f"block {b} {arm}: {blocks[-1]}", flush=True)
        queued = {arm: svc.exposure_log.stats() for arm, svc in services.items()}
        for svc in services.values():
            svc.close()
        store = open_store(url)
        stored = sum(1 for _ in store.read_exposures())
        store.close()
    report = {"machine": describe(), "date": time.strftime("%Y-%m-%d", time.gmtime()),
              "command": "flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_exposures.py " + " ".join(
                  f"--{k} {v}" for k, v in (("seconds", args.seconds), ("blocks", args.blocks), ("rate", args.rate))),
              "data": "amazon-scientific (recbole), SQLite synchronous=full, for_you n=10, one thread, open loop",
              "arms": {arm: _summary(ms) for arm, ms in lat.items()}, "blocks": blocks, "writer": queued,
              "exposures_stored": stored,
              "exposures_queued": sum(q["queued"] for q in queued.values()),
              "dropped": sum(q["dropped"] for q in queued.values())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["arms"], indent=2))
    print(f"stored {stored:,} of {report['exposures_queued']:,} queued; wrote {args.out}")


if __name__ == "__main__":
    main()
