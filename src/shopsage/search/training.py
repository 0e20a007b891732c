"""Training the search ranker for serving: from a store's judgments to a registered version.

- :func:`fit_search_ranker`: hold out a seeded share of the judged queries (by a hash of the query
  text, never by row), train the LambdaMART ranker (``SearchEngine.fit_ranker``) on the rest, and
  score nDCG@10 and Recall@100 on the held-out queries *through the front door*
  (:func:`evaluate`: ``SearchEngine.query``, the path the service answers with).
- :func:`behaviour_popularity`: the ranker's popularity feature, counted from behaviour events in the
  store (views, clicks, carts, purchases, ratings: the count the service's popularity uses). Never
  from judgments: a judged set records what an old engine showed, so counting it predicts "was
  judged". A store without behaviour events (Home Depot's) gives no popularity: the feature is zero.
- :func:`train_ranker_version` (``shopsage models train ranker``): all of it on a store, registered as
  a version of the registry model ``ranker`` (not promoted). The service loads the live version at
  start and when one is promoted, and ``mode = "auto"`` then serves ``learned``.

A version directory is plain files: LightGBM's text model ``model.txt`` and ``manifest.json`` with the
ranker's config and feature names, ``metrics`` (held-out ``ndcg@10``, ``recall@100``), ``protocol``
("judgments"), ``n_eval_queries``, ``test_fingerprint`` (the held-out judgments: versions with the
same one can be compared by ``promote --if-better``) and whether its features hold the text encoder's
side (``dense``: such a ranker needs a service started with ``--semantic``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from shopsage.data.stores.base import TYPE_CODES, StoreReader
from shopsage.errors import ConfigError, ValidationError, describe_problems
from shopsage.registry import ModelRegistry, ModelVersion
from shopsage.search._eval import judgment_table, quality
from shopsage.search.bench_data import split_queries
from shopsage.search.engine import ModeChoice, SearchConfig, SearchEngine
from shopsage.search.front import SearchRequest
from shopsage.search.lexical import LexicalConfig
from shopsage.search.ranker import LearnedRanker, RankerConfig
from shopsage.text.analyzers import LANGUAGE_ANALYZERS, detect_language

__all__ = ["RankerFit", "RankerTrainConfig", "RANKER", "BEHAVIOUR_SKIP", "behaviour_popularity", "evaluate",
           "fit_search_ranker", "load_ranker", "register_ranker", "train_ranker_version"]

RANKER = "ranker"
"""Registry name of the search ranker."""
BEHAVIOUR_SKIP = ("impression", "search")
"""Event types that are not behaviour towards an item (they do not count as popularity)."""
_INDEX_CHUNK = 5000


class RankerTrainConfig(BaseModel):
    """``params`` of :func:`train_ranker_version`; the ranker's own hyperparameters (``epochs``,
    ``learning_rate``, ``num_leaves``, ``reg``...: :class:`RankerConfig`) may be given beside them."""

    model_config = ConfigDict(extra="forbid")

    holdout: float = Field(0.2, ge=0, lt=1)
    """Share of the judged queries held out (a seeded hash of the query text) to score the version;
    0 trains on every query and records no figures."""
    seed: int = 0
    """Seed of the held-out split and of the ranker."""
    semantic: bool = False
    """Embed the catalogue with the text encoder and train on its features too (cosine, vector rank:
    +0.09 nDCG@10 on Home Depot); such a ranker serves only a service started with ``--semantic``.
    ``False``: lexical features, a ranker every service can use."""
    encoder: str | None = None
    """The encoder's model directory with ``semantic`` (the service's live one); ``None``: the packaged
    all-MiniLM-L6-v2."""
    language: Literal["auto", "en", "zh", "multilingual"] = "auto"
    """The catalogue's language (the analyzer), as the search scenario's ``language``; ``auto`` detects it."""
    candidates: int = Field(150, ge=10)
    """Items each source adds to the pool the ranker ranks (``SearchConfig.candidates``)."""
    min_similarity: float | None = Field(0.45, ge=-1, le=1)
    """The front door's similarity floor while scoring the held-out queries (the service's
    ``semantic_min_similarity``)."""
    ranker: RankerConfig = Field(default_factory=RankerConfig)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RankerTrainConfig:
        """Split flat ``params`` into training keys and the ranker's hyperparameters; refuse unknown keys."""
        own = set(cls.model_fields) - {"ranker"}
        ranker_keys = set(RankerConfig.model_fields)
        unknown = sorted(set(params) - own - ranker_keys - {"ranker"})
        if unknown:
            raise ConfigError(f"unknown ranker training parameters {unknown}; use {sorted(own)} or the ranker's "
                              f"{sorted(ranker_keys)}.")
        ranker = {**dict(params.get("ranker") or {}), **{k: v for k, v in params.items() if k in ranker_keys}}
        if "seed" in params and "seed" not in ranker:
            ranker["seed"] = params["seed"]
        try:
            return cls.model_validate({**{k: v for k, v in params.items() if k in own}, "ranker": ranker})
        except PydanticValidationError as exc:
            raise ConfigError(f"ranker training parameters: {describe_problems(exc)}") from exc


@dataclass
class RankerFit:
    """A trained ranker and its held-out figures."""

    ranker: LearnedRanker
    metrics: dict[str, float]
    """``ndcg@10`` and ``recall@100`` on the held-out queries through the front door (empty without a holdout)."""
    train_queries: list[str]
    eval_queries: list[str]
    test_fingerprint: str | None
    """A hash of the held-out judgments (versions scored on the same ones are comparable)."""


def behaviour_popularity(store: StoreReader, engine: SearchEngine) -> np.ndarray | None:
    """``(capacity,)`` behaviour events per catalogue slot (every event type but impressions and
    searches, as the service counts popularity); ``None`` when the store has none."""
    inter = store.interactions()
    keep = inter.item >= 0
    for t in BEHAVIOUR_SKIP:
        keep &= inter.type != TYPE_CODES[t]
    items, counts = np.unique(inter.item[keep], return_counts=True)
    if not len(items):
        return None
    ext_of = {rid: ext for ext, rid in store.item_ids().items()}
    pop = np.zeros(engine.capacity, np.float32)
    for rid, c in zip(items.tolist(), counts.tolist(), strict=True):
        s = engine.slot(ext_of.get(rid, ""))
        if s is not None:
            pop[s] = c
    return pop


def evaluate(engine: SearchEngine, judgments: Sequence[tuple[str, str, float]], mode: ModeChoice | None = None,
             popularity: np.ndarray | None = None, qvecs: np.ndarray | None = None,
             queries: Sequence[str] | None = None) -> dict[str, float]:
    """nDCG@10 and Recall@100 of ``mode`` on ``queries`` (default: the judged ones, sorted), each answered
    by the front door (``SearchEngine.query``, 100 results); ``qvecs`` ``(B, D)`` holds their batched
    embeddings, row ``b`` for ``queries[b]``."""
    queries = sorted({q for q, _, _ in judgments}) if queries is None else list(queries)
    ids = np.full((len(queries), 100), -1, np.int64)
    for b, q in enumerate(queries):
        page = engine.query(SearchRequest(q, per_page=100, mode=mode, popularity=popularity,
                                          query_vector=None if qvecs is None else qvecs[b]))
        slots = [h.slot for h in page.hits]
        ids[b, :len(slots)] = slots
    return quality(ids, judgment_table(queries, judgments, engine.slot))


def _fingerprint(judgments: Sequence[tuple[str, str, float]]) -> str:
    h = hashlib.sha256()
    for q, ext, g in sorted(judgments):
        h.update(f"{q}\t{ext}\t{g:.6g}\n".encode())
    return h.hexdigest()[:16]


def fit_search_ranker(engine: SearchEngine, judgments: Sequence[tuple[str, str, float]],
                      popularity: np.ndarray | None = None, holdout: float = 0.2, seed: int = 0,
                      say: Callable[[str], None] = lambda _m: None) -> RankerFit:
    """Train ``engine``'s ranker on the judgments of all but a seeded ``holdout`` share of the queries and
    score it on those through the front door (learned mode). ``popularity``: :func:`behaviour_popularity`."""
    queries = sorted({q for q, _, _ in judgments})
    train_q, eval_q = split_queries(queries, holdout, seed) if holdout > 0 else (queries, [])
    if holdout > 0 and (len(eval_q) < 1 or len(train_q) < 2):
        raise ValidationError(f"{len(queries)} judged queries are too few to hold out {holdout:.0%} of them: "
                              "judge more queries, or train with holdout 0 (no figures).")
    held = set(eval_q)
    train_j = [j for j in judgments if j[0] not in held]
    eval_j = [j for j in judgments if j[0] in held]
    say(f"ranker: {len(train_q):,} training queries, {len(eval_q):,} held out"
        + (", popularity from behaviour events" if popularity is not None else ", no behaviour events: no popularity"))
    ranker = engine.fit_ranker(train_j, popularity=popularity)
    metrics: dict[str, float] = {}
    if eval_j:
        scored = evaluate(engine, eval_j, "learned", popularity)
        metrics = {"ndcg@10": scored["ndcg@10"], "recall@100": scored["recall@100"]}
        say(f"held-out queries: nDCG@10 {metrics['ndcg@10']:.4f}, Recall@100 {metrics['recall@100']:.4f}")
    return RankerFit(ranker, metrics, train_q, eval_q, _fingerprint(eval_j) if eval_j else None)


def load_ranker(directory: str | Path) -> LearnedRanker:
    """The ranker of a registry version directory (or any ``LearnedRanker.save`` directory)."""
    return LearnedRanker.load(directory)


def register_ranker(registry: ModelRegistry, fit: RankerFit, **extra: Any) -> ModelVersion:
    """Save ``fit``'s ranker as a new version of ``ranker`` (plain files: ``model.txt`` + manifest with its
    held-out figures and ``extra``); not promoted."""
    path = registry.new_version_dir(RANKER)
    fit.ranker.save(path)
    manifest: dict[str, Any] = {
        "feature_names": fit.ranker.feature_names, "dense": fit.ranker.dense, "encoder_id": fit.ranker.encoder_id,
        "metrics": fit.metrics, "protocol": "judgments" if fit.metrics else None, "holdout": bool(fit.eval_queries),
        "n_eval_queries": len(fit.eval_queries), "n_train_queries": len(fit.train_queries),
        "test_fingerprint": fit.test_fingerprint, "fit": fit.ranker.metrics, **extra,
    }
    return registry.register(RANKER, path, LearnedRanker.KIND, json.loads(fit.ranker.config.model_dump_json()), **manifest)


def _engine(store: StoreReader, registry: ModelRegistry, cfg: RankerTrainConfig,
            say: Callable[[str], None]) -> tuple[SearchEngine, str]:
    """The store's catalogue indexed as the service indexes it (language, encoder)."""
    rows = [r for _, r in store.items()]
    language = cfg.language
    if language == "auto":
        language = detect_language(" ".join(p for p in (r.title, r.description) if p) for r in rows[:2000])
    encoder = None
    if cfg.semantic:
        from shopsage.text import EncoderConfig, TextEncoder

        cache = str(Path(registry.root).parent / "cache" / "embeddings")
        encoder = TextEncoder(EncoderConfig(model=cfg.encoder, cache_dir=cache, progress=False))
    search = SearchConfig(candidates=cfg.candidates, lexical=LexicalConfig(analyzer=LANGUAGE_ANALYZERS[language]),  # type: ignore[arg-type]
                          ranker=cfg.ranker, min_similarity=cfg.min_similarity)
    engine = SearchEngine(search, encoder)
    for i in range(0, len(rows), _INDEX_CHUNK):
        engine.index(rows[i:i + _INDEX_CHUNK])
        say(f"indexing items ({language}{', vectors' if encoder else ''}): {min(i + _INDEX_CHUNK, len(rows)):,} / {len(rows):,}")
    engine.compact()
    return engine, language


def train_ranker_version(store: StoreReader, registry: ModelRegistry, params: dict[str, Any],
                         say: Callable[[str], None]) -> ModelVersion:
    """Train the search ranker on ``store``'s judgments (``params``: :class:`RankerTrainConfig` keys and
    the ranker's hyperparameters), score it on held-out queries through the front door and register it
    as a version of ``ranker`` (not promoted: ``shopsage models promote ranker VERSION``)."""
    cfg = RankerTrainConfig.from_params(params)
    judgments = store.judgments()
    if not judgments:
        raise ValidationError("the store holds no judgments (query, item, grade) to train the search ranker on: "
                              "import some first (shopsage import --format homedepot, or a table of judgments).")
    engine, language = _engine(store, registry, cfg, say)
    popularity = behaviour_popularity(store, engine)
    fit = fit_search_ranker(engine, judgments, popularity, cfg.holdout, cfg.seed, say)
    version = register_ranker(
        registry, fit, data_fingerprint=_fingerprint(judgments), language=language,
        popularity="behaviour events" if popularity is not None else "none (no behaviour events in the store)",
        training=json.loads(cfg.model_dump_json()))
    say(f"ranker {version.version}: " + (", ".join(f"{k} {v:.4f}" for k, v in fit.metrics.items()) or "no held-out figures"))
    return version
