"""kill -9 of the server under load, with client retries: every acknowledged event stored exactly once.

Run: .venv/bin/python benchmarks/bench_crash.py [--runs 50] [--backends sqlite,postgresql]
     [--states memory,redis] [--out benchmarks/results/crash.json]
(``tests/reliability/test_kill_9.py`` runs it with two kills per combination.)

For each store backend and state kind: a fresh shop (40 items) served by ``shopsage serve`` (one
worker) on a fixed loopback port, and one client that posts batches of 20 view events, each batch
under its own ``Idempotency-Key``, half of the batches with event ids and half without (those are
deduplicated by the key alone). Every event carries a unique ``value`` marker. On a connection
error, a timeout or a 5xx the client sends the same body with the same key again until it gets a
200 (an acknowledgement). Meanwhile the server is killed with SIGKILL at a random moment 0.3-1.5 s
after it became ready, ``--runs`` times, and restarted each time (the client retries throughout).
At the end the store is read directly: an acknowledged marker stored 0 times is lost, any marker
stored more than once is duplicated. The goal is 0 and 0 (issue 23: 50 runs per combination).

Exposures (issue 24): beside it a shopper asks for ``for_you`` recommendations and searches, and
clicks the last shown item of every second answer with an event naming the answer (``recomm_id`` /
``query_id`` and ``position``), under its own Idempotency-Key, retried until acknowledged (its
markers are checked with the others). The service commits an answer's exposures before it stores a
click naming it, and its writer commits every ``exposure_flush_s`` (0.25 s), so these answers must be
in the store with exactly the items and positions the client was shown (``exposures_lost`` counts
those that are not, goal 0; ``answers_checked`` how many were checked): every answer whose click the
same server process acknowledged, every answer received at least ``FLUSHED_S`` before the kill of the
process that gave it, and every answer of the last process (stopped with SIGTERM, which writes all
that is queued). A kill -9 may lose the rest, the answers of its last moments: ``answers_not_stored``
counts them (by design; a click retried to the restarted process after such a kill is stored, but
finds no exposure to be attributed to: ``clicked_across_kill``).
PostgreSQL schemas and Redis prefixes are unique per run and removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from shopsage.data.rows import EventRow, ItemRow, RowKey
from shopsage.data.stores import open_store
from shopsage.evaluate.load import free_port

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("SHOPSAGE_TEST_PG", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SHOPSAGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
ITEMS = [f"sku{i}" for i in range(40)]
BATCH = 20
FLUSHED_S = 1.0
"""An answer received this long before a kill has been committed by the writer (0.25 s a flush, plus a commit)."""


@dataclass
class Outcome:
    backend: str
    state: str
    kills: int = 0
    batches_acked: int = 0
    events_acked: int = 0
    lost: int = 0
    duplicated: int = 0
    stored_unacked: int = 0
    retries: int = 0
    replayed_answers: int = 0
    answers: int = 0
    answers_clicked: int = 0
    answers_checked: int = 0
    exposures_lost: int = 0
    exposures_mismatched: int = 0
    answers_not_stored: int = 0
    clicked_across_kill: int = 0
    lost_answers: list[str] = field(default_factory=list)  # why each lost answer was checked
    client_errors: list[str] = field(default_factory=list)
    start_s: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _seed(url: str) -> None:
    """The shop: 40 items and a few stored purchases (so the service has models to build)."""
    store = open_store(url)
    store.write_items([ItemRow(x, f"Item {x}", price=float(i + 1)) for i, x in enumerate(ITEMS)])
    store.write_events([EventRow(RowKey("seed", u, p), "purchase", ITEMS[(u * 3 + p) % 40], f"seed{u}", ordinal=p)
                        for u in range(20) for p in range(3)])
    store.close()


class Server:
    def __init__(self, store: str, state: str, home: Path, port: int) -> None:
        self.cmd = [sys.executable, "-m", "shopsage.cli.main", "serve", "--store", store, "--state", state,
                    "--home", str(home), "--port", str(port), "--no-access-log"]
        self.base = f"http://127.0.0.1:{port}"
        self.log = home / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180.0) -> float:
        t0 = time.monotonic()
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(self.cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=ROOT)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"shopsage serve exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/ready", timeout=1).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"shopsage serve was not ready in {timeout:.0f} s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)  # the server and anything it started
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class Client(threading.Thread):
    """Posts batches until told to stop; retries each until acknowledged."""

    def __init__(self, base: str, tag: str, out: Outcome) -> None:
        super().__init__(daemon=True)
        self.base, self.tag, self.out = base, tag, out
        self.stop = threading.Event()
        self.acked: list[float] = []  # markers of acknowledged events

    def body(self, n: int) -> dict:
        with_ids = n % 2 == 0
        return {"events": [{"type": "view", "item": ITEMS[(n + k) % 40], "user": f"shopper{n % 7}",
                            "session": f"visit{n % 11}", "timestamp": 1.7e9 + n + k / 100, "value": float(n * 100 + k),
                            **({"id": f"{self.tag}-{n}-{k}"} if with_ids else {})} for k in range(BATCH)]}

    def run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.base, timeout=5) as http:
            while not self.stop.is_set():
                body, headers = self.body(n), {"Idempotency-Key": f"{self.tag}-batch-{n}"}
                while True:  # until acknowledged
                    try:
                        r = http.post("/v1/events", json=body, headers=headers)
                    except httpx.HTTPError:
                        r = None
                    if r is not None and r.status_code == 200:
                        break
                    if r is not None and r.status_code < 500:
                        self.out.client_errors.append(f"batch {n}: {r.status_code} {r.text[:300]}")
                        return
                    self.out.retries += 1
                    time.sleep(0.05)
                answer = r.json()
                self.out.replayed_answers += bool(answer.get("replayed"))
                self.acked.extend(e["value"] for e in body["events"])
                self.out.batches_acked += 1
                n += 1


class Shopper(threading.Thread):
    """Asks for answers (for_you, search) and clicks one shown item of every second answer, naming the
    answer; retries each click until acknowledged."""

    def __init__(self, base: str, tag: str, out: Outcome) -> None:
        super().__init__(daemon=True)
        self.base, self.tag, self.out = base, tag, out
        self.stop = threading.Event()
        self.answers: dict[str, list[str]] = {}  # answer id -> its items in position order
        # answer id -> (server process that answered, monotonic time); None: a kill fell between the request and
        # the reply (the reply may be a dead process's, read from the socket after the kill), so unknown
        self.received: dict[str, tuple[int | None, float]] = {}
        self.clicked: dict[str, int | None] = {}  # answers named by acknowledged clicks -> the process that acked
        self.acked: list[float] = []  # markers of acknowledged clicks

    def ask(self, http: httpx.Client, n: int) -> tuple[str, str, list[str], int | None] | None:
        before = self.out.kills
        try:
            if n % 3 == 0:
                r = http.get("/v1/search", params={"q": "Item", "session": f"visit{n % 11}"})
                key = "query_id"
            else:
                r = http.get("/v1/recommendations/for_you", params={"user": f"shopper{n % 7}", "n": 5})
                key = "recomm_id"
        except httpx.HTTPError:
            return None
        if r.status_code != 200:
            return None
        body = r.json()
        return key, body[key], [it["id"] for it in body["items"]], before if self.out.kills == before else None

    def click(self, http: httpx.Client, n: int, key: str, answer: str, items: list[str]) -> bool:
        marker = 1.0e9 + n
        body = {"events": [{"type": "click", "item": items[-1], "session": f"visit{n % 11}", "value": marker,
                            "timestamp": 1.7e9 + n, "context": {key: answer, "position": len(items)}}]}
        while True:  # until acknowledged
            before = self.out.kills
            try:
                r = http.post("/v1/events", json=body, headers={"Idempotency-Key": f"{self.tag}-click-{n}"})
            except httpx.HTTPError:
                r = None
            if r is not None and r.status_code == 200:
                self.clicked[answer] = before if self.out.kills == before else None  # the process that acked
                self.acked.append(marker)
                return True
            if r is not None and r.status_code < 500:
                self.out.client_errors.append(f"click {n}: {r.status_code} {r.text[:300]}")
                return False
            self.out.retries += 1
            time.sleep(0.05)

    def run(self) -> None:
        n = 0
        with httpx.Client(base_url=self.base, timeout=5) as http:
            while not self.stop.is_set():
                n += 1
                got = self.ask(http, n)
                if got is None:
                    time.sleep(0.05)
                    continue
                key, answer, items, proc = got
                self.answers[answer] = items
                self.received[answer] = (proc, time.monotonic())
                if n % 2 == 0 and items and not self.click(http, n, key, answer, items):
                    return


def _verify_exposures(store_url: str, shopper: Shopper, kill_times: list[float], out: Outcome) -> None:
    """The answers that must be stored are, exactly as shown; how many others a kill cost."""
    store = open_store(store_url, create=False)
    stored: dict[str, list[tuple[int, str]]] = {}
    for r in store.read_exposures():
        stored.setdefault(r.exposure_id, []).append((r.position, r.item))
    store.close()
    shown = {a: [(i + 1, x) for i, x in enumerate(items)] for a, items in shopper.answers.items()}
    must: dict[str, str] = {}  # answer -> why it must be stored
    for a, (proc, at) in shopper.received.items():
        if proc is None:  # a kill fell between the request and its reply: which process answered is unknown
            continue
        killed = kill_times[proc] if proc < len(kill_times) else None  # None: the last process, stopped cleanly
        if shopper.clicked.get(a) == proc:
            must[a] = f"clicked, acknowledged by process {proc}"
        elif killed is None:
            must[a] = f"answered by the last process {proc} (SIGTERM)"
        elif killed - at >= FLUSHED_S:
            must[a] = f"answered {killed - at:.2f} s before process {proc} was killed"
    out.answers = len(shown)
    out.answers_clicked = len(shopper.clicked)
    out.answers_checked = len(must)
    out.lost_answers = [f"{a}: {why}" for a, why in must.items() if sorted(stored.get(a, [])) != shown[a]]
    out.exposures_lost = len(out.lost_answers)
    out.exposures_mismatched = sum(1 for a, rows in stored.items() if a in shown and sorted(rows) != shown[a])
    out.answers_not_stored = sum(1 for a in shown if a not in stored)
    out.clicked_across_kill = sum(1 for a, proc in shopper.clicked.items() if proc is None or shopper.received[a][0] != proc)


def _urls(backend: str, state: str, tmp: Path, tag: str) -> tuple[str, str]:
    store = f"sqlite:///{tmp / 'shop.db'}" if backend == "sqlite" else f"{PG_URL}?schema=ss_crash_{tag}"
    return store, ("memory://" if state == "memory" else f"{REDIS_URL}?prefix=ss_crash_{tag}")


def _cleanup(store_url: str, state_url: str) -> None:
    if store_url.startswith("postgresql"):
        from shopsage.data.stores.postgresql import PostgresStore

        s = PostgresStore(store_url)
        s.drop_schema()
        s.close()
    if state_url.startswith("redis"):
        from shopsage.state import open_state

        st = open_state(state_url)
        st.clear()  # type: ignore[attr-defined]
        st.close()


def _verify(store_url: str, acked: list[float], out: Outcome) -> None:
    store = open_store(store_url, create=False)
    counts = {float(v): int(c) for v, c in store._query(  # type: ignore[attr-defined]
        "SELECT value, COUNT(*) FROM events WHERE value IS NOT NULL GROUP BY value")}
    store.close()
    out.events_acked = len(acked)
    out.lost = sum(1 for m in acked if counts.get(m, 0) == 0)
    out.duplicated = sum(c - 1 for c in counts.values() if c > 1)
    out.stored_unacked = len(set(counts) - set(acked))


def run_combo(backend: str, state: str, runs: int, seed: int, say=print) -> Outcome:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    out = Outcome(backend, state)
    tag = uuid.uuid4().hex[:10]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crash-") as d:
        tmp = Path(d)
        store_url, state_url = _urls(backend, state, tmp, tag)
        _seed(store_url)
        server = Server(store_url, state_url, tmp / "home", free_port())
        (tmp / "home").mkdir()
        client = Client(server.base, tag, out)
        shopper = Shopper(server.base, tag, out)
        kill_times: list[float] = []  # when the server process number i was killed
        try:
            out.start_s.append(round(server.start(), 2))
            client.start()
            shopper.start()
            for run in range(runs):
                time.sleep(rng.uniform(0.3, 1.5))
                server.kill()
                kill_times.append(time.monotonic())
                out.kills += 1
                out.start_s.append(round(server.start(), 2))
                say(f"{backend}/{state}: kill {run + 1}/{runs}, {out.batches_acked} batches acknowledged, "
                    f"{out.retries} retries")
                if client.out.client_errors:
                    break
            time.sleep(0.3)
            client.stop.set()
            shopper.stop.set()
            client.join(timeout=60)
            shopper.join(timeout=60)
        finally:
            server.stop()
        _verify(store_url, client.acked + shopper.acked, out)
        _verify_exposures(store_url, shopper, kill_times, out)
        _cleanup(store_url, state_url)
    out.seconds = round(time.monotonic() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=50, help="kill -9 runs per combination")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--states", default="memory,redis")
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "crash.json")
    args = ap.parse_args()
    results = []
    for backend in args.backends.split(","):
        for state in args.states.split(","):
            res = run_combo(backend, state, args.runs, args.seed)
            print(f"{backend}/{state}: {res.kills} kills, {res.events_acked} events acknowledged, lost {res.lost}, "
                  f"duplicated {res.duplicated}, {res.retries} retries; {res.answers} answers ({res.answers_clicked} "
                  f"clicked), {res.answers_checked} checked: exposures lost {res.exposures_lost}, mismatched "
                  f"{res.exposures_mismatched}; a kill's last moments: {res.answers_not_stored} answers not stored, "
                  f"{res.clicked_across_kill} clicked across a kill; {res.seconds} s", flush=True)
            results.append(asdict(res))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ok = all(r["lost"] == 0 and r["duplicated"] == 0 and r["exposures_lost"] == 0 and r["exposures_mismatched"] == 0
             and not r["client_errors"] for r in results)
    args.out.write_text(json.dumps({"runs_per_combination": args.runs, "batch": BATCH, "goal_met": ok,
                                    "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}: goal {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
