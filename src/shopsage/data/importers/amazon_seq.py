"""``amazon-seq``: a folder with ``user_sequence.txt`` (``USER ASIN ASIN ...`` in time order) and
``item_titles.txt`` (``ASIN words...``). Each review is a ``purchase`` event with its position in
the user's line as ordinal (the data has no timestamps, and none are invented)."""

from __future__ import annotations

from collections.abc import Iterator

from shopsage.data.cleaning import MAX_ID_LEN, BadValue, check_id, check_text
from shopsage.data.importers._lines import read_lines
from shopsage.data.importers.base import Importer, Record, Reject, source_name
from shopsage.data.rows import EventBlock, ItemRow, RowKey

__all__ = ["AmazonSeqImporter"]


class AmazonSeqImporter(Importer):
    format = "amazon-seq"
    description = "a folder with user_sequence.txt and item_titles.txt (Amazon 5-core sequences)"

    def records(self) -> Iterator[Record]:
        seq_path, titles_path = self.require("user_sequence.txt", "item_titles.txt")
        yield from titled_items(titles_path, sep=" ")
        src = source_name(seq_path)
        for lineno, text, raw in read_lines(seq_path):
            key = RowKey(src, lineno, 0)
            if text is None:
                yield Reject(key, "undecodable bytes (not UTF-8)", raw)
                continue
            parts = text.split()
            try:
                user = check_id(parts[0], "user id")
                if len(parts) < 2:
                    raise BadValue(f"user {user} has no items")
                if not text.isprintable() or max(map(len, parts)) > MAX_ID_LEN:
                    for a in parts[1:]:
                        check_id(a, "item id")  # raises with the precise reason
            except BadValue as exc:
                yield Reject(key, str(exc), raw)
                continue
            yield EventBlock.uniform(src, lineno, "purchase", parts[1:], user=user)


def titled_items(path, sep: str) -> Iterator[Record]:  # type: ignore[no-untyped-def]
    """Items from ``ID<sep>title`` lines; an empty title is allowed (the item still counts)."""
    src = source_name(path)
    for lineno, text, raw in read_lines(path):
        key = RowKey(src, lineno, 0)
        if text is None:
            yield Reject(key, "undecodable bytes (not UTF-8)", raw)
            continue
        raw_id, _, raw_title = text.partition(sep)
        try:
            ext = check_id(raw_id, "item id")
            title = check_text(raw_title.strip(), "title") or None
        except BadValue as exc:
            yield Reject(key, str(exc), raw)
            continue
        yield ItemRow(ext, title, key=key)
