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

from shopsage.data.cleaning import (
    BadValue,
    check_id,
    check_printable,
    check_text,
    parse_price,
    parse_rating,
    parse_timestamp,
)
from shopsage.data.importers._lines import read_lines
from shopsage.data.importers._unisrec import UniSRecText
from shopsage.data.importers.base import Importer, Record, Reject, source_name
from shopsage.data.importers.limits import ImportLimits
from shopsage.data.rows import EventBlock, EventRow, ItemRow, RowKey
from shopsage.errors import ImportFormatError

__all__ = ["RecBoleImporter"]

_SPLITS = ("train", "valid", "test")


def _header(path: Path, limits: ImportLimits) -> list[str]:
    first = next(read_lines(path, limits=limits, keep_blank=True), None)
    if first is None or first.lineno != 1 or first.text is None:
        why = first.problem if first is not None and first.lineno == 1 else "the file is empty"
        raise ImportFormatError(f"{path}: the first line must be the header of field:type columns ({why})")
    return [col.split(":", 1)[0] for col in first.text.split("\t")]


def _text_layout(path: Path, cols: list[str], limits: ImportLimits) -> UniSRecText | None:
    """The UniSRec layout of a ``text`` column that holds title, categories and brand in one, if it does."""
    if "text" not in cols or {"title", "categories", "brand"} & set(cols):
        return None
    at = cols.index("text")
    texts = [fields[at] for fields in (ln.text.split("\t") for ln in read_lines(path, skip_header=True, limits=limits)
                                       if ln.text is not None) if len(fields) == len(cols)]
    return UniSRecText.detect(texts)


def _fields(text: str, cols: list[str]) -> list[str]:
    fields = text.split("\t")
    if len(fields) != len(cols):
        raise BadValue(f"expected {len(cols)} tab-separated fields ({', '.join(cols)}), found {len(fields)}")
    return fields


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
        for line in read_lines(path, limits=self.limits):
            if line.text is None or "\t" not in line.text:
                raise ImportFormatError(f"{path}, line {line.lineno}: expected 'original<TAB>integer' "
                                        f"({line.problem or 'no tab'}); without a whole index the ids cannot be mapped back")
            original, idx = line.text.rsplit("\t", 1)
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
        cols = _header(path, self.limits)
        if "item_id" not in cols:
            raise ImportFormatError(f"{path}: the header must name an item_id column, found {cols}")
        layout = _text_layout(path, cols, self.limits)
        limit = self.limits.max_field_chars
        for line in read_lines(path, skip_header=True, limits=self.limits):
            if line.text is None:
                yield line.reject(src)
                continue
            try:
                row = dict(zip(cols, _fields(line.text, cols), strict=True))
                title = check_text((row.get("title") or row.get("text") or "").strip(), "text", limit) or None
                cats = tuple(c.strip() for c in (check_text(row.get("categories"), "categories", limit) or "").split(",")
                             if c.strip())
                brand = check_text(row.get("brand"), "brand", limit) or None
                parts = layout.split(title) if layout is not None and title else None
                if parts is not None:
                    title, cats, brand = parts
                yield ItemRow(check_id(row.get("item_id"), "item_id"), title, None, cats, brand,
                              parse_price(row.get("price")), key=RowKey(src, line.lineno, 0))
            except BadValue as exc:
                yield line.reject(src, str(exc))

    def _sequential(self, paths: list[Path], users: dict[str, str], items: dict[str, str]) -> Iterator[Record]:
        """Rebuild each user's full sequence: the first item of its shortest prefix, then every
        target in order (train rows by prefix length, then valid, then test)."""
        rows: dict[str, list[tuple[int, int, int, list[str], str, RowKey]]] = defaultdict(list)
        seen: dict[tuple[str, ...], tuple[str, int]] = {}
        for rank, path in enumerate(paths):
            src = source_name(path)
            cols = _header(path, self.limits)
            if cols[:3] != ["user_id", "item_id_list", "item_id"]:
                raise ImportFormatError(f"{path}: expected the header user_id, item_id_list, item_id; found {cols}")
            for line in read_lines(path, skip_header=True, limits=self.limits):
                if line.text is None:
                    yield line.reject(src)
                    continue
                try:
                    fields = _fields(line.text, cols)
                    user, hist, target = check_id(fields[0], "user_id"), fields[1].split(), fields[2].strip()
                    check_printable(fields[1], "item_id_list")
                    if not hist:
                        raise BadValue("empty item_id_list: expected user_id<TAB>item_id_list<TAB>item_id")
                    for i in (*hist, target):
                        check_id(i, "item id")
                    prior = seen.setdefault((user, target, *hist), (src, line.lineno))
                    if prior != (src, line.lineno):
                        raise BadValue(f"exact duplicate of {prior[0]} line {prior[1]}")
                except BadValue as exc:
                    yield line.reject(src, str(exc))
                    continue
                rows[user].append((rank, len(hist), -line.lineno, hist, target, RowKey(src, line.lineno, 0)))
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
        cols = _header(path, self.limits)
        if "user_id" not in cols or "item_id" not in cols:
            raise ImportFormatError(f"{path}: the header must name user_id and item_id columns, found {cols}")
        counters: dict[str, int] = defaultdict(int)
        seen: dict[tuple[str, str, float | None, float | None], int] = {}
        lim = self.limits
        for line in read_lines(path, skip_header=True, limits=lim):
            if line.text is None:
                yield line.reject(src)
                continue
            try:
                row = dict(zip(cols, _fields(line.text, cols), strict=True))
                user = check_id(row.get("user_id"), "user_id")
                item = check_id(row.get("item_id"), "item_id")
                ts = parse_timestamp(row["timestamp"]) if row.get("timestamp") else None
                rating = parse_rating(row.get("rating"), lim.min_rating, lim.max_rating, lim.max_number_chars)
                first = seen.setdefault((user, item, ts, rating), line.lineno)
                if first != line.lineno:
                    raise BadValue(f"exact duplicate of line {first}")
            except BadValue as exc:
                yield line.reject(src, str(exc))
                continue
            ordinal = None
            if ts is None:  # no time: keep the file's order per user
                ordinal = counters[user]
                counters[user] += 1
            yield EventRow(RowKey(src, line.lineno, 0), "rating" if rating is not None else "purchase",
                           items.get(item, item), users.get(user, user), None, None, rating, ts, ordinal)
