"""What erasure tombstones cost an import (``shopsage.data.stores.tombstones``).

    .venv/bin/python benchmarks/bench_tombstones.py [--reps 2] [--out benchmarks/results/tombstones.json]

Two measurements on fresh SQLite stores (``synchronous=full``):

- the check alone: ``erased_positions`` over 20 blocks of 20,000 events in a store with one erased
  user, typical blocks (10 events per user, 5 per session: 2,000 users and 4,000 sessions to hash) and
  the worst case (every event its own user and session: 40,000 hashes), median per block;
- an import: 1,000,000 events in 50 blocks of 20,000 (the import's batch size) through
  ``write_events`` inside ``bulk_load``, into a store without tombstones and into one with an erased
  user (whose check then runs on every block), alternated ``--reps`` times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from shopsage.data.rows import EventBlock, EventRow, RowKey
from shopsage.data.stores import open_store
from shopsage.data.stores.base import Store
from shopsage.data.stores.tombstones import erased_positions

_BLOCK = 20_000


def _store(folder: str, buried: bool) -> Store:
    store = open_store(f"sqlite:///{folder}/shop.db")
    if buried:
        store.write_events([EventRow(RowKey("x", 1, 0), "view", "item-0", "erased-user", "erased-sess", ts=1.0)])
        store.erase_user("erased-user")
    return store


def _ids(block: int, per_user: int, per_session: int) -> tuple[list[str | None], list[str | None]]:
    base = block * _BLOCK
    return ([f"user-{(base + i) // per_user}" for i in range(_BLOCK)],
            [f"sess-{(base + i) // per_session}" for i in range(_BLOCK)])


def check_cost() -> dict[str, float]:
    """Median ms of the tombstone check per 20,000-event block, typical and worst."""
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        store = _store(folder, buried=True)
        for label, per_user, per_session in (("typical", 10, 5), ("worst", 1, 1)):
            times = []
            for b in range(20):
                users, sessions = _ids(b, per_user, per_session)
                started = time.perf_counter()
                with store.transaction():
                    assert erased_positions(store, users, sessions) == []  # type: ignore[arg-type]  # a SqlStore
                times.append(time.perf_counter() - started)
            out[f"{label}_ms_per_block"] = round(statistics.median(times) * 1000, 1)
        store.close()
    return out


def import_rate(buried: bool) -> float:
    """Events per second of 1,000,000 events written in 50 blocks."""
    blocks = []
    for b in range(50):
        users, sessions = _ids(b, 10, 5)
        lines = list(range(b * _BLOCK, (b + 1) * _BLOCK))
        n = _BLOCK
        blocks.append(EventBlock(["f.txt"] * n, lines, [0] * n, ["view"] * n, [f"item-{i % 5000}" for i in range(n)],
                                 users, sessions, [None] * n, [None] * n, [1.0e9 + x for x in lines], [None] * n,
                                 [None] * n, [None] * n, [None] * n))
    with tempfile.TemporaryDirectory() as folder:
        store = _store(folder, buried)
        started = time.perf_counter()
        with store.bulk_load():  # type: ignore[attr-defined]
            for block in blocks:
                store.write_events(block)
        seconds = time.perf_counter() - started
        assert store.stats().events == 1_000_000
        store.close()
    return 1_000_000 / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/tombstones.json"))
    args = ap.parse_args()
    result: dict[str, object] = dict(check_cost())
    print(result, flush=True)
    rates: dict[str, list[float]] = {"none": [], "one_erased_user": []}
    for _ in range(args.reps):
        for key, buried in (("none", False), ("one_erased_user", True)):
            rates[key].append(round(import_rate(buried)))
            print(key, rates[key][-1], "events/s", flush=True)
    result["import_events_per_s"] = rates
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
