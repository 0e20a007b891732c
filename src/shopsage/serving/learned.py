"""The learned ranking stage of a scenario: a click-trained LambdaMART reorders the fused candidates.

``ranking = { kind = "learned", model = "ranker-for_you" }`` in a scenario: the candidates are fused
by reciprocal rank as before (the pool, and the order the ranker's features read), then the live
version of the registry model ``model`` scores every fused candidate from
:class:`~shopsage.rank.features.StageFeatures` and the fused part of the pool is served in that
order (fallback items stay below it). Without a live version (never trained, or trained for other
generators) the scenario serves rank fusion, and the stage says so in ``stages["ranking"]``.

Scores go to the rules as ``exp(score - best)``: positive, in the ranker's order, so a boost
multiplies the same quantity for every item (``x1.5`` adds ``log 1.5`` to the ranker's score).

Each shown item gets the stage's reason: the features that raised its score most, from LightGBM's
``pred_contrib`` (additive contributions that sum to the score); the evidence holds the numbers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopsage.errors import ArtifactError
from shopsage.rank.features import FEATURES_VERSION, StageFeatures, StageInput
from shopsage.rank.model import StageRanker
from shopsage.registry import ModelRegistry
from shopsage.serving.config import GeneratorConfig, ScenarioConfig
from shopsage.serving.generators import CandidateList, Generators, Shopper
from shopsage.serving.reasons import Reason
from shopsage.serving.shoppers import history_profile

__all__ = ["StageRankers", "LearnedOrder", "generator_key", "stage_input", "learned_order", "FEATURE_TEXT"]

FEATURE_TEXT = {
    "lists": "several sources agreeing", "fused_score": "its combined rank across sources",
    "fused_rank": "its combined rank across sources", "log_stored_popularity": "its popularity",
    "log_live_popularity": "its popularity right now", "age_days": "how new it is",
    "category_share": "categories you like", "brand_share": "brands you like", "price_z": "your usual price range",
    "text_similarity": "its likeness to items you viewed", "log_history_length": "how much you have browsed",
}
"""What a feature means to a shopper; generator columns read "<generator>'s pick"."""


def generator_key(g: GeneratorConfig) -> str:
    """The key of a generator's columns, equal to its :class:`CandidateList` ``source`` (``model:sasrec``)."""
    return f"{g.kind}:{g.model}" if g.model else g.kind


def feature_text(name: str) -> str:
    if name in FEATURE_TEXT:
        return FEATURE_TEXT[name]
    _, _, gen = name.partition("/")  # score/model/sasrec, rank/similar_to_recent/itemknn
    kind, _, model = gen.partition("/")
    return f"the {model or kind} recommender's pick" if model else f"the {kind} list"


def stage_input(gens: Generators, shopper: Shopper, slots: np.ndarray, fused: np.ndarray,
                lists: list[CandidateList], history: str = "user+session") -> StageInput:
    """Everything :class:`StageFeatures` reads about the fused candidates ``slots`` (with their fused
    scores) for ``shopper``: the one place training and serving fill it."""
    catalog = gens.catalog
    slots = np.asarray(slots, dtype=np.int64)
    m = len(slots)
    pop = gens._trending()  # stored + live counts over slots (the trending generator's own source)
    cap = len(pop.stored)
    inside = slots < cap
    stored = np.zeros(m, np.float32)
    live = np.zeros(m, np.float32)
    stored[inside], live[inside] = pop.stored[slots[inside]], pop.live[slots[inside]]
    table, n_rows = catalog.rows, len(catalog.rows)  # catalog.row(s) without a call per candidate
    rows = [table[s] if 0 <= s < n_rows else None for s in slots.tolist()]
    now = time.time()
    age = np.array([(now - r.created_at) / 86400.0 if r is not None and r.created_at else np.nan for r in rows],
                   np.float32)
    hist = shopper.history(history)
    cat_share = np.full(m, np.nan, np.float32)
    brand_share = np.full(m, np.nan, np.float32)
    price_z = np.full(m, np.nan, np.float32)
    if hist:
        prof = history_profile(catalog, hist)
        if prof.top_categories:
            cats = dict(prof.top_categories)
            cat_share[:] = [cats.get(r.category_path[-1], 0.0) if r is not None and r.category_path else 0.0 for r in rows]
        if prof.top_brands:
            brands = dict(prof.top_brands)
            brand_share[:] = [brands.get(r.brand, 0.0) if r is not None and r.brand else 0.0 for r in rows]
        band = prof.price_band
        if band and band.get("median", 0) > 0 and band.get("p25", 0) > 0:
            spread = max(np.log(band["p75"]) - np.log(band["p25"]), 0.1)
            price_z[:] = [(np.log(r.price) - np.log(band["median"])) / spread if r is not None and r.price and r.price > 0
                          else np.nan for r in rows]
    return StageInput(slots, np.asarray(fused, np.float32), {cl.source: (cl.slots, cl.scores) for cl in lists},
                      stored, live, age, cat_share, brand_share, price_z, _text_similarity(gens, hist, slots), len(hist))


def _text_similarity(gens: Generators, hist: list[tuple[int, str]], slots: np.ndarray) -> np.ndarray:
    """Cosine of each candidate's text vector to the mean vector of the 5 latest history items (NaN without an encoder)."""
    engine = gens.catalog.engine
    vector = getattr(engine, "vector", None)
    if vector is None or not engine.has_encoder or not hist:
        return np.full(len(slots), np.nan, np.float32)
    vecs = vector.vectors
    recent = [s for s in dict.fromkeys(s for s, _ in reversed(hist)) if s < len(vecs)][:5]
    if not recent:
        return np.full(len(slots), np.nan, np.float32)
    q = vecs[recent].mean(axis=0)
    q = q / max(float(np.linalg.norm(q)), 1e-12)
    ok = slots < len(vecs)
    out = np.full(len(slots), np.nan, np.float32)
    out[ok] = vecs[slots[ok]] @ q
    return out


class StageRankers:
    """The live version of each scenario ranker in the registry, re-checked at most every ``check_s``."""

    def __init__(self, registry: ModelRegistry, check_s: float = 2.0) -> None:
        self.registry = registry
        self.check_s = check_s
        self._loaded: dict[str, tuple[float, StageRanker | None, str | None]] = {}  # name -> (checked at, ranker, error)
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple[StageRanker | None, str | None]:
        """``(ranker, None)``, or ``(None, why not)`` when no usable version is live."""
        now = time.monotonic()
        have = self._loaded.get(name)
        if have is not None and now - have[0] < self.check_s:
            return have[1], have[2]
        with self._lock:
            ranker, error = have[1] if have else None, have[2] if have else None
            try:
                cur = self.registry.current(name)
                if cur is None:
                    ranker, error = None, f"no live version of {name} (shopsage models train ranker --scenario ...)"
                elif ranker is None or ranker.version != cur.version:
                    ranker, error = StageRanker.load(cur.path), None
            except (ArtifactError, OSError, ValueError) as exc:
                ranker, error = None, f"{name} could not be loaded: {exc}"
            self._loaded[name] = (now, ranker, error)
            return ranker, error


@dataclass
class LearnedOrder:
    """The fused candidates reordered by the ranker."""

    order: np.ndarray  # (m,) indexes into the fused candidates, best first
    scores: np.ndarray  # (m,) exp(score - best), aligned with ``order``
    features: np.ndarray  # (m, F) rows in the fused order (for the reasons)
    raw: np.ndarray  # (m,) the ranker's scores, in the fused order
    ranker: StageRanker
    name: str
    explained: dict[int, list[tuple[str, float]]] = field(default_factory=dict)

    def prepare(self, fused_indexes: list[int]) -> None:
        """Explain the shown rows in one LightGBM call (before their reasons are built)."""
        todo = [i for i in dict.fromkeys(fused_indexes) if i not in self.explained]
        if todo:
            self.explained.update(zip(todo, self.ranker.explain(self.features[todo]), strict=True))

    def reason(self, fused_index: int) -> Reason:
        """The stage's reason for the candidate at ``fused_index`` of the fused order."""
        self.prepare([fused_index])
        top = self.explained[fused_index]
        score = float(self.raw[fused_index])
        if top:
            text = "Ranked for you mostly by " + ", ".join(dict.fromkeys(feature_text(n) for n, _ in top))
        else:
            text = "Ranked for you by a model learned from shoppers' clicks"
        return Reason("ranking", f"{self.name}:{self.ranker.version}", text,
                      {"model": self.name, "version": self.ranker.version, "score": round(score, 6),
                       "contributions": {n: round(c, 6) for n, c in top}})


def learned_order(sc: ScenarioConfig, rankers: StageRankers, gens: Generators, shopper: Shopper, slots: np.ndarray,
                  fused: np.ndarray, lists: list[CandidateList], stages: dict[str, Any]) -> LearnedOrder | None:
    """The ranker's order of the fused candidates, or None (rank fusion serves; ``stages`` says why)."""
    ranking = sc.ranking
    if isinstance(ranking, str) or ranking.kind != "learned" or ranking.model is None:
        return None
    ranker, error = rankers.get(ranking.model)
    keys = [generator_key(g) for g in sc.candidates]
    if ranker is not None and ranker.generators != keys:
        error = f"{ranking.model} was trained for generators {ranker.generators}, the scenario has {keys}"
        ranker = None
    elif ranker is not None and ranker.features_version != FEATURES_VERSION:
        error = (f"{ranking.model} {ranker.version} was trained on stage features v{ranker.features_version}, this "
                 f"service computes v{FEATURES_VERSION}: train it again")
        ranker = None
    if ranker is not None and ranker.served_models is not None:
        live = [n for n in dict.fromkeys(g.model for g in sc.candidates if g.model) if gens.models.get(n) is not None]
        if sorted(live) != sorted(ranker.served_models):
            error = (f"{ranking.model} {ranker.version} learned from lists of {', '.join(ranker.served_models) or 'no model'}; "
                     f"this service has {', '.join(live) or 'none'} of the scenario's models live: train it again")
            ranker = None
    if ranker is None:
        stages["ranking"] = {"method": "rank_fusion", "fallback_from": ranking.model, "why": error}
        return None
    history = sc.candidates[0].history if sc.candidates else "user+session"
    x = StageFeatures(keys).compute(stage_input(gens, shopper, slots, fused, lists, history))
    raw = ranker.predict(x).astype(np.float64) if len(x) else np.zeros(0)
    order = np.argsort(-raw, kind="stable")
    scores = np.exp(np.maximum(raw[order] - (raw[order[0]] if len(order) else 0.0), -80.0))
    stages["ranking"] = {"method": "learned", "model": ranking.model, "version": ranker.version, "scored": int(len(x))}
    return LearnedOrder(order, scores.astype(np.float32), x, raw, ranker, ranking.model)
