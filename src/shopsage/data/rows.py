"""Plain row tuples that importers hand to a store in bulk.

Bulk paths avoid building a pydantic object per row (it would cap imports well below 100,000
events a second); importers check the same rules as :mod:`shopsage.data.schema` with the fast
checks of :mod:`shopsage.data.cleaning` and hand over these tuples.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["RowKey", "ItemRow", "EventRow", "JudgmentRow", "DocumentRow", "QuarantineRow", "WriteResult",
           "row_digest", "item_digest", "event_digest"]


class RowKey(NamedTuple):
    """Where a row came from: the dedup key when the source has no id of its own."""

    source: str  # e.g. "amazon-beauty/user_sequence.txt"
    line: int  # 1-based line (or record) number in the source
    pos: int = 0  # position within the line, for lines that hold several rows


class ItemRow(NamedTuple):
    ext_id: str
    title: str | None = None
    description: str | None = None
    category_path: tuple[str, ...] = ()
    brand: str | None = None
    price: float | None = None
    currency: str | None = None
    attributes: dict[str, Any] | None = None
    available: bool = True
    stock: int | None = None
    created_at: float | None = None
    updated_at: float | None = None
    language: str | None = None
    key: RowKey | None = None  # where the row came from (not part of the item's content)


class EventRow(NamedTuple):
    key: RowKey
    type: str
    item: str | None
    user: str | None = None
    session: str | None = None
    query: str | None = None
    value: float | None = None
    ts: float | None = None
    ordinal: int | None = None
    split: str | None = None
    context: dict[str, Any] | None = None
    ext_id: str | None = None  # the source's own event id: the dedup key when present


class JudgmentRow(NamedTuple):
    key: RowKey
    query: str
    item: str
    grade: float


class DocumentRow(NamedTuple):
    key: RowKey
    text: str
    label: str | None = None
    category: str | None = None
    language: str | None = None


class QuarantineRow(NamedTuple):
    key: RowKey
    reason: str
    raw: str


@dataclass
class WriteResult:
    """What one bulk write did. ``conflicts`` holds ``(index in batch, reason)`` of refused rows."""

    inserted: int = 0
    updated: int = 0
    already_present: int = 0
    conflicts: list[tuple[int, str]] = field(default_factory=list)


def row_digest(*parts: object) -> int:
    """A stable signed 64-bit digest of a row's content, to tell a true duplicate from a conflict."""
    text = repr(tuple(json.dumps(p, sort_keys=True) if isinstance(p, dict) else p for p in parts))
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True)


def item_digest(row: ItemRow) -> int:
    return row_digest(*row[1:13])


def event_digest(r: EventRow) -> int:
    ctx = json.dumps(r.context, sort_keys=True) if r.context is not None else None
    text = repr((r.type, r.item, r.user, r.session, r.query, r.value, r.ts, r.ordinal, r.split, ctx))
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True)
