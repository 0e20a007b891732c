"""``s3rec``: the S3-Rec integer sequence file (``user item item ...`` per line) and, beside it,
``<name>_item2attributes.json`` (``{"item": [attribute ids]}``) when present. Items are
``purchase`` events with their position as ordinal (no timestamps exist)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from shopsage.data.cleaning import MAX_ID_LEN, BadValue, check_id
from shopsage.data.importers._lines import read_lines
from shopsage.data.importers.base import Importer, Record, Reject, source_name
from shopsage.data.rows import EventBlock, ItemRow, RowKey
from shopsage.errors import ImportFormatError

__all__ = ["S3RecImporter"]


class S3RecImporter(Importer):
    format = "s3rec"
    description = "the S3-Rec sequence file (e.g. s3rec_Beauty.txt; its *_item2attributes.json beside it is read too)"

    def attributes_path(self) -> Path:
        return self.path.with_name(self.path.stem + "_item2attributes.json")

    def records(self) -> Iterator[Record]:
        if not self.path.is_file():
            raise ImportFormatError(f"{self.path} is not a file; the s3rec format reads the sequence file itself.")
        attr_path = self.attributes_path()
        if attr_path.is_file():
            yield from self._items(attr_path)
        src = source_name(self.path)
        for lineno, text, raw in read_lines(self.path):
            key = RowKey(src, lineno, 0)
            if text is None:
                yield Reject(key, "undecodable bytes (not UTF-8)", raw)
                continue
            parts = text.split()
            try:
                user = check_id(parts[0], "user id")
                if len(parts) < 2:
                    raise BadValue(f"user {user} has no items")
                if not all(p.isdigit() for p in parts) or max(map(len, parts)) > MAX_ID_LEN:
                    bad = next(p for p in parts if not p.isdigit() or len(p) > MAX_ID_LEN)
                    raise BadValue(f"id {bad!r} is not a non-negative integer")
            except BadValue as exc:
                yield Reject(key, str(exc), raw)
                continue
            yield EventBlock.uniform(src, lineno, "purchase", parts[1:], user=user)

    def _items(self, path: Path) -> Iterator[Record]:
        src = source_name(path)
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ImportFormatError(f"{path} is not valid UTF-8 JSON ({exc}); fix or remove it to import without attributes") from exc
        if not isinstance(mapping, dict):
            raise ImportFormatError(f"{path} must hold a JSON object {{item id: [attribute ids]}}")
        for n, (item, attrs) in enumerate(mapping.items(), start=1):
            key = RowKey(src, n, 0)
            if not isinstance(attrs, list) or not all(isinstance(a, int) for a in attrs):
                yield Reject(key, f"attributes of item {item!r} are not a list of integers", json.dumps({item: attrs})[:4000])
                continue
            try:
                ext = check_id(str(item), "item id")
            except BadValue as exc:
                yield Reject(key, str(exc), json.dumps({item: attrs})[:4000])
                continue
            yield ItemRow(ext, attributes={"attribute_ids": attrs}, key=key)
