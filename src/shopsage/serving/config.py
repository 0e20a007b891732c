"""The scenario pipelines, typed: candidate generators -> ranking -> rules -> diversity -> fallbacks.

``config/pipelines.toml`` documents every key and equals :data:`DEFAULT_PIPELINES` (a test checks
it). A generator whose model is not in the registry is skipped (the models that exist are used).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from shopsage.config import read_toml
from shopsage.errors import ConfigError, describe_problems
from shopsage.policy import Rule
from shopsage.search import ModeChoice

__all__ = ["GeneratorConfig", "DiversityConfig", "ExploreConfig", "RankingConfig", "ScenarioConfig", "PipelinesConfig", "SCENARIOS",
           "DEFAULT_PIPELINES", "load_pipelines"]

SCENARIOS = ("for_you", "similar_items", "frequently_bought_together", "next_in_session", "trending", "also_viewed")

GeneratorKind = Literal["similar_to_recent", "model", "similar_to_item", "content", "semantic", "trending"]
Exclusion = Literal["out_of_stock", "hidden", "purchased", "seen", "source_item"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeneratorConfig(_Strict):
    """One candidate generator."""

    kind: GeneratorKind
    """``similar_to_recent``: neighbours (``model.similar_items``) of the shopper's latest items;
    ``model``: ``model.recommend(history)``; ``similar_to_item``: neighbours of the page's item;
    ``content``: items whose text matches the page's item (BM25 over the title); ``semantic``: items
    nearest in meaning to the page's item, or else to the shopper's latest ``recent`` items, by the live
    text encoder (skipped when the service runs without one; it needs no interactions, so new items get
    neighbours at once); ``trending``: stored popularity plus live events."""
    model: str | None = None
    """Registry name of the model (``itemknn``, ``ease``, ``sknn``, ``fbt``, ``sasrec``...); none for content/trending."""
    history: Literal["user+session", "session", "user"] = "user+session"
    """Which interactions form the shopper's history."""
    recent: int = Field(5, ge=1, le=50)
    """``similar_to_recent``: how many of the latest distinct items to expand."""
    n: int = Field(100, ge=1, le=1000)
    """Candidates this generator contributes."""
    weight: float = Field(1.0, gt=0)
    """Weight of its rank in the fusion of the ranking stage."""
    trend: Literal["forecast", "counts"] = "forecast"
    """``trending`` only: ``forecast`` ranks by the trend model's expected interactions in the hour under way
    (:mod:`shopsage.forecast.live`; NDCG@20 +13.8% over the counts on yoochoose, docs/benchmarks.md), with
    reasons stating the last 6 hours against the 6 before; it needs two days of timestamped events, and ranks
    by ``counts`` until then. ``counts``: stored interactions of all time plus the live window."""


class DiversityConfig(_Strict):
    method: Literal["none", "category_cap", "mmr"] = "category_cap"
    max_per_category: int = Field(3, ge=1)
    """``category_cap``: items per leaf category (others fill the list only when it is short)."""
    mmr_lambda: float = Field(0.7, ge=0, le=1)
    """``mmr``: relevance weight; similarity is 1 for the same leaf category, 0.5 for the same brand."""


class RankingConfig(_Strict):
    """The ranking stage: rank fusion, or a learned ranker over the fused candidates."""

    kind: Literal["rank_fusion", "learned"] = "rank_fusion"
    """``learned``: a LambdaMART ranker trained from clicks (``shopsage models train ranker --scenario NAME``)."""
    model: str | None = None
    """``learned``: its registry name (``ranker-<scenario>``)."""


_DEFAULT_EXCLUDE: tuple[Exclusion, ...] = ("out_of_stock", "hidden", "purchased")


class ExploreConfig(_Strict):
    """The explore stage (:mod:`shopsage.serving.explore`): a contextual bandit fills ``slots`` with items
    from ``source`` and records the probability of each (the other positions: 1.0)."""

    policy: Literal["linucb", "lints"] = "linucb"
    """``linucb``: upper confidence bound; ``lints``: linear Thompson sampling (:mod:`shopsage.policy.bandits`)."""
    slots: list[int] = Field(default_factory=lambda: [3, 7], min_length=1, max_length=10)
    """1-based positions the bandit fills (a position a pin rule holds stays the pin's)."""
    source: Literal["new_items"] | GeneratorConfig = "new_items"
    """``new_items``: allowed items without any interaction yet, newest first; or a candidate generator
    table (a second candidate source, e.g. ``{ kind = "semantic", n = 100 }``)."""
    n: int = Field(default=100, ge=1, le=1000)
    """Candidates the bandit chooses from (the first ``n`` of the source not already in the list)."""
    alpha: float = Field(default=1.0, ge=0)
    """linucb: width of the confidence bonus; lints: scale of the posterior covariance."""
    epsilon: float = Field(default=0.05, ge=0, le=1)
    """Share of answers whose explored items are uniformly random (every candidate keeps a known chance)."""
    reg: float = Field(default=1.0, gt=0)
    """L2 regularisation of the bandit's ridge regression."""
    n_samples: int = Field(default=100, ge=1, le=10_000)
    """lints: posterior draws per answer (the recorded probabilities are exact given them)."""
    seed: int | None = None
    """Seed of the stage's random choices (None: fresh in every process)."""

    @model_validator(mode="after")
    def _positions(self) -> ExploreConfig:
        if any(p < 1 for p in self.slots) or len(set(self.slots)) != len(self.slots):
            raise ValueError(f"explore.slots {self.slots} must be distinct 1-based positions (1 is the top)")
        return self


class ScenarioConfig(_Strict):
    candidates: list[GeneratorConfig]
    fallbacks: list[GeneratorConfig] = Field(default_factory=list)
    """Used in order when the candidates stage leaves fewer than ``n`` items."""
    ranking: Literal["rank_fusion"] | RankingConfig = "rank_fusion"
    """``rank_fusion``: weighted reciprocal-rank fusion of the generators' lists (``rrf_k`` below);
    ``{ kind = "learned", model = "ranker-for_you" }``: the fused candidates reordered by that registry
    model (:mod:`shopsage.serving.learned`; rank fusion while no version of it is live)."""
    rrf_k: float = Field(10.0, gt=0)
    exclude: list[Exclusion] = Field(default_factory=lambda: list(_DEFAULT_EXCLUDE))
    diversity: DiversityConfig = Field(default_factory=lambda: DiversityConfig.model_validate({}))
    personalize_boost: float = Field(0.0, ge=0, le=1)
    """Search only: score multiplier ``1 + boost * share`` for the shopper's top categories and brands."""
    semantic_min_similarity: float = Field(0.45, ge=-1, le=1)
    """Search only: an item that matches no query word is shown only when at least this close to the
    query (cosine): the semantic fallback (a query none of whose words matches) and the vector side of
    the vector, hybrid and learned modes. 0.45: on Home Depot 95% of real queries have a product closer
    than 0.478, 95% of made-up word pairs none closer than 0.466 (docs/benchmarks.md)."""
    mode: ModeChoice = "auto"
    """Search only: ``auto`` serves the best mode the service can: ``learned`` while a search ranker is
    live in the registry (``shopsage models train ranker``, then ``promote``), else ``lexical`` (hybrid
    fusion measured below BM25F alone on Home Depot); or name one (a request may too)."""
    language: Literal["auto", "en", "zh", "multilingual"] = "auto"
    """Search only: the catalogue's language, which picks the analyzer (``en``: English stemming,
    ``zh``: jieba segmentation, ``multilingual``: per text); ``auto`` detects it from the catalogue's
    text when the service starts."""
    explore: ExploreConfig | None = None
    """Recommendations only: positions filled by a contextual bandit, e.g. ``{ policy = "linucb", slots =
    [3, 7], source = "new_items", alpha = 1.0 }`` (None: no exploration)."""


def _g(kind: str, **kw: object) -> dict[str, object]:
    return {"kind": kind, **kw}


DEFAULT_PIPELINES: dict[str, object] = {
    "scenarios": {
        "for_you": {
            "candidates": [_g("similar_to_recent", model="itemknn", recent=5, n=100),
                           _g("model", model="ease", n=100),
                           _g("model", model="sasrec", n=100, weight=1.5)],
            "ranking": {"kind": "learned", "model": "ranker-for_you"},
            "fallbacks": [_g("semantic", recent=5, n=100), _g("trending", n=100)],
            "exclude": ["out_of_stock", "hidden", "purchased", "seen"],
            "diversity": {"method": "none"},
        },
        "similar_items": {
            "candidates": [_g("similar_to_item", model="itemknn", n=100), _g("content", n=50, weight=0.5),
                           _g("semantic", n=50, weight=0.5)],
            "fallbacks": [_g("content", n=100), _g("trending", n=100)],
            "exclude": ["out_of_stock", "hidden", "source_item"],
        },
        "frequently_bought_together": {
            "candidates": [_g("similar_to_item", model="fbt", n=100)],
            "fallbacks": [_g("similar_to_item", model="itemknn", n=100), _g("content", n=100)],
            "exclude": ["out_of_stock", "hidden", "source_item"],
            "diversity": {"method": "none"},
        },
        "next_in_session": {
            "candidates": [_g("model", model="blend-session", history="session", n=100)],
            "fallbacks": [_g("model", model="sknn", history="session", n=100),
                          _g("model", model="gru4rec", history="session", n=100),
                          _g("similar_to_recent", model="itemknn", history="session", recent=3, n=100),
                          _g("semantic", history="session", recent=3, n=100), _g("trending", n=100)],
            "exclude": ["out_of_stock", "hidden"],
            "diversity": {"method": "none"},
        },
        "trending": {
            "candidates": [_g("trending", n=200)],
            "exclude": ["out_of_stock", "hidden"],
        },
        "also_viewed": {
            "candidates": [_g("similar_to_item", model="itemknn", n=100)],
            "fallbacks": [_g("content", n=100), _g("trending", n=100)],
            "exclude": ["out_of_stock", "hidden", "source_item"],
        },
        "search": {
            "candidates": [],
            "exclude": ["hidden"],
            "diversity": {"method": "none"},
            "personalize_boost": 0.3,
            "mode": "auto",
            "language": "auto",
        },
    },
    "rules": [],
}


class PipelinesConfig(_Strict):
    scenarios: dict[str, ScenarioConfig]
    rules: list[Rule] = Field(default_factory=list)
    """Merchant rules (pin, boost, bury) applied after ranking, before diversity."""

    def scenario(self, name: str) -> ScenarioConfig:
        return self.scenarios[name]

    def digest(self) -> str:
        """A hash of the configuration (caches keyed by it are invalidated when it changes)."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:12]


def load_pipelines(path: Path | None = None) -> PipelinesConfig:
    """The pipelines in ``path`` (TOML), or the defaults; every scenario of the API must be present."""
    data: object = DEFAULT_PIPELINES if path is None else read_toml(path, "the pipeline configuration")
    try:
        cfg = PipelinesConfig.model_validate(data)
    except PydanticValidationError as exc:
        problems = describe_problems(exc)
        raise ConfigError(f"{path or 'default pipelines'}: {problems}. See config/pipelines.toml for every key.") from exc
    missing = [s for s in (*SCENARIOS, "search") if s not in cfg.scenarios]
    if missing:
        raise ConfigError(f"{path}: scenarios {missing} are missing; every one of {list(SCENARIOS)} and 'search' "
                          "needs a [scenarios.NAME] table (copy them from config/pipelines.toml).")
    return cfg
