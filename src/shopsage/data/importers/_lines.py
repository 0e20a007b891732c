"""Reading source files line by line without ever losing a line to a decoding error."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

__all__ = ["read_lines", "read_csv_rows"]


def read_lines(path: Path, encoding: str = "utf-8", skip_header: bool = False) -> Iterator[tuple[int, str | None, str]]:
    """Yield ``(line number, text or None if undecodable, raw text)`` for each non-empty line.

    ``raw`` is the line decoded with replacement characters, for the quarantine.
    """
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and skip_header:
                continue
            raw = raw.rstrip(b"\r\n")
            if lineno == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                yield lineno, raw.decode(encoding), raw.decode(encoding, "replace")
            except UnicodeDecodeError:
                yield lineno, None, raw.decode(encoding, "replace")


def read_csv_rows(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, list[str] | None, str]]:
    """Yield ``(line number, fields or None if undecodable, raw text)`` per CSV record (with header).

    Decodes with ``surrogateescape`` so one bad byte spoils only its own record; records spanning
    several lines (quoted newlines) are reported at their first line.
    """
    with open(path, encoding=encoding, errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        line = 1
        for fields in reader:
            start, line = line, reader.line_num + 1
            raw = ",".join(fields)
            bad = any(_has_surrogate(f) for f in fields)
            yield start, None if bad else fields, raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False

