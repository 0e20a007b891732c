"""The search front door: one request in, one page of results with their evidence out.

:func:`answer` (``SearchEngine.query``) is the only way a shopper's query is served, by the HTTP
route, the benchmark and the ranker's held-out evaluation alike:

1. the mode (``auto``: learned with a live ranker that fits the engine, hybrid with a text encoder,
   else lexical) ranks the items the filters and the caller's mask allow (:mod:`.ranking`);
2. one fallback chain, for a query none of whose words matches: the spelling-corrected query, then
   (with an encoder) the items nearest in meaning; an item that matches no word is kept only when it
   is at least ``SearchConfig.min_similarity`` close to the query (the vector side of every mode too);
3. personalization (relevance order only): ``score * (1 + personalize_boost * share)`` for the
   shopper's categories and brands;
4. merchant rules (:func:`shopsage.policy.apply_rules`: pin, boost, bury) on every result, fallback
   results included;
5. the sort (relevance, or any sortable attributes: ``price:asc,rating:desc``), then the requested
   facets and the total over the whole list, then the page, its words highlighted.

Filters are the older fields (categories, brands, price, stock) ANDed with a ``filter`` expression
over any attribute (:mod:`.filtering`); facets and sorts read the same attribute columns
(:mod:`.attributes`). A malformed expression, or a facet, sort or filter naming an attribute no item
has (or one the index settings do not allow) is a ``SearchParameterError`` (400) saying where.

Every result explains itself with true evidence: the item's own words that matched, the typo
corrections used, the mode and fallback, the cosine to the query, the shopper interest that lifted it
and the rules that moved it. A pinned item the query did not find says so and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from shopsage.errors import NotFittedError, SearchParameterError, ValidationError
from shopsage.policy import Rule, apply_rules
from shopsage.profiles import Profile
from shopsage.search.attributes import BUILTIN_ATTRIBUTES
from shopsage.search.catalog import CatalogFacts, SearchFilter
from shopsage.search.evidence import interest, matched_words, quote, rule_reason
from shopsage.search.facets import facet_counts
from shopsage.search.filtering import check, evaluate, parse
from shopsage.search.highlight import highlight
from shopsage.search.ranking import Ranking, rank
from shopsage.search.sorting import LEGACY_SORTS, fit_length, sort_spec, sorted_slots
from shopsage.types import Reason

if TYPE_CHECKING:
    from shopsage.search.engine import Mode, ModeChoice, SearchEngine

__all__ = ["SearchRequest", "SearchHit", "SearchPage", "Sort", "Facet", "FACETS", "HIGHLIGHTS", "answer"]

Sort = str
"""``relevance``, ``price_asc``, ``price_desc``, ``popularity``, or ``field:asc|desc`` keys, comma-separated."""
Facet = str
"""Any facetable attribute."""
FACETS: tuple[Facet, ...] = ("brand", "category")
HIGHLIGHTS = ("title", "brand", "category", "description")
"""The fields ``SearchRequest.highlight`` may name."""
@dataclass(frozen=True)
class SearchRequest:
    """What a shopper asks: the text, filters, facets, sort and page, and optional shopper inputs."""

    q: str
    categories: tuple[str, ...] = ()
    """Keep items in any of these categories (any level of the path, case-insensitive)."""
    brands: tuple[str, ...] = ()
    """Keep items of any of these brands (case-insensitive)."""
    price_min: float | None = None
    price_max: float | None = None
    in_stock: bool = False
    """Keep only items available with stock unknown or above zero."""
    sort: Sort = "relevance"
    page: int = 1
    per_page: int = 10
    mode: ModeChoice | None = None
    """``None``: the engine's configured mode (``SearchConfig.mode``)."""
    facets: tuple[Facet, ...] = FACETS
    """Which facet counts to return (any facetable attribute)."""
    filter_expr: str | None = None
    """The ``filter`` parameter: an expression over any attribute (:mod:`.filtering`), ANDed with the fields above."""
    highlight: tuple[str, ...] = ("title", "brand")
    """Fields returned highlighted in each hit's ``formatted`` (of :data:`HIGHLIGHTS`)."""
    predict_categories: bool = False
    """Also return the query's most probable leaf categories."""
    profile: Profile | None = None
    """The shopper's profile (personalization), from their history."""
    segments: tuple[str, ...] = ()
    """The shopper's segments (lifecycle, value, interest): merchant rules that name segments need them."""
    popularity: np.ndarray | None = field(default=None, compare=False)
    """``(capacity,)`` behaviour-event counts per slot (views, clicks, carts, purchases): the learned
    ranker's popularity feature and ``sort="popularity"``; ``None``: no events (zeros)."""
    query_vector: np.ndarray | None = field(default=None, compare=False)
    """The query's embedding as ``SearchEngine.query_vectors`` makes it, when the caller batched it."""

    def __post_init__(self) -> None:
        if self.page < 1 or self.per_page < 1:
            raise ValidationError(f"page {self.page} of {self.per_page} items: ask for page >= 1 and per_page >= 1.")
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValidationError(f"price_min {self.price_min} is above price_max {self.price_max}: swap them")
        unknown = [f for f in self.highlight if f not in HIGHLIGHTS]
        if unknown:
            raise SearchParameterError(f"cannot highlight {', '.join(unknown)}: use {', '.join(HIGHLIGHTS)}", "highlight")
        sort_spec(self.sort)

    def filter(self) -> SearchFilter:
        return SearchFilter(list(self.categories) or None, list(self.brands) or None, self.price_min, self.price_max,
                            self.in_stock or None)


@dataclass
class SearchHit:
    """One shown result: its slot and id, its final score and why it is there."""

    slot: int
    id: str
    score: float
    reasons: list[Reason]
    formatted: dict[str, str] = field(default_factory=dict)
    """Field -> its text HTML-escaped with ``<mark>`` around the words the query matched (:mod:`.highlight`)."""


@dataclass
class SearchPage:
    """One page of a query's results, with what a storefront shows around them."""

    query: str
    mode: Mode
    fallback: Literal["spelling", "semantic"] | None
    """Which step of the fallback chain produced the results (``None``: the query as typed)."""
    corrected: str | None
    """The spelling-corrected query the results are for (fallback ``spelling``)."""
    corrections: dict[str, str]
    """Typed word -> the known word(s) typo tolerance matched instead."""
    total: int
    page: int
    per_page: int
    sort: Sort
    hits: list[SearchHit]
    facets: dict[str, list[tuple[str, int]]]
    personalized: bool
    categories: list[tuple[str, float]] = field(default_factory=list)
    facet_stats: dict[str, dict[str, float]] = field(default_factory=dict)
    """Numeric facets: the smallest and largest value among the results."""

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]


def answer(engine: SearchEngine, req: SearchRequest, rules: Sequence[Rule] = (),
           allowed: np.ndarray | None = None) -> SearchPage:
    """Serve ``req`` from ``engine``; ``rules`` are the merchant rules of the ``search`` scenario,
    ``allowed`` (bool over slots) the items this shopper may see (hidden, excluded...). A mode the request
    names and the engine cannot serve is the request's error (``ValidationError``); the configured one,
    the engine's (``NotFittedError``)."""
    try:
        mode = engine.resolve_mode(req.mode)
    except NotFittedError as exc:
        if req.mode is None:
            raise
        raise ValidationError(f"mode {req.mode!r} cannot be served: {exc}") from exc
    keep = engine.catalog.live.copy()
    flt = engine.catalog.mask(req.filter())
    if flt is not None:
        keep &= flt
    known = set(engine.attributes.names())
    if req.filter_expr is not None:
        expr = parse(req.filter_expr)
        check(expr, known)
        keep &= fit_length(evaluate(expr, engine.attributes, engine.catalog.capacity), len(keep))
    spec = _checked(engine, req, known)
    if allowed is not None:
        keep &= fit_length(allowed, len(keep))
    found, used, fallback = _retrieve(engine, req, mode, keep)
    facts = CatalogFacts(engine.catalog)
    slots, scores = found.slots, found.scores.astype(np.float32).copy()
    lifted: dict[int, dict[str, object]] = {}
    boost = engine.config.personalize_boost
    if req.profile is not None and boost > 0 and req.sort == "relevance":
        for i, s in enumerate(slots.tolist()):
            share, ev = interest(req.profile, facts, s)
            if ev is not None:
                m = 1.0 + boost * share
                scores[i] = scores[i] * m if scores[i] > 0 else scores[i] / m
                lifted[s] = ev
        order = np.lexsort((np.arange(len(slots)), -scores))
        slots, scores = slots[order], scores[order]
    active = [r for r in rules if r.applies_to("search", req.segments)]
    touched: dict[int, list[Rule]] = {}
    final, final_scores = slots, scores
    if active:  # the rules read every result (a buried or boosted item may sit anywhere in the list)
        out = apply_rules(slots, scores, active, "search", facts, pinnable=keep, segments=req.segments)
        final, final_scores, touched = out.slots, out.scores, out.touched
    if spec:
        final, final_scores = sorted_slots(engine, spec, final, final_scores, touched, req.popularity)
    start = (req.page - 1) * req.per_page
    shown = final[start:start + req.per_page].tolist()
    why = _Explainer(engine, req, found, used, fallback, shown)
    hits = []
    for s, sc in zip(shown, final_scores[start:start + req.per_page].tolist(), strict=True):
        reasons = why.search(s)
        if s in lifted:
            ev = lifted[s]
            reasons.append(Reason("personalization", "profile",
                                  f"Ranked higher for your interest in {ev.get('category') or ev.get('brand')}", ev))
        reasons += [rule_reason(r, int(np.flatnonzero(final == s)[0]) if r.action == "pin" else None, why.has(s))
                    for r in touched.get(s, [])]
        hits.append(SearchHit(s, facts.ext(s), float(sc), reasons, why.formatted(s)))
    facets, stats = facet_counts(engine, req.facets, final)
    return SearchPage(
        query=req.q, mode=mode, fallback=fallback, corrected=used if fallback == "spelling" else None,
        corrections=dict(found.corrected), total=len(final), page=req.page, per_page=req.per_page, sort=req.sort,
        hits=hits, facets=facets, personalized=bool(lifted),
        categories=engine.predict_categories(req.q) if req.predict_categories else [], facet_stats=stats)


def _checked(engine: SearchEngine, req: SearchRequest, known: set[str]) -> list[tuple[str, bool]]:
    """The sort keys, once every facet and sort field is an attribute the settings allow there."""
    settings = engine.settings
    for name in req.facets:
        if name not in known and name not in BUILTIN_ATTRIBUTES:
            raise SearchParameterError(f"unknown attribute {name!r}: facet on one of {', '.join(sorted(known)[:30])}",
                                       "facets")
        if not settings.allows("facet", name):
            raise SearchParameterError(f"{name!r} is not facetable: add it to facetable_attributes (PATCH /v1/settings)",
                                       "facets")
    spec = sort_spec(req.sort)
    if req.sort in LEGACY_SORTS:
        return spec
    for name, _ in spec:
        if name == "popularity":
            continue
        if name not in known and name not in BUILTIN_ATTRIBUTES:
            raise SearchParameterError(f"unknown attribute {name!r}: sort by popularity or one of "
                                       f"{', '.join(sorted(known)[:30])}", "sort")
        if not settings.allows("sort", name):
            raise SearchParameterError(f"{name!r} is not sortable: add it to sortable_attributes (PATCH /v1/settings)",
                                       "sort")
    return spec


def _retrieve(engine: SearchEngine, req: SearchRequest, mode: Mode,
              keep: np.ndarray) -> tuple[Ranking, str, Literal["spelling", "semantic"] | None]:
    """The one fallback chain: the query as typed; for a query none of whose words matches, the
    spelling-corrected query, then the items nearest in meaning. Returns (ranking, query used, fallback)."""
    floor = engine.config.min_similarity
    found = _floor(rank(engine, req.q, mode, keep, req.query_vector, req.popularity), floor)
    if mode == "vector" or found.words_matched:
        return found, req.q, None
    fixed = engine.correct(req.q)
    if fixed.casefold() != req.q.casefold():
        again = _floor(rank(engine, fixed, mode, keep, req.query_vector, req.popularity), floor)
        if again.words_matched:
            return again, fixed, "spelling"
    if engine.has_encoder:
        near = _floor(rank(engine, req.q, "vector", keep, req.query_vector, limit=engine.config.semantic_results), floor)
        if len(near):
            return near, req.q, "semantic"
    return Ranking.empty(mode), req.q, None


def _floor(found: Ranking, floor: float | None) -> Ranking:
    """Drop the results that match no query word and are less than ``floor`` close to the query."""
    if floor is None or found.lexical.all():
        return found
    with np.errstate(invalid="ignore"):
        return found.keep(found.lexical | (found.similarity >= floor))


class _Explainer:
    """The search reason of a shown result, from the ranking that found it."""

    def __init__(self, engine: SearchEngine, req: SearchRequest, found: Ranking, used: str,
                 fallback: Literal["spelling", "semantic"] | None, shown: list[int]) -> None:
        self.engine, self.req, self.ranking, self.used, self.fallback = engine, req, found, used, fallback
        at = np.flatnonzero(np.isin(found.slots, shown))  # where the shown items are in the ranking (not pins)
        self.pos = {int(found.slots[i]): int(i) for i in at}
        # the words the results matched: the query used plus what typo tolerance read instead (and synonyms)
        self.terms = engine.lexical.query_term_list(" ".join([used, *found.corrected.values()]))
        ranker = engine.ranker
        self.source = {"lexical": "bm25", "vector": "vector", "hybrid": "hybrid",
                       "learned": "learned" + (f":{ranker.version}" if ranker is not None and ranker.version else "")
                       }[found.mode]

    def formatted(self, slot: int) -> dict[str, str]:
        """The requested fields of ``slot`` highlighted where a word matched the query (escaped text only
        for an item the words did not find: a pin, a semantic result)."""
        i = self.pos.get(slot)
        words = i is not None and self.fallback != "semantic" and bool(self.ranking.lexical[i])
        values = self.engine.attributes.values(slot)
        texts = {"title": (values.get("title") or ("",))[0], "brand": (values.get("brand") or ("",))[0],
                 "category": " > ".join(map(str, values.get("category", ()))),
                 "description": self.engine.catalog.texts[slot].get("description", "")}
        analyzer = self.engine.lexical.analyzer
        return {f: highlight(analyzer, self.terms if words else (), str(texts[f])) for f in self.req.highlight
                if texts.get(f)}

    def has(self, slot: int) -> bool:
        """Whether the query found ``slot`` (a pin may add items it did not)."""
        return slot in self.pos

    def search(self, slot: int) -> list[Reason]:
        """The search reason of ``slot``, or none for an item the query did not find (a pin)."""
        i = self.pos.get(slot)
        if i is None:
            return []
        sim = float(self.ranking.similarity[i])
        sim_ev = None if np.isnan(sim) else round(sim, 4)
        q = self.req.q
        if self.fallback == "semantic":
            return [Reason("search", "semantic", f"No product matches the words of '{q}'; this one is close in meaning",
                           {"query": q, "similarity": sim_ev, "mode": "vector", "fallback": "semantic"})]
        words = (matched_words(self.engine.lexical.analyzer, self.terms, self.engine.catalog.texts[slot])
                 if self.ranking.lexical[i] else [])
        evidence = {"matched_terms": words, "query": self.used, "corrected": dict(self.ranking.corrected) or None,
                    "mode": self.ranking.mode, "fallback": self.fallback, "similarity": sim_ev}
        if words:
            text = "Matches " + quote(words)
        elif self.ranking.lexical[i]:
            text = "Matches your search"  # a word match whose indexed text was not kept (an engine saved before it was)
        else:
            text = f"Close in meaning to '{self.used}'"
        return [Reason("search", self.source, text, evidence)]
