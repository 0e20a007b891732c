"""The search route's pipeline: BM25 matches -> filters -> personalization -> rules -> sort -> page.

A query that matches no word, even corrected, falls back to the items nearest in meaning by the
live text encoder, when the service runs with one (``shopsage serve --semantic``).

Every result explains itself: the query words it matched (checked against its indexed text), the
typo corrections used, the shopper interest that lifted it and the merchant rules that moved it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.config import PipelinesConfig
from shopsage.serving.reasons import Reason
from shopsage.serving.scenario import rule_reason
from shopsage.policy import apply_rules
from shopsage.profiles import Profile
from shopsage.search import SearchFilter

__all__ = ["SearchRequest", "run_search", "Sort"]

Sort = Literal["relevance", "price_asc", "price_desc", "popularity"]
SEMANTIC_RESULTS = 50  # results of the semantic fallback (a query none of whose words matches)


@dataclass(frozen=True)
class SearchRequest:
    q: str
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    price_min: float | None = None
    price_max: float | None = None
    in_stock: bool = False
    sort: Sort = "relevance"
    page: int = 1
    per_page: int = 10
    user: str | None = None
    session: str | None = None

    def filter(self) -> SearchFilter:
        return SearchFilter(list(self.categories) or None, list(self.brands) or None, self.price_min, self.price_max,
                            self.in_stock or None)


def _match(catalog: ServingCatalog, q: str, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    lex = catalog.engine.lexical
    qterms = lex.query_terms(q)
    docs, scores = lex.score_terms(qterms)
    if len(docs):
        ok = docs < len(keep)
        ok[ok] = keep[docs[ok]]
        docs, scores = docs[ok], scores[ok]
    return docs.astype(np.int64), scores.astype(np.float32), dict(qterms.corrected)


def _interest(profile: Profile | None, catalog: ServingCatalog, slot: int) -> tuple[float, dict[str, Any] | None]:
    """The share of the shopper's weight on this item's best-matching category or brand."""
    if profile is None:
        return 0.0, None
    cats = dict(profile.top_categories)
    brands = dict(profile.top_brands)
    total_c = sum(cats.values()) or 1.0
    total_b = sum(brands.values()) or 1.0
    best: tuple[float, dict[str, Any] | None] = (0.0, None)
    for c in catalog.category_path(slot):
        if c in cats and cats[c] / total_c > best[0]:
            best = (cats[c] / total_c, {"category": c, "share": round(cats[c] / total_c, 4)})
    b = catalog.brand(slot)
    if b in brands and brands[b] / total_b > best[0]:
        best = (brands[b] / total_b, {"brand": b, "share": round(brands[b] / total_b, 4)})
    return best


def run_search(req: SearchRequest, catalog: ServingCatalog, allowed: np.ndarray, cfg: PipelinesConfig,
               profile: Profile | None, popularity: np.ndarray) -> dict[str, Any]:
    flt_mask = catalog.engine.catalog.mask(req.filter())
    keep = allowed if flt_mask is None else allowed & flt_mask[: len(allowed)]
    docs, scores, corrected = _match(catalog, req.q, keep)
    used_query, fallback = req.q, None
    if len(docs) == 0:
        fixed = catalog.engine.speller.correct(req.q)
        if fixed.casefold() != req.q.casefold():
            docs, scores, corrected2 = _match(catalog, fixed, keep)
            if len(docs):
                used_query, fallback, corrected = fixed, "spelling", {**corrected, **corrected2}
    similarity: dict[int, float] = {}
    dense = catalog.engine.semantic() if len(docs) == 0 else None
    if dense is not None:  # no word matched, even corrected: the items nearest in meaning, by the live encoder
        query_encoder, vector = dense
        found, sims = vector.search(query_encoder.encode_query(catalog.engine.dense_text(req.q)), SEMANTIC_RESULTS,
                                   keep).row(0)
        close = sims >= cfg.scenario("search").semantic_min_similarity  # gibberish finds nothing close
        found, sims = found[close], sims[close]
        if len(found):
            docs, scores, fallback = found.astype(np.int64), sims.astype(np.float32), "semantic"
            similarity = dict(zip(docs.tolist(), sims.tolist(), strict=True))
    facets = catalog.engine.catalog.facets(docs)
    total = len(docs)
    boost = cfg.scenario("search").personalize_boost
    interest: dict[int, dict[str, Any]] = {}
    if profile is not None and boost > 0 and total:
        for i, s in enumerate(docs.tolist()):
            share, ev = _interest(profile, catalog, s)
            if ev is not None:
                scores[i] *= 1.0 + boost * share
                interest[s] = ev
    order = np.lexsort((docs, -scores))
    docs, scores = docs[order], scores[order]
    out = apply_rules(docs, scores, cfg.rules, "search", catalog, pinnable=keep)
    docs, scores = out.slots, out.scores
    if req.sort != "relevance":
        if req.sort == "popularity":
            key = -popularity[docs]
        else:
            price = catalog.engine.catalog.price[docs].astype(np.float64)
            key = np.where(np.isnan(price), np.inf, price if req.sort == "price_asc" else -price)
        idx = np.lexsort((np.arange(len(docs)), key))
        docs, scores = docs[idx], scores[idx]
    start = (req.page - 1) * req.per_page
    items = []
    for s, sc in zip(docs[start:start + req.per_page].tolist(), scores[start:start + req.per_page].tolist(), strict=True):
        if s in similarity:
            reasons = [Reason("search", "semantic", f"No product matches the words of '{req.q}'; this one is close in "
                              "meaning", {"query": req.q, "similarity": round(similarity[s], 4)})]
        else:
            words = catalog.matched_words(" ".join([used_query, *corrected.values()]), s)
            reasons = [Reason("search", "bm25", "Matches " + ", ".join(f"'{w}'" for w in words) if words else
                              "Matches your search", {"matched_terms": words, "query": used_query,
                                                      "corrected": corrected or None})]
        if s in interest:
            ev = interest[s]
            what = f"your interest in {ev.get('category') or ev.get('brand')}"
            reasons.append(Reason("personalization", "profile", f"Ranked higher for {what}", ev))
        reasons += [rule_reason(r) for r in out.touched.get(s, [])]
        items.append({**catalog.view(s), "score": float(sc), "reasons": [r.as_dict() for r in reasons]})
    return {"query": req.q, "corrected": used_query if fallback == "spelling" else None, "total": total,
            "page": req.page, "per_page": req.per_page, "sort": req.sort, "items": items,
            "facets": {k: [{"value": v, "count": c} for v, c in vals] for k, vals in facets.items()},
            "personalized": bool(interest)}
