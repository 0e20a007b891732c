"""A small open-loop HTTP/1.1 load generator on asyncio streams (keep-alive connection pool).

Open loop: request ``i`` is due at ``t0 + i / rate`` whatever happened before; its latency is
counted from that due time (no coordinated omission), so a slow server shows up as queueing.
Closed loop: ``concurrency`` connections send back to back for ``seconds`` (maximum throughput).
The servers measured run as child processes: ``start`` waits until one answers, ``cpu_seconds``
reads its CPU time, ``stop`` ends it.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

__all__ = ["title_queries", "Conn", "open_loop", "closed_loop", "summary", "request", "timed", "start", "stop", "cpu_seconds", "free_port"]


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> Conn:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def send(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nConnection: keep-alive\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def request(conn: Conn, method: str, path: str, body: bytes = b"") -> tuple[int, bytes, float]:
    t = time.perf_counter()
    status, payload = await conn.send(method, path, body)
    return status, payload, time.perf_counter() - t


@dataclass
class Result:
    latency_s: np.ndarray  # from the due time (open loop) or the send time (closed loop)
    service_s: np.ndarray  # from the send time
    statuses: dict[int, int]
    seconds: float

    @property
    def throughput(self) -> float:
        return len(self.latency_s) / self.seconds


async def open_loop(host: str, port: int, path_of: Callable[[int], str | tuple[str, str, bytes]], rate: float,
                    count: int, pool: int = 32) -> Result:
    """``path_of(i)``: a path to GET, or ``(method, path, body)``. A connection the server drops counts
    as status 0 and is replaced (a soak keeps going and reports it)."""
    conns = [await Conn(host, port).open() for _ in range(pool)]
    free: asyncio.Queue[Conn] = asyncio.Queue()
    for c in conns:
        free.put_nowait(c)
    loop = asyncio.get_running_loop()
    lat = np.zeros(count)
    svc = np.zeros(count)
    statuses: dict[int, int] = {}
    t0 = loop.time() + 0.05

    async def one(i: int, due: float) -> None:
        req = path_of(i)
        method, path, body = ("GET", req, b"") if isinstance(req, str) else req
        conn = await free.get()
        start = loop.time()
        try:
            status, _ = await conn.send(method, path, body)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
            conn.close()
            conn = await Conn(host, port).open()
        end = loop.time()
        free.put_nowait(conn)
        lat[i], svc[i] = end - due, end - start
        statuses[status] = statuses.get(status, 0) + 1

    # one dispatcher starts each request at its due time: creating every request's task up front made
    # the client itself late for the first ~100 ms (thousands of tasks scheduled at once), so the run
    # opened with a burst that queued at the server and was counted as server latency
    tasks = []
    for i in range(count):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    seconds = loop.time() - t0
    for c in conns:
        c.close()
    return Result(lat, svc, statuses, seconds)


async def closed_loop(host: str, port: int, path_of: Callable[[int], str], concurrency: int, seconds: float) -> Result:
    conns = [await Conn(host, port).open() for _ in range(concurrency)]
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    statuses: dict[int, int] = {}
    end_at = loop.time() + seconds
    counter = iter(range(10**9))

    async def worker(conn: Conn) -> None:
        while loop.time() < end_at:
            t = loop.time()
            status, _ = await conn.send("GET", path_of(next(counter)))
            lat.append(loop.time() - t)
            statuses[status] = statuses.get(status, 0) + 1

    t0 = loop.time()
    await asyncio.gather(*(worker(c) for c in conns))
    took = loop.time() - t0
    for c in conns:
        c.close()
    arr = np.array(lat)
    return Result(arr, arr, statuses, took)


def summary(r: Result) -> dict[str, object]:
    ms = r.latency_s * 1000
    return {"requests": len(ms), "seconds": round(r.seconds, 2), "throughput_rps": round(r.throughput, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p90_ms": round(float(np.percentile(ms, 90)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "max_ms": round(float(ms.max()), 2),
            "service_p99_ms": round(float(np.percentile(r.service_s * 1000, 99)), 2),
            "statuses": {str(k): v for k, v in sorted(r.statuses.items())}}


def timed(call: Callable[[int], object], count: int, warmup: int = 0) -> dict[str, float]:
    """In-process latency of ``call(i)`` for i < count, after ``warmup`` untimed calls (first torch
    calls, caches): p50, p99 and mean in milliseconds."""
    for i in range(warmup):
        call(i)
    t = []
    for i in range(count):
        t0 = time.perf_counter()
        call(i)
        t.append(time.perf_counter() - t0)
    ms = np.array(t) * 1000
    return {"calls": count, "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "mean_ms": round(float(ms.mean()), 2)}


def free_port() -> int:
    """A loopback port free now (the OS picks it), for a server a benchmark or test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], port: int, log: Path, env: dict[str, str] | None = None,
          probe: str = "/ready") -> subprocess.Popen[bytes]:
    """Run ``cmd`` (output to ``log``) until ``GET probe`` on ``port`` answers 200; its log if it exits first."""
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 600  # the first start with --semantic embeds the catalogue
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            if httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=2).status_code == 200:
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


def tree_cpu_seconds(pid: int) -> float:
    """:func:`cpu_seconds` of ``pid`` and its direct children (a multi-worker server's workers)."""
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while being read
            continue
        if int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wait_idle(pid: int, share: float = 0.1, window_s: float = 1.0, timeout_s: float = 180.0) -> float:
    """Wait until ``pid`` and its children use under ``share`` of a core for two windows in a row (a
    multi-worker server whose last worker is still loading answers requests already, and its loading
    would be counted as the others' latency); returns the seconds waited. Raises on ``timeout_s``."""
    t0 = time.monotonic()
    quiet = 0
    while quiet < 2:
        if time.monotonic() - t0 > timeout_s:
            raise RuntimeError(f"process {pid} and its workers still busy after {timeout_s:.0f} s")
        c0 = tree_cpu_seconds(pid)
        time.sleep(window_s)
        quiet = quiet + 1 if (tree_cpu_seconds(pid) - c0) / window_s < share else 0
    return time.monotonic() - t0


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def title_queries(titles: list[str], n: int, rng: random.Random) -> list[str]:
    """``n`` shopper-like queries: two consecutive words (3+ letters) of a random item title."""
    out: list[str] = []
    while len(out) < n:
        words = [w for w in re.findall(r"[A-Za-z]{3,}", rng.choice(titles)[:80])]
        if len(words) >= 2:
            k = rng.randrange(len(words) - 1)
            out.append(f"{words[k]} {words[k + 1]}".lower())
    return out
