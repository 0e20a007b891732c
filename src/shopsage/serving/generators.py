"""Candidate generators: each turns a shopper (or a page's item) into a scored list with reasons.

Every candidate carries the true evidence of why it is there: the history item whose neighbour it
is (``similar_to_recent``, and ``model`` for models with ``explain``), the page's item
(``similar_to_item``, ``content`` with the shared terms), or its interaction counts and category
(``trending``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.config import GeneratorConfig
from shopsage.serving.models import LoadedModel, ModelSet
from shopsage.serving.reasons import Reason
from shopsage.search import embedding_text

__all__ = ["Shopper", "CandidateList", "Generators"]

_VERB = {"purchase": "bought", "add_to_cart": "added to your cart", "rating": "rated"}
_SIMILAR_TEXT = {
    "also_viewed": "Shoppers who viewed {t} also viewed this",
    "frequently_bought_together": "Often bought together with {t}",
}


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

    def history(self, which: str) -> list[tuple[int, str]]:
        if which == "session":
            return self.session_history
        if which == "user":
            return self.user_history
        return self.combined if self.combined is not None else self.user_history + self.session_history


@dataclass
class CandidateList:
    """A generator's ranked slots; ``reason(i)`` explains the item at position ``i`` (built only for
    the items a response shows)."""

    source: str
    slots: np.ndarray  # (m,) int64, best first
    scores: np.ndarray  # (m,) float32
    reason: Callable[[int], Reason]

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

    def __init__(self, catalog: ServingCatalog, models: ModelSet, trending: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        self.catalog = catalog
        self.models = models
        self._trending = trending  # () -> (scores over slots, stored counts, live counts)

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

    def _viewed(self, slot: int, typ: str, stage: str, source: str, **evidence: object) -> Reason:
        verb = _VERB.get(typ, "viewed")
        ext = self.catalog.ext(slot)
        return Reason(stage, source, f"Because you {verb} {self._title(slot)}", {"item": ext, "interaction": typ, **evidence})

    def similar_to_recent(self, g: GeneratorConfig, m: LoadedModel, shopper: Shopper, allowed: np.ndarray) -> CandidateList | None:
        recent: list[tuple[int, str]] = []
        seen: set[int] = set()
        for slot, typ in reversed(shopper.history(g.history)):
            if slot in seen:
                continue
            seen.add(slot)
            if len(m.model_ids([slot])):
                recent.append((slot, typ))
            if len(recent) >= g.recent:
                break
        if not recent:
            return None
        ids = m.model_ids([s for s, _ in recent])
        res = m.model.similar_items(ids, g.n)  # (R, n), row r = neighbours of the r-th newest item
        rows = np.broadcast_to(np.arange(len(res))[:, None], res.ids.shape)
        slots = np.where(res.ids >= 0, m.to_slot[np.maximum(res.ids, 0)], -1)
        ok = (slots >= 0) & (slots < len(allowed))
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
            return self._viewed(src_slot, typ, "candidates", f"{m.name}:{m.version}", similarity=round(float(best_sim[j]), 6))

        return CandidateList(f"similar_to_recent:{m.name}", uniq[top].astype(np.int64), total[top].astype(np.float32), reason)

    def model(self, g: GeneratorConfig, m: LoadedModel, shopper: Shopper, allowed: np.ndarray) -> CandidateList | None:
        hist = shopper.history(g.history)
        ids = m.model_ids([s for s, _ in hist])
        if len(ids) == 0:
            return None
        res = m.model.recommend([ids.astype(np.int32)], g.n)
        cand, scores = res.row(0)
        slots, scores = _keep(m.slots_of(cand), scores, allowed)
        src = f"{m.name}:{m.version}"
        typ_of = dict(hist)
        explained: dict[int, tuple[int, float]] = {}

        def reason(i: int) -> Reason:
            if m.explains:
                if i not in explained:  # explain the top of the list in one call: it is what a response shows
                    pos = [j for j in range(min(len(slots), max(i + 1, 32))) if j not in explained] or [i]
                    for j, hw in zip(pos, m.model.explain(ids, m.model_ids(slots[pos].tolist())), strict=True):  # type: ignore[attr-defined]
                        explained[j] = hw
                h, w = explained[i]
                h_slot = int(m.slots_of(np.array([h]))[0]) if h >= 0 else -1
                if h_slot >= 0:
                    return self._viewed(h_slot, typ_of.get(h_slot, "view"), "candidates", src, contribution=round(w, 6))
            return self._model_reason(m, g, len(ids))

        return CandidateList(f"model:{m.name}", slots, scores, reason)

    def _model_reason(self, m: LoadedModel, g: GeneratorConfig, n_hist: int) -> Reason:
        where = "this session" if g.history == "session" else "your history"
        return Reason("candidates", f"{m.name}:{m.version}", f"Picked for you from the {n_hist} items of {where}",
                      {"model": m.name, "version": m.version, "history_items": n_hist, "history": g.history})

    # ------------------------------------------------------------------ item-based
    def similar_to_item(self, g: GeneratorConfig, m: LoadedModel, shopper: Shopper, allowed: np.ndarray,
                        scenario: str) -> CandidateList | None:
        if shopper.item is None:
            return None
        ids = m.model_ids([shopper.item])
        if len(ids) == 0:
            return None  # the model does not know the item (new item): the fallbacks take over
        cand, sims = m.model.similar_items(ids, g.n).row(0)
        slots, sims = _keep(m.slots_of(cand), sims, allowed)
        src = self.catalog.ext(shopper.item)
        text = _SIMILAR_TEXT.get(scenario, "Similar to {t}").format(t=self._title(shopper.item))

        def reason(i: int) -> Reason:
            return Reason("candidates", f"{m.name}:{m.version}", text,
                          {"item": src, "similarity": round(float(sims[i]), 6)})

        return CandidateList(f"similar_to_item:{m.name}", slots, sims, reason)

    def semantic(self, g: GeneratorConfig, shopper: Shopper, allowed: np.ndarray) -> CandidateList | None:
        dense = self.catalog.engine.semantic()
        if dense is None:
            return None
        if shopper.item is not None:
            sources = [shopper.item]
        else:
            sources = list(dict.fromkeys(s for s, _ in reversed(shopper.history(g.history))))[:g.recent]
        rows = [(s, self.catalog.row(s)) for s in sources]
        texts = [(s, embedding_text(r)) for s, r in rows if r is not None]
        if not texts:
            return None
        query_encoder, vector = dense
        vecs = query_encoder.encode([t for _, t in texts], progress=False)  # cached by text: a page's item costs once
        profile = vecs.mean(axis=0)
        profile /= max(float(np.linalg.norm(profile)), 1e-12)
        mask = allowed.copy()
        mask[[s for s, _ in texts]] = False
        cand, scores = vector.search(profile, g.n, mask).row(0)
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
        cand, scores = self.catalog.engine.lexical.search([text], g.n, mask).row(0)
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
        scores, stored, live = self._trending()
        s = np.where(allowed[: len(scores)], scores, -np.inf)
        k = min(g.n, int(np.isfinite(s).sum()), len(s))
        if k == 0:
            return CandidateList.empty("trending")
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.argsort(-s[top], kind="stable")]
        top = top[s[top] > 0]

        def reason(i: int) -> Reason:
            c = int(top[i])
            cat = self.catalog.category(c)
            n = int(stored[c] + live[c])
            text = f"Popular in {cat}" if cat else "Popular right now"
            return Reason("candidates", "trending", f"{text} ({n} interactions)",
                          {"category": cat, "interactions": n, "stored": int(stored[c]), "live": int(live[c])})

        return CandidateList("trending", top.astype(np.int64), s[top].astype(np.float32), reason)
