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
5. the sort, then facets and total over the whole list, then the page.

Every result explains itself with true evidence: the item's own words that matched, the typo
corrections used, the mode and fallback, the cosine to the query, the shopper interest that lifted it
and the rules that moved it. A pinned item the query did not find says so and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from shopsage.errors import NotFittedError, ValidationError
from shopsage.policy import Rule, apply_rules
from shopsage.profiles import Profile
from shopsage.search.catalog import CatalogFacts, SearchFilter
from shopsage.search.evidence import interest, matched_words, quote, rule_reason
from shopsage.search.ranking import Ranking, rank
from shopsage.types import Reason

if TYPE_CHECKING:
    from shopsage.search.engine import Mode, ModeChoice, SearchEngine

__all__ = ["SearchRequest", "SearchHit", "SearchPage", "Sort", "Facet", "FACETS", "answer"]

Sort = Literal["relevance", "price_asc", "price_desc", "popularity"]
Facet = Literal["brand", "category"]
FACETS: tuple[Facet, ...] = ("brand", "category")


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
    """Which facet counts to return."""
    predict_categories: bool = False
    """Also return the query's most probable leaf categories."""
    profile: Profile | None = None
    """The shopper's profile (personalization), from their history."""
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
        unknown = [f for f in self.facets if f not in FACETS]
        if unknown:
            raise ValidationError(f"unknown facets {unknown}: ask for {', '.join(FACETS)}.")

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
    if allowed is not None:
        keep &= _fit(allowed, len(keep))
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
    active = [r for r in rules if r.applies_to("search")]
    touched: dict[int, list[Rule]] = {}
    final, final_scores = slots, scores
    if active:  # the rules read every result (a buried or boosted item may sit anywhere in the list)
        out = apply_rules(slots, scores, active, "search", facts, pinnable=keep)
        final, final_scores, touched = out.slots, out.scores, out.touched
    if req.sort != "relevance":
        final, final_scores = _sorted(engine, req, final, final_scores, touched)
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
        hits.append(SearchHit(s, facts.ext(s), float(sc), reasons))
    facets = engine.catalog.facets(final)
    return SearchPage(
        query=req.q, mode=mode, fallback=fallback, corrected=used if fallback == "spelling" else None,
        corrections=dict(found.corrected), total=len(final), page=req.page, per_page=req.per_page, sort=req.sort,
        hits=hits, facets={k: v for k, v in facets.items() if k in req.facets}, personalized=bool(lifted),
        categories=engine.predict_categories(req.q) if req.predict_categories else [])


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


def _sorted(engine: SearchEngine, req: SearchRequest, slots: np.ndarray, scores: np.ndarray,
            touched: dict[int, list[Rule]]) -> tuple[np.ndarray, np.ndarray]:
    """``slots`` in the requested order (price or popularity), buried items last, pins where the rules put them."""
    pinned = [i for i, s in enumerate(slots.tolist()) if any(r.action == "pin" for r in touched.get(s, []))]
    rest = np.delete(np.arange(len(slots)), pinned)
    if req.sort == "popularity":
        pop = np.zeros(len(slots)) if req.popularity is None else _fit(req.popularity, engine.catalog.capacity, 0.0)[slots]
        key = -pop[rest]
    else:
        price = engine.catalog.price[slots[rest]].astype(np.float64)
        key = np.where(np.isnan(price), np.inf, price if req.sort == "price_asc" else -price)
    buried = np.array([any(r.action == "bury" for r in touched.get(int(s), [])) for s in slots[rest]], dtype=bool)
    order = rest[np.lexsort((np.arange(len(rest)), key, buried))].tolist()
    for i in pinned:  # pins keep their places (in increasing order, so earlier inserts do not shift later ones)
        order.insert(i, i)
    idx = np.asarray(order, dtype=np.int64)
    return slots[idx], scores[idx]


def _fit(values: np.ndarray, n: int, fill: object = False) -> np.ndarray:
    """``values`` cut or padded with ``fill`` to length ``n``."""
    values = np.asarray(values)
    out = np.full(n, fill, dtype=values.dtype)
    out[:min(n, len(values))] = values[:n]
    return out


class _Explainer:
    """The search reason of a shown result, from the ranking that found it."""

    def __init__(self, engine: SearchEngine, req: SearchRequest, found: Ranking, used: str,
                 fallback: Literal["spelling", "semantic"] | None, shown: list[int]) -> None:
        self.engine, self.req, self.ranking, self.used, self.fallback = engine, req, found, used, fallback
        at = np.flatnonzero(np.isin(found.slots, shown))  # where the shown items are in the ranking (not pins)
        self.pos = {int(found.slots[i]): int(i) for i in at}
        # the words the results matched: the query used plus what typo tolerance read instead
        self.terms = engine.lexical.analyzer.analyze(" ".join([used, *found.corrected.values()]))
        ranker = engine.ranker
        self.source = {"lexical": "bm25", "vector": "vector", "hybrid": "hybrid",
                       "learned": "learned" + (f":{ranker.version}" if ranker is not None and ranker.version else "")
                       }[found.mode]

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
