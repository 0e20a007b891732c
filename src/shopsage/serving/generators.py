"""Candidate generators: each turns a shopper (or a page's item) into a scored list with reasons.

Every candidate carries the true evidence of why it is there: the history item whose neighbour it
is (``similar_to_recent``, and ``model`` for models with ``explain``), the page's item
(``similar_to_item``, ``content`` with the shared terms), or its interaction counts and category
(``trending``). A wording names an event type only when the evidence holds it: "because you
bought X" when the shopper's strongest interaction with X (:data:`~shopsage.profiles.EVENT_WEIGHTS`,
ties to the latest) is a purchase, "shoppers who bought X also bought this" when the model learned
from purchases alone (its manifest's ``event_types``); otherwise a wording that names no type.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from shopsage.forecast.live import LiveTrend, trend_reason
from shopsage.privacy.trending import PrivateTrending, TrendingRelease
from shopsage.profiles import EVENT_WEIGHTS
from shopsage.search import embedding_text
from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.config import GeneratorConfig
from shopsage.serving.models import LoadedModel, ModelSet
from shopsage.serving.reasons import Reason

__all__ = ["Shopper", "CandidateList", "Generators", "Popularity", "BECAUSE_YOU", "SHOPPERS_ALSO", "strongest_types"]

BECAUSE_YOU = {"view": "Because you viewed {t}", "click": "Because you clicked on {t}",
               "add_to_cart": "Because you added {t} to your cart", "purchase": "Because you bought {t}",
               "rating": "Because you rated {t}"}
"""The wording of a history item's reason, by the shopper's interaction type with it."""
SHOPPERS_ALSO = {"view": "Shoppers who viewed {t} also viewed this", "click": "Shoppers who clicked on {t} also clicked on this",
                 "add_to_cart": "Shoppers who added {t} to their cart also added this",
                 "purchase": "Shoppers who bought {t} also bought this", "rating": "Shoppers who rated {t} also rated this"}
"""The wording of an item-item neighbour, by the one event type its model learned from."""
_SHOPPERS_ANY = "Shoppers who interacted with {t} also chose this"
_RELATED = "Related to {t} in what shoppers chose"
_COOCCURRENCE = ("itemknn", "fbt", "sknn")
"""Models whose neighbours of an item are only items that shoppers interacted with alongside it."""


def strongest_types(history: list[tuple[int, str]]) -> dict[int, str]:
    """Each item's strongest interaction type in ``history`` (oldest first): the largest
    :data:`EVENT_WEIGHTS`, ties to the latest."""
    out: dict[int, str] = {}
    for slot, typ in history:
        have = out.get(slot)
        if have is None or EVENT_WEIGHTS.get(typ, 0.0) >= EVENT_WEIGHTS.get(have, 0.0):
            out[slot] = typ
    return out


class Popularity(NamedTuple):
    """What trending reads: scores and counts over catalogue slots."""

    scores: np.ndarray  # (capacity,) float32, stored + live
    stored: np.ndarray  # (capacity,) float32, the store's interactions when the service started (all time)
    live: np.ndarray  # (capacity,) float32, interactions the service took in since ``live_since``
    live_since: float | None  # Unix time the live counts start; None when the state does not know


@dataclass
class Shopper:
    """Who a request is for: histories are catalogue slots, oldest first, with event types."""

    user: str | None = None
    session: str | None = None
    user_history: list[tuple[int, str]] = field(default_factory=list)
    session_history: list[tuple[int, str]] = field(default_factory=list)
    purchased: set[int] = field(default_factory=set)
    item: int | None = None  # the page's item
    combined: list[tuple[int, str]] | None = None  # user + session without double counts, when both are known
    segments: frozenset[str] | None = None  # the user's segments (merchant rules may name them); None: unknown

    def history(self, which: str) -> list[tuple[int, str]]:
        if which == "session":
            return self.session_history
        if which == "user":
            return self.user_history
        return self.combined if self.combined is not None else self.user_history + self.session_history


@dataclass
class CandidateList:
    """A generator's ranked slots; ``reason(i)`` explains the item at position ``i`` (built only for
    the items a response shows, whose positions ``prepare`` hears first, so that a model explains
    them in one call)."""

    source: str
    slots: np.ndarray  # (m,) int64, best first
    scores: np.ndarray  # (m,) float32
    reason: Callable[[int], Reason]
    prepare: Callable[[list[int]], None] = field(default=lambda _positions: None)

    def __len__(self) -> int:
        return len(self.slots)

    @classmethod
    def empty(cls, source: str) -> CandidateList:
        return cls(source, np.zeros(0, np.int64), np.zeros(0, np.float32), _no_reason)


def _no_reason(i: int) -> Reason:
    raise IndexError(i)


def _keep(slots: np.ndarray, scores: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = (slots >= 0) & (slots < len(allowed))
    ok[ok] = allowed[slots[ok]]
    return slots[ok], scores[ok]


class Generators:
    """The generator kinds of :class:`~shopsage.serving.config.GeneratorConfig`, over one catalogue."""

    def __init__(self, catalog: ServingCatalog, models: ModelSet, trending: Callable[[], Popularity],
                 private: PrivateTrending | None = None, trend: LiveTrend | None = None) -> None:
        self.catalog = catalog
        self.models = models
        self._trending = trending
        self.trend = trend
        """The trend model of ``trending`` generators with ``trend = "forecast"`` (None: counts only)."""
        self._trend_slots: tuple[int, int, np.ndarray] | None = None  # (window, capacity, slot of each scored item)
        self.private = private
        """``privacy.dp_trending``: trending ranks by differentially private counts instead."""
        self._private_scores: tuple[float, int, np.ndarray] | None = None  # (release time, capacity, scores)

    def run(self, g: GeneratorConfig, shopper: Shopper, allowed: np.ndarray, scenario: str) -> CandidateList | None:
        """The generator's list, or None when it cannot run (its model is absent, no item, no history)."""
        if g.kind == "trending":
            return self.trending(g, allowed)
        if g.kind == "content":
            return self.content(g, shopper, allowed)
        if g.kind == "semantic":
            return self.semantic(g, shopper, allowed)
        model = self.models.get(g.model)
        if model is None:
            return None
        if g.kind == "similar_to_item":
            return self.similar_to_item(g, model, shopper, allowed, scenario)
        if g.kind == "similar_to_recent":
            return self.similar_to_recent(g, model, shopper, allowed)
        return self.model(g, model, shopper, allowed)

    # ------------------------------------------------------------------ shopper-based
    def _title(self, slot: int) -> str:
        return self.catalog.title(slot)

    def _because(self, slot: int, typ: str, stage: str, source: str, **evidence: object) -> Reason:
        """"Because you <did> X": ``typ`` is the shopper's strongest interaction with X."""
        row = self.catalog.row(slot)  # the row holds the id (a deleted item's slot only in the engine)
        ext = row.ext_id if row is not None else self.catalog.ext(slot)
        title = row.title if row is not None and row.title else ext
        text = BECAUSE_YOU.get(typ, "Because you interacted with {t}").format(t=title)
        return Reason(stage, source, text, {"item": ext, "interaction": typ, **evidence})

    def similar_to_recent(self, g: GeneratorConfig, m: LoadedModel, shopper: Shopper, allowed: np.ndarray) -> CandidateList | None:
        hist = shopper.history(g.history)
        types = strongest_types(hist)
        known = m.from_slot  # slot -> model id, -1 when the model does not know the item
        recent: list[tuple[int, str]] = []
        seen: set[int] = set()
        for slot, _ in reversed(hist):  # the latest distinct items the model knows, newest first
            if slot in seen:
                continue
            seen.add(slot)
            if 0 <= slot < len(known) and known[slot] >= 0:
                recent.append((slot, types[slot]))
            if len(recent) >= g.recent:
                break
        if not recent:
            return None
        ids = m.model_ids([s for s, _ in recent])
        # (R, n), row r = neighbours of the r-th newest item; read as sets below (their order within a row
        # does not change the list), so a model that finds them cheaper that way does (similar_sets)
        neighbours = getattr(m.model, "similar_sets", m.model.similar_items)
        res = neighbours(ids, g.n)
        rows = np.broadcast_to(np.arange(len(res))[:, None], res.ids.shape)
        slots = np.where(res.ids >= 0, m.to_slot[np.maximum(res.ids, 0)], -1)
        ok = (slots >= 0) & (slots < len(allowed)) & (res.scores > 0)  # a history item speaks only for its positive neighbours
        ok[ok] = allowed[slots[ok]]
        if not ok.any():
            return CandidateList.empty(f"similar_to_recent:{m.name}")
        cand, sim, row = slots[ok], res.scores[ok].astype(np.float64), rows[ok]
        part = sim / (1.0 + 0.25 * row)  # newer history items count more
        uniq, inv = np.unique(cand, return_inverse=True)
        total = np.bincount(inv, weights=part)
        order = np.lexsort((-part, inv))  # per candidate, its largest contribution first
        first = order[np.r_[True, inv[order][1:] != inv[order][:-1]]]
        best_row, best_sim = row[first], sim[first]  # aligned with uniq
        top = np.argsort(-total, kind="stable")[: g.n]

        def reason(i: int) -> Reason:
            j = top[i]
            src_slot, typ = recent[int(best_row[j])]
            return self._because(src_slot, typ, "candidates", f"{m.name}:{m.version}", similarity=round(float(best_sim[j]), 6))

        return CandidateList(f"similar_to_recent:{m.name}", uniq[top].astype(np.int64), total[top].astype(np.float32), reason)

    def model(self, g: GeneratorConfig, m: LoadedModel, shopper: Shopper, allowed: np.ndarray) -> CandidateList | None:
        hist = shopper.history(g.history)
        ids = m.model_ids([s for s, _ in hist])
        if len(ids) == 0:
            return None
        # the history's own items are the scenario's to exclude ("seen"), not the model's: a session's next
        # click is often an item it already holds (a blend with the session's own items ranks them)
        n_distinct = len(np.unique(ids))
        res = m.model.recommend([ids.astype(np.int32)], g.n + n_distinct, filter_seen=False)
        cand, scores = res.row(0)
        slots, scores = _keep(m.slots_of(cand), scores, allowed)
        slots, scores = slots[: g.n], scores[: g.n]
        src = f"{m.name}:{m.version}"
        typ_of = strongest_types(hist)
        explained: dict[int, tuple[int, float]] = {}
        explains = m.explains

        def prepare(positions: list[int]) -> None:  # the shown items of the list, explained in one call
            pos = [j for j in positions if j not in explained]
            if explains and pos:
                for j, hw in zip(pos, m.model.explain(ids, m.model_ids(slots[pos].tolist())), strict=True):  # type: ignore[attr-defined]
                    explained[j] = hw

        def reason(i: int) -> Reason:
            if explains:
                if i not in explained:
                    prepare([i])
                h, w = explained[i]
                h_slot = int(m.to_slot[h]) if h >= 0 else -1
                if h_slot in typ_of:
                    return self._because(h_slot, typ_of[h_slot], "candidates", src, contribution=round(w, 6))
            return self._model_reason(m, g, n_distinct)

        return CandidateList(f"model:{m.name}", slots, scores, reason, prepare)

    def _model_reason(self, m: LoadedModel, g: GeneratorConfig, n_items: int) -> Reason:
        """``n_items``: the distinct items of the history that the model read."""
        where = "in this session" if g.history == "session" else "so far"
        what = "1 item" if n_items == 1 else f"{n_items} items"
        return Reason("candidates", f"{m.name}:{m.version}", f"Picked for you from {what} you interacted with {where}",
                      {"model": m.name, "version": m.version, "history_items": n_items, "history": g.history})

    # ------------------------------------------------------------------ item-based
    def similar_to_item(self, g: GeneratorConfig, m: LoadedModel, shopper: Shopper, allowed: np.ndarray,
                        scenario: str) -> CandidateList | None:
        if shopper.item is None:
            return None
        ids = m.model_ids([shopper.item])
        if len(ids) == 0:
            return None  # the model does not know the item (new item): the fallbacks take over
        cand, sims = m.model.similar_items(ids, g.n).row(0)
        if m.model.name in _COOCCURRENCE:  # "shoppers who ... also ...": only items seen with it
            cand, sims = cand[sims > 0], sims[sims > 0]
        slots, sims = _keep(m.slots_of(cand), sims, allowed)
        src = self.catalog.ext(shopper.item)
        text = self._neighbour_text(m).format(t=self._title(shopper.item))
        event_types = dict(m.event_types) if m.event_types is not None else None

        def reason(i: int) -> Reason:
            return Reason("candidates", f"{m.name}:{m.version}", text,
                          {"item": src, "similarity": round(float(sims[i]), 6), "event_types": event_types})

        return CandidateList(f"similar_to_item:{m.name}", slots, sims, reason)

    @staticmethod
    def _neighbour_text(m: LoadedModel) -> str:
        """"Shoppers who bought {t} also bought this" for a co-occurrence model trained on purchases
        alone; a wording without an event type when it learned from several or does not say."""
        types = m.trained_on
        if m.model.name not in _COOCCURRENCE:
            return _RELATED
        if types is not None and len(types) == 1 and types[0] in SHOPPERS_ALSO:
            return SHOPPERS_ALSO[types[0]]
        return _SHOPPERS_ANY

    def semantic(self, g: GeneratorConfig, shopper: Shopper, allowed: np.ndarray) -> CandidateList | None:
        engine = self.catalog.engine
        if not engine.has_encoder:
            return None
        if shopper.item is not None:
            sources = [shopper.item]
        else:
            sources = list(dict.fromkeys(s for s, _ in reversed(shopper.history(g.history))))[:g.recent]
        rows = [(s, self.catalog.row(s)) for s in sources]
        texts = [(s, embedding_text(r)) for s, r in rows if r is not None]
        if not texts:
            return None
        mask = allowed.copy()
        mask[[s for s, _ in texts]] = False
        cand, scores = engine.nearest_in_meaning([t for _, t in texts], g.n, mask).row(0)
        slots = cand.astype(np.int64)
        src = [self.catalog.ext(s) for s, _ in texts]
        what = self._title(texts[0][0]) if len(texts) == 1 else "the items you viewed"

        def reason(i: int) -> Reason:
            return Reason("candidates", "semantic", f"Close in meaning to {what}",
                          {"items": src, "similarity": round(float(scores[i]), 4)})

        return CandidateList("semantic", slots, scores.astype(np.float32), reason)

    def content(self, g: GeneratorConfig, shopper: Shopper, allowed: np.ndarray) -> CandidateList | None:
        if shopper.item is None:
            return None
        row = self.catalog.row(shopper.item)
        text = " ".join(p for p in ((row.title if row else None), (row.brand if row else None)) if p)
        if not text:
            return None
        mask = allowed.copy()
        mask[shopper.item] = False
        cand, scores = self.catalog.engine.more_like_text(text, g.n, mask).row(0)
        slots = cand.astype(np.int64)
        src_terms = self.catalog.terms(text)
        src = self.catalog.ext(shopper.item)
        title = self._title(shopper.item)

        def reason(i: int) -> Reason:
            words = [w for w in self.catalog.matched_words(text, int(slots[i])) if self.catalog.terms(w) <= src_terms]
            return Reason("candidates", "content:bm25", f"Like {title}: " + ", ".join(f"'{w}'" for w in words[:5]),
                          {"item": src, "shared_terms": words})

        return CandidateList("content", slots, scores.astype(np.float32), reason)

    def trending(self, g: GeneratorConfig, allowed: np.ndarray) -> CandidateList:
        if self.private is not None:
            return self._private_trending(g, allowed)
        if g.trend == "forecast" and self.trend is not None:
            forecast = self._forecast_trending(g, allowed)
            if forecast is not None:
                return forecast
        pop = self._trending()
        s = np.where(allowed[: len(pop.scores)], pop.scores, -np.inf)
        k = min(g.n, int(np.isfinite(s).sum()), len(s))
        if k == 0:
            return CandidateList.empty("trending")
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.argsort(-s[top], kind="stable")]
        top = top[s[top] > 0]

        def reason(i: int) -> Reason:
            return self._popular(int(top[i]), pop)

        return CandidateList("trending", top.astype(np.int64), s[top].astype(np.float32), reason)

    def _forecast_trending(self, g: GeneratorConfig, allowed: np.ndarray) -> CandidateList | None:
        """Trending by the trend model's scores of the window under way (:mod:`shopsage.forecast.live`);
        None while the store's timed events are too few (the counts rank instead)."""
        assert self.trend is not None
        cur = self.trend.current()
        if cur is None:
            return None
        cap = len(allowed)
        known = self._trend_slots
        if known is None or known[0] != cur.window or known[1] != cap or len(known[2]) != len(cur.names):
            slots = np.array([self.catalog.slot(n) if self.catalog.slot(n) is not None else -1 for n in cur.names], np.int64)
            known = self._trend_slots = (cur.window, cap, slots)
        slots = known[2]
        ok = (slots >= 0) & (slots < cap) & (cur.scores > 0)
        ok[ok] = allowed[slots[ok]]
        cols = np.flatnonzero(ok)
        cols = cols[np.argsort(-cur.scores[cols], kind="stable")][: g.n]
        span = self.trend.span

        def reason(i: int) -> Reason:
            j = int(cols[i])
            ev = cur.evidence(j, span)
            cat = self.catalog.category(int(slots[j]))
            return Reason("candidates", "trending:forecast", trend_reason(ev["last"], ev["before"], ev["span"], ev["last_24h"]),
                          {"category": cat, **ev})

        return CandidateList("trending", slots[cols], cur.scores[cols].astype(np.float32), reason)

    def _private_trending(self, g: GeneratorConfig, allowed: np.ndarray) -> CandidateList:
        """Trending by the last private release: its noisy counts rank, and its counts alone are shown."""
        assert self.private is not None
        rel = self.private.current()
        if rel is None:
            return CandidateList.empty("trending")
        cap = len(allowed)
        cached = self._private_scores
        if cached is None or cached[0] != rel.at or cached[1] != cap:
            scores = np.zeros(cap, np.float32)
            for ext, c in rel.counts.items():
                slot = self.catalog.slot(ext)
                if slot is not None and slot < cap:
                    scores[slot] = c
            cached = self._private_scores = (rel.at, cap, scores)
        s = np.where(allowed, cached[2], 0.0)
        top = np.flatnonzero(s > 0)
        top = top[np.argsort(-s[top], kind="stable")][: g.n]

        def reason(i: int) -> Reason:
            return self._private_popular(int(top[i]), int(s[top[i]]), rel)

        return CandidateList("trending", top.astype(np.int64), s[top].astype(np.float32), reason)

    def _private_popular(self, slot: int, count: int, rel: TrendingRelease) -> Reason:
        """"Popular in Saws: about 12 shoppers": the release's noisy count, never an exact one."""
        cat = self.catalog.category(slot)
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(rel.at))
        who = "1 shopper" if count == 1 else f"{count} shoppers"
        return Reason("candidates", "trending", f"Popular in {cat or 'the shop'}: about {who}",
                      {"category": cat, "shoppers": count, "differentially_private": True, "epsilon": rel.epsilon,
                       "noise_scale": rel.scale, "released_at": at})

    def _popular(self, slot: int, pop: Popularity) -> Reason:
        """"Popular in Saws: 12 interactions in all, 5 since 2025-01-02 10:00 UTC": every count is
        all-time (the store's, which may hold no times) plus the service's own since it started."""
        cat = self.catalog.category(slot)
        stored, live = int(pop.stored[slot]), int(pop.live[slot])
        at = None if pop.live_since is None else time.gmtime(pop.live_since)
        text = f"Popular in {cat or 'the shop'}: {_count(stored + live)} in all"
        if live:
            text += f", {live} since {time.strftime('%Y-%m-%d %H:%M UTC', at)}" if at else f", {live} of them live"
        since = None if at is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", at)
        return Reason("candidates", "trending", text,
                      {"category": cat, "interactions": stored + live, "stored": stored, "live": live,
                       "window": "all time", "live_since": since})


def _count(n: int) -> str:
    return "1 interaction" if n == 1 else f"{n} interactions"
