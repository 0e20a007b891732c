"""``yoochoose``: a folder of session-rec files ``*_train_full.txt`` and ``*_test.txt`` (header,
then ``SessionId<TAB>ItemId<TAB>Time`` with Unix seconds). Each row is a ``click`` with its real
timestamp in an anonymous session; ``split`` is ``train`` or ``test`` by file. An exact repeat
of a row (same session, item and time) is quarantined as a duplicate, never stored twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from shopsage.data.cleaning import BadValue, check_id, parse_timestamp
from shopsage.data.importers._lines import read_lines
from shopsage.data.importers.base import Importer, Record, source_name
from shopsage.data.rows import EventRow, RowKey
from shopsage.errors import ImportFormatError

__all__ = ["YoochooseImporter"]

HEADER = ["SessionId", "ItemId", "Time"]


class YoochooseImporter(Importer):
    format = "yoochoose"
    description = "a folder with *_train_full.txt and *_test.txt (SessionId, ItemId, Time; session-rec format)"

    def files(self) -> list[tuple[Path, str]]:
        if not self.path.is_dir():
            raise ImportFormatError(f"{self.path} is not a folder; the yoochoose format reads a folder with *_train_full.txt and *_test.txt")
        train = sorted(self.path.glob("*_train_full.txt"))
        test = sorted(self.path.glob("*_test.txt"))
        if len(train) != 1 or len(test) != 1:
            raise ImportFormatError(f"{self.path} must hold exactly one *_train_full.txt and one *_test.txt "
                                    f"(found {len(train)} and {len(test)})")
        return [(train[0], "train"), (test[0], "test")]

    def records(self) -> Iterator[Record]:
        for path, split in self.files():
            yield from self._file(path, split)

    def _file(self, path: Path, split: str) -> Iterator[Record]:
        src = source_name(path)
        seen: dict[tuple[str, str, float], int] = {}
        lines = read_lines(path, limits=self.limits)
        first = next(lines, None)
        if first is None or first.lineno != 1 or first.text is None or first.text.split("\t") != HEADER:
            raise ImportFormatError(f"{path} should start with the header SessionId<TAB>ItemId<TAB>Time")
        for line in lines:
            if line.text is None:
                yield line.reject(src)
                continue
            fields = line.text.split("\t")
            try:
                if len(fields) != 3:
                    raise BadValue(f"expected 3 tab-separated fields, found {len(fields)}")
                session = check_id(fields[0], "session id")
                item = check_id(fields[1], "item id")
                ts = parse_timestamp(fields[2])
            except BadValue as exc:
                yield line.reject(src, str(exc))
                continue
            first_line = seen.setdefault((session, item, ts), line.lineno)
            if first_line != line.lineno:
                yield line.reject(src, f"exact duplicate of line {first_line}")
                continue
            yield EventRow(RowKey(src, line.lineno, 0), "click", item, None, session, None, None, ts, None, split)
