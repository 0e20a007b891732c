"""Segment throughput: how many events a second the batch fit and the live path take on one core.

The live path is the service's own: :meth:`LiveSegments.observe` (the ingest listener) with one
request's events, then :meth:`LiveSegments.of` for the shopper (what a profile or a segment rule
reads), once per event. Yoochoose's sessions stand for shoppers (its clicks have real times, so
lifecycle thresholds are learned from real gaps between visits).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shopsage.data.rows import EventRow
from shopsage.data.schema import Event
from shopsage.profiles.profile import ItemInfo
from shopsage.profiles.segments_book import SegmentEvent, book_from_store, fit_book
from shopsage.profiles.segments_snapshot import resume_book
from shopsage.serving.segments import LiveSegments

__all__ = ["segment_restart", "segment_throughput"]


def segment_throughput(rows: Sequence[EventRow], info: dict[str, ItemInfo] | None = None,
                       batch: int = 1) -> dict[str, Any]:
    """Fit on the first half of ``rows`` (time order), then feed the second half live, ``batch`` events
    a request, reading the shopper's segments after each event."""
    rows = sorted((r for r in rows if r.item is not None and (r.user or r.session)), key=lambda r: r.ts or 0.0)
    half = len(rows) // 2
    lookup = (info or {}).get
    past = [SegmentEvent(str(r.user or r.session), str(r.item), r.type, r.ts, r.value) for r in rows[:half]]
    paths = [i.category_path for i in (info or {}).values()]
    started = time.process_time()
    book = fit_book(past, lookup, paths)
    fit_s = time.process_time() - started
    live = LiveSegments()
    live.book = book
    events = [Event.model_validate({"user": str(r.user or r.session), "item": r.item, "type": r.type, "timestamp": r.ts,
                                    "value": r.value, "ordinal": None if r.ts is not None else 0}) for r in rows[half:]]
    started = time.process_time()
    shown = 0
    for lo in range(0, len(events), batch):
        part = events[lo:lo + batch]
        live.observe(part)
        for e in part:
            shown += len(live.of(e.user).segments)  # type: ignore[union-attr, arg-type]
    live_s = time.process_time() - started
    counts = book.counts()
    return {"fit_events": half, "fit_cpu_s": round(fit_s, 3), "fit_events_per_s": round(half / max(fit_s, 1e-9)),
            "live_events": len(events), "live_cpu_s": round(live_s, 3),
            "live_events_per_s": round(len(events) / max(live_s, 1e-9)), "segments_read": shown,
            "shoppers": len(book.stats), "activity": book.model.activity,
            "lapsed_after_days": None if book.model.lapsed_after_s is None else round(book.model.lapsed_after_s / 86400, 3),
            "active_within_days": None if book.model.active_within_s is None else round(book.model.active_within_s / 86400, 3),
            "counts": {k: dict(v) for k, v in counts.items()}}


def segment_restart(rows: Sequence[EventRow], store: Any, folder: Path, info: dict[str, ItemInfo] | None = None,
                    new_share: float = 0.01) -> dict[str, Any]:
    """A service start's segment fit, before and after snapshots: store all but the last ``new_share`` of
    ``rows`` (time order; sessions stand for shoppers without a user) in the empty ``store`` and fit (a
    full replay, which leaves a snapshot in ``folder``); store the rest, then time a fit that replays every
    interaction (each start before) and one that resumes the snapshot (each start now). Wall seconds:
    the store's read is part of a start."""
    rows = sorted((r._replace(user=r.user or r.session) for r in rows if r.item is not None and (r.user or r.session)),
                  key=lambda r: r.ts or 0.0)
    cut = len(rows) - int(round(len(rows) * new_share))
    lookup = (info or {}).get
    store.write_events(rows[:cut])
    started = time.perf_counter()
    _, first = resume_book(store, lookup, folder)
    first_s = time.perf_counter() - started
    store.write_events(rows[cut:])
    started = time.perf_counter()
    full = book_from_store(store, lookup)
    full_s = time.perf_counter() - started
    started = time.perf_counter()
    resumed, how = resume_book(store, lookup, folder)
    resumed_s = time.perf_counter() - started
    same = full.model == resumed.model and list(full.stats) == list(resumed.stats) and all(
        repr(full.stats[u]) == repr(resumed.stats[u]) for u in full.stats)
    return {"events": len(rows), "new_events": len(rows) - cut, "shoppers": len(full.stats),
            "first_fit_s": round(first_s, 3), "first_fit": first, "full_replay_s": round(full_s, 3),
            "resume_s": round(resumed_s, 3), "resume": how, "same_book": same}
