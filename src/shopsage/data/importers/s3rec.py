"""``s3rec``: the S3-Rec integer sequence file (``user item item ...`` per line) and, beside it,
``<name>_item2attributes.json`` (``{"item": [attribute ids]}``) when present. Items are
``purchase`` events with their position as ordinal (no timestamps exist).

The attributes file is one JSON document: damaged JSON is one clear error before anything is
imported (its rows cannot be told apart); an entry that is not ``id: [integers]`` is quarantined."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from shopsage.data.cleaning import BadValue, check_id, check_int64
from shopsage.data.importers._lines import open_source
from shopsage.data.importers.amazon_seq import user_sequences
from shopsage.data.importers.base import Importer, Record, Reject, source_name
from shopsage.data.rows import ItemRow, RowKey
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
        yield from user_sequences(self.path, self.limits, digits=True)

    def _load(self, path: Path) -> dict:
        limits = self.limits

        def number(text: str) -> int:
            if len(text) > limits.max_number_chars:
                raise BadValue(f"a number of {len(text):,} characters")
            return int(text)

        def no_constant(name: str) -> None:
            raise BadValue(f"{name} is not valid JSON")

        with open_source(path) as fh:
            data = fh.read()
        try:
            mapping = json.loads(data.decode("utf-8-sig"), parse_int=number, parse_constant=no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError and BadValue are ValueErrors
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
            raise ImportFormatError(f"{path} is not valid UTF-8 JSON ({why}); fix or remove it to import "
                                    "without attributes. Nothing was imported.") from None
        if not isinstance(mapping, dict):
            raise ImportFormatError(f"{path} must hold a JSON object {{item id: [attribute ids]}}")
        return mapping

    def _items(self, path: Path) -> Iterator[Record]:
        src = source_name(path)
        for n, (item, attrs) in enumerate(self._load(path).items(), start=1):
            key = RowKey(src, n, 0)
            try:
                ext = check_id(str(item), "item id")
                if not isinstance(attrs, list) or not all(type(a) is int for a in attrs):
                    raise BadValue(f"attributes of item {ext!r} are not a list of integers")
                for a in attrs:
                    check_int64(a, "attribute id")
            except BadValue as exc:
                yield Reject(key, str(exc), _raw(item, attrs))
                continue
            yield ItemRow(ext, attributes={"attribute_ids": attrs}, key=key)


def _raw(item: str, attrs: object) -> str:
    try:
        return json.dumps({item: attrs}, ensure_ascii=False)[:4000]
    except (RecursionError, ValueError):
        return f"{item!r}: (a value too deeply nested to show)"
