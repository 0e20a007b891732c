"""Service load benchmark (issue 7): Amazon Scientific catalogue, loopback, one uvicorn worker.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_serve.py [--home DIR] [--seconds 20] [--closed-seconds 10]
     [--quick] [--learned] [--pin]
Writes benchmarks/results/serve.json and serve.md (``--quick``: var/bench/serve-quick.{json,md}, a check
that every phase runs, a few seconds each, with under-trained sequential models: not figures to publish).

1. Import Amazon Scientific into a fresh SQLite store; train for serving on every interaction
   (``holdout=False``) and promote: itemknn, ease, sasrec, gru4rec, then ``blend-session`` (SASRec +
   GRU4Rec from the registry, session-kNN, the session's own items; weights chosen on validation
   cases); pop, fbt and sknn as on start; with ``--learned`` also for_you's learned ranker (``ranker-for_you``,
   the stage its default pipeline names; without the flag the home must hold no live ranker, so for_you serves
   rank fusion, as a fresh shop). Under ``--home DIR`` (the service's home: models/ and the
   embedding cache cache/embeddings persist between runs) a live version trained on the same data
   with the same configuration is served again instead of retrained.
0. In process: for_you, next_in_session and search called on a started Service with the text
   encoder (the pipelines' own cost, no HTTP). Its start embeds the catalogue once (cached).
2. Start ``shopsage serve --semantic`` (one worker, in-process state) and, beside it, a bare FastAPI
   JSON route on the same uvicorn. Seed anonymous sessions with ``POST /v1/events`` (a window of 1-5
   consecutive items of a Scientific user's sequence each): a storefront sends its views anyway (for
   the profiles, trending and for_you), so it asks next_in_session with ``?session=ID`` alone
   (``?history=id,id`` is for a storefront that keeps the visit itself).
3. Open loop (latency from each request's due time): for_you (a store user) at 200/s, next_in_session
   (a seeded session each) at 100/s, search (two consecutive words of a title) at 50/s in the served
   mode ``auto``, which the response's ``mode`` names (``learned`` with a live ranker, else ``lexical``;
   the encoder then serves the meaning fallback of queries none of whose words match).
4. Closed loop, 8 connections: maximum throughput of each route as a ratio to the bare route measured
   in the same run (bare before and after, averaged), with the server's CPU time per request.
5. Event-to-effect: POST a view (user + session), then GET next_in_session and the profile until the
   profile's newest item is the viewed one and the session blend answered from a session of that 1
   item (its reason's ``history_items``); also with two workers sharing the real Redis (without the
   encoder), reading through fresh connections (another worker, usually).
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
from urllib.parse import quote

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from shopsage.evaluate.load import (  # noqa: E402
    Conn,
    closed_loop,
    cpu_seconds,
    open_loop,
    start,
    stop,
    summary,
    timed,
    wait_idle,
)
from shopsage.evaluate.load import title_queries as queries
from shopsage.evaluate.machine import describe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SHOPSAGE_DATA_DIR", ROOT / ".." / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results"
QUICK_RESULTS = ROOT / "var" / "bench"
BLEND = "blend-session"
SEQ_PARAMS = {"epochs": 200, "patience": 5, "threads": 2}
ON_START = ("pop", "fbt", "sknn")
GOALS = (("for_you_open_loop", "p99_ms", 15.0, "for_you p99 at 200/s"),
         ("next_in_session_open_loop", "p99_ms", 20.0, "next_in_session p99 at 100/s"),
         ("search_open_loop", "p99_ms", 40.0, "search p99 at 50/s"),
         ("event_to_effect_memory", "p99_ms", 50.0, "event to effect p99, one worker"))
RATIO_GOAL = 0.25
"""for_you's closed-loop throughput as a share of the bare route's, at least."""


def _reusable(registry: Any, name: str, fingerprint: str, config: dict[str, Any] | None) -> Any:
    """The live version of ``name`` when trained on the same data (and, given ``config``, with it)."""
    cur = registry.current(name)
    if cur is None or cur.manifest.get("data_fingerprint") != fingerprint:
        return None
    return cur if config is None or cur.manifest.get("config") == config else None


def train(store: Any, registry: Any, seq: dict[str, Any]) -> tuple[dict[str, str], Any]:
    """Train (or reuse) and promote the served models; their versions and the training set."""
    from shopsage.recommend import model_class
    from shopsage.serving.build import build_missing
    from shopsage.training import prepare as training_set
    from shopsage.training import train_blend, train_recommender

    def say(m: str) -> None:
        print(" ", m, flush=True)

    ts = training_set(store, holdout=False)
    versions: dict[str, str] = {}
    for name, params in (("itemknn", {}), ("ease", {}), ("sasrec", seq), ("gru4rec", seq)):
        config = model_class(name).Config.model_validate(params).model_dump(mode="json")
        v = _reusable(registry, name, ts.fingerprint, config)
        if v is None:
            v = registry.promote(name, train_recommender(store, registry, name, params=params, holdout=False, ts=ts,
                                                         say=say).version)
        else:
            say(f"{name} {v.version} reused (same data, same configuration)")
        versions[name] = v.version
    b = _reusable(registry, BLEND, ts.fingerprint, None)
    parts = {p: versions[p] for p in ("sasrec", "gru4rec")}
    if b is None or b.manifest.get("blend", {}).get("part_versions") != parts:
        b = registry.promote(BLEND, train_blend(store, registry, BLEND, holdout=False, params={"sasrec": seq, "gru4rec": seq},
                                                ts=ts, say=say).version)
    else:
        say(f"{BLEND} {b.version} reused (same data, same parts)")
    versions[BLEND] = b.version
    build_missing(store, registry, ON_START, say=say)
    return versions, ts


def ranking_stage(url: str, registry: Any, seq: dict[str, Any], learned: bool) -> str | None:
    """``--learned``: train (or reuse, when trained on the same data) and promote for_you's learned ranker, the
    stage its default pipeline names; without it the home must serve rank fusion (no live ranker). Returns
    the live ranker's version."""
    from shopsage.rank.model import ranker_name
    from shopsage.serving.bench import live_stage_ranker

    name = ranker_name("for_you")
    live = registry.current(name)
    if not learned:
        if live is not None:
            raise SystemExit(f"{registry.root} serves {name} {live.version}: for_you would rank with it. Pass --learned, "
                             "or give this run another --home (rank fusion serves a home without a live ranker).")
        return None
    return live_stage_ranker(url, registry, "for_you", name, {"models": {"sasrec": seq}}, None,
                             lambda m: print(" ", m, flush=True))


def prepare(tmp: Path, home: Path, seq: dict[str, Any], learned: bool = False) -> dict[str, Any]:
    from shopsage.data.importers import get_importer, run_import
    from shopsage.data.stores import open_store
    from shopsage.privacy.imports import private_importer, shop_pseudonymizer
    from shopsage.registry import ModelRegistry

    # the shop's import, behind the privacy edge (stored ids are the home key's pseudonyms, as the
    # server's API computes them from the raw ids the load generator sends)
    url = f"sqlite:///{tmp / 'scientific.db'}"
    store = open_store(url)
    run_import(store, private_importer(get_importer("recbole", str(DATA / "amazon-scientific")), home))
    raw = open_store(f"sqlite:///{tmp / 'raw-ids.db'}")  # the file's own user ids, for the HTTP requests
    run_import(raw, get_importer("recbole", str(DATA / "amazon-scientific")))
    raw_users = sorted(raw.user_ids())
    raw.close()
    ids_of = shop_pseudonymizer(home, False)
    assert {ids_of.pseudonymize(u) for u in raw_users} == set(store.user_ids()), "the pseudonyms differ from the API's"
    versions, ts = train(store, ModelRegistry(home / "models"), seq)
    versions["ranker-for_you"] = ranking_stage(url, ModelRegistry(home / "models"), seq, learned)
    ids = ts.items.ids
    seqs = ts.data.sequences
    histories = [[ids[int(i)] for i in seqs[s]] for s in range(len(seqs)) if len(seqs[s]) >= 1]
    out = {"url": url, "users": raw_users, "pseudonyms": {u: ids_of.pseudonymize(u) for u in raw_users}, "items": sorted(store.item_ids()),
           "titles": [r.title or "" for _, r in store.items()], "histories": histories, "versions": versions}
    store.close()
    return out


def sessions(histories: list[list[str]], n: int, rng: random.Random, tag: str) -> tuple[list[str], list[dict[str, Any]]]:
    """``n`` anonymous sessions, each a window of 1-5 consecutive items of a user's sequence, as view events."""
    names, events = [], []
    for k in range(n):
        h = rng.choice(histories)
        size = rng.randint(1, min(5, len(h)))
        start = rng.randrange(len(h) - size + 1)
        names.append(f"bench-{tag}-s{k}")
        events += [{"type": "view", "item": it, "session": names[-1]} for it in h[start:start + size]]
    return names, events


def in_process(url: str, home: Path, us: list[str], ss: tuple[list[str], list[dict[str, Any]]], qs: list[str],
               count: int) -> dict[str, object]:
    """The pipelines' own time (no HTTP) on a started Service with the text encoder."""
    from shopsage.data.schema import Event
    from shopsage.serving.search import SearchRequest
    from shopsage.serving.service import Service, ServiceOptions

    t0 = time.perf_counter()
    svc = Service(ServiceOptions(store_url=url, home=home, reload_interval_s=0, build_on_start=False,
                                 semantic=True)).start()
    out: dict[str, object] = {"start_s": round(time.perf_counter() - t0, 2)}
    names, events = ss
    now = time.time()
    svc.ingest([Event.model_validate({**e, "timestamp": now + j * 1e-3}) for j, e in enumerate(events)])
    try:
        for name, call in (("for_you", lambda i: svc.recommend("for_you", user=us[i % len(us)], n=10)),
                           ("next_in_session", lambda i: svc.recommend("next_in_session", session=names[i % len(names)], n=10)),
                           ("search", lambda i: svc.search(SearchRequest(qs[i % len(qs)])))):
            out[name] = timed(call, count, warmup=50)
        out["search_mode"] = svc.search(SearchRequest(qs[0]))["mode"]
    finally:
        svc.close()
    return out



def serve_cmd(url: str, home: Path, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "shopsage.cli.main", "serve", "--store", url, "--home", str(home), "--port", str(port), *extra]


async def post_events(port: int, events: list[dict[str, Any]]) -> None:
    conn = await Conn("127.0.0.1", port).open()
    for lo in range(0, len(events), 1000):
        status, body = await conn.send("POST", "/v1/events", json.dumps({"events": events[lo:lo + 1000]}).encode())
        assert status == 200, body[:300]
    conn.close()


def session_answered(rec: dict[str, Any], items: int) -> bool:
    """The session blend made the list from a session history of ``items`` distinct items."""
    if not rec.get("stages", {}).get("candidates", {}).get(BLEND):
        return False
    return any(r["evidence"].get("model") == BLEND and r["evidence"].get("history_items") == items
               for it in rec["items"] for r in it["reasons"])


async def event_to_effect(port: int, items: list[str], trials: int, rng: random.Random, fresh_reads: bool) -> dict[str, object]:
    """POST a view, then read until the profile's newest item is it and next_in_session's blend read it."""
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
            ok = json.loads(prof).get("recent_items", [None])[0] == item and session_answered(json.loads(rec), 1)
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


async def gc_pauses(port: int) -> dict[str, dict[str, float]]:
    """The worker's garbage collector pauses so far (``/metrics``): per generation, collections, seconds
    in them, collections over 25 ms, and the longest."""
    conn = await Conn("127.0.0.1", port).open()
    _, body = await conn.send("GET", "/metrics")
    conn.close()
    out: dict[str, dict[str, float]] = {str(g): {"count": 0.0, "sum": 0.0, "le_0.025": 0.0, "max": 0.0} for g in range(3)}
    names = {"shopsage_gc_pause_seconds_count": "count", "shopsage_gc_pause_seconds_sum": "sum",
             "shopsage_gc_pause_max_seconds": "max"}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            g = sample.labels.get("generation")
            if g is None:
                continue
            if sample.name in names:
                out[g][names[sample.name]] = sample.value
            elif sample.name == "shopsage_gc_pause_seconds_bucket" and float(sample.labels["le"]) == 0.025:
                out[g]["le_0.025"] = sample.value
    return out


def gc_delta(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The collections of one phase: per generation, how many, their total ms, how many over 25 ms, and
    the longest of the worker so far."""
    return {g: {"collections": int(after[g]["count"] - before[g]["count"]),
                "total_ms": round((after[g]["sum"] - before[g]["sum"]) * 1000, 1),
                "over_25ms": int((after[g]["count"] - after[g]["le_0.025"]) - (before[g]["count"] - before[g]["le_0.025"])),
                "longest_ms_so_far": round(after[g]["max"] * 1000, 1)} for g in after}


async def http_phases(out: dict[str, Any], args: argparse.Namespace, svc_pid: int, bare_pid: int, port: int, bare_port: int,
                      routes: dict[str, Any], items: list[str], rng: random.Random) -> None:
    warm = 1.0 if args.quick else 2.0
    for name, p in (("for_you", port), ("next_in_session", port), ("search", port), ("bare", bare_port)):
        await closed_loop("127.0.0.1", p, routes[name], 4, warm)
    conn = await Conn("127.0.0.1", port).open()
    out["search_mode"] = json.loads((await conn.send("GET", routes["search"](0)))[1])["mode"]
    out["next_in_session_candidates"] = json.loads((await conn.send("GET", routes["next_in_session"](0)))[1])["stages"]["candidates"]
    conn.close()
    print("  search: auto resolved to", out["search_mode"], "; next_in_session candidates:",
          out["next_in_session_candidates"], flush=True)
    for name, rate in (("for_you", args.rate_recs), ("next_in_session", args.rate_session), ("search", args.rate_search)):
        print(f"open loop {name} at {rate:.0f}/s", flush=True)
        gc0 = await gc_pauses(port)
        r = await open_loop("127.0.0.1", port, routes[name], rate, int(rate * args.seconds))
        out[f"{name}_open_loop"] = {"rate_rps": rate, **summary(r), "gc": gc_delta(gc0, await gc_pauses(port))}
        print(" ", out[f"{name}_open_loop"], flush=True)
    closed: dict[str, Any] = {}
    for name in ("bare_before", "for_you", "next_in_session", "search", "bare_after"):
        bare = name.startswith("bare")
        pid = bare_pid if bare else svc_pid
        c0 = cpu_seconds(pid)
        res = await closed_loop("127.0.0.1", bare_port if bare else port, routes["bare" if bare else name], 8,
                                args.closed_seconds)
        closed[name] = {**summary(res), "server_cpu_ms_per_request": round((cpu_seconds(pid) - c0) * 1000 / len(res.latency_s), 3)}
        print(" ", name, closed[name], flush=True)
    bare_rps = (closed["bare_before"]["throughput_rps"] + closed["bare_after"]["throughput_rps"]) / 2
    bare_cpu = (closed["bare_before"]["server_cpu_ms_per_request"] + closed["bare_after"]["server_cpu_ms_per_request"]) / 2
    for name in ("for_you", "next_in_session", "search"):
        closed[f"ratio_{name}_to_bare"] = round(closed[name]["throughput_rps"] / bare_rps, 3)
        closed[f"cpu_ratio_{name}_to_bare"] = round(closed[name]["server_cpu_ms_per_request"] / bare_cpu, 2)
    out["closed_loop_8_connections"] = closed
    print("event to effect (in-process state)", flush=True)
    out["event_to_effect_memory"] = await event_to_effect(port, items, args.trials, rng, fresh_reads=False)
    print(" ", out["event_to_effect_memory"], flush=True)


def redis_phases(out: dict[str, Any], args: argparse.Namespace, url: str, home: Path, tmp: Path, port: int,
                 us: list[str], items: list[str], rng: random.Random) -> None:
    """Two workers sharing the real Redis: the reads go through fresh connections (other workers)."""
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        red = start(serve_cmd(url, home, port, "--workers", "2", "--state", f"{args.redis}?prefix={prefix}"),
                    port, tmp / "serve-redis.log", {"HF_HUB_OFFLINE": "1"})
    except RuntimeError as exc:
        out["event_to_effect_redis_2_workers"] = f"not measured: {str(exc)[-300:]}"
        return
    try:
        out["two_workers_settled_s"] = round(wait_idle(red.pid), 1)  # both workers loaded (3 s were not enough)

        def recs2(i: int) -> str:
            return f"/v1/recommendations/for_you?user={quote(us[(i + 7919) % len(us)])}&n=10"

        print("open loop for_you (2 workers, Redis)", flush=True)
        asyncio.run(closed_loop("127.0.0.1", port, recs2, 4, 2.0))  # warm-up
        r2 = asyncio.run(open_loop("127.0.0.1", port, recs2, args.rate_recs, int(args.rate_recs * args.seconds)))
        out["for_you_open_loop_2_workers_redis"] = {"rate_rps": args.rate_recs, **summary(r2)}
        print(" ", out["for_you_open_loop_2_workers_redis"], flush=True)
        print("event to effect (2 workers, Redis)", flush=True)
        out["event_to_effect_redis_2_workers"] = asyncio.run(event_to_effect(port, items, max(1, args.trials // 2), rng, True))
        print(" ", out["event_to_effect_redis_2_workers"], flush=True)
    finally:
        stop(red)
        from shopsage.state import open_state

        st = open_state(f"{args.redis}?prefix={prefix}")
        st.clear()  # type: ignore[attr-defined]
        st.close()


def arguments() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="Length of each open-loop run.")
    ap.add_argument("--closed-seconds", type=float, default=10.0)
    ap.add_argument("--rate-recs", type=float, default=200.0, help="for_you requests a second.")
    ap.add_argument("--rate-session", type=float, default=100.0, help="next_in_session requests a second.")
    ap.add_argument("--rate-search", type=float, default=50.0)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--in-process", type=int, default=1000, help="Timed in-process calls per route.")
    ap.add_argument("--sessions", type=int, default=2000, help="Sessions seeded for next_in_session.")
    ap.add_argument("--seq-params", type=json.loads, default=SEQ_PARAMS, help="SASRec's and GRU4Rec's settings (JSON).")
    ap.add_argument("--home", type=Path, default=None, help="The service's home (models/, cache/embeddings/), kept "
                    "between runs; default: a temporary folder (the catalogue is embedded again).")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--serve-arg", action="append", default=[], help="An extra argument for the one-worker "
                    "`shopsage serve` (repeat it), e.g. --serve-arg=--no-exposures for an A/B.")
    ap.add_argument("--learned", action="store_true", help="Serve for_you with its learned ranking stage: train "
                    "(or reuse) and promote ranker-for_you in the home first (without it the home must hold no live ranker).")
    ap.add_argument("--pin", action="store_true", help="Run the one-worker server (and the bare route) on CPU 0 and "
                    "the load generator on CPU 1 (taskset / sched_setaffinity), so the service does not share its core "
                    "with its client; the two-worker phase is not pinned.")
    ap.add_argument("--stem", default=None, help="Result file name (default serve, or serve-quick).")
    ap.add_argument("--quick", action="store_true", help="A check that every phase runs: 3 s open loops, 2 s closed "
                    "loops, 20 trials, 100 in-process calls, sequential models trained 3 epochs; results to "
                    f"{QUICK_RESULTS.relative_to(ROOT)}/serve-quick.*")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.closed_seconds, args.trials, args.in_process = 3.0, 2.0, 20, 100
        args.seq_params = {**args.seq_params, "epochs": 3}
    return args


def main() -> None:
    args = arguments()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rng = random.Random(7)
    out: dict[str, Any] = {"machine_start": describe(), "quick": args.quick, "seq_params": args.seq_params}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        home = (args.home or tmp / "home").resolve()
        print(f"preparing Amazon Scientific (home {home})", flush=True)
        t0 = time.perf_counter()
        prep = prepare(tmp, home, args.seq_params, args.learned)
        out["models"], out["prepare_s"] = prep["versions"], round(time.perf_counter() - t0, 1)
        qs = queries(prep["titles"], 5000, rng)
        us = [rng.choice(prep["users"]) for _ in range(20000)]
        print("in process", flush=True)
        out["in_process"] = in_process(prep["url"], home, [prep["pseudonyms"][u] for u in us], sessions(prep["histories"], 500, rng, "inproc"), qs,
                                       args.in_process)
        print(" ", out["in_process"], flush=True)
        names, events = sessions(prep["histories"], args.sessions, rng, "http")
        out["next_in_session_input"] = (f"{len(names)} anonymous sessions seeded with POST /v1/events ({len(events)} views, "
                                        "1-5 consecutive items of a user's sequence each), asked with ?session=ID")
        port, bare_port = 18431, 18432
        pin = ["taskset", "-c", "0"] if args.pin else []  # the one-worker phases: server on core 0, client on core 1
        svc = start(pin + serve_cmd(prep["url"], home, port, "--semantic", *args.serve_arg), port, tmp / "serve.log",
                    {"HF_HUB_OFFLINE": "1"})
        bare = start(pin + [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(ROOT / "benchmarks"),
                            "--port", str(bare_port), "--log-level", "warning", "--no-access-log"], bare_port, tmp / "bare.log",
                     probe="/json")
        cpus = os.sched_getaffinity(0)
        if args.pin:
            os.sched_setaffinity(0, {1})
            out["pinned"] = "one-worker phases: the servers on CPU 0 (taskset), the load generator on CPU 1"
        routes = {"for_you": lambda i: f"/v1/recommendations/for_you?user={quote(us[i % len(us)])}&n=10",
                  "next_in_session": lambda i: f"/v1/recommendations/next_in_session?session={names[i % len(names)]}&n=10",
                  "search": lambda i: f"/v1/search?q={quote(qs[i % len(qs)])}&per_page=10",
                  "bare": lambda _i: "/json"}
        try:
            asyncio.run(post_events(port, events))
            asyncio.run(http_phases(out, args, svc.pid, bare.pid, port, bare_port, routes, prep["items"], rng))
        finally:
            stop(svc)
            stop(bare)
            os.sched_setaffinity(0, cpus)
        redis_phases(out, args, prep["url"], home, tmp, port, us, prep["items"], rng)
    out["machine_end"] = describe()
    where = QUICK_RESULTS if args.quick else RESULTS
    stem = args.stem or ("serve-quick" if args.quick else "serve")
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{stem}.json").write_text(json.dumps(out, indent=2))
    (where / f"{stem}.md").write_text(markdown(out))
    print(markdown(out))
    print(f"written: {where / stem}.json, .md")


def goals(r: dict[str, Any]) -> list[str]:
    lines = ["| goal | result | met? |", "|---|---|---|"]
    for key, field, limit, what in GOALS:
        x = r.get(key)
        if isinstance(x, dict):
            extra = f" (mode {r.get('search_mode')})" if key.startswith("search") else ""
            lines.append(f"| {what}{extra} ≤ {limit:g} ms | {x[field]} ms | {'yes' if x[field] <= limit else '**no**'} |")
    ratio = r["closed_loop_8_connections"]["ratio_for_you_to_bare"]
    lines.append(f"| for_you closed-loop throughput ≥ {RATIO_GOAL} of the bare route | {ratio} | "
                 f"{'yes' if ratio >= RATIO_GOAL else '**no**'} |")
    return lines


def markdown(r: dict[str, Any]) -> str:
    cl = r["closed_loop_8_connections"]
    lines = [f"{'QUICK CHECK (not figures): ' if r.get('quick') else ''}Amazon Scientific, loopback, one worker, "
             f"`shopsage serve --semantic`; models {r['models']}; search mode `auto` resolved to `{r.get('search_mode')}`; "
             f"next_in_session's candidates (one response): {r.get('next_in_session_candidates')}."
             + (f" Pinned: {r['pinned']}." if r.get("pinned") else ""),
             "", *goals(r), "",
             "| open loop | rate | requests | p50 ms | p90 ms | p99 ms | max ms | statuses |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    runs = [("GET /v1/recommendations/for_you", r["for_you_open_loop"]),
            ("GET /v1/recommendations/next_in_session", r["next_in_session_open_loop"]),
            (f"GET /v1/search ({r.get('search_mode')})", r["search_open_loop"])]
    if isinstance(r.get("for_you_open_loop_2_workers_redis"), dict):
        runs.append(("for_you, 2 workers + Redis state", r["for_you_open_loop_2_workers_redis"]))
    for name, x in runs:
        lines.append(f"| {name} | {x['rate_rps']:.0f}/s | {x['requests']} | {x['p50_ms']} | {x['p90_ms']} | {x['p99_ms']} | "
                     f"{x['max_ms']} | {x['statuses']} |")
    lines += ["", "| closed loop, 8 connections | requests/s | p50 ms | p99 ms | throughput / bare | server CPU ms a request |",
              "|---|---:|---:|---:|---:|---:|"]
    bare = (cl["bare_before"]["throughput_rps"] + cl["bare_after"]["throughput_rps"]) / 2
    for name in ("bare_before", "bare_after", "for_you", "next_in_session", "search"):
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
    ip = r["in_process"]
    lines += ["", f"| in process (no HTTP; start {ip['start_s']} s) | calls | p50 ms | p99 ms | mean ms |", "|---|---:|---:|---:|---:|"]
    for name in ("for_you", "next_in_session", "search"):
        x = ip[name]
        lines.append(f"| {name} | {x['calls']} | {x['p50_ms']} | {x['p99_ms']} | {x['mean_ms']} |")
    lines += ["", f"next_in_session input: {r['next_in_session_input']}.",
              f"Load average (1 min) at start {r['machine_start']['load_average_1m']}, at end {r['machine_end']['load_average_1m']}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
