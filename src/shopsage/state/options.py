"""The state's bounds, typed: read from the state URL's query (``memory://?session_ttl=1800``).

Every option is a whole number of seconds or a count. The state is a cache in front of the store
(which keeps the full history), so everything in it expires or is capped:

==================  ==============  ========  ===============================================
option              default         backends  meaning
==================  ==============  ========  ===============================================
``session_ttl``     1800 (30 min)   both      seconds without a new event before a session
                                              is forgotten
``user_ttl``        2592000 (30 d)  both      the same for a user's recent interactions and
                                              bought set
``max_sessions``    200000          memory    live sessions kept; beyond it the least
                                              recently active is dropped
``max_users``       100000          memory    the same for users
``pop_window``      86400 (24 h)    both      live popularity counts the interactions of the
                                              last ``pop_window`` seconds (24 buckets)
``max_items``       10000           both      items counted per popularity bucket; the
                                              lightest beyond it are dropped
``claim_ttl``       86400 (1 d)     both      seconds a claimed event id is remembered
``max_claims``      1000000         both      claimed ids remembered; the oldest go first
``max_changes``     100000          both      catalogue changes the change log keeps; a
                                              worker further behind re-reads the catalogue
``prefix``          ``shopsage``    redis     the namespace of every key
==================  ==============  ========  ===============================================

Steady-state size: about ``new sessions per second x session_ttl`` sessions live at once (1,667
new sessions a second with ``session_ttl=60`` keep about 100,000), never more than ``max_sessions``
in memory; popularity holds at most ``25 x max_items`` item counts.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, ConfigDict, PositiveInt
from pydantic import ValidationError as PydanticValidationError

from shopsage.errors import StoreURLError, describe_problems

__all__ = ["StateOptions", "parse_state_url", "POP_BUCKETS"]

POP_BUCKETS = 24
"""Buckets of the popularity window: counts leave it a bucket (``pop_window / 24``) at a time."""

_PREFIX = re.compile(r"[A-Za-z0-9_.-]+")
_MEMORY_ONLY = frozenset({"max_sessions", "max_users"})
_REDIS_ONLY = frozenset({"prefix"})


class StateOptions(BaseModel):
    """How long and how much the state keeps (see the module's table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_ttl: PositiveInt = 1800
    """Seconds of inactivity before a session is forgotten: 30 minutes, the session timeout of web
    analytics (a visit that pauses longer starts a new session)."""
    user_ttl: PositiveInt = 30 * 86400
    """Seconds of inactivity before a user's live interactions and bought set are forgotten (the
    store keeps them; the service reads them from it at start)."""
    max_sessions: PositiveInt = 200_000
    """Live sessions an in-process state keeps (about 1.3 KB each with a few interactions)."""
    max_users: PositiveInt = 100_000
    """Live users an in-process state keeps."""
    pop_window: PositiveInt = 86400
    """Seconds of interactions live popularity counts (a sliding window of 24 buckets)."""
    max_items: PositiveInt = 10_000
    """Items counted per popularity bucket; the lightest beyond it are dropped (made-up ids)."""
    claim_ttl: PositiveInt = 86400
    """Seconds a claimed event id or idempotency key is remembered."""
    max_claims: PositiveInt = 1_000_000
    """Claimed ids remembered at most; the oldest are forgotten first."""
    max_changes: PositiveInt = 100_000
    """Item changes the catalogue change log keeps (the newest); a worker whose position fell out of
    it is told so (``catalog_changes`` answers ``None``) and re-reads the whole catalogue from the store."""
    prefix: str = "shopsage"
    """Redis only: every key starts with ``{prefix}:``."""


def parse_state_url(url: str, backend: str) -> tuple[StateOptions, str]:
    """``(options, the URL without its query)``; a bad, repeated or misplaced option is a
    :class:`~shopsage.errors.StoreURLError` that names it and shows a good URL."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    given: dict[str, str] = {}
    for key, value in pairs:
        if key in given:
            raise StoreURLError(f"state URL option {key} is given twice; give it once, e.g. "
                                f"{backend}://?{key}={value}")
        given[key] = value
    misplaced = sorted(given.keys() & (_REDIS_ONLY if backend == "memory" else _MEMORY_ONLY))
    if misplaced:
        other = "redis://" if backend == "memory" else "memory://"
        raise StoreURLError(f"state URL option {', '.join(misplaced)} applies to {other} only; remove it "
                            f"from the {backend}:// URL" + (" (Redis bounds sessions and users by their TTLs)"
                                                           if backend != "memory" else ""))
    try:
        options = StateOptions.model_validate(given)
    except PydanticValidationError as exc:
        known = ", ".join(StateOptions.model_fields)
        raise StoreURLError(f"bad state URL options ({describe_problems(exc)}); options are {known}, whole "
                            "numbers of seconds or items, e.g. memory://?session_ttl=1800&max_sessions=200000 "
                            "or redis://127.0.0.1:6379/0?session_ttl=1800&prefix=shop") from None
    if not _PREFIX.fullmatch(options.prefix):
        raise StoreURLError("state URL option prefix must be letters, digits, '_', '-' or '.', e.g. "
                            "redis://127.0.0.1:6379/0?prefix=shop")
    plain = parts._replace(query="").geturl()
    return options, plain
