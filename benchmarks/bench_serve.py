"""Service load benchmark (issue 7): Amazon Scientific catalogue, loopback, this shared 2-core machine.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_serve.py [--seconds 20] [--closed-seconds 10]
Writes benchmarks/results/serve.json and serve.md.

1. Import Amazon Scientific into a fresh SQLite store, train the fast models (pop, itemknn, ease, fbt,
   sknn when installed), start ``shopsage serve`` (one worker, in-process state) and, beside it, a
   bare FastAPI JSON route on the same uvicorn.
2. Open loop (latency from each request's due time): ``GET /v1/recommendations/for_you?user=U`` at
   200 requests/s and ``GET /v1/search?q=Q`` at 50 requests/s, users and two-word title queries
   drawn with a fixed seed.
3. Closed loop, 8 connections: maximum throughput of for_you, search and the bare route, as ratios
   to the bare route measured in the same run (bare measured before and after, averaged).
0. In process: the same calls on a started Service, no HTTP (the pipelines' own cost).
4. Event-to-effect: POST a view (user + session), then GET next_in_session and the profile until
   the viewed item is excluded and is the profile's newest item; also with two workers sharing the
   real Redis, reading through fresh connections (another worker, usually).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve_load import Conn, closed_loop, open_loop, summary, timed  # noqa: E402
from machine import describe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", ROOT / ".." / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"
MODELS = ("pop", "itemknn", "ease", "fbt", "sknn")


def prepare(tmp: Path) -> tuple[str, list[str], list[str], list[str]]:
    from shopsage.data.importers import get_importer, run_import
    from shopsage.data.stores import open_store
    from shopsage.registry import ModelRegistry
    from shopsage.serving.build import build_missing

    url = f"sqlite:///{tmp / 'scientific.db'}"
    store = open_store(url)
    run_import(store, get_importer("recbole", str(DATA / "amazon-scientific")))
    build_missing(store, ModelRegistry(tmp / "home" / "models"), MODELS, say=lambda m: print(" ", m, flush=True))
    users = sorted(store.user_ids())
    items = sorted(store.item_ids())
    titles = [r.title or "" for _, r in store.items()]
    store.close()
    return url, users, items, titles


def in_process(url: str, home: Path, us: list[str], qs: list[str], count: int) -> dict[str, object]:
    """The pipelines' own time (no HTTP): for_you and search called directly on a started Service."""
    from shopsage.serving.search import SearchRequest
    from shopsage.serving.service import Service, ServiceOptions

    svc = Service(ServiceOptions(store_url=url, home=home, reload_interval_s=0, build_on_start=False)).start()
    out: dict[str, object] = {}
    try:
        for name, call in (("for_you", lambda i: svc.recommend("for_you", user=us[i % len(us)], n=10)),
                           ("search", lambda i: svc.search(SearchRequest(qs[i % len(qs)])))):
            out[name] = timed(call, count, warmup=50)
    finally:
        svc.close()
    return out


def queries(titles: list[str], n: int, rng: random.Random) -> list[str]:
    out = []
    while len(out) < n:
        words = [w for w in re.findall(r"[A-Za-z]{3,}", rng.choice(titles)[:80])]
        if len(words) >= 2:
            k = rng.randrange(len(words) - 1)
            out.append(f"{words[k]} {words[k + 1]}".lower())
    return out


def start(cmd: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    probe = f"http://127.0.0.1:{port}/" + ("json" if "bare_app" in " ".join(cmd) else "ready")
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            if httpx.get(probe, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (contention does not inflate it, unlike wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def serve_cmd(url: str, home: Path, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "shopsage.cli.main", "serve", "--store", url, "--home", str(home), "--port", str(port), *extra]


async def event_to_effect(port: int, items: list[str], trials: int, rng: random.Random, fresh_reads: bool) -> dict[str, object]:
    """POST a view, then read until next_in_session excludes it and the profile's newest item is it."""
    writer = await Conn("127.0.0.1", port).open()
    reader = await Conn("127.0.0.1", port).open()
    times, tries = [], []
    tag = uuid.uuid4().hex[:6]
    for k in range(trials):
        item = rng.choice(items)
        user, session = f"bench-{tag}-u{k}", f"bench-{tag}-s{k}"
        body = json.dumps({"type": "view", "item": item, "user": user, "session": session}).encode()
        status, _ = await writer.send("POST", "/v1/events", body)
        assert status == 200, status
        t0 = time.perf_counter()
        n = 0
        while True:
            n += 1
            if fresh_reads:
                reader.close()
                reader = await Conn("127.0.0.1", port).open()
            _, rec = await reader.send("GET", f"/v1/recommendations/next_in_session?session={session}&n=10")
            _, prof = await reader.send("GET", f"/v1/users/{user}/profile")
            ok = item not in [it["id"] for it in json.loads(rec)["items"]]
            ok = ok and json.loads(prof).get("recent_items", [None])[0] == item
            if ok or n > 100:
                break
        times.append(time.perf_counter() - t0)
        tries.append(n)
    writer.close()
    reader.close()
    ms = np.array(times) * 1000
    return {"trials": trials, "reflected_first_read": int(sum(t == 1 for t in tries)), "max_reads": max(tries),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "max_ms": round(float(ms.max()), 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0, help="Length of each open-loop run.")
    ap.add_argument("--closed-seconds", type=float, default=10.0)
    ap.add_argument("--rate-recs", type=float, default=200.0)
    ap.add_argument("--rate-search", type=float, default=50.0)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = ap.parse_args()
    rng = random.Random(7)
    out: dict[str, object] = {"machine_start": describe()}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        print("preparing Amazon Scientific", flush=True)
        url, users, items, titles = prepare(tmp)
        qs = queries(titles, 5000, rng)
        us = [rng.choice(users) for _ in range(20000)]
        print("in process", flush=True)
        out["in_process"] = in_process(url, tmp / "home", us, qs, 1000)
        print(" ", out["in_process"], flush=True)
        port, bare_port = 18431, 18432
        svc = start(serve_cmd(url, tmp / "home", port), port, tmp / "serve.log", {"HF_HUB_OFFLINE": "1"})
        bare = start([sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(ROOT / "benchmarks"),
                      "--port", str(bare_port), "--log-level", "warning", "--no-access-log"], bare_port, tmp / "bare.log")
        try:
            def recs(i: int) -> str:
                return f"/v1/recommendations/for_you?user={quote(us[i % len(us)])}&n=10"

            def search(i: int) -> str:
                return f"/v1/search?q={quote(qs[i % len(qs)])}&per_page=10"

            def bare_path(_i: int) -> str:
                return "/json"

            async def run() -> None:
                for path_of, p in ((recs, port), (search, port), (bare_path, bare_port)):  # warm-up
                    await closed_loop("127.0.0.1", p, path_of, 4, 2.0)
                print("open loop for_you", flush=True)
                r = await open_loop("127.0.0.1", port, recs, args.rate_recs, int(args.rate_recs * args.seconds))
                out["for_you_open_loop"] = {"rate_rps": args.rate_recs, **summary(r)}
                print(" ", out["for_you_open_loop"], flush=True)
                print("open loop search", flush=True)
                r = await open_loop("127.0.0.1", port, search, args.rate_search, int(args.rate_search * args.seconds))
                out["search_open_loop"] = {"rate_rps": args.rate_search, **summary(r)}
                print(" ", out["search_open_loop"], flush=True)
                closed: dict[str, object] = {}
                for name, path_of, p in (("bare_before", bare_path, bare_port), ("for_you", recs, port),
                                         ("search", search, port), ("bare_after", bare_path, bare_port)):
                    pid = (svc if p == port else bare).pid
                    c0 = cpu_seconds(pid)
                    res = await closed_loop("127.0.0.1", p, path_of, 8, args.closed_seconds)
                    closed[name] = {**summary(res),
                                    "server_cpu_ms_per_request": round((cpu_seconds(pid) - c0) * 1000 / len(res.latency_s), 3)}
                    print(" ", name, closed[name], flush=True)
                bare_rps = (closed["bare_before"]["throughput_rps"] + closed["bare_after"]["throughput_rps"]) / 2  # type: ignore[index]
                closed["ratio_for_you_to_bare"] = round(closed["for_you"]["throughput_rps"] / bare_rps, 3)  # type: ignore[index]
                closed["ratio_search_to_bare"] = round(closed["search"]["throughput_rps"] / bare_rps, 3)  # type: ignore[index]
                bare_cpu = (closed["bare_before"]["server_cpu_ms_per_request"]  # type: ignore[index]
                            + closed["bare_after"]["server_cpu_ms_per_request"]) / 2  # type: ignore[index]
                closed["cpu_ratio_for_you_to_bare"] = round(closed["for_you"]["server_cpu_ms_per_request"] / bare_cpu, 2)  # type: ignore[index]
                closed["cpu_ratio_search_to_bare"] = round(closed["search"]["server_cpu_ms_per_request"] / bare_cpu, 2)  # type: ignore[index]
                out["closed_loop_8_connections"] = closed
                print("event to effect (in-process state)", flush=True)
                out["event_to_effect_memory"] = await event_to_effect(port, items, args.trials, rng, fresh_reads=False)
                print(" ", out["event_to_effect_memory"], flush=True)

            asyncio.run(run())
        finally:
            stop(svc)
            stop(bare)
        # two workers sharing the real Redis: the reads go through fresh connections (other workers)
        prefix = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            red = start(serve_cmd(url, tmp / "home", port, "--workers", "2", "--state", f"{args.redis}?prefix={prefix}"),
                        port, tmp / "serve-redis.log", {"HF_HUB_OFFLINE": "1"})
        except RuntimeError as exc:
            out["event_to_effect_redis_2_workers"] = f"not measured: {str(exc)[-300:]}"
        else:
            try:
                time.sleep(3)  # let the second worker finish starting

                def recs2(i: int) -> str:
                    return f"/v1/recommendations/for_you?user={quote(us[(i + 7919) % len(us)])}&n=10"

                print("open loop for_you (2 workers, Redis)", flush=True)
                asyncio.run(closed_loop("127.0.0.1", port, recs2, 4, 2.0))  # warm-up
                r2 = asyncio.run(open_loop("127.0.0.1", port, recs2, args.rate_recs, int(args.rate_recs * args.seconds)))
                out["for_you_open_loop_2_workers_redis"] = {"rate_rps": args.rate_recs, **summary(r2)}
                print(" ", out["for_you_open_loop_2_workers_redis"], flush=True)
                print("event to effect (2 workers, Redis)", flush=True)
                out["event_to_effect_redis_2_workers"] = asyncio.run(event_to_effect(port, items, args.trials // 2, rng, True))
                print(" ", out["event_to_effect_redis_2_workers"], flush=True)
            finally:
                stop(red)
                from shopsage.state import open_state

                st = open_state(f"{args.redis}?prefix={prefix}")
                st.clear()  # type: ignore[attr-defined]
                st.close()
    out["machine_end"] = describe()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(out, indent=2))
    (RESULTS / "serve.md").write_text(markdown(out))
    print(markdown(out))


def markdown(r: dict) -> str:  # type: ignore[type-arg]
    fy, se, cl = r["for_you_open_loop"], r["search_open_loop"], r["closed_loop_8_connections"]
    lines = ["| open loop | rate | requests | p50 ms | p90 ms | p99 ms | max ms | statuses |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    runs = [("GET /v1/recommendations/for_you", fy), ("GET /v1/search", se)]
    if isinstance(r.get("for_you_open_loop_2_workers_redis"), dict):
        runs.append(("for_you, 2 workers + Redis state", r["for_you_open_loop_2_workers_redis"]))
    for name, x in runs:
        lines.append(f"| {name} | {x['rate_rps']:.0f}/s | {x['requests']} | {x['p50_ms']} | {x['p90_ms']} | {x['p99_ms']} | "
                     f"{x['max_ms']} | {x['statuses']} |")
    lines += ["", "| closed loop, 8 connections | requests/s | p50 ms | p99 ms | throughput / bare | server CPU ms a request |",
              "|---|---:|---:|---:|---:|---:|"]
    bare = (cl["bare_before"]["throughput_rps"] + cl["bare_after"]["throughput_rps"]) / 2
    for name in ("bare_before", "bare_after", "for_you", "search"):
        x = cl[name]
        lines.append(f"| {name} | {x['throughput_rps']} | {x['p50_ms']} | {x['p99_ms']} | {x['throughput_rps'] / bare:.3f} | "
                     f"{x.get('server_cpu_ms_per_request', '')} |")
    lines += ["", "| event to effect | trials | reflected on first read | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
    for name in ("event_to_effect_memory", "event_to_effect_redis_2_workers"):
        x = r.get(name)
        if isinstance(x, dict):
            lines.append(f"| {name} | {x['trials']} | {x['reflected_first_read']} | {x['p50_ms']} | {x['p99_ms']} | {x['max_ms']} |")
        else:
            lines.append(f"| {name} | {x} | | | | |")
    ip = r.get("in_process")
    if isinstance(ip, dict):
        lines += ["", "| in process (no HTTP) | calls | p50 ms | p99 ms | mean ms |", "|---|---:|---:|---:|---:|"]
        for name, x in ip.items():
            lines.append(f"| {name} | {x['calls']} | {x['p50_ms']} | {x['p99_ms']} | {x['mean_ms']} |")
    lines += ["", f"Load average (1 min) at start {r['machine_start']['load_average_1m']}, at end {r['machine_end']['load_average_1m']}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
