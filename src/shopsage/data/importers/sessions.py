"""``sessions``: a folder with ``train_sessions.txt`` (one anonymous session per line, item ids in
click order) and ``test_prefixes.tsv`` (``prefix items<TAB>next item``), as in the CIKM Cup 2016
(Diginetica) benchmark. Every line is its own session of ``click`` events with ordinals; the
training ones carry ``split='train'``, each test prefix with its next item ``split='test'``."""

from __future__ import annotations

from collections.abc import Iterator

from shopsage.data.cleaning import MAX_ID_LEN, BadValue
from shopsage.data.importers._lines import read_lines
from shopsage.data.importers.base import Importer, Record, Reject, source_name
from shopsage.data.rows import EventBlock, RowKey

__all__ = ["SessionsImporter"]


def _check_items(items: list[str]) -> None:
    if not items:
        raise BadValue("no items")
    if not all(i.isprintable() for i in items) or max(map(len, items)) > MAX_ID_LEN:
        raise BadValue("an item id is longer than 256 characters or has control characters")


class SessionsImporter(Importer):
    format = "sessions"
    description = "a folder with train_sessions.txt and test_prefixes.tsv (session-based benchmark)"

    def records(self) -> Iterator[Record]:
        train_path, test_path = self.require("train_sessions.txt", "test_prefixes.tsv")
        src = source_name(train_path)
        for lineno, text, raw in read_lines(train_path):
            key = RowKey(src, lineno, 0)
            if text is None:
                yield Reject(key, "undecodable bytes (not UTF-8)", raw)
                continue
            items = text.split()
            try:
                _check_items(items)
            except BadValue as exc:
                yield Reject(key, str(exc), raw)
                continue
            yield EventBlock.uniform(src, lineno, "click", items, session=f"{src}:{lineno}", split="train")
        src = source_name(test_path)
        for lineno, text, raw in read_lines(test_path):
            key = RowKey(src, lineno, 0)
            if text is None:
                yield Reject(key, "undecodable bytes (not UTF-8)", raw)
                continue
            prefix, tab, target = text.partition("\t")
            items = prefix.split() + target.split()
            try:
                if not tab or len(target.split()) != 1:
                    raise BadValue("expected 'prefix items<TAB>next item'")
                if len(items) < 2:
                    raise BadValue("a test case needs at least one prefix item and the next item")
                _check_items(items)
            except BadValue as exc:
                yield Reject(key, str(exc), raw)
                continue
            yield EventBlock.uniform(src, lineno, "click", items, session=f"{src}:{lineno}", split="test")
