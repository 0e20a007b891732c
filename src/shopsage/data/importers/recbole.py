"""``recbole``: a folder of RecBole atomic files for one data set ``NAME``.

- items: ``NAME.text`` or ``NAME.item`` (header ``item_id:token<TAB>text:token_seq`` or other
  ``field:type`` columns; ``title``/``text`` become the title, ``brand``, ``categories``, ``price``
  are read when present). A ``text`` column in UniSRec's layout (``title. categories. brand.``, the
  Amazon 2018 text data sets such as Amazon Scientific) is split into title, category path and brand
  (see ``_unisrec.py``); those files hold no prices;
- interactions, either the sequential benchmark files ``NAME.{train,valid,test}.inter``
  (``user_id<TAB>item_id_list<TAB>item_id``: each row a prefix and its next item; every user's
  full sequence is rebuilt from them, histories cut at 50 included) or one plain ``NAME.inter``
  (``user_id``, ``item_id`` and optional ``rating``, ``timestamp`` columns);
- ``NAME.user2index`` / ``NAME.item2index`` (``original<TAB>integer``), when present, turn the
  integer ids back into the original ones, so items join their text.

Sequential benchmark files carry no time: each event gets its position as ordinal, and the
``split`` of the file its target came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from shopsage.data.cleaning import BadValue, check_id, check_text, parse_float, parse_price, parse_timestamp
from shopsage.data.importers._lines import read_lines
from shopsage.data.importers._unisrec import UniSRecText
from shopsage.data.importers.base import Importer, Record, Reject, source_name
from shopsage.data.rows import EventBlock, EventRow, ItemRow, RowKey
from shopsage.errors import ImportFormatError

__all__ = ["RecBoleImporter"]

_SPLITS = ("train", "valid", "test")


def _header(path: Path) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline().rstrip("\r\n")
    return [col.split(":", 1)[0] for col in first.split("\t")]


def _text_layout(path: Path, cols: list[str]) -> UniSRecText | None:
    """The UniSRec layout of a ``text`` column that holds title, categories and brand in one, if it does."""
    if "text" not in cols or {"title", "categories", "brand"} & set(cols):
        return None
    at = cols.index("text")
    texts = [fields[at] for fields in (t.split("\t") for _, t, _ in read_lines(path, skip_header=True) if t is not None)
             if len(fields) > at]
    return UniSRecText.detect(texts)


class RecBoleImporter(Importer):
    format = "recbole"
    description = "a folder of RecBole atomic files (NAME.text or NAME.item, NAME.inter or NAME.{train,valid,test}.inter)"

    def _name(self) -> str:
        if not self.path.is_dir():
            raise ImportFormatError(f"{self.path} is not a folder; the recbole format reads a folder of atomic files")
        names = {p.name.split(".")[0] for p in self.path.glob("*.inter")}
        if len(names) != 1:
            raise ImportFormatError(f"{self.path} must hold the .inter files of exactly one data set, found {sorted(names) or 'none'}")
        return names.pop()

    def _index(self, name: str, kind: str) -> dict[str, str]:
        """integer id -> original id, from NAME.{kind}2index when present."""
        path = self.path / f"{name}.{kind}2index"
        if not path.is_file():
            return {}
        out: dict[str, str] = {}
        for lineno, text, _raw in read_lines(path):
            if text is None or "\t" not in text:
                raise ImportFormatError(f"{path}, line {lineno}: expected 'original<TAB>integer'")
            original, idx = text.rsplit("\t", 1)
            out[idx.strip()] = original.strip()
        return out

    def records(self) -> Iterator[Record]:
        name = self._name()
        items = self._index(name, "item")
        users = self._index(name, "user")
        for ext in ("text", "item"):
            if (self.path / f"{name}.{ext}").is_file():
                yield from self._items(self.path / f"{name}.{ext}")
        split_files = [self.path / f"{name}.{s}.inter" for s in _SPLITS]
        if all(p.is_file() for p in split_files):
            yield from self._sequential(split_files, users, items)
        elif (self.path / f"{name}.inter").is_file():
            yield from self._plain(self.path / f"{name}.inter", users, items)
        else:
            raise ImportFormatError(f"{self.path} needs {name}.inter or all of {name}.train/valid/test.inter")

    def _items(self, path: Path) -> Iterator[Record]:
        src = source_name(path)
        cols = _header(path)
        if "item_id" not in cols:
            raise ImportFormatError(f"{path}: the header must name an item_id column, found {cols}")
        layout = _text_layout(path, cols)
        for lineno, text, raw in read_lines(path, skip_header=True):
            key = RowKey(src, lineno, 0)
            if text is None:
                yield Reject(key, "undecodable bytes (not UTF-8)", raw)
                continue
            row = dict(zip(cols, text.split("\t"), strict=False))
            try:
                title = check_text((row.get("title") or row.get("text") or "").strip(), "text") or None
                cats = tuple(c.strip() for c in (row.get("categories") or "").split(",") if c.strip())
                brand = row.get("brand") or None
                parts = layout.split(title) if layout is not None and title else None
                if parts is not None:
                    title, cats, brand = parts
                yield ItemRow(check_id(row.get("item_id"), "item_id"), title, None, cats, brand,
                              parse_price(row.get("price")), key=key)
            except BadValue as exc:
                yield Reject(key, str(exc), raw)

    def _sequential(self, paths: list[Path], users: dict[str, str], items: dict[str, str]) -> Iterator[Record]:
        """Rebuild each user's full sequence: the first item of its shortest prefix, then every
        target in order (train rows by prefix length, then valid, then test)."""
        rows: dict[str, list[tuple[int, int, int, list[str], str, RowKey]]] = defaultdict(list)
        for rank, path in enumerate(paths):
            src = source_name(path)
            cols = _header(path)
            if cols[:3] != ["user_id", "item_id_list", "item_id"]:
                raise ImportFormatError(f"{path}: expected the header user_id, item_id_list, item_id; found {cols}")
            for lineno, text, raw in read_lines(path, skip_header=True):
                key = RowKey(src, lineno, 0)
                fields = text.split("\t") if text is not None else []
                if len(fields) < 3 or not fields[1].split() or not fields[2].strip():
                    yield Reject(key, "expected user_id<TAB>item_id_list<TAB>item_id" if text is not None
                                 else "undecodable bytes (not UTF-8)", raw)
                    continue
                hist = fields[1].split()
                rows[fields[0].strip()].append((rank, len(hist), -lineno, hist, fields[2].strip(), key))
        for user, user_rows in rows.items():
            user_rows.sort(key=lambda r: (r[0], r[1], r[2]))
            first = user_rows[0]
            seq = list(first[3])  # the shortest prefix: normally one item
            block = EventBlock()
            ext_user = users.get(user, user)
            for n, item in enumerate(seq):
                block.append(EventRow(RowKey(first[5].source, first[5].line, n + 1), "purchase", items.get(item, item),
                                      ext_user, ordinal=n, split="train"))
            for rank, _len, _neg, hist, target, key in user_rows:
                if hist != seq[-len(hist):]:
                    yield Reject(key, f"user {user}: this prefix does not match the sequence rebuilt so far", "\t".join(hist))
                    continue
                block.append(EventRow(key, "purchase", items.get(target, target), ext_user, ordinal=len(seq), split=_SPLITS[rank]))
                seq.append(target)
            yield block

    def _plain(self, path: Path, users: dict[str, str], items: dict[str, str]) -> Iterator[Record]:
        src = source_name(path)
        cols = _header(path)
        if "user_id" not in cols or "item_id" not in cols:
            raise ImportFormatError(f"{path}: the header must name user_id and item_id columns, found {cols}")
        counters: dict[str, int] = defaultdict(int)
        for lineno, text, raw in read_lines(path, skip_header=True):
            key = RowKey(src, lineno, 0)
            if text is None:
                yield Reject(key, "undecodable bytes (not UTF-8)", raw)
                continue
            row = dict(zip(cols, text.split("\t"), strict=False))
            try:
                user = check_id(row.get("user_id"), "user_id")
                item = check_id(row.get("item_id"), "item_id")
                ts = parse_timestamp(row["timestamp"]) if row.get("timestamp") else None
                rating = parse_float(row.get("rating"), "rating")
            except BadValue as exc:
                yield Reject(key, str(exc), raw)
                continue
            ordinal = None
            if ts is None:  # no time: keep the file's order per user
                ordinal = counters[user]
                counters[user] += 1
            yield EventRow(key, "rating" if rating is not None else "purchase", items.get(item, item),
                           users.get(user, user), None, None, rating, ts, ordinal)
