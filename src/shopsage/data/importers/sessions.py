"""``sessions``: a folder with ``train_sessions.txt`` (one anonymous session per line, item ids in
click order) and ``test_prefixes.tsv`` (``prefix items<TAB>next item``), as in the CIKM Cup 2016
(Diginetica) benchmark. Every line is its own session of ``click`` events with ordinals; the
training ones carry ``split='train'``, each test prefix with its next item ``split='test'``.

Two identical lines are two sessions (anonymous shoppers often click the same items), never
duplicates: the Diginetica files hold thousands of them."""

from __future__ import annotations

from collections.abc import Iterator

from shopsage.data.cleaning import MAX_ID_LEN, BadValue, check_id, check_printable
from shopsage.data.importers._lines import read_lines
from shopsage.data.importers.base import Importer, Record, source_name
from shopsage.data.rows import EventBlock

__all__ = ["SessionsImporter"]


def _check_items(items: list[str]) -> None:
    if not items:
        raise BadValue("no items")
    if not all(i.isprintable() for i in items) or max(map(len, items)) > MAX_ID_LEN:
        for i in items:
            check_id(i, "item id")  # raises with the precise reason


class SessionsImporter(Importer):
    format = "sessions"
    description = "a folder with train_sessions.txt and test_prefixes.tsv (session-based benchmark)"

    def records(self) -> Iterator[Record]:
        train_path, test_path = self.require("train_sessions.txt", "test_prefixes.tsv")
        src = source_name(train_path)
        for line in read_lines(train_path, limits=self.limits):
            if line.text is None:
                yield line.reject(src)
                continue
            items = line.text.split()
            try:
                check_printable(line.text, "the line")
                _check_items(items)
            except BadValue as exc:
                yield line.reject(src, str(exc))
                continue
            yield EventBlock.uniform(src, line.lineno, "click", items, session=f"{src}:{line.lineno}", split="train")
        src = source_name(test_path)
        for line in read_lines(test_path, limits=self.limits):
            if line.text is None:
                yield line.reject(src)
                continue
            prefix, tab, target = line.text.partition("\t")
            items = prefix.split() + target.split()
            try:
                check_printable(prefix, "the prefix")
                check_printable(target, "the next item")
                if not tab or len(target.split()) != 1:
                    raise BadValue("expected 'prefix items<TAB>next item'")
                if len(items) < 2:
                    raise BadValue("a test case needs at least one prefix item and the next item")
                _check_items(items)
            except BadValue as exc:
                yield line.reject(src, str(exc))
                continue
            yield EventBlock.uniform(src, line.lineno, "click", items, session=f"{src}:{line.lineno}", split="test")
