"""Request and response bodies of the HTTP API (pydantic; they make the OpenAPI schema)."""

from __future__ import annotations

import math
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shopsage.data.rows import ItemRow
from shopsage.data.schema import Event, EventType, Item, check_event_parties

__all__ = ["EventIn", "EventBatch", "IngestResult", "ItemIn", "ItemPatch", "ItemView", "ReasonOut", "RecItem",
           "RecResponse", "SearchItem", "SearchOut", "FacetValue", "ProfileOut", "NamedWeight", "UpsertResult",
           "Health", "Ready", "ErrorOut", "MAX_BATCH", "item_row"]

MAX_BATCH = 1000
"""Events per POST /v1/events (and items per POST /v1/items)."""

_ID = Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f]+$")


class _In(BaseModel):
    # strict: JSON false is not 0 and 0 is not false (numbers still widen to floats)
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class EventContextIn(_In):
    """Where and how an event happened; every field optional."""

    page: str | None = Field(None, max_length=256)
    position: int | None = Field(None, ge=0, le=1_000_000, description="0-based rank at which the item was shown.")
    device: str | None = Field(None, max_length=64)
    experiment: str | None = Field(None, max_length=256)
    arm: str | None = Field(None, max_length=256)
    propensity: float | None = Field(None, gt=0, le=1, description="Probability the logging policy showed the item.")


class EventIn(_In):
    """One shopper event. Without ``timestamp`` and ``ordinal`` the server's receive time is used."""

    id: str | None = Field(None, min_length=1, max_length=256, description="Event id: the idempotency key of this event.")
    user: str | None = Field(None, min_length=1, max_length=256, description="Pseudonymous user id.")
    session: str | None = Field(None, min_length=1, max_length=256, description="Session id.")
    item: str | None = Field(None, min_length=1, max_length=256, description="Item id (all types but search).")
    type: EventType
    query: str | None = Field(None, max_length=2048)
    value: float | None = None
    timestamp: float | None = Field(None, ge=0, le=32503680000.0, description="Unix seconds (default: now).")
    ordinal: int | None = Field(None, ge=0, le=2**62)
    context: EventContextIn | None = None

    @model_validator(mode="after")
    def _check(self) -> EventIn:
        # the domain rules of Event, here too so that a batch reports every bad event at once
        check_event_parties(self.user, self.session, self.item, self.type, self.query)
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError("value must be a finite number")
        return self

    def to_event(self) -> Event:
        data = self.model_dump()
        if data["timestamp"] is None and data["ordinal"] is None:
            data["timestamp"] = time.time()
        return Event.model_validate(data)


class EventBatch(_In):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class IngestResult(BaseModel):
    accepted: int = Field(description="Events applied now.")
    duplicates: int = Field(description="Events whose id (or the request's Idempotency-Key) was seen before.")
    replayed: bool = Field(description="True when the whole request repeated an Idempotency-Key.")


class ItemIn(_In):
    """An item to create or replace (``id`` comes from the path in PUT /v1/items/{id})."""

    id: str | None = Field(None, min_length=1, max_length=256)
    title: str | None = Field(None, max_length=2000)
    description: str | None = Field(None, max_length=20000)
    category_path: list[str] = Field(default_factory=list, max_length=20)
    brand: str | None = Field(None, max_length=256)
    price: float | None = Field(None, ge=0, le=1e12)
    currency: str | None = Field(None, min_length=3, max_length=3)
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=100)
    available: bool = True
    stock: int | None = Field(None, ge=0, le=2**62)


def item_row(ext_id: str, item: ItemIn) -> ItemRow:
    """Validate through the domain model, then the bulk row the store and catalogue take."""
    it = Item.model_validate({**item.model_dump(), "id": ext_id, "updated_at": time.time()})
    return ItemRow(it.id, it.title, it.description, tuple(it.category_path), it.brand, it.price, it.currency,
                   it.attributes or None, it.available, it.stock, it.created_at, it.updated_at, it.language)


class ItemPatch(_In):
    """Fields to change on an existing item; the others keep their values."""

    stock: int | None = Field(None, ge=0, le=2**62)
    price: float | None = Field(None, ge=0, le=1e12)
    available: bool | None = None


class ItemView(BaseModel):
    id: str
    title: str | None
    brand: str | None
    category_path: list[str]
    price: float | None
    currency: str | None
    stock: int | None
    available: bool


class UpsertResult(BaseModel):
    inserted: int
    updated: int
    unchanged: int


class ReasonOut(BaseModel):
    stage: str = Field(description="candidates, fallback, rules, search or personalization.")
    source: str = Field(description="The generator, model (name:version), search mode (bm25, vector, hybrid, "
                        "learned:version, semantic) or rule that produced it.")
    text: str = Field(description="Readable by a shopper.")
    evidence: dict[str, Any] = Field(description="Machine-readable: the source item, matched terms, counts...")


class RecItem(ItemView):
    score: float
    reasons: list[ReasonOut]


class RecResponse(BaseModel):
    scenario: str
    items: list[RecItem]
    stages: dict[str, Any] = Field(description="What each pipeline stage contributed (for merchants).")


class SearchItem(RecItem):
    pass


class FacetValue(BaseModel):
    value: str
    count: int


class SearchOut(BaseModel):
    query: str
    corrected: str | None = Field(description="The spelling-corrected query used when the typed one matched nothing.")
    mode: Literal["lexical", "vector", "hybrid", "learned"] = Field(description="The search mode that ranked the results.")
    fallback: Literal["spelling", "semantic"] | None = Field(
        description="spelling: no word of the query matched, its spelling correction did; semantic: not even that, "
        "the results are the items nearest in meaning; null: the query as typed.")
    total: int = Field(description="Items in the whole result list (pinned items included); pages cover it.")
    page: int
    per_page: int
    sort: str
    items: list[SearchItem]
    facets: dict[str, list[FacetValue]] = Field(description="Counts of brands and leaf categories over the whole "
                                                "result list of the mode used, filters applied.")
    personalized: bool


class NamedWeight(BaseModel):
    name: str
    weight: float


class ProfileOut(BaseModel):
    user: str
    recent_items: list[str]
    top_categories: list[NamedWeight]
    top_brands: list[NamedWeight]
    price_band: dict[str, float] | None
    interactions: int


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    ready: bool
    state: bool
    items: int
    models: dict[str, Any]
    text_encoder: str | None = Field(None, description="The text encoder serving ('base' or 'NAME vNNNN'); "
                                     "null without --semantic.")


class ErrorOut(BaseModel):
    error: str = Field(description="The error class.")
    message: str = Field(description="What went wrong and what to do.")
    detail: list[dict[str, Any]] | None = None
