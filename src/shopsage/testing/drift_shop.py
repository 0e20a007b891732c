"""A shop whose behaviour changes: for retraining and drift tests.

Items ``a0..a19`` (the old range) and ``n0..n19`` (new arrivals). In each phase, every shopper
buys a run of consecutive items of one range (``x_i, x_{i+1}, x_{i+2}, ...``, modulo 20), so
item-kNN learns the chain; phase ``"old"`` uses the ``a`` range, phase ``"new"`` the ``n`` range.
A model trained on the old phase alone cannot know the new chain.
"""

from __future__ import annotations

import numpy as np

from shopsage.data.rows import EventBlock, EventRow, ItemRow, RowKey
from shopsage.data.stores import Store

__all__ = ["drift_items", "phase_rows", "write_phase"]


def drift_items() -> list[ItemRow]:
    return [ItemRow(f"{p}{i}", f"{'old' if p == 'a' else 'new'} thing {i}", None, ("Shop", "Old" if p == "a" else "New"),
                    None, float(i + 1)) for p in ("a", "n") for i in range(20)]


def phase_rows(phase: str, users: range, t0: float, seed: int = 0, run: int = 4) -> tuple[list[EventRow], float]:
    """Each user of ``users`` buys ``run`` consecutive items of the phase's range, an hour apart,
    starting at ``t0``; returns the events and the time after the last one."""
    rng = np.random.default_rng(seed)
    prefix = "a" if phase == "old" else "n"
    rows = []
    t = t0
    for u in users:
        start = int(rng.integers(20))
        for pos in range(run):
            rows.append(EventRow(RowKey(f"drift-{phase}-{seed}", u, pos), "purchase", f"{prefix}{(start + pos) % 20}",
                                 f"u{u}", None, None, None, t, None))
            t += 3600.0
    return rows, t


def write_phase(store: Store, phase: str, users: range, t0: float, seed: int = 0, run: int = 4) -> float:
    """:func:`phase_rows` written to ``store``; returns the time after the last event."""
    rows, t = phase_rows(phase, users, t0, seed, run)
    block = EventBlock()
    for r in rows:
        block.append(r)
    store.write_events(block)
    return t
