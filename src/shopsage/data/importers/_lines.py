"""Reading source files row by row so that no file, however damaged, stops an import.

Every text importer reads through :func:`read_lines` (one row per line) or :class:`CsvRecords` (one
row per CSV record). Both apply the per-row limits of :class:`ImportLimits` and hand each line over
either decoded or with the ``problem`` that makes it unreadable (too long, a NUL byte, not valid in
the file's encoding), so the importer quarantines that one row and reads on. A file that cannot be
read at all (a zip, Parquet or binary file given as text, a gzip that ends early) is one
:class:`~shopsage.errors.ImportFormatError` naming the file and what is wrong with it.

Gzip-compressed sources (``.gz``, recognised by their first bytes) are read transparently.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from shopsage.data.cleaning import BadValue
from shopsage.data.importers.base import Reject
from shopsage.data.importers.limits import DEFAULT_LIMITS, ImportLimits
from shopsage.data.rows import RowKey
from shopsage.errors import ImportFormatError

__all__ = ["ImportLimits", "DEFAULT_LIMITS", "SourceLine", "open_source", "read_lines", "CsvRecords",
           "TRUNCATED_LAST_LINE", "json_object"]

TRUNCATED_LAST_LINE = "truncated last line (the file ends without a newline)"



_SNIFF_BYTES = 8192
_MIN_SNIFF = 1024  # smaller files are read line by line whatever they hold
_BINARY_SHARE = 0.15  # share of control characters / undecodable bytes that marks a binary file
_MAGIC = {b"PK\x03\x04": "a zip archive: unzip it first", b"PAR1": "a Parquet file: import it with the table format",
          b"\x89PNG": "a PNG image", b"%PDF": "a PDF document", b"SQLite format 3\x00": "an SQLite database"}
_DAMAGED = (EOFError, OSError, zlib.error, zipfile.BadZipFile)  # gzip.BadGzipFile is an OSError


class SourceLine(NamedTuple):
    """One physical line of a source file."""

    lineno: int
    text: str | None
    """The decoded line without its line break, or None when ``problem`` makes it unreadable."""
    raw: str
    """The line for the quarantine (undecodable bytes kept as surrogate escapes, cut when too long)."""
    problem: str | None
    """Why the line cannot be read (the quarantine reason), else None."""
    last: bool
    """The file's last line and it ends without a newline: perhaps cut short."""

    def reject(self, source: str, reason: str | None = None) -> Reject:
        """The quarantine entry of this line: ``reason`` (default: its problem), marked when the line
        may be a truncated last line."""
        why = reason or self.problem or "unreadable line"
        if self.last:
            why = f"{TRUNCATED_LAST_LINE}: {why}"
        return Reject(RowKey(source, self.lineno, 0), why, self.raw)


def _damaged(name: str, exc: BaseException) -> ImportFormatError:
    what = str(exc) or type(exc).__name__
    return ImportFormatError(f"{name} is damaged and cannot be read past this point ({what}). Rows before it "
                             "are imported; restore the file (download or copy it again) and re-run the import: "
                             "rows already stored are skipped.")


def _sniff(name: str, head: bytes, encoding: str) -> None:
    """Refuse a file that is not text at all, with what it looks like instead."""
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ImportFormatError(f"{name} is {what}, not a text file in this format. Give the right file.")
    if len(head) < _MIN_SNIFF:
        return
    text = head.decode(encoding, "replace")
    bad = sum(1 for c in text if (c < " " and c not in "\t\r\n\f") or "\x7f" <= c < "\xa0" or c == "\ufffd")
    if bad > _BINARY_SHARE * len(text):
        raise ImportFormatError(f"{name} is not a text file: {bad:,} of its first {len(text):,} characters are "
                                f"binary or not {encoding}. Give the right file, or decompress it first.")


@contextlib.contextmanager
def open_source(path: Path, encoding: str = "utf-8", stream: IO[bytes] | None = None) -> Iterator[IO[bytes]]:
    """``path`` (or an already open ``stream`` read as ``path``) as a binary stream, gunzipped when it
    is gzip; files that are not text at all are refused here with one clear error."""
    name = str(path)
    with contextlib.ExitStack() as stack:
        fh: IO[bytes] = stream if stream is not None else stack.enter_context(open(path, "rb"))
        buffered = fh if isinstance(fh, io.BufferedReader) else io.BufferedReader(fh, _SNIFF_BYTES)  # type: ignore[arg-type]
        try:
            if buffered.peek(2)[:2] == b"\x1f\x8b":
                buffered = io.BufferedReader(stack.enter_context(gzip.GzipFile(fileobj=buffered)), _SNIFF_BYTES)  # type: ignore[arg-type]
            head = buffered.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
        except _DAMAGED as exc:
            raise _damaged(name, exc) from exc
        _sniff(name, head.removeprefix(b"\xef\xbb\xbf"), encoding)
        yield buffered


def _drain(fh: IO[bytes], name: str) -> tuple[int, bool]:
    """Skip the rest of an over-long line: ``(bytes skipped, whether a newline ended it)``."""
    size = 0
    while True:
        try:
            more = fh.readline(1 << 20)
        except _DAMAGED as exc:
            raise _damaged(name, exc) from exc
        size += len(more)
        if not more or more.endswith(b"\n"):
            return size, bool(more)


def read_lines(path: Path, encoding: str = "utf-8", skip_header: bool = False, *,
               limits: ImportLimits = DEFAULT_LIMITS, stream: IO[bytes] | None = None,
               keep_blank: bool = False) -> Iterator[SourceLine]:
    """Each non-blank line of ``path`` (or of ``stream``), decoded or with the problem that stops it.

    Problems: longer than ``limits.max_line_bytes``, a NUL byte, bytes not valid in ``encoding``.
    A good line costs one ``readline`` and one decode (this is the bulk import path).
    """
    limit, name = limits.max_line_bytes, str(path)
    with open_source(path, encoding, stream) as fh:
        readline = fh.readline
        lineno = 0
        while True:
            try:
                data = readline(limit + 1)
            except _DAMAGED as exc:
                raise _damaged(name, exc) from exc
            if not data:
                return
            lineno += 1
            ended = data.endswith(b"\n")
            size = len(data)
            if size > limit and not ended:
                more, ended = _drain(fh, name)
                size += more
            if lineno == 1:
                data = data.removeprefix(b"\xef\xbb\xbf")
                if skip_header:
                    continue
            data = data.rstrip(b"\r\n")
            if not keep_blank and not data.strip():
                continue
            if size > limit:
                yield SourceLine(lineno, None, data[:limit].decode(encoding, "surrogateescape"),
                                 f"line of {size:,} bytes is over the limit of {limit:,} "
                                 "(ImportLimits.max_line_bytes): split it or raise the limit", not ended)
                continue
            nul = data.find(b"\x00")
            if nul >= 0:
                yield SourceLine(lineno, None, data.decode(encoding, "surrogateescape"),
                                 f"NUL byte at byte {nul + 1} (binary data in a text file): "
                                 "remove it", not ended)
                continue
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                yield SourceLine(lineno, None, data.decode(encoding, "surrogateescape"),
                                 f"undecodable bytes (not {encoding}) at byte {exc.start + 1}: "
                                 f"re-save the file as {encoding}", not ended)
                continue
            yield SourceLine(lineno, text, text, None, not ended)


def json_object(text: str, limits: ImportLimits = DEFAULT_LIMITS) -> tuple[dict[str, Any] | None, str | None]:
    """``(object, None)`` for a line holding one JSON object, else ``(None, why)``: not JSON, not an
    object, a number longer than ``limits.max_number_chars`` (refused before ``int()`` sees it), NaN or
    Infinity, or nested past what the parser recurses into. Callers check the rest of the limits on
    the parsed value (:func:`shopsage.data.cleaning.check_json_value`)."""
    limit = limits.max_number_chars

    def number(kind: type[int] | type[float]) -> Callable[[str], int | float]:
        def parse(t: str) -> int | float:
            if len(t) > limit:
                raise BadValue(f"a number of {len(t):,} characters (at most {limit}, ImportLimits.max_number_chars)")
            return kind(t)
        return parse

    def constant(name: str) -> None:
        raise BadValue(f"{name} is not a number JSON allows")

    try:
        row = json.loads(text, parse_int=number(int), parse_float=number(float), parse_constant=constant)
    except BadValue as exc:
        return None, str(exc)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc})"
    except RecursionError:
        return None, f"nested more than {limits.max_depth} levels deep (ImportLimits.max_depth)"
    if not isinstance(row, dict):
        return None, f"a JSON {type(row).__name__}, not an object: each line must be one JSON object"
    return row, None


class CsvRecord(NamedTuple):
    """One CSV record, reported at its first line."""

    first: SourceLine
    fields: list[str] | None
    """The fields, or None when ``problem`` makes the record unreadable."""
    raw: str
    problem: str | None
    lines: tuple[SourceLine, ...]
    """The physical lines the record spans (more than one when a quoted field holds line breaks)."""


class CsvRecords:
    """The records of a CSV file, robust to damage: each physical line is read through
    :func:`read_lines` (limits, NUL, encoding), a quoted field may span at most
    ``limits.max_record_lines`` lines, and a multi-line record the importer refuses is split again:
    its first line is quarantined and the lines after it are read afresh (:meth:`reject`), so a stray
    quote costs one line, never the rest of the file.
    """

    def __init__(self, path: Path, encoding: str = "utf-8", delimiter: str = ",", *,
                 limits: ImportLimits = DEFAULT_LIMITS, stream: IO[bytes] | None = None) -> None:
        self.path, self.encoding, self.delimiter, self.limits, self.stream = path, encoding, delimiter, limits, stream
        self._pending: deque[SourceLine] = deque()
        if limits.max_field_chars > csv.field_size_limit():  # process-wide: only ever raised, never lowered
            csv.field_size_limit(limits.max_field_chars)

    def __iter__(self) -> Iterator[CsvRecord]:
        lines = read_lines(self.path, self.encoding, limits=self.limits, stream=self.stream, keep_blank=True)
        pending = self._pending
        while True:
            first = pending.popleft() if pending else next(lines, None)
            if first is None:
                return
            if first.text is None:
                yield CsvRecord(first, None, first.raw, first.problem, (first,))
                continue
            if not first.text.strip():
                continue
            group, text = [first], first.text
            fields, problem = self._parse(text)
            while fields is None and problem is None and len(group) < self.limits.max_record_lines:
                nxt = pending.popleft() if pending else next(lines, None)
                if nxt is None or nxt.text is None:
                    if nxt is not None:
                        pending.appendleft(nxt)
                    break
                group.append(nxt)
                text = f"{text}\n{nxt.text}"
                fields, problem = self._parse(text)
            if fields is None and problem is None:
                problem = (f"a quoted field opened on this line does not close within {len(group)} line(s) "
                           f"(ImportLimits.max_record_lines is {self.limits.max_record_lines}): fix the quote")
                pending.extendleft(reversed(group[1:]))
                group = [first]
                text = first.text
            elif problem is None:
                problem = self._too_long(fields)  # type: ignore[arg-type]
            yield CsvRecord(first, None if problem else fields, text if len(group) > 1 else first.raw, problem,
                            tuple(group))

    def _parse(self, text: str) -> tuple[list[str] | None, str | None]:
        """``(fields, None)`` for a whole record; ``(None, None)`` when a quoted field runs on; ``(None, why)``."""
        try:
            rows = list(csv.reader(io.StringIO(text + "\n"), delimiter=self.delimiter, strict=True))
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                return None, None
            if "field limit" in str(exc):
                return None, (f"a field is over the limit of {self.limits.max_field_chars:,} characters "
                              "(ImportLimits.max_field_chars)")
            if "\n" in text:  # a quote that ran into the next line and broke there: not a record
                return None, f"malformed CSV: {exc}"
            try:  # Python's lenient reading (a quote inside an unquoted field is a character)
                rows = list(csv.reader(io.StringIO(text + "\n"), delimiter=self.delimiter))
            except csv.Error as exc2:
                return None, f"malformed CSV: {exc2}"
        if len(rows) != 1:
            return None, "malformed CSV: a line break outside quotes"
        return rows[0], None

    def _too_long(self, fields: list[str]) -> str | None:
        limit = self.limits.max_field_chars
        for n, f in enumerate(fields, start=1):
            if len(f) > limit:
                return (f"field {n} has {len(f):,} characters, over the limit of {limit:,} "
                        "(ImportLimits.max_field_chars)")
        return None

    def reject(self, source: str, record: CsvRecord, reason: str | None = None) -> Reject:
        """The quarantine entry of ``record``. A record spanning several lines keeps only its first line
        in the quarantine; the lines after it are read again, as records of their own."""
        why = reason or record.problem or "unreadable record"
        if len(record.lines) > 1:
            self._pending.extendleft(reversed(record.lines[1:]))
            why = (f"{why} (this record ran over lines {record.first.lineno}-{record.lines[-1].lineno} "
                   "through a quoted field; only its first line is quarantined, the others are read again)")
            return record.first.reject(source, why)
        return record.first.reject(source, why)
