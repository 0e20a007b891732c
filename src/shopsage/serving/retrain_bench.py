"""How long a retrain takes on a real shop, and what it does to the served p99 meanwhile.

The data set is imported; the shop first holds all but its newest ``new_fraction`` of events (in
store order), and the models the demo builds are trained on it and promoted (the champions, as
``shopsage demo`` makes them). Then the newest events arrive, and ``shopsage models retrain`` runs
as the service's schedule starts it (:meth:`RetrainSchedule.launch`: a child at ``nice`` 10 with
one numeric thread). Meanwhile a :class:`Service` over the same shop answers ``for_you`` requests
in a loop, timed; the same loop runs for ``latency_s`` seconds before and after the retrain, for
the baseline p99 (both together: the shared machine's load moves).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopsage.data.importers import get_importer
from shopsage.data.rows import EventBlock, EventRow, ItemRow, RowKey
from shopsage.data.stores import open_store
from shopsage.registry import ModelRegistry
from shopsage.serving.build import build_missing
from shopsage.serving.retraining import RetrainSchedule
from shopsage.serving.service import Service, ServiceOptions
from shopsage.training.retrain import read_decisions

__all__ = ["retrain_timing"]

Say = Callable[[str], None]


def _events(records: Sequence[object]) -> list[EventRow]:
    rows = [r for r in records if isinstance(r, EventRow)]
    for b in (r for r in records if isinstance(r, EventBlock)):
        rows += [EventRow(RowKey(src, line, pos), *rest) for src, line, pos, *rest in zip(*b.columns(), strict=True)]
    return rows


def _write(store: Any, rows: Sequence[EventRow]) -> None:
    block = EventBlock()
    for r in rows:
        block.append(r._replace(split=None))
    store.write_events(block)


def _loop(svc: Service, users: list[str], seconds: float, done: Callable[[], bool] | None = None) -> np.ndarray:
    """Time ``for_you`` requests for ``seconds`` (or until ``done``), one user after another."""
    out = []
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end and not (done is not None and done()):
        t = time.perf_counter()
        svc.recommend("for_you", user=users[i % len(users)], n=10)
        out.append(time.perf_counter() - t)
        i += 1
    return np.asarray(out)


def _stats(x: np.ndarray) -> dict[str, float]:
    return {"requests": int(len(x)), "p50_ms": round(float(np.percentile(x, 50)) * 1e3, 2),
            "p99_ms": round(float(np.percentile(x, 99)) * 1e3, 2)} if len(x) else {"requests": 0}


def retrain_timing(data: str, fmt: str, home: Path, models: Sequence[str], *, new_fraction: float = 0.1,
                   latency_s: float = 20.0, nice: int = 10, threads: int = 1,
                   say: Say = lambda _m: None) -> dict[str, Any]:
    """See the module doc; returns the retrain's wall time, its decisions and both p99s."""
    records = list(get_importer(fmt, data).records())
    items = [r for r in records if isinstance(r, ItemRow)]
    events = _events(records)
    cut = int(len(events) * (1 - new_fraction))
    home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{home / 'shop.db'}"
    store = open_store(url)
    store.write_items(items)
    _write(store, events[:cut])
    reg = ModelRegistry(home / "models")
    built = build_missing(store, reg, models, say=say)
    say(f"champions: {', '.join(built)} on {cut:,} events; {len(events) - cut:,} new events arrive")
    _write(store, events[cut:])
    store.close()
    svc = Service(ServiceOptions(store_url=url, home=home, reload_interval_s=0, build_on_start=False,
                                 segments=False)).start()
    try:
        users = sorted({str(e.user) for e in events[cut:] if e.user is not None})[:500]
        _loop(svc, users, 2.0)  # warm caches
        base = _loop(svc, users, latency_s)
        started = time.perf_counter()
        child = RetrainSchedule(home, url, nice=nice, threads=threads).launch()  # as the service starts it
        during = _loop(svc, users, 600.0, done=lambda: child.poll() is not None)
        out, _ = child.communicate()
        wall = time.perf_counter() - started
        after = _loop(svc, users, latency_s)  # the baseline again: the shared machine's load moves
    finally:
        svc.close()
    if child.returncode != 0:
        raise RuntimeError(f"shopsage models retrain failed ({child.returncode}):\n{out.decode()[-2000:]}")
    decisions = read_decisions(reg.root)
    b, d = _stats(np.concatenate([base, after])), _stats(during)
    ratio = d["p99_ms"] / b["p99_ms"] if b.get("p99_ms") and d.get("p99_ms") else None
    return {"data": data, "format": fmt, "events": len(events), "new_events": len(events) - cut,
            "models": list(built), "retrain_wall_s": round(wall, 1), "nice": nice, "threads": threads,
            "latency_before_only": _stats(base), "latency_after_only": _stats(after),
            "decisions": [{k: x[k] for k in ("name", "outcome", "reason", "seconds", "metric", "challenger_metrics",
                                             "champion_metrics")} for x in decisions],
            "latency_before": b, "latency_during": d, "p99_ratio": None if ratio is None else round(ratio, 3)}
