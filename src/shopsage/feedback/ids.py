"""Answer ids: every search page's ``query_id`` and every recommendation list's ``recomm_id``.

A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Time-sortable (ids of
one answer per millisecond or more sort by time, as the store's pages and the UBI export do), unique
without coordination between workers (2^74 random values per millisecond), and a plain UUID string,
the form UBI's ``query_id`` suggests. Python 3.11 has no ``uuid.uuid7``; this is its layout.
"""

from __future__ import annotations

import os
import time
import uuid

__all__ = ["new_answer_id", "answer_time"]

_MASK_48 = (1 << 48) - 1


def new_answer_id(now_ms: int | None = None) -> str:
    """A fresh UUIDv7 string (``now_ms``: the time to embed, for tests; default the clock)."""
    ms = (time.time_ns() // 1_000_000 if now_ms is None else now_ms) & _MASK_48
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 are used
    value = (ms << 80) | (0x7 << 76) | (((rand >> 62) & 0xFFF) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def answer_time(answer_id: str) -> float | None:
    """Epoch seconds embedded in a UUIDv7 answer id (None for ids of other forms, e.g. imported ones)."""
    try:
        u = uuid.UUID(answer_id)
    except ValueError:
        return None
    if u.version != 7:
        return None
    return (u.int >> 80) / 1000.0
