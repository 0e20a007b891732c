"""``amazon-seq``: a folder with ``user_sequence.txt`` (``USER ASIN ASIN ...`` in time order) and
``item_titles.txt`` (``ASIN words...``). Each review is a ``purchase`` event with its position in
the user's line as ordinal (the data has no timestamps, and none are invented).

One line per user: a user's second line is quarantined (an exact duplicate, or a conflicting one),
since two lines would give the same ordinals twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from shopsage.data.cleaning import MAX_ID_LEN, BadValue, check_id, check_printable, check_text
from shopsage.data.importers._lines import read_lines
from shopsage.data.importers.base import Importer, Record, source_name
from shopsage.data.importers.limits import DEFAULT_LIMITS, ImportLimits
from shopsage.data.rows import EventBlock, ItemRow, RowKey

__all__ = ["AmazonSeqImporter", "user_sequences", "titled_items"]


class AmazonSeqImporter(Importer):
    format = "amazon-seq"
    description = "a folder with user_sequence.txt and item_titles.txt (Amazon 5-core sequences)"

    def records(self) -> Iterator[Record]:
        seq_path, titles_path = self.require("user_sequence.txt", "item_titles.txt")
        yield from titled_items(titles_path, sep=" ", limits=self.limits)
        yield from user_sequences(seq_path, self.limits)


def user_sequences(path: Path, limits: ImportLimits, digits: bool = False) -> Iterator[Record]:
    """``purchase`` events from ``USER ITEM ITEM ...`` lines, one line per user (``digits``: every id
    must be a non-negative integer, as in S3-Rec's files)."""
    src = source_name(path)
    seen: dict[str, tuple[int, int]] = {}  # user -> (line, hash of the line)
    for line in read_lines(path, limits=limits):
        text = line.text
        if text is None:
            yield line.reject(src)
            continue
        parts = text.split()
        try:
            check_printable(text, "the line")  # else split() would take a control character for a space
            user = check_id(parts[0] if parts else None, "user id")
            if len(parts) < 2:
                raise BadValue(f"user {user} has no items")
            if digits:
                if not all(p.isdigit() for p in parts) or max(map(len, parts)) > MAX_ID_LEN:
                    bad = next(p for p in parts if not p.isdigit() or len(p) > MAX_ID_LEN)
                    raise BadValue(f"id {bad[:60]!r} is not a non-negative integer")
            elif max(map(len, parts)) > MAX_ID_LEN:
                for a in parts[1:]:
                    check_id(a, "item id")  # raises with the precise reason
            prior = seen.setdefault(user, (line.lineno, hash(text)))
            if prior[0] != line.lineno:
                same = prior[1] == hash(text)
                raise BadValue(f"{'exact' if same else 'conflicting'} duplicate: user {user} already has its line "
                               f"({prior[0]}); one line per user")
        except BadValue as exc:
            yield line.reject(src, str(exc))
            continue
        yield EventBlock.uniform(src, line.lineno, "purchase", parts[1:], user=user)


def titled_items(path: Path, sep: str, limits: ImportLimits = DEFAULT_LIMITS) -> Iterator[Record]:
    """Items from ``ID<sep>title`` lines; an empty title is allowed (the item still counts)."""
    src = source_name(path)
    for line in read_lines(path, limits=limits):
        if line.text is None:
            yield line.reject(src)
            continue
        raw_id, _, raw_title = line.text.partition(sep)
        try:
            ext = check_id(raw_id, "item id")
            title = check_text(raw_title.strip(), "title", limits.max_field_chars) or None
        except BadValue as exc:
            yield line.reject(src, str(exc))
            continue
        yield ItemRow(ext, title, key=RowKey(src, line.lineno, 0))
