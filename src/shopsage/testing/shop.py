"""A tiny synthetic shop with known answers, for service, pipeline and API tests.

Four leaf categories of ten items each (``pip0..9`` pipettes and ``bk0..9`` beakers under Lab,
``saw0..9`` saws and ``drl0..9`` drills under Tools), three brands, prices 1..40. Users
``u0..u39`` each interact with four items of one category (user ``u{k}`` with category ``k % 4``),
so item-kNN neighbours stay inside a category; ``pip0`` and ``pip1`` are bought together by
every pipette user. ``pip9`` is out of stock and ``bk9`` hidden. Sessions ``s0..s9`` click two
saws each.
"""

from __future__ import annotations

from shopsage.data.rows import EventBlock, EventRow, ItemRow, RowKey
from shopsage.data.stores import Store, open_store

__all__ = ["make_shop", "CATEGORIES", "item_ids"]

CATEGORIES = [("Lab", "Pipettes", "pip", "Acme"), ("Lab", "Beakers", "bk", "Glassco"),
              ("Tools", "Saws", "saw", "Toolo"), ("Tools", "Drills", "drl", "Toolo")]


def item_ids(prefix: str) -> list[str]:
    return [f"{prefix}{i}" for i in range(10)]


def _items() -> list[ItemRow]:
    rows = []
    for c, (root, leaf, prefix, brand) in enumerate(CATEGORIES):
        noun = leaf[:-1].lower()
        for i, ext in enumerate(item_ids(prefix)):
            rows.append(ItemRow(ext, f"{brand} {noun} model {ext}", f"A {noun} for the {root.lower()}", (root, leaf),
                                brand, float(c * 10 + i + 1), "EUR", None, ext != "bk9", 0 if ext == "pip9" else 5))
    return rows


def make_shop(url: str) -> Store:
    """Create the shop in the store at ``url`` (items, user purchases and session clicks)."""
    store = open_store(url)
    store.write_items(_items())
    b = EventBlock()
    line = 0
    for u in range(40):
        _, _, prefix, _ = CATEGORIES[u % 4]
        ids = item_ids(prefix)
        seq = [ids[0], ids[1]] if prefix == "pip" else []
        k = u // 4
        seq += [ids[(k + j) % 9] for j in (2, 3, 4, 5)]
        seq = list(dict.fromkeys(seq))[:4] if prefix != "pip" else list(dict.fromkeys(seq))[:5]
        line += 1
        for pos, item in enumerate(seq):
            b.append(_event(line, pos, "purchase", item, user=f"u{u}"))
    for s in range(10):
        line += 1
        for pos, item in enumerate((f"saw{s % 9}", f"saw{(s + 1) % 9}")):
            b.append(_event(line, pos, "click", item, session=f"s{s}"))
    store.write_events(b)
    return store


def _event(line: int, pos: int, typ: str, item: str, user: str | None = None, session: str | None = None) -> EventRow:
    return EventRow(RowKey("synthetic", line, pos), typ, item, user, session, None, None, None, pos)
