"""Request and response bodies of the HTTP API (pydantic; they make the OpenAPI schema)."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, model_validator

from shopsage.data.rows import ItemRow
from shopsage.data.schema import Event, EventType, Item, check_event_parties
from shopsage.privacy.ids import Pseudonymizer
from shopsage.privacy.scrub import scrub_query

__all__ = ["EventIn", "EventBatch", "IngestResult", "ItemIn", "ItemPatch", "ItemView", "ReasonOut", "RecItem",
           "RecResponse", "SearchItem", "SearchOut", "FacetValue", "ProfileOut", "NamedWeight", "UpsertResult",
           "Health", "Ready", "ErrorOut", "AutocompleteOut", "SuggestionOut", "MAX_BATCH", "item_row", "IdText",
           "FreeText", "Label", "ID_PATTERN", "TEXT_PATTERN", "printable", "clean_text", "TokenOut", "EraseOut"]

MAX_BATCH = 1000
"""Events per POST /v1/events (and items per POST /v1/items)."""

ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
"""Ids and labels: no control characters (the schema's part of :func:`printable`)."""
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Free text: no control characters but tab and line breaks (the schema's part of :func:`clean_text`)."""


def printable(value: str) -> str:
    """Ids and labels hold printable characters only, as the importers require (``check_id``): no NUL,
    control, format or unassigned characters, the same on SQLite and PostgreSQL. The message never
    repeats the value (it may be a shopper's id)."""
    if not value.isprintable():
        raise ValueError("must hold printable characters only (no control, format or unassigned characters)")
    return value


def clean_text(value: str) -> str:
    """Free text: no NUL or other control characters but tab and line breaks (PostgreSQL cannot store NUL)."""
    for ch in value:
        if ch < " " and ch not in "\t\n\r" or ch == "\x7f":
            raise ValueError("must not hold NUL or other control characters (tab and line breaks are fine)")
    return value


IdText = Annotated[str, Field(min_length=1, max_length=256, pattern=ID_PATTERN), AfterValidator(printable)]
"""A user, session, item or event id."""
Label = Annotated[str, Field(max_length=256, pattern=ID_PATTERN), AfterValidator(printable)]
"""A short printable label (brand, category, page, device, attribute name)."""


def FreeText(max_length: int) -> Any:  # noqa: N802 - a type factory, used like a type
    """Free text of at most ``max_length`` characters (a query, a title, a description)."""
    return Annotated[str, Field(max_length=max_length, pattern=TEXT_PATTERN), AfterValidator(clean_text)]


class _In(BaseModel):
    # strict: JSON false is not 0 and 0 is not false (numbers still widen to floats); NaN, Infinity and
    # numbers beyond the float range (1e400 reads as infinity) are refused: they cannot be stored or answered
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True, allow_inf_nan=False)


class EventContextIn(_In):
    """Where and how an event happened; every field optional."""

    page: Label | None = None
    position: int | None = Field(None, ge=0, le=1_000_000, description="The item's position where it was shown: "
                                 "with query_id or recomm_id, its 1-based `position` in that answer.")
    device: Annotated[Label, Field(max_length=64)] | None = None
    query_id: IdText | None = Field(None, validation_alias=AliasChoices("query_id", "queryID", "queryId"),
                                    description="The `query_id` of the search answer that showed the item (UBI "
                                    "`query_id`, Algolia `queryID` also accepted): clicks, carts and purchases "
                                    "are attributed to it.")
    recomm_id: IdText | None = Field(None, validation_alias=AliasChoices("recomm_id", "recommId"),
                                     description="The `recomm_id` of the recommendation answer that showed the item "
                                     "(Recombee's `recommId` also accepted).")
    experiment: Label | None = None
    arm: Label | None = None
    propensity: float | None = Field(None, gt=0, le=1, description="Probability the logging policy showed the item.")


class EventIn(_In):
    """One shopper event. Without ``timestamp`` and ``ordinal`` the server's receive time is used."""

    id: IdText | None = Field(None, description="Event id: the idempotency key of this event.")
    user: IdText | None = Field(None, description="The shop's user id (stored as its pseudonym).")
    session: IdText | None = Field(None, description="Session id (stored as its pseudonym).")
    item: IdText | None = Field(None, description="Item id (all types but search).")
    type: EventType
    query: FreeText(2048) | None = Field(None, description="Stored with e-mail addresses, phone and card "  # type: ignore[valid-type]
                                         "numbers replaced by [email], [phone], [card].")
    value: float | None = Field(None, ge=-1e12, le=1e12)
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

    def to_event(self, ids: Pseudonymizer) -> Event:
        """The domain event as stored: user and session pseudonymised, the query scrubbed."""
        data = self.model_dump()
        data["user"] = ids.maybe(self.user)
        data["session"] = ids.maybe(self.session)
        if self.query is not None:
            data["query"] = scrub_query(self.query)
        if data["timestamp"] is None and data["ordinal"] is None:
            data["timestamp"] = time.time()
        return Event.model_validate(data)


class EventBatch(_In):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class IngestResult(BaseModel):
    accepted: int = Field(description="Events applied now.")
    duplicates: int = Field(description="Events whose id (or the request's Idempotency-Key) was seen before.")
    quarantined: int = Field(0, description="Events set aside with their reason (e.g. unknown items, when the "
                             "service is configured to quarantine them), not applied.")
    replayed: bool = Field(description="True when the whole request repeated an Idempotency-Key.")


class ItemIn(_In):
    """An item to create or replace (``id`` comes from the path in PUT /v1/items/{id})."""

    id: IdText | None = None
    title: FreeText(2000) | None = None  # type: ignore[valid-type]
    description: FreeText(20000) | None = None  # type: ignore[valid-type]
    category_path: list[Annotated[Label, Field(min_length=1)]] = Field(default_factory=list, max_length=20)
    brand: Label | None = None
    price: float | None = Field(None, ge=0, le=1e12)
    currency: Annotated[Label, Field(min_length=3, max_length=3)] | None = None
    attributes: dict[Annotated[Label, Field(min_length=1)], FreeText(2000) | int | float | bool | None] = Field(  # type: ignore[valid-type]
        default_factory=dict, max_length=100)
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
    position: int = Field(description="1-based position in the answer (search: across pages); send it back as "
                          "an event's context.position with the answer's id.")


class RecResponse(BaseModel):
    scenario: str
    recomm_id: str = Field(description="This answer's id (a UUIDv7): send it as an event's context.recomm_id to "
                           "attribute clicks, carts and purchases to what was shown.")
    items: list[RecItem]
    stages: dict[str, Any] = Field(description="What each pipeline stage contributed (for merchants).")
    experiment: str | None = Field(None, description="The A/B test this answer belongs to (null: none runs here).")
    variant: str | None = Field(None, description="The experiment's variant that answered (by the shopper's hash).")
    preview: bool = Field(False, description="True: the variant was forced with ?variant= (an admin's preview); the "
                          "answer is no part of the experiment's sample.")


class SearchItem(RecItem):
    formatted: dict[str, str] = Field(default_factory=dict, description=(
        "Meilisearch's _formatted: each requested highlight field's text HTML-escaped, with <mark>...</mark> around "
        "the words the query matched (insert it as HTML; every other string of the answer is plain text)."))


class FacetValue(BaseModel):
    value: str
    count: int


class SearchOut(BaseModel):
    query: str
    query_id: str = Field(description="This answer's id (a UUIDv7; UBI's query_id): send it as an event's "
                          "context.query_id to attribute clicks, carts and purchases to this page.")
    experiment: str | None = Field(None, description="The A/B test this answer belongs to (null: none runs here).")
    variant: str | None = Field(None, description="The experiment's variant that answered (by the shopper's hash).")
    preview: bool = Field(False, description="True: the variant was forced with ?variant= (an admin's preview); the "
                          "answer is no part of the experiment's sample.")
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
    facets: dict[str, list[FacetValue]] = Field(description="Counts of the requested facets' values (category: leaf "
                                                "categories) over the whole result list of the mode used, filters "
                                                "applied; the top 20 of each.")
    personalized: bool
    facet_stats: dict[str, dict[str, float]] = Field(default_factory=dict, description=(
        "Requested facets whose values are numbers: their min and max over the filtered results."))


class SuggestionOut(BaseModel):
    text: str = Field(description="The completion (plain text).")
    highlighted: str = Field(description="The completion HTML-escaped with <mark> around what was typed.")
    source: Literal["query", "catalogue"] = Field(description="query: searched by at least k distinct shoppers; "
                                                  "catalogue: a title word or opening, brand or category.")


class AutocompleteOut(BaseModel):
    query: str
    suggestions: list[SuggestionOut]


class NamedWeight(BaseModel):
    name: str
    weight: float


class SegmentOut(BaseModel):
    """One segment the shopper is in, with the evidence that put them there (shopsage.profiles.segments)."""

    segment: str = Field(description="new, active, at_risk, lapsed; value_low/medium/high; interest_<k>.")
    kind: Literal["lifecycle", "value", "interest"]
    text: str = Field(description="The evidence in words, e.g. 'last purchase 41 days ago; lapsed after 38 days = ...'.")
    evidence: dict[str, Any] = Field(description="The numbers behind the text (recency, thresholds, scores, shares).")


class ProfileOut(BaseModel):
    user: str
    recent_items: list[str]
    top_categories: list[NamedWeight]
    top_brands: list[NamedWeight]
    price_band: dict[str, float] | None
    interactions: int
    segments: list[SegmentOut] = Field(default_factory=list)


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    ready: bool
    state: bool
    items: int
    models: dict[str, Any]
    text_encoder: str | None = Field(None, description="The text encoder serving ('base' or 'NAME vNNNN'); "
                                     "null without --semantic.")


class TokenOut(BaseModel):
    token: str = Field(description="Send it as 'X-Shopper-Token: TOKEN' to read this user's profile and "
                       "recommendations.")
    expires_at: int = Field(description="Unix seconds after which the token is refused.")


class EraseOut(BaseModel):
    user: str = Field(description="The id erased, as the request gave it.")
    erased: dict[str, int] = Field(description="Rows and keys removed, by kind (events, sessions, ...).")


class ErrorOut(BaseModel):
    error: str = Field(description="The error class.")
    message: str = Field(description="What went wrong and what to do.")
    detail: list[dict[str, Any]] | None = None
