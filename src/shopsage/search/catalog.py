"""The searchable catalogue: item id vocabulary, the fields to index, filters and facet counts.

:class:`Catalog` hands out contiguous int slots to external item ids (reused on update, kept on
delete so ids stay stable until :meth:`Catalog.vocabulary` is written out) and keeps the columns
filters, facets and ranking features need (category path, brand, price, stock) and each item's
indexed text, which search quotes as evidence. Popularity is not a column: it comes with each
request from behaviour events (see :mod:`shopsage.search.front`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shopsage.artifacts import load_arrays, save_arrays
from shopsage.data.rows import ItemRow
from shopsage.errors import ValidationError
from shopsage.vocab import Vocabulary

__all__ = ["Catalog", "CatalogFacts", "SearchFilter", "item_fields", "normalize_title", "char_trigrams"]


def item_fields(row: ItemRow) -> dict[str, str | None]:
    """The text fields the lexical index reads from one item."""
    attrs = None
    if row.attributes:
        attrs = " ".join(f"{k} {v}" for k, v in row.attributes.items() if v is not None)
    return {
        "title": row.title,
        "category": " ".join(row.category_path) if row.category_path else None,
        "brand": row.brand,
        "description": row.description,
        "attributes": attrs,
    }


def normalize_title(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def char_trigrams(text: str) -> set[str]:
    """Character trigrams of a normalized text, padded so word starts count."""
    t = f"  {text} "
    return {t[i:i + 3] for i in range(len(t) - 2)}


@dataclass(frozen=True)
class SearchFilter:
    """Conditions every result must meet; ``None`` means no condition."""

    categories: Sequence[str] | None = None
    """Keep items whose category path contains any of these (at any level)."""
    brands: Sequence[str] | None = None
    """Keep items of these brands (exact, case-insensitive)."""
    price_min: float | None = None
    price_max: float | None = None
    in_stock: bool | None = None
    """``True`` keeps available items with stock unknown or > 0."""

    def is_empty(self) -> bool:
        return all(v is None for v in (self.categories, self.brands, self.price_min, self.price_max, self.in_stock))


@dataclass
class _Labels:
    """A string column stored as int codes (-1 = none)."""

    names: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def code(self, name: str | None) -> int:
        if not name:
            return -1
        key = name.casefold()
        if key not in self.index:
            self.index[key] = len(self.names)
            self.names.append(name)
        return self.index[key]


class Catalog:
    """Item slots plus the columns used by filters, facets and ranking features."""

    def __init__(self) -> None:
        self._ext: list[str] = []
        self._slot: dict[str, int] = {}
        self.live = np.zeros(0, dtype=bool)
        self.brand = np.zeros(0, dtype=np.int32)
        self.leaf = np.zeros(0, dtype=np.int32)  # deepest category of each item
        self.price = np.zeros(0, dtype=np.float32)
        self.in_stock = np.zeros(0, dtype=bool)
        self.titles: list[str] = []
        self.texts: list[dict[str, str]] = []  # the indexed fields of each item, as written
        self.trigrams: list[np.ndarray] = []  # sorted trigram ids of each normalized title
        self.trigram_ids: dict[str, int] = {}
        self.categories: list[tuple[str, ...]] = []
        self.brands = _Labels()
        self.leaves = _Labels()

    def __len__(self) -> int:
        return int(self.live.sum())

    @property
    def capacity(self) -> int:
        return len(self._ext)

    def vocabulary(self) -> Vocabulary:
        """External ids by slot (deleted slots keep their id until the catalogue is rebuilt)."""
        return Vocabulary(self._ext)

    def slot(self, ext_id: str) -> int | None:
        return self._slot.get(ext_id)

    def slots(self, ext_ids: Iterable[str]) -> np.ndarray:
        return np.array([self._slot.get(e, -1) for e in ext_ids], dtype=np.int64)

    def external(self, slots: Iterable[int]) -> list[str]:
        return [self._ext[int(s)] for s in slots]

    def _grow(self, cap: int) -> None:
        old = len(self.live)
        if cap <= old:
            return
        extra = cap - old
        self.live = np.concatenate([self.live, np.zeros(extra, bool)])
        self.brand = np.concatenate([self.brand, np.full(extra, -1, np.int32)])
        self.leaf = np.concatenate([self.leaf, np.full(extra, -1, np.int32)])
        self.price = np.concatenate([self.price, np.full(extra, np.nan, np.float32)])
        self.in_stock = np.concatenate([self.in_stock, np.zeros(extra, bool)])
        self.titles.extend([""] * extra)
        self.texts.extend({} for _ in range(extra))
        self.trigrams.extend([np.zeros(0, np.int32)] * extra)
        self.categories.extend([()] * extra)

    def upsert(self, rows: Sequence[ItemRow]) -> np.ndarray:
        """Slots of ``rows``: new ids get new slots, known ids keep theirs; columns are updated."""
        slots = np.empty(len(rows), dtype=np.int64)
        for i, row in enumerate(rows):
            s = self._slot.get(row.ext_id)
            if s is None:
                s = self._slot[row.ext_id] = len(self._ext)
                self._ext.append(row.ext_id)
            slots[i] = s
        self._grow(len(self._ext))
        for s, row in zip(slots.tolist(), rows, strict=True):
            self.live[s] = True
            self.brand[s] = self.brands.code(row.brand)
            self.leaf[s] = self.leaves.code(row.category_path[-1] if row.category_path else None)
            self.price[s] = np.nan if row.price is None else row.price
            self.in_stock[s] = bool(row.available) and (row.stock is None or row.stock > 0)
            self.titles[s] = normalize_title(row.title)
            self.texts[s] = {k: v for k, v in item_fields(row).items() if v}
            tri = [self.trigram_ids.setdefault(t, len(self.trigram_ids)) for t in char_trigrams(self.titles[s])]
            self.trigrams[s] = np.sort(np.array(tri, dtype=np.int32))
            self.categories[s] = tuple(c.casefold() for c in row.category_path)
        return slots

    def delete(self, ext_ids: Iterable[str]) -> np.ndarray:
        slots = np.array([s for s in (self._slot.get(e) for e in ext_ids) if s is not None], dtype=np.int64)
        self.live[slots] = False
        return slots

    def mask(self, flt: SearchFilter | None) -> np.ndarray | None:
        """``(capacity,) bool`` of live items meeting ``flt``; ``None`` when there is no filter."""
        if flt is None or flt.is_empty():
            return None
        keep = self.live.copy()
        if flt.categories is not None:
            wanted = {c.casefold() for c in flt.categories}
            keep &= np.fromiter((bool(wanted.intersection(p)) for p in self.categories), dtype=bool, count=self.capacity)
        if flt.brands is not None:
            codes = [self.brands.index[b.casefold()] for b in flt.brands if b.casefold() in self.brands.index]
            keep &= np.isin(self.brand, codes)
        if flt.price_min is not None or flt.price_max is not None:
            lo = -np.inf if flt.price_min is None else flt.price_min
            hi = np.inf if flt.price_max is None else flt.price_max
            if lo > hi:
                raise ValidationError(f"price_min {lo} is above price_max {hi}: swap them.")
            with np.errstate(invalid="ignore"):
                keep &= (self.price >= lo) & (self.price <= hi)
        if flt.in_stock:
            keep &= self.in_stock
        return keep

    def facets(self, slots: np.ndarray, top: int = 20) -> dict[str, list[tuple[str, int]]]:
        """Counts of brands and leaf categories among ``slots`` (for instance every matching item)."""
        slots = np.asarray(slots, dtype=np.int64)
        slots = slots[slots >= 0]
        out: dict[str, list[tuple[str, int]]] = {}
        for name, col, labels in (("brand", self.brand, self.brands), ("category", self.leaf, self.leaves)):
            codes = col[slots]
            codes = codes[codes >= 0]
            if len(codes) == 0:
                out[name] = []
                continue
            counts = np.bincount(codes, minlength=len(labels.names))
            order = np.lexsort((np.arange(len(counts)), -counts))[:top]
            out[name] = [(labels.names[i], int(counts[i])) for i in order if counts[i] > 0]
        return out

    def save(self, directory: str | Path) -> None:
        """``ids.txt`` (the vocabulary), ``columns.json`` (texts and labels) and ``.npy`` columns."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.vocabulary().save(str(directory / "ids.txt"))
        texts = {"titles": self.titles, "categories": [list(c) for c in self.categories],
                 "brands": self.brands.names, "leaves": self.leaves.names, "texts": self.texts}
        (directory / "columns.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        save_arrays(directory, live=self.live, brand=self.brand, leaf=self.leaf, price=self.price, in_stock=self.in_stock)

    @classmethod
    def load(cls, directory: str | Path) -> Catalog:
        directory = Path(directory)
        cat = cls()
        cat._ext = Vocabulary.load(str(directory / "ids.txt")).ids
        cat._slot = {e: i for i, e in enumerate(cat._ext)}
        texts = json.loads((directory / "columns.json").read_text(encoding="utf-8"))
        arr = load_arrays(directory, "live", "brand", "leaf", "price", "in_stock")
        cat.live, cat.brand, cat.leaf = arr["live"].astype(bool), arr["brand"], arr["leaf"]
        cat.price, cat.in_stock = arr["price"], arr["in_stock"].astype(bool)
        cat.titles = list(texts["titles"])
        # catalogues saved before the texts were kept quote their normalized titles
        cat.texts = [dict(t) for t in texts["texts"]] if "texts" in texts else [{"title": t} if t else {}
                                                                                 for t in cat.titles]
        cat.categories = [tuple(c) for c in texts["categories"]]
        for labels, names in ((cat.brands, texts["brands"]), (cat.leaves, texts["leaves"])):
            for name in names:
                labels.code(name)
        cat.trigrams = []
        for title in cat.titles:
            tri = [cat.trigram_ids.setdefault(t, len(cat.trigram_ids)) for t in char_trigrams(title)]
            cat.trigrams.append(np.sort(np.array(tri, dtype=np.int32)))
        return cat


class CatalogFacts:
    """What merchant rules and personalization read of a catalogue's live items (the
    :class:`~shopsage.policy.ItemFacts` protocol): id, category path, brand, and the slot of an id."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def ext(self, slot: int) -> str:
        return self.catalog.external([slot])[0]

    def category_path(self, slot: int) -> tuple[str, ...]:
        """Case-folded, as filters compare them."""
        return self.catalog.categories[slot]

    def brand(self, slot: int) -> str | None:
        code = int(self.catalog.brand[slot])
        return self.catalog.brands.names[code] if code >= 0 else None

    def slot(self, ext_id: str) -> int | None:
        s = self.catalog.slot(ext_id)
        return s if s is not None and self.catalog.live[s] else None
