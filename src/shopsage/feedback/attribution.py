"""Which exposure a click, add-to-cart or purchase belongs to.

The rule, in order (one exposure per event at most; events matched by neither are not attributed):

1. **Explicit**: the event names the answer that showed the item, ``context.query_id`` (search) or
   ``context.recomm_id`` (recommendations; ``queryID``/``recommId`` are accepted on input), and that
   answer showed the event's item: the event belongs to that exposure, whatever its age. An answer
   never shows an item twice, so the item finds the row; ``context.position`` (1-based, as the answer
   gave it) is kept with the event but not needed. A reference to an answer that is unknown, or that
   did not show this item, is not trusted: the event falls to rule 2.
2. **Implicit** (events with a timestamp): the most recent exposure of the same item to the same user
   (or, for anonymous shoppers and exposures without a user, the same session) at most ``window_s``
   seconds before the event (default one hour: :data:`DEFAULT_WINDOW_S`, the span Algolia gives a
   ``queryID`` for conversions). A later answer showing the item again takes the credit: it is the
   one the shopper saw last.

Events with an ordinal but no time can only be attributed explicitly. The store fetches the
candidates (:mod:`shopsage.data.stores.exposures`); this module is the rule alone, pure Python.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from shopsage.feedback.records import AttributedEvent, ExposureRow

__all__ = ["DEFAULT_WINDOW_S", "Outcome", "reference", "attribute", "REFERENCE_KEYS"]

DEFAULT_WINDOW_S = 3600.0
"""Implicit attribution looks back this many seconds from the event."""

REFERENCE_KEYS = ("query_id", "recomm_id")
"""Context keys that name the answer an event came from."""


class Outcome(NamedTuple):
    """A stored click, add-to-cart or purchase, as attribution needs it."""

    event_id: int
    type: str
    value: float | None
    ts: float | None
    user: str | None
    session: str | None
    item: str
    reference: str | None
    position: int | None


def reference(context: dict[str, Any] | None) -> tuple[str | None, int | None]:
    """``(answer id, position)`` an event's stored context names (``(None, None)`` when none)."""
    if not context:
        return None, None
    ref = next((context[k] for k in REFERENCE_KEYS if isinstance(context.get(k), str) and context[k]), None)
    pos = context.get("position")
    return ref, pos if isinstance(pos, int) and not isinstance(pos, bool) else None


def _explicit(o: Outcome, by_answer: dict[str, dict[str, ExposureRow]]) -> ExposureRow | None:
    shown = by_answer.get(o.reference) if o.reference is not None else None
    return None if shown is None else shown.get(o.item)


class _Recent:
    """Exposures of one item to one shopper key, by time: the latest at or before a moment."""

    def __init__(self) -> None:
        self.ts: list[float] = []
        self.rows: list[ExposureRow] = []

    def sort(self) -> None:
        order = sorted(range(len(self.ts)), key=lambda i: (self.ts[i], self.rows[i].exposure_id))
        self.ts = [self.ts[i] for i in order]
        self.rows = [self.rows[i] for i in order]

    def latest(self, at: float, window_s: float) -> ExposureRow | None:
        k = bisect.bisect_right(self.ts, at) - 1
        return self.rows[k] if k >= 0 and at - self.ts[k] <= window_s else None


def attribute(outcomes: Iterable[Outcome], exposures: Iterable[ExposureRow],
              window_s: float = DEFAULT_WINDOW_S) -> Iterator[AttributedEvent]:
    """The attributed events among ``outcomes``, in their order, given every exposure they may belong
    to (those they name, and those of their items within the window before them)."""
    by_answer: dict[str, dict[str, ExposureRow]] = {}
    recent: dict[tuple[str, str, str], _Recent] = {}
    for e in exposures:
        by_answer.setdefault(e.exposure_id, {})[e.item] = e
        for kind, who in (("u", e.user_id), ("s", e.session_id)):
            if who is not None:
                recent.setdefault((kind, who, e.item), _Recent())
                r = recent[(kind, who, e.item)]
                r.ts.append(e.ts)
                r.rows.append(e)
    for r in recent.values():
        r.sort()
    for o in outcomes:
        hit = _explicit(o, by_answer)
        explicit = hit is not None
        if hit is None and o.ts is not None:
            keys = ([("u", o.user, o.item)] if o.user else []) + ([("s", o.session, o.item)] if o.session else [])
            found = [e for e in (recent[k].latest(o.ts, window_s) for k in keys if k in recent) if e is not None]
            hit = max(found, key=lambda e: (e.ts, e.exposure_id)) if found else None
        if hit is not None:
            yield AttributedEvent(hit.exposure_id, hit.position, o.type, o.value, o.ts, o.user, o.session, o.item,
                                  hit.experiment, hit.variant, hit.scenario, hit.kind, hit.propensity, explicit,
                                  o.event_id)
