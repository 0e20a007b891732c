"""What the service showed and what shoppers did with it, as plain rows.

An *exposure* is one item of one answer: a search page (``kind="search"``, its ``query_id``) or a
recommendation list (``kind="recommendation"``, its ``recomm_id``) at its 1-based ``position``. An
*attributed event* is a click, add-to-cart or purchase tied to the exposure that preceded it
(explicitly, through the event's ``context.query_id`` / ``context.recomm_id``, or implicitly, the
most recent exposure of that item to that shopper within the attribution window: see
:mod:`shopsage.feedback.attribution`).

These tuples are what the store's ``read_exposures`` and ``read_attributed`` yield; experiment
analysis, off-policy evaluation and the learned ranker read them. They import nothing from the rest
of ShopSage, so any layer may use them.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["ExposureRow", "AttributedEvent", "ExposureKind", "EXPOSURE_KINDS", "ATTRIBUTED_TYPES"]

ExposureKind = Literal["search", "recommendation"]
EXPOSURE_KINDS: tuple[str, ...] = ("search", "recommendation")

ATTRIBUTED_TYPES: tuple[str, ...] = ("click", "add_to_cart", "purchase")
"""Event types attributed to exposures (views, ratings and searches are not outcomes of a list)."""


class ExposureRow(NamedTuple):
    """One shown item of one answer (a row of the store's ``exposures`` table)."""

    exposure_id: str
    """The answer's ``query_id`` (search) or ``recomm_id`` (recommendations)."""
    position: int
    """1-based position in the answer (search: across pages, page 2 of 10 starts at 11)."""
    kind: str
    """``search`` or ``recommendation``."""
    scenario: str
    """The scenario that answered (``search``, ``for_you``, ``similar_items``...)."""
    experiment: str | None
    variant: str | None
    user_id: str | None
    """The user id as the service saw it (a keyed pseudonym unless raw ids are configured)."""
    session_id: str | None
    item: str
    """The item's external id."""
    propensity: float | None
    """Probability that the policy showed this item here; 1.0 for a deterministic list."""
    ts: float
    """Epoch seconds of the answer."""
    query: str | None = None
    """Search exposures: the query, scrubbed of personal data as events' queries are (None otherwise)."""
    variant_propensity: float | None = None
    """Probability that the answer's variant was chosen for this request (an experiment allocated by a bandit:
    :mod:`shopsage.experiments.allocation`); None under a hash split or outside experiments. ``propensity``
    stays the item's probability given the variant; their product is the joint probability."""


class AttributedEvent(NamedTuple):
    """A click, add-to-cart or purchase with the exposure it is attributed to."""

    exposure_id: str
    position: int
    type: str
    """``click``, ``add_to_cart`` or ``purchase``."""
    value: float | None
    """The event's value (quantity or revenue, by type), as sent."""
    ts: float | None
    """The event's epoch seconds (None for events known by order only)."""
    user_id: str | None
    session_id: str | None
    item: str
    experiment: str | None = None
    """The exposure's experiment and variant (what an A/B analysis groups by)."""
    variant: str | None = None
    scenario: str | None = None
    kind: str | None = None
    propensity: float | None = None
    explicit: bool = True
    """True: the event named the exposure (``context.query_id``/``recomm_id``); False: matched by item,
    shopper and time."""
    event_id: int | None = None
    """The event's row id in the store (one event is attributed at most once)."""
