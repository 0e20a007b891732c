"""Plain row tuples that importers hand to a store in bulk.

Bulk paths avoid building a pydantic object per row (it would cap imports well below 100,000
events a second); importers check the same rules as :mod:`shopsage.data.schema` with the fast
checks of :mod:`shopsage.data.cleaning` and hand over these tuples.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["RowKey", "ItemRow", "EventRow", "EventBlock", "JudgmentRow", "DocumentRow", "QuarantineRow", "WriteResult",
           "row_digest", "item_digest", "event_digest", "safe_text", "QUARANTINE_TEXT_LIMIT"]

QUARANTINE_TEXT_LIMIT = 4000
"""Characters of raw text (and of a reason) the quarantine keeps per row; the rest is cut, saying how much."""


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


_BLOCK_FIELDS = ("source", "line", "pos", "type", "item", "user", "session", "query", "value", "ts",
                 "ordinal", "split", "context", "ext_id")


@dataclass
class EventBlock:
    """Many events as columns (one list per field): the bulk path of importers and stores.

    ``EventRow`` is convenient for one event; a block of 20,000 events costs no Python object
    per event, which is what lets an import reach 100,000 events a second.
    """

    source: list[str] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    pos: list[int] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    item: list[str | None] = field(default_factory=list)
    user: list[str | None] = field(default_factory=list)
    session: list[str | None] = field(default_factory=list)
    query: list[str | None] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    ts: list[float | None] = field(default_factory=list)
    ordinal: list[int | None] = field(default_factory=list)
    split: list[str | None] = field(default_factory=list)
    context: list[dict[str, Any] | None] = field(default_factory=list)
    ext_id: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.line)

    def columns(self) -> list[list[Any]]:
        return [getattr(self, f) for f in _BLOCK_FIELDS]

    def append(self, r: EventRow) -> None:
        k = r.key
        for col, v in zip(self.columns(), (k.source, k.line, k.pos, r.type, r.item, r.user, r.session, r.query,
                                           r.value, r.ts, r.ordinal, r.split, r.context, r.ext_id), strict=True):
            col.append(v)

    def extend(self, other: EventBlock) -> None:
        # spelled out: this runs once per source line on the import path
        self.source += other.source
        self.line += other.line
        self.pos += other.pos
        self.type += other.type
        self.item += other.item
        self.user += other.user
        self.session += other.session
        self.query += other.query
        self.value += other.value
        self.ts += other.ts
        self.ordinal += other.ordinal
        self.split += other.split
        self.context += other.context
        self.ext_id += other.ext_id

    def row(self, i: int) -> EventRow:
        return EventRow(RowKey(self.source[i], self.line[i], self.pos[i]), self.type[i], self.item[i], self.user[i],
                        self.session[i], self.query[i], self.value[i], self.ts[i], self.ordinal[i], self.split[i],
                        self.context[i], self.ext_id[i])

    def rows(self) -> list[EventRow]:
        return [self.row(i) for i in range(len(self))]

    @classmethod
    def from_rows(cls, rows: Sequence[EventRow]) -> EventBlock:
        if not rows:
            return cls()
        keys, types, items, users, sessions, queries, vals, ts, ords, splits, ctx, ext = map(list, zip(*rows, strict=True))
        sources, lines, poss = map(list, zip(*keys, strict=True))
        return cls(sources, lines, poss, types, items, users, sessions, queries, vals, ts, ords, splits, ctx, ext)

    @classmethod
    def uniform(cls, source: str, line: int, type: str, items: list[str], user: str | None = None,
                session: str | None = None, ordinals: list[int] | None = None, split: str | None = None) -> EventBlock:
        """The events of one source line that differ only by item and position (a user's or session's items)."""
        n = len(items)
        return cls([source] * n, [line] * n, list(range(n)), [type] * n, items, [user] * n, [session] * n,
                   [None] * n, [None] * n, [None] * n, ordinals if ordinals is not None else list(range(n)),
                   [split] * n, [None] * n, [None] * n)


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


def safe_text(text: str, limit: int = QUARANTINE_TEXT_LIMIT) -> str:
    """``text`` made storable in any text column of SQLite and PostgreSQL, at most ``limit`` characters.

    Undecodable bytes (the lone surrogates of ``surrogateescape`` decoding) become ``\\xNN``, other lone
    surrogates ``\\udNNN``, and NUL ``\\x00`` (PostgreSQL text cannot hold NUL); the result is valid
    UTF-8. Longer text is cut and ends with how many characters were left out.
    """
    total = len(text)
    if total > 2 * limit:  # escaping only grows text: cut first so a 1 GB line costs nothing
        text = text[:2 * limit]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "backslashreplace").decode(
            "utf-8", "backslashreplace")
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates left by the above
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if len(text) > limit:
        text = f"{text[:limit - 40]}... (cut; {total:,} characters in all)"
    return text


def _only_escapes(text: str) -> bool:
    """Whether every lone surrogate of ``text`` is a ``surrogateescape`` byte (U+DC80..U+DCFF)."""
    return all("\udc80" <= c <= "\udcff" for c in text if "\ud800" <= c <= "\udfff")


class QuarantineRow(NamedTuple):
    key: RowKey
    reason: str
    raw: str

    @classmethod
    def safe(cls, key: RowKey, reason: str, raw: str) -> QuarantineRow:
        """A quarantine row whose reason and raw text any backend stores as they are (see :func:`safe_text`)."""
        return cls(key, safe_text(reason, 1000), safe_text(raw))


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
    attrs = json.dumps(row.attributes, sort_keys=True) if row.attributes else None
    text = repr((row[1:7], attrs, row[8:13]))
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True)


def event_digest(r: EventRow) -> int:
    ctx = json.dumps(r.context, sort_keys=True) if r.context is not None else None
    text = repr((r.type, r.item, r.user, r.session, r.query, r.value, r.ts, r.ordinal, r.split, ctx))
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True)
