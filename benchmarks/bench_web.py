"""The storefront's search page under 20 concurrent shoppers: time to the whole server-rendered page.

    flock /tmp/heavy.lock timeout 600 .venv/bin/python benchmarks/bench_web.py [--seconds 30]

Imports Amazon Scientific (4,385 items, 59,427 purchases) into a temporary home, starts
``shopsage serve`` (one worker, as ``make demo``), then drives ``GET /search?q=...`` pages over
keep-alive connections with :mod:`shopsage.evaluate.load`:

- **open loop**, 20 shoppers each searching once a second (20 pages/s, due times fixed in advance,
  so a slow page delays the ones behind it and that queueing is counted);
- **closed loop**, 20 connections sending back to back (the page's throughput limit; latency here is
  mostly waiting for the other 19);
- the search box's suggestions (``/shop/suggest``) at the same 20/s.

The page is complete when its last byte arrives: the HTML is rendered on the server, so the browser
can paint it at once (the stylesheet and script are cached after the first page). Each page also
stores its search event, as the storefront does. Results go to benchmarks/results/web_search.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from shopsage.evaluate.load import closed_loop, free_port, open_loop, start, stop, summary, title_queries
from shopsage.evaluate.machine import describe

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", str(ROOT.parent / "shared" / "data")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--shoppers", type=int, default=20)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "web_search.json")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-web-"))
    store = f"sqlite:///{home / 'shop.db'}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "shopsage.cli.main", "import", "recbole", str(DATA / "amazon-scientific"),
                    "--store", store, "--home", str(home)], check=True, env=env, capture_output=True)
    port = free_port()
    proc = start([sys.executable, "-m", "shopsage.cli.main", "serve", "--store", store, "--home", str(home),
                  "--port", str(port), "--no-access-log"], port, home / "serve.log")
    try:
        from shopsage.data.stores import open_store

        st = open_store(store)
        titles = [r.title for _, r in st.items() if r.title]
        st.close()
        rng = random.Random(0)
        queries = title_queries(titles, 5000, rng)
        pages = [f"/search?q={quote(q)}" for q in queries]
        prefixes = [f"/shop/suggest?q={quote(q[: rng.randint(2, 6)])}" for q in queries]
        rate = float(args.shoppers)  # each shopper searches once a second
        count = int(rate * args.seconds)
        asyncio.run(open_loop("127.0.0.1", port, lambda i: pages[(i + 4000) % len(pages)], 20, 100, pool=4))  # warm-up
        t0 = time.time()
        results = {
            "open_loop_search_page": summary(asyncio.run(open_loop("127.0.0.1", port, lambda i: pages[i % len(pages)],
                                                                   rate, count, pool=args.shoppers))),
            "closed_loop_search_page": summary(asyncio.run(closed_loop("127.0.0.1", port, lambda i: pages[i % len(pages)],
                                                                       args.shoppers, args.seconds / 2))),
            "open_loop_suggest": summary(asyncio.run(open_loop("127.0.0.1", port, lambda i: prefixes[i % len(prefixes)],
                                                               rate, count, pool=args.shoppers))),
        }
        report = {"command": " ".join(sys.argv), "shoppers": args.shoppers, "rate_per_s": rate, "started": t0,
                  "machine": describe(), "items": len(titles), "results": results}
    finally:
        stop(proc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
