"""The domain schema: items, users, events, judgments and documents.

These pydantic models validate everything that enters ShopSage (importers, the event API).
Inside the store the same fields become table columns (see ``stores/sql.py``).
"""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "check_event_parties",
    "EventType",
    "EVENT_TYPES",
    "Split",
    "Item",
    "User",
    "Event",
    "EventContext",
    "Judgment",
    "Document",
    "QuarantinedRow",
]

EventType = Literal["impression", "view", "click", "add_to_cart", "purchase", "search", "rating"]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)

Split = Literal["train", "valid", "test"]

_MAX_TS = 32503680000.0  # year 3000: later timestamps are data errors


def _numeric(annotation: Any) -> bool:
    """Whether a field's annotation is a number (``int`` / ``float``, optional or not), never ``bool``."""
    args = get_args(annotation) or (annotation,)
    return any(a in (int, float) for a in args) and bool not in args


class _Strict(BaseModel):
    """Unknown keys are errors, strings are stripped, and a JSON boolean is never taken for a number
    (pydantic's lax mode would store ``true`` as 1: a price, a stock or a timestamp of 1)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_boolean_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                if isinstance(data.get(name), bool) and _numeric(field.annotation):
                    raise ValueError(f"{name} is a boolean ({data[name]!r}): send a number")
        return data


class Item(_Strict):
    """A product of the catalogue."""

    id: str = Field(min_length=1, max_length=256, description="The shop's own id (SKU, ASIN, product_uid).")
    title: str | None = Field(None, description="Product title; may be empty for an item known only by id.")
    description: str | None = Field(None, description="Free-text description.")
    category_path: list[str] = Field(default_factory=list, description="Category path, root first.")
    brand: str | None = Field(None, description="Brand or manufacturer.")
    price: float | None = Field(None, ge=0, description="Unit price in `currency`; never negative.")
    currency: str | None = Field(None, min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR.")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Free attributes (colour, size, ...).")
    available: bool = Field(True, description="Whether the item may be shown at all (false = hidden).")
    stock: int | None = Field(None, ge=0, description="Units in stock; None = not tracked, 0 = out of stock.")
    created_at: float | None = Field(None, description="Unix seconds when the item was listed.")
    updated_at: float | None = Field(None, description="Unix seconds of the last change.")
    language: str | None = Field(None, max_length=16, description="BCP 47 language of the text, e.g. en, zh.")

    @field_validator("price")
    @classmethod
    def _finite_price(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("price must be a finite number")
        return v


class User(_Strict):
    """A shopper, known only by a pseudonymous id."""

    id: str = Field(min_length=1, max_length=256, description="Pseudonymous user id; never an e-mail or name.")


class EventContext(_Strict):
    """Where and how an event happened; every field optional."""

    page: str | None = None
    position: int | None = Field(None, ge=0, description="The item's position where it was shown: with a "
                                 "query_id or recomm_id, its 1-based position in that answer.")
    device: str | None = None
    query_id: str | None = Field(None, max_length=256, description="The search answer that showed the item "
                                 "(its query_id): the event is attributed to that exposure.")
    recomm_id: str | None = Field(None, max_length=256, description="The recommendation answer that showed the "
                                  "item (its recomm_id).")
    experiment: str | None = Field(None, description="Experiment name.")
    arm: str | None = Field(None, description="Experiment arm / variant the shopper was in.")
    propensity: float | None = Field(None, gt=0, le=1, description="Probability the logging policy showed the item.")


def check_event_parties(user: str | None, session: str | None, item: str | None, type: str, query: str | None) -> None:
    """Who and what an event names: a user or a session, an item (except searches), a search's
    query. Raises ``ValueError`` (pydantic reports it) on the first rule broken."""
    if user is None and session is None:
        raise ValueError("an event needs a user or a session")
    if item is None and type != "search":
        raise ValueError(f"a {type} event needs an item")
    if type == "search" and not query:
        raise ValueError("a search event needs a query")


class Event(_Strict):
    """One thing a shopper did. It has a timestamp *or* an ordinal, never an invented time."""

    id: str | None = Field(None, max_length=256, description="Event id from the source; the dedup key when present.")
    user: str | None = Field(None, max_length=256, description="Pseudonymous user id.")
    session: str | None = Field(None, max_length=256, description="Session id (anonymous shoppers have only this).")
    item: str | None = Field(None, max_length=256, description="Item id; required except for `search` events.")
    type: EventType
    query: str | None = Field(None, max_length=2048, description="Search text (search events, or the query that led here).")
    value: float | None = Field(None, description="Rating, quantity or revenue, by type.")
    timestamp: float | None = Field(None, ge=0, le=_MAX_TS, description="Unix seconds.")
    ordinal: int | None = Field(None, ge=0, description="Position in the user's or session's order when there is no time.")
    split: Split | None = Field(None, description="Predefined split of benchmark data sets; None for live data.")
    context: EventContext | None = None

    @model_validator(mode="after")
    def _check(self) -> Event:
        check_event_parties(self.user, self.session, self.item, self.type, self.query)
        if self.timestamp is None and self.ordinal is None:
            raise ValueError("an event needs a timestamp or an ordinal (never invent a timestamp)")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError("value must be a finite number")
        return self


class Judgment(_Strict):
    """A human relevance label of an item for a search query."""

    query: str = Field(min_length=1, max_length=2048)
    item: str = Field(min_length=1, max_length=256)
    grade: float = Field(description="Relevance grade on the source's scale (Home Depot: 1 to 3).")

    @field_validator("grade")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("grade must be a finite number")
        return v


class Document(_Strict):
    """Free text with a label, for corpora that have no items (e.g. reviews)."""

    text: str = Field(description="The text; may be empty.")
    label: str | None = Field(None, description="Class label, e.g. sentiment 1/0.")
    category: str | None = Field(None, description="Category the text belongs to.")
    language: str | None = None


class QuarantinedRow(_Strict):
    """A rejected input row, kept with where it came from and why."""

    source: str
    line: int
    reason: str
    raw: str
