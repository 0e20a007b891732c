"""Fast row checks used by every importer, and the optional robot filter.

Each check returns a value or raises :class:`BadValue` with a reason that ends up in the
quarantine. The rules are those of :mod:`shopsage.data.schema`, written for speed: a bulk import
must not build one pydantic object per row.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from datetime import datetime
from decimal import Decimal
from typing import Literal

from shopsage.data.rows import EventRow
from shopsage.data.schema import EVENT_TYPES

__all__ = ["BadValue", "check_id", "parse_float", "parse_price", "parse_rating", "parse_timestamp", "check_event_type",
           "check_text", "check_printable", "check_int64", "check_json_value", "RobotFilter", "MAX_ID_LEN", "MAX_TS", "MAX_NUMBER_CHARS"]

MAX_ID_LEN = 256
MAX_TS = 32503680000.0  # year 3000
MAX_NUMBER_CHARS = 40  # the default of ImportLimits.max_number_chars: longer "numbers" are data errors
INT64_MAX = 2**63 - 1
_EVENT_TYPES = frozenset(EVENT_TYPES)


class BadValue(ValueError):
    """A value that makes its row unacceptable; the message is the quarantine reason."""


def check_id(value: str | None, what: str) -> str:
    """A non-empty id of at most 256 printable characters, without surrounding white space."""
    if value is None:
        raise BadValue(f"missing {what}")
    value = value.strip(" \t")  # only plain blanks: a control character at the edge is refused, not dropped
    if not value:
        raise BadValue(f"missing {what}")
    if len(value) > MAX_ID_LEN:
        raise BadValue(f"{what} longer than {MAX_ID_LEN} characters")
    if not value.isprintable():
        raise BadValue(f"{what} {value!r} contains control characters")
    return value


def check_printable(text: str, what: str) -> str:
    """``text`` if it holds no control or other non-printing character (ids separated by spaces:
    ``str.split()`` would silently treat such a character as a separator)."""
    if not text.isprintable():
        at, c = next((n, c) for n, c in enumerate(text) if not c.isprintable())
        raise BadValue(f"control character U+{ord(c):04X} at character {at + 1} of {what}: remove it")
    return text


def check_text(value: str | None, what: str, max_chars: int | None = None) -> str | None:
    """Text that decoded cleanly: undecodable bytes (surrogate escapes, U+FFFD) and NUL are refused,
    and so is text longer than ``max_chars`` when given."""
    if value is None:
        return None
    if max_chars is not None and len(value) > max_chars:
        raise BadValue(f"{what} has {len(value):,} characters, over the limit of {max_chars:,} (ImportLimits.max_field_chars)")
    if "\ufffd" in value:
        raise BadValue(f"undecodable bytes in {what}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from surrogateescape decoding
        raise BadValue(f"undecodable bytes in {what}") from None
    if "\x00" in value:
        raise BadValue(f"NUL character in {what}")
    return value


def _number_text(value: str, what: str, max_chars: int) -> None:
    if len(value) > max_chars:
        raise BadValue(f"{what} has {len(value):,} characters, too many for a number (at most {max_chars}, "
                       "ImportLimits.max_number_chars)")


def parse_float(value: str | None, what: str, max_chars: int = MAX_NUMBER_CHARS) -> float | None:
    """A finite number, or None for an empty value; refuses text longer than ``max_chars``."""
    if value is None or value.strip() == "":
        return None
    _number_text(value, what, max_chars)
    try:
        out = float(value)
    except ValueError:
        raise BadValue(f"{what} {value!r} is not a number") from None
    if not math.isfinite(out):
        raise BadValue(f"{what} {value!r} is not a finite number")
    return out


def parse_price(value: str | None) -> float | None:
    out = parse_float(value, "price")
    if out is not None and out < 0:
        raise BadValue(f"negative price {out}")
    return out


def parse_rating(value: str | None, low: float, high: float, max_chars: int = MAX_NUMBER_CHARS) -> float | None:
    """A rating within ``[low, high]`` (``ImportLimits.min_rating`` / ``max_rating``), or None when empty."""
    out = parse_float(value, "rating", max_chars)
    if out is not None and not low <= out <= high:
        raise BadValue(f"rating {out:g} is outside {low:g}..{high:g}: fix it, or set ImportLimits.min_rating "
                       "and max_rating to the scale of this file")
    return out


def check_int64(value: int | None, what: str) -> int | None:
    """An integer a database column can hold (64-bit signed)."""
    if value is not None and not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise BadValue(f"{what} {str(value)[:30]}... does not fit in 64 bits")
    return value


def check_json_value(value: object, what: str, max_depth: int, max_chars: int, depth: int = 0) -> None:
    """Refuse a parsed JSON (or Parquet) value nested deeper than ``max_depth``, holding a string longer
    than ``max_chars`` or with NUL / undecodable characters, an integer beyond 64 bits or a
    non-finite number: any of them would fail or be truncated in a store."""
    if isinstance(value, str):
        check_text(value, what, max_chars)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        check_int64(value, what)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise BadValue(f"{what} is not a finite number ({value})")
    elif isinstance(value, dict | list | tuple):
        if depth >= max_depth:
            raise BadValue(f"{what} is nested more than {max_depth} levels deep (ImportLimits.max_depth)")
        if isinstance(value, dict):
            for k, v in value.items():
                check_text(str(k), f"a key of {what}", max_chars)
                check_json_value(v, f"{what}.{str(k)[:40]}", max_depth, max_chars, depth + 1)
        else:
            for v in value:
                check_json_value(v, what, max_depth, max_chars, depth + 1)


_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6}
_JSON_TYPE: dict[type, str] = {list: "a list (JSON array)", tuple: "a list", dict: "an object (JSON object)"}


def _shown_ts(value: object) -> str:
    """A timestamp for a reason, cut short; an integer too long to print is described, not printed."""
    if isinstance(value, int) and not -10**30 < value < 10**30:
        return f"a {'negative ' if value < 0 else ''}number of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    return repr(value)[:40]


def parse_timestamp(value: object, unit: Literal["s", "ms", "us"] | None = None) -> float:
    """Unix seconds in 1970..3000 (``MAX_TS``, the schema's range) from what a file holds: a number or its
    text (in ``unit`` when given: seconds, milliseconds or microseconds), a time-zone-aware ``datetime``
    (a Parquet timestamp column) or, without ``unit``, ISO 8601 text with a time zone.

    Raises :class:`BadValue` (the quarantine reason), and nothing else, for anything else: a missing or
    blank value, a boolean (JSON ``true`` is not second 1 of 1970), a list, an object or another type,
    NaN or infinity, text longer than 64 characters, a time before 1970 or after the year 3000."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BadValue("missing timestamp")
    if isinstance(value, bool):
        raise BadValue(f"timestamp is the boolean {str(value).lower()}, not a time: give Unix seconds or ISO 8601 text")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise BadValue(f"timestamp {value.isoformat()} has no time zone: store it with one (UTC)")
        return _in_range(_datetime_seconds(value, value.isoformat()), value)
    if isinstance(value, str):
        return _in_range(_text_seconds(value, unit), value)
    if not isinstance(value, int | float | Decimal):
        what = _JSON_TYPE.get(type(value), f"a {type(value).__name__} value")
        raise BadValue(f"timestamp is {what}, not a time: give Unix seconds or ISO 8601 text")
    if isinstance(value, int) and not 0 <= value <= MAX_TS * _PER_SECOND[unit or "s"]:
        raise BadValue(f"bad timestamp {_shown_ts(value)}: outside 1970..3000")
    try:
        ts = float(value)
    except (OverflowError, ValueError):  # a Decimal signalling NaN
        raise BadValue(f"bad timestamp {_shown_ts(value)}: not a finite number") from None
    return _in_range(ts / _PER_SECOND[unit or "s"], value)


def _text_seconds(value: str, unit: str | None) -> float:
    if len(value) > 64:
        raise BadValue(f"timestamp has {len(value):,} characters: give Unix seconds or ISO 8601")
    text = value.strip()
    try:
        return float(text) / _PER_SECOND[unit or "s"]
    except ValueError:
        if unit is not None:
            raise BadValue(f"bad timestamp {text!r}: expected a number in {unit}") from None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadValue(f"bad timestamp {text!r}: give Unix seconds or ISO 8601") from None
    if dt.tzinfo is None:
        raise BadValue(f"timestamp {text!r} has no time zone: add Z or +HH:MM")
    return _datetime_seconds(dt, text)


def _datetime_seconds(dt: datetime, shown: str) -> float:
    try:
        return dt.timestamp()
    except (OverflowError, ValueError, OSError):
        raise BadValue(f"bad timestamp {shown!r}: outside 1970..3000") from None


def _in_range(ts: float, value: object) -> float:
    if not math.isfinite(ts):
        raise BadValue(f"bad timestamp {_shown_ts(value)}: not a finite number")
    if not 0 <= ts <= MAX_TS:
        raise BadValue(f"bad timestamp {_shown_ts(value)}: outside 1970..3000")
    return ts


def check_event_type(value: str | None) -> str:
    if value is None or value.strip() == "":
        raise BadValue("missing event type")
    t = value.strip().lower()
    if t not in _EVENT_TYPES:
        raise BadValue(f"unknown event type {value!r}; known types: {', '.join(EVENT_TYPES)}")
    return t


class RobotFilter:
    """Quarantines events beyond ``max_per_minute`` from one user (or session) in any 60 s window.

    Only timestamped events are checked (ordinals carry no time). Events must arrive in time
    order per user, as every supported source delivers them.
    """

    def __init__(self, max_per_minute: int) -> None:
        if max_per_minute < 1:
            raise ValueError("max_per_minute must be at least 1")
        self.max_per_minute = max_per_minute
        self._windows: dict[str, deque[float]] = defaultdict(deque)

    def check(self, event: EventRow) -> str | None:
        """``None`` if the event is plausible, else the quarantine reason."""
        if event.ts is None:
            return None
        who = event.user if event.user is not None else f"session {event.session}"
        window = self._windows[who]
        while window and event.ts - window[0] >= 60.0:
            window.popleft()
        window.append(event.ts)  # refused events count too: a bot does not slow down when refused
        if len(window) > self.max_per_minute:
            return f"robot filter: more than {self.max_per_minute} events a minute from {who}"
        return None
