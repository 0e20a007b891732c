"""Soak (issue 23): flat memory while 1 million distinct sessions arrive at 100 requests a second.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_soak.py [--state memory|redis] [--minutes 10]
     [--rate 100] [--sessions 1000000] [--views 1] [--session-ttl 60] [--steady-from 2] [--redis URL]
     [--quick]
Writes benchmarks/results/soak-<state>.json (``--quick``: var/bench/soak-<state>-quick.json, one minute
with session_ttl=10 and the verdict from 30 s: a check that it runs, not a figure to publish).

1. Import Amazon Scientific (RecBole files) into a fresh SQLite store; its users' sequences give the
   sessions' items and its users the signed-in shoppers.
2. Start ``shopsage serve`` (one worker) with ``--state memory://?session_ttl=T`` or
   ``redis://...?prefix=P&session_ttl=T`` (a fresh prefix, deleted afterwards).
3. Open loop at ``--rate`` requests a second for ``--minutes`` (latency from each request's due time):
   even requests POST /v1/events with the next ``sessions / posts`` new session ids (``--views`` views
   each: consecutive items of a real user's sequence; one session in ten signed in as one of 2,000
   store users; 1,000,000 sessions in 30,000 posts is 33 a batch), odd requests read: next_in_session of a recent session (60%), for_you of a store user (30%),
   trending (10%).
4. Every ``--sample-s`` seconds: the server's RSS (its process tree), the store's size on disk (the
   SQLite page cache, 64 MB, fills as the events table grows: part of RSS until it is full) and, with
   Redis, ``INFO memory`` ``used_memory`` and the key count.

Steady state: a session lives ``session_ttl`` seconds after its last event, so about
``new sessions a second x session_ttl`` are live at once: 1,000,000 over 600 s with session_ttl=60 is
1,667 x 60 = 100,000 sessions (the memory state's ``max_sessions``, 200,000, is not reached). The
soak therefore uses session_ttl=60 rather than the default 30 minutes: the state reaches that size
in the first minute and must then stay flat. Verdict: every sample from ``--steady-from`` minutes to
the end within 10% of each other ((max - min) / min <= 0.10), for RSS and, with Redis, used_memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from shopsage.evaluate.load import Result, free_port, open_loop, start, stop, summary
from shopsage.evaluate.machine import describe

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", ROOT / ".." / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"
QUICK_RESULTS = ROOT / "var" / "bench"
FLAT = 0.10
"""Memory from the steady-state start to the end: (max - min) / min at most this."""
SIGNED_IN = 10
"""One new session in this many carries a user id."""


def prepare(tmp: Path) -> dict[str, Any]:
    """Amazon Scientific in a fresh SQLite store: its URL, users and item sequences (external ids)."""
    from shopsage.data.importers import get_importer, run_import
    from shopsage.data.stores import open_store

    url = f"sqlite:///{tmp / 'scientific.db'}"
    store = open_store(url)
    run_import(store, get_importer("recbole", str(DATA / "amazon-scientific")))
    inter = store.interactions()
    item_of = {rid: ext for ext, rid in store.item_ids().items()}
    users = sorted(store.user_ids())
    cuts = np.flatnonzero(np.diff(inter.user)) + 1
    histories = [[item_of[int(i)] for i in part] for part in np.split(inter.item, cuts) if len(part) >= 2]
    store.close()  # type: ignore[attr-defined]
    return {"url": url, "users": users, "histories": histories}


class Workload:
    """Request ``i`` of the soak: even ones POST new sessions, odd ones read (see the module docstring)."""

    def __init__(self, prep: dict[str, Any], sessions: int, requests: int, views: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.histories = prep["histories"]
        self.users = self.rng.sample(prep["users"], min(2000, len(prep["users"])))
        self.posts = (requests + 1) // 2
        self.per_post = sessions / self.posts
        self.views = views
        self.tag = uuid.uuid4().hex[:6]
        self.created = 0
        self.events = 0

    def __call__(self, i: int) -> tuple[str, str, bytes]:
        if i % 2 == 0:
            return "POST", "/v1/events", self._post(i // 2)
        return "GET", self._read(), b""

    def _post(self, k: int) -> bytes:
        upto = round((k + 1) * self.per_post)
        events = []
        for s in range(self.created, upto):
            h = self.rng.choice(self.histories)
            at = self.rng.randrange(max(1, len(h) - self.views + 1))
            who: dict[str, str] = {"session": f"soak-{self.tag}-{s}"}
            if s % SIGNED_IN == 0:
                who["user"] = self.rng.choice(self.users)
            events += [{"type": "view", "item": it, **who} for it in h[at:at + self.views]]
        self.created = max(self.created, upto)
        self.events += len(events)
        return json.dumps({"events": events}).encode()

    def _read(self) -> str:
        roll = self.rng.random()
        if roll < 0.6 and self.created:
            s = self.rng.randrange(max(0, self.created - round(10 * self.per_post)), self.created)
            return f"/v1/recommendations/next_in_session?session=soak-{self.tag}-{s}&n=10"
        if roll < 0.9:
            return f"/v1/recommendations/for_you?user={self.rng.choice(self.users)}&n=10"
        return "/v1/recommendations/trending?n=10"


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children."""
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])


def measure(pid: int, db: Path, redis: Any, t0: float) -> dict[str, Any]:
    row: dict[str, Any] = {"t_s": round(time.monotonic() - t0, 1), "rss_mb": round(rss_bytes(pid) / 2**20, 1),
                           "store_mb": round(sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 2**20, 1)}
    if redis is not None:
        row["redis_used_mb"] = round(int(redis.info("memory")["used_memory"]) / 2**20, 1)
        row["redis_keys"] = int(redis.dbsize())
    return row


async def sample(pid: int, db: Path, redis: Any, every_s: float, samples: list[dict[str, Any]], t0: float) -> None:
    while True:
        samples.append(measure(pid, db, redis, t0))
        print(f"  {samples[-1]}", flush=True)
        await asyncio.sleep(every_s)


def flatness(samples: list[dict[str, Any]], key: str, from_s: float) -> dict[str, Any]:
    vals = [s[key] for s in samples if s["t_s"] >= from_s and key in s]
    if len(vals) < 2:
        return {"samples": len(vals), "flat": False, "why": "fewer than 2 samples in the steady-state span"}
    spread = (max(vals) - min(vals)) / min(vals)
    return {"samples": len(vals), "min_mb": min(vals), "max_mb": max(vals), "spread": round(spread, 4),
            "flat": spread <= FLAT}


def latency(r: Result, parity: int) -> dict[str, float]:
    ms = r.latency_s[parity::2] * 1000
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 90, 99)} | {"max_ms": round(float(ms.max()), 2)}


async def drive(port: int, work: Workload, args: argparse.Namespace, pid: int, db: Path,
                redis: Any) -> tuple[Result, list[dict[str, Any]]]:
    samples: list[dict[str, Any]] = []
    t0 = time.monotonic()
    sampler = asyncio.create_task(sample(pid, db, redis, args.sample_s, samples, t0))
    try:
        res = await open_loop("127.0.0.1", port, work, args.rate, int(args.rate * args.minutes * 60))
    finally:
        sampler.cancel()
    samples.append(measure(pid, db, redis, t0))
    return res, samples


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    print("importing Amazon Scientific", flush=True)
    prep = prepare(tmp)
    requests = int(args.rate * args.minutes * 60)
    work = Workload(prep, args.sessions, requests, args.views)
    prefix = f"soak_{uuid.uuid4().hex[:8]}"
    state = (f"memory://?session_ttl={args.session_ttl}" if args.state == "memory"
             else f"{args.redis}?prefix={prefix}&session_ttl={args.session_ttl}")
    redis = None
    if args.state == "redis":
        import redis as redis_lib

        redis = redis_lib.Redis.from_url(args.redis, decode_responses=True)
    port = free_port()
    store = prep["url"] + (f"?{args.store_options}" if args.store_options else "")
    cmd = [sys.executable, "-m", "shopsage.cli.main", "serve", "--store", store, "--home", str(tmp / "home"),
           "--port", str(port), "--state", state, "--no-access-log", *args.serve_arg]
    print(f"starting shopsage serve --state {state}", flush=True)
    proc = start(cmd, port, tmp / "serve.log")
    try:
        print(f"soak: {requests} requests at {args.rate}/s, {args.sessions} new sessions", flush=True)
        res, samples = asyncio.run(drive(port, work, args, proc.pid, tmp / "scientific.db", redis))
        alive = proc.poll() is None
    finally:
        stop(proc)
        if redis is not None:
            from shopsage.state import open_state

            st = open_state(state)
            st.clear()  # type: ignore[attr-defined]
            st.close()
    from_s = args.steady_from * 60
    seconds = args.minutes * 60
    verdict = {"rss": flatness(samples, "rss_mb", from_s)}
    if redis is not None:
        verdict["redis_used_memory"] = flatness(samples, "redis_used_mb", from_s)
    errors = {k: v for k, v in res.statuses.items() if not 200 <= k < 300}
    return {"state": args.state, "state_url": state.replace(prefix, "PREFIX"), "session_ttl_s": args.session_ttl,
            "store_options": args.store_options, "serve_args": args.serve_arg,
            "rate_rps": args.rate, "minutes": args.minutes, "views_per_session": args.views, "steady_from_min": args.steady_from,
            "sessions_created": work.created, "events_posted": work.events,
            "expected_live_sessions": round(work.created / seconds * args.session_ttl),
            "requests": len(res.latency_s), "errors": sum(errors.values()), "error_statuses": errors,
            "server_alive_at_end": alive, "all": summary(res), "post_events": latency(res, 0),
            "reads": latency(res, 1), "samples": samples, "verdict": verdict,
            "flat": all(v["flat"] for v in verdict.values()) and not errors and alive}


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state", choices=("memory", "redis"), default="memory")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=100.0, help="Requests a second (half POST, half reads).")
    ap.add_argument("--sessions", type=int, default=1_000_000, help="Distinct session ids created over the run.")
    ap.add_argument("--views", type=int, default=1, help="View events per new session (consecutive items of a "
                    "real sequence); each session needs one, more multiplies the store's writes.")
    ap.add_argument("--session-ttl", type=int, default=60, help="The served state's session_ttl (seconds).")
    ap.add_argument("--steady-from", type=float, default=2.0, help="Minute from which memory must stay flat.")
    ap.add_argument("--sample-s", type=float, default=10.0, help="Seconds between memory samples.")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--store-options", default="", help="Query options of the served SQLite URL, e.g. cache_mb=16 "
                    "(the page cache, part of RSS until full) or synchronous=normal.")
    ap.add_argument("--serve-arg", action="append", default=[], help="An extra `shopsage serve` argument (repeat it).")
    ap.add_argument("--quick", action="store_true", help="One minute, session_ttl=10, verdict from 30 s, samples "
                    f"every 5 s; results to {QUICK_RESULTS.relative_to(ROOT)}/soak-<state>-quick.json")
    args = ap.parse_args()
    if args.quick:
        args.minutes, args.sessions, args.session_ttl, args.steady_from, args.sample_s = 1.0, 100_000, 10, 0.5, 5.0
    if args.out is None:
        args.out = QUICK_RESULTS / f"soak-{args.state}-quick.json" if args.quick else RESULTS / f"soak-{args.state}.json"
    return args


def main() -> None:
    args = arguments()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out: dict[str, Any] = {"machine": describe(), "quick": args.quick}
    with tempfile.TemporaryDirectory() as tmp:
        out |= run(args, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(json.dumps({k: out[k] for k in ("requests", "errors", "sessions_created", "all", "verdict", "flat")}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
