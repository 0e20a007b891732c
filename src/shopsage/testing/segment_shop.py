"""A seeded shop with timed events for segment tests: shoppers with known rhythms and interests."""

from __future__ import annotations

import numpy as np

from shopsage.profiles.profile import ItemInfo
from shopsage.profiles.segments_book import SegmentEvent

__all__ = ["CATS", "DAY", "catalogue", "timed_events"]

DAY = 86400.0
CATS = ("Lab", "Tools", "Garden", "Kitchen")


def catalogue() -> dict[str, ItemInfo]:
    """Ten items per category under one root (level 0 says nothing, level 1 is the interest)."""
    return {f"{c[:3].lower()}{i}": ItemInfo(("Shop", c), None, float(5 + 3 * i)) for c in CATS for i in range(10)}


def timed_events(seed: int = 0, users: int = 120) -> list[SegmentEvent]:
    """Each shopper mostly browses and buys one category; purchases every ~10 days (exponential),
    some shoppers stopped 60-200 days before the end of the 400-day log."""
    rng = np.random.default_rng(seed)
    items = list(catalogue())
    out: list[SegmentEvent] = []
    for u in range(users):
        home = CATS[u % len(CATS)][:3].lower()
        t = float(rng.uniform(0, 100)) * DAY
        stop = 400 * DAY - (float(rng.uniform(60, 200)) * DAY if u % 5 == 0 else 0.0)
        n = 0
        while t < stop and n < 40:
            mine = rng.random() < 0.8
            item = f"{home}{rng.integers(10)}" if mine else items[int(rng.integers(len(items)))]
            out.append(SegmentEvent(f"u{u}", item, "view", t))
            if rng.random() < 0.6:
                out.append(SegmentEvent(f"u{u}", item, "purchase", t + 60.0,
                                        float(rng.uniform(5, 50)) if rng.random() < 0.5 else None))
            t += float(rng.exponential(10.0)) * DAY + 3600.0
            n += 1
    return out


