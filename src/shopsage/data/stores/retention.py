"""How long a store keeps what only serves retries: the exactly-once records of API requests.

Each request that carried an ``Idempotency-Key`` leaves a row in ``ingest_requests`` (the key's hash,
the body's digest, the answer). A retry within ``request_retention_days`` (default 7) is answered
from it, exactly once as before; after that the row is pruned and a retry is a **new request**: its
events that carry an ``id`` are still recognised as duplicates (the events' own unique ids are kept
for as long as the events), events without one are stored again. Clients retry for minutes, not
days, so a week is a wide margin; a shop whose clients replay older requests raises it.

Pruning runs in the service (its background reload thread, once an hour) and by
``shopsage store prune``; both call :func:`prune_store`.
"""

from __future__ import annotations

import time

from shopsage.data.stores.base import Store
from shopsage.errors import ConfigError

__all__ = ["DEFAULT_REQUEST_RETENTION_DAYS", "PRUNE_EVERY_S", "prune_store"]

DEFAULT_REQUEST_RETENTION_DAYS = 7.0
PRUNE_EVERY_S = 3600.0
"""How often a running service prunes."""


def prune_store(store: Store, request_retention_days: float = DEFAULT_REQUEST_RETENTION_DAYS,
                now: float | None = None) -> dict[str, int]:
    """Delete the exactly-once records older than ``request_retention_days``; returns the counts."""
    if not 0 < request_retention_days < float("inf"):
        raise ConfigError(f"request_retention_days of {request_retention_days!r} must be a positive number of days "
                          f"(the default is {DEFAULT_REQUEST_RETENTION_DAYS:g})")
    before = (time.time() if now is None else now) - request_retention_days * 86400.0
    return {"requests": store.prune_requests(before)}
