"""Search benchmark inputs: a catalogue CSV and judgment CSVs, and a deterministic query split.

Formats:

- ``homedepot``: the Kaggle Home Depot files (ISO-8859-1): catalogue ``product_uid,product_title``,
  judgments ``search_term,product_uid,relevance`` with relevance 1..3 (gain = relevance - 1).
- ``table``: any CSV, described by a :class:`TableMapping` (column names, encoding, gain offset).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from shopsage.data.rows import ItemRow
from shopsage.errors import ImportFormatError

__all__ = ["TableMapping", "HOMEDEPOT", "read_catalog", "read_judgments", "split_queries"]


class TableMapping(BaseModel):
    """Which CSV columns hold what. Empty optional columns are simply absent."""

    model_config = ConfigDict(extra="forbid")

    encoding: str = "utf-8-sig"
    item_id: str = "item_id"
    title: str = "title"
    description: str | None = None
    brand: str | None = None
    category: str | None = None
    """Category path column; levels separated by ``category_sep``."""
    category_sep: str = ">"
    price: str | None = None
    query: str = "query"
    judged_item: str = "item_id"
    grade: str = "grade"
    gain_offset: float = 0.0
    """Subtracted from the grade column to get the gain (Home Depot: 1)."""


HOMEDEPOT = TableMapping(encoding="ISO-8859-1", item_id="product_uid", title="product_title", query="search_term",
                         judged_item="product_uid", grade="relevance", gain_offset=1.0)


def _reader(path: str | Path, encoding: str, needed: Sequence[str]) -> csv.DictReader:
    p = Path(path)
    if not p.is_file():
        raise ImportFormatError(f"{p} does not exist: give the path of a CSV file.")
    fh = open(p, encoding=encoding, newline="")  # noqa: SIM115 - closed by the caller's iteration
    reader = csv.DictReader(fh)
    missing = [c for c in needed if c not in (reader.fieldnames or [])]
    if missing:
        fh.close()
        raise ImportFormatError(f"{p} has no column(s) {missing}; its columns are {reader.fieldnames}. "
                                "Pick the right --format or fix the column mapping.")
    return reader


def read_catalog(path: str | Path, mapping: TableMapping = HOMEDEPOT) -> list[ItemRow]:
    """Items of a catalogue CSV; a repeated id keeps its last row."""
    m = mapping
    reader = _reader(path, m.encoding, [m.item_id, m.title])
    rows: dict[str, ItemRow] = {}
    for rec in reader:
        ext = (rec.get(m.item_id) or "").strip()
        if not ext:
            continue
        cat = tuple(c.strip() for c in (rec.get(m.category) or "").split(m.category_sep) if c.strip()) if m.category else ()
        price = None
        if m.price and rec.get(m.price):
            try:
                price = float(rec[m.price])
            except ValueError:
                price = None
        rows[ext] = ItemRow(ext_id=ext, title=rec.get(m.title) or "",
                            description=rec.get(m.description) if m.description else None,
                            brand=rec.get(m.brand) or None if m.brand else None, category_path=cat, price=price)
    return list(rows.values())


def read_judgments(path: str | Path, mapping: TableMapping = HOMEDEPOT) -> list[tuple[str, str, float]]:
    """``(query, item id, gain)`` triples; a repeated (query, item) pair keeps its mean gain."""
    m = mapping
    reader = _reader(path, m.encoding, [m.query, m.judged_item, m.grade])
    acc: dict[tuple[str, str], list[float]] = {}
    for rec in reader:
        q = " ".join((rec[m.query] or "").split())
        item = (rec[m.judged_item] or "").strip()
        if not q or not item:
            continue
        try:
            g = float(rec[m.grade]) - m.gain_offset
        except ValueError as exc:
            raise ImportFormatError(f"{path}: grade {rec[m.grade]!r} is not a number.") from exc
        acc.setdefault((q, item), []).append(g)
    return [(q, i, sum(g) / len(g)) for (q, i), g in acc.items()]


def split_queries(queries: Sequence[str], dev_fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic train/dev split by query text (a seeded hash, so it does not depend on order)."""
    train, dev = [], []
    for q in sorted(set(queries)):
        h = int.from_bytes(hashlib.blake2b(f"{seed}:{q}".encode(), digest_size=8).digest(), "big")
        (dev if h / 2**64 < dev_fraction else train).append(q)
    return train, dev
