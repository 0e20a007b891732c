"""The per-row limits of every importer, in one place (``ImportLimits``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shopsage.errors import ImportFormatError

__all__ = ["ImportLimits", "DEFAULT_LIMITS", "MAX_DEPTH"]

MAX_DEPTH = 256
"""Deepest ``max_depth`` allowed: records are checked recursively, well within Python's recursion limit."""


@dataclass(frozen=True)
class ImportLimits:
    """Per-row limits every importer applies. A row beyond one goes to the quarantine with a reason
    naming the limit; the file is never aborted for it. Pass ``limits=ImportLimits(...)`` to
    ``get_importer`` to change them; on the command line each is an option of ``shopsage import``
    (``--max-line-bytes`` for ``max_line_bytes``...)."""

    max_line_bytes: int = 1 << 20
    """Bytes in one line (1 MiB). A longer line is quarantined with its first bytes, never read whole."""
    max_field_chars: int = 131_072
    """Characters in one field (a CSV field, a tab-separated value, a JSON string)."""
    max_record_lines: int = 64
    """Physical lines one CSV record may span (a quoted field with line breaks). A quote that does not
    close within them is a damaged line: only that line is quarantined and reading resumes after it."""
    max_depth: int = 32
    """Nesting of arrays and objects in one JSON record."""
    max_number_chars: int = 40
    """Characters in one number (a 5,001-digit number is refused, not handed to ``int()``)."""
    min_rating: float = 0.0
    """Smallest rating accepted (a rating column's value outside [min_rating, max_rating] is quarantined)."""
    max_rating: float = 10.0
    """Largest rating accepted."""
    give_up_after: int = 1000
    """An import whose first ``give_up_after`` rows are all refused stops with one error: the file is
    not in the format (or the encoding) it was given as."""

    def __post_init__(self) -> None:
        for name in ("max_line_bytes", "max_field_chars", "max_record_lines", "max_depth", "max_number_chars",
                     "give_up_after"):
            if getattr(self, name) < 1:
                raise ImportFormatError(f"ImportLimits.{name} must be at least 1, not {getattr(self, name)}")
        if self.max_depth > MAX_DEPTH:
            raise ImportFormatError(f"ImportLimits.max_depth must be at most {MAX_DEPTH}, not {self.max_depth}: "
                                    "JSON nested deeper is refused whatever the limit")
        for name in ("min_rating", "max_rating"):
            if not math.isfinite(getattr(self, name)):
                raise ImportFormatError(f"ImportLimits.{name} must be a finite number, not {getattr(self, name)}")
        if not self.min_rating <= self.max_rating:
            raise ImportFormatError(f"ImportLimits.min_rating ({self.min_rating}) is above max_rating ({self.max_rating})")


DEFAULT_LIMITS = ImportLimits()
