"""Fast row checks used by every importer, and the optional robot filter.

Each check returns a value or raises :class:`BadValue` with a reason that ends up in the
quarantine. The rules are those of :mod:`shopsage.data.schema`, written for speed: a bulk import
must not build one pydantic object per row.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from datetime import datetime

from shopsage.data.rows import EventRow
from shopsage.data.schema import EVENT_TYPES

__all__ = ["BadValue", "check_id", "parse_float", "parse_price", "parse_timestamp", "check_event_type",
           "check_text", "RobotFilter", "MAX_ID_LEN", "MAX_TS"]

MAX_ID_LEN = 256
MAX_TS = 32503680000.0  # year 3000
_EVENT_TYPES = frozenset(EVENT_TYPES)


class BadValue(ValueError):
    """A value that makes its row unacceptable; the message is the quarantine reason."""


def check_id(value: str | None, what: str) -> str:
    """A non-empty id of at most 256 printable characters, without surrounding white space."""
    if value is None:
        raise BadValue(f"missing {what}")
    value = value.strip()
    if not value:
        raise BadValue(f"missing {what}")
    if len(value) > MAX_ID_LEN:
        raise BadValue(f"{what} longer than {MAX_ID_LEN} characters")
    if not value.isprintable():
        raise BadValue(f"{what} {value!r} contains control characters")
    return value


def check_text(value: str | None, what: str) -> str | None:
    """Text that decoded cleanly: undecodable bytes (surrogate escapes, U+FFFD) are refused."""
    if value is None:
        return None
    if "\ufffd" in value:
        raise BadValue(f"undecodable bytes in {what}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from surrogateescape decoding
        raise BadValue(f"undecodable bytes in {what}") from None
    if "\x00" in value:
        raise BadValue(f"NUL character in {what}")
    return value


def parse_float(value: str | None, what: str) -> float | None:
    if value is None or value.strip() == "":
        return None
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


def parse_timestamp(value: str | float | None) -> float:
    """Unix seconds (int or float) or an ISO 8601 date-time; refuses missing, negative or absurd times."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise BadValue("missing timestamp")
    if isinstance(value, int | float):
        ts = float(value)
    else:
        text = value.strip()
        try:
            ts = float(text)
        except ValueError:
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise BadValue(f"bad timestamp {text!r}: give Unix seconds or ISO 8601") from None
            if dt.tzinfo is None:
                raise BadValue(f"timestamp {text!r} has no time zone: add Z or +HH:MM") from None
            ts = dt.timestamp()
    if not math.isfinite(ts) or ts < 0 or ts > MAX_TS:
        raise BadValue(f"bad timestamp {value!r}: outside 1970..3000")
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
