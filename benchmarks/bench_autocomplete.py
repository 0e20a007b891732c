"""Autocomplete under 20 concurrent shoppers typing: ``GET /v1/autocomplete`` latency on loopback.

    flock /tmp/heavy.lock timeout 600 .venv/bin/python benchmarks/bench_autocomplete.py [--seconds 20]
    .venv/bin/python benchmarks/bench_autocomplete.py --data scientific   # light: under a minute of CPU

Imports Home Depot (54,667 products: the largest catalogue of the shared data, so the most phrases
to complete; ``--data scientific``: Amazon Scientific, 4,385 items, whose search terms are two
consecutive title words) into a temporary home and starts ``shopsage serve`` (one worker, as
``make demo``). Then posts real Home Depot search terms as search events through ``POST /v1/events``, each from a seeded
number of distinct sessions (1 to 8: some reach k = 5, most do not), and drives the prefixes shoppers
type (every prefix of a real search term, from one letter: the widest ranges) with
:mod:`shopsage.evaluate.load`:

- **open loop**, 20 shoppers each typing 5 keystrokes a second (100 requests/s, due times fixed in
  advance, queueing counted);
- **closed loop**, 20 connections back to back (the route's throughput limit).

It also checks the k-anonymity on the served answers: no suggestion is a search term fewer than k
shoppers sent (a term that is also a catalogue phrase excepted). Results go to
benchmarks/results/autocomplete-DATA.json.
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

import httpx

from shopsage.evaluate.load import closed_loop, free_port, open_loop, start, stop, summary, title_queries
from shopsage.evaluate.machine import describe

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", str(ROOT.parent / "shared" / "data")))
K = 5  # the default autocomplete_min_shoppers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--shoppers", type=int, default=20)
    ap.add_argument("--keys-per-s", type=float, default=5.0, help="Keystrokes per second of each shopper.")
    ap.add_argument("--data", choices=["homedepot", "scientific"], default="homedepot")
    ap.add_argument("--out", type=Path, default=None, help="Default: benchmarks/results/autocomplete-DATA.json.")
    args = ap.parse_args()
    out = args.out or ROOT / "benchmarks" / "results" / f"autocomplete-{args.data}.json"
    fmt, folder = ("homedepot", "homedepot") if args.data == "homedepot" else ("recbole", "amazon-scientific")
    home = Path(tempfile.mkdtemp(prefix="bench-autocomplete-"))
    store = f"sqlite:///{home / 'shop.db'}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t_import = time.time()
    subprocess.run([sys.executable, "-m", "shopsage.cli.main", "import", fmt, str(DATA / folder),
                    "--store", store, "--home", str(home)], check=True, env=env, capture_output=True)
    t_import = time.time() - t_import
    from shopsage.data.stores import open_store

    st = open_store(store)
    terms = sorted({" ".join(q.casefold().split()) for q, _, _ in st.judgments()})
    if not terms:  # no judged queries: shopper-like terms from the titles
        titles = [r.title for _, r in st.items() if r.title]
        terms = sorted(set(title_queries(titles, 8000, random.Random(1))))
    st.close()
    port = free_port()
    t_start = time.time()
    proc = start([sys.executable, "-m", "shopsage.cli.main", "serve", "--store", store, "--home", str(home),
                  "--port", str(port), "--no-access-log"], port, home / "serve.log")
    t_start = time.time() - t_start
    try:
        rng = random.Random(0)
        shoppers = {t: rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 6, 8]) for t in terms}
        events = [{"type": "search", "query": t, "session": f"s-{t}-{j}"} for t, n in shoppers.items() for j in range(n)]
        rng.shuffle(events)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as http:
            for i in range(0, len(events), 1000):
                http.post("/v1/events", json={"events": events[i:i + 1000]}).raise_for_status()
        typed = [t[:k] for t in rng.sample(terms, 3000) for k in range(1, len(t) + 1)]
        rng.shuffle(typed)
        paths = [f"/v1/autocomplete?q={quote(p)}&n=8" for p in typed if p.strip()]
        rate = args.shoppers * args.keys_per_s
        count = int(rate * args.seconds)
        asyncio.run(open_loop("127.0.0.1", port, lambda i: paths[-(i + 1)], 50, 200, pool=4))  # warm-up
        t0 = time.time()
        results = {
            "open_loop_autocomplete": summary(asyncio.run(open_loop(
                "127.0.0.1", port, lambda i: paths[i % len(paths)], rate, count, pool=args.shoppers))),
            "closed_loop_autocomplete": summary(asyncio.run(closed_loop(
                "127.0.0.1", port, lambda i: paths[i % len(paths)], args.shoppers, args.seconds / 2))),
        }
        # k-anonymity on what was served: a suggestion from past queries had at least K shoppers
        leaks, checked, from_queries = 0, 0, 0
        with httpx.Client(base_url=base, timeout=60) as http:
            for p in rng.sample(typed, 2000):
                for s in http.get("/v1/autocomplete", params={"q": p, "n": 8}).json()["suggestions"]:
                    checked += 1
                    if s["source"] == "query":
                        from_queries += 1
                        leaks += shoppers.get(s["text"], 0) < K
        report = {"command": " ".join(sys.argv), "data": args.data, "shoppers": args.shoppers, "rate_per_s": rate, "started": t0,
                  "machine": describe(), "distinct_search_terms": len(terms), "search_events": len(events),
                  "terms_with_k_shoppers": sum(n >= K for n in shoppers.values()), "k": K,
                  "import_s": round(t_import, 1), "serve_start_s": round(t_start, 1), "results": results,
                  "k_anonymity": {"suggestions_checked": checked, "from_past_queries": from_queries,
                                  "below_k": leaks}}
    finally:
        stop(proc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
