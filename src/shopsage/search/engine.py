"""The search engine: one catalogue, a lexical and a vector index, fusion and a learned ranker.

Modes (``SearchConfig.mode`` or per call):

- ``lexical``: BM25F with typo tolerance.
- ``vector``: cosine between the query and item embeddings (the encoder reads the spelling-corrected
  query, ``SearchConfig.dense_spelling``).
- ``hybrid``: the top ``candidates`` of both, fused by reciprocal rank or weighted scores.
- ``learned``: the same candidate pool re-ranked by the LambdaMART model.

``search`` returns :class:`ScoredItems` over catalogue slots (batch-first, one row per query);
``query`` answers one shopper query with external ids, facets, a "did you mean", the predicted
categories and which fallback, if any, produced the results.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.artifacts import read_manifest, write_manifest
from shopsage.data.rows import ItemRow
from shopsage.errors import ArtifactError, NotFittedError, ValidationError
from shopsage.search.catalog import Catalog, SearchFilter, item_fields
from shopsage.search.features import Candidates, FeatureExtractor
from shopsage.search.fusion import reciprocal_rank_fusion, weighted_fusion
from shopsage.search.lexical import LexicalConfig, LexicalIndex, QueryTerms, _top
from shopsage.search.query import Autocomplete, CategoryPredictor, SpellCorrector
from shopsage.search.ranker import LearnedRanker, RankerConfig
from shopsage.search.vector import VectorConfig, VectorIndex
from shopsage.text.encoder import TextEncoder
from shopsage.types import ScoredItems

__all__ = ["SearchConfig", "SearchEngine", "SearchResponse", "Mode", "embedding_text"]

Mode = Literal["lexical", "vector", "hybrid", "learned"]


class SearchConfig(BaseModel):
    """Settings of a :class:`SearchEngine`."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode = "hybrid"
    """Default mode of ``search`` and ``query``."""
    lexical: LexicalConfig = Field(default_factory=LexicalConfig)
    vector: VectorConfig = Field(default_factory=VectorConfig)
    ranker: RankerConfig = Field(default_factory=RankerConfig)
    candidates: int = Field(150, ge=10)
    """Items each source contributes to the pool that hybrid fusion and the learned ranker rank."""
    fusion: Literal["rrf", "weighted"] = "rrf"
    """How ``hybrid`` fuses lexical and vector lists."""
    rrf_k: float = Field(60.0, gt=0)
    """Rank offset of reciprocal rank fusion."""
    lexical_weight: float = Field(0.5, ge=0, le=1)
    """Weight of the lexical list in fusion (the vector list gets ``1 - lexical_weight``)."""
    dense_spelling: bool = True
    """The query encoder reads the spelling-corrected query (words neither the catalogue nor past
    queries know, rewritten by the engine's :class:`SpellCorrector`); the lexical side keeps its own
    typo tolerance. A subword encoder splits a misspelt word into unrelated pieces, so a typo costs
    the vector side more than the lexical one."""


def embedding_text(row: ItemRow) -> str:
    """What the encoder reads of an item: title, then brand and category path when present."""
    parts = [row.title or ""]
    if row.brand:
        parts.append(row.brand)
    if row.category_path:
        parts.append(" > ".join(row.category_path))
    return " | ".join(p for p in parts if p)


@dataclass
class SearchResponse:
    """One query's answer at the edge: external ids and everything a storefront shows."""

    items: list[str]
    scores: list[float]
    mode: str
    corrected: str | None = None
    categories: list[tuple[str, float]] = field(default_factory=list)
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    fallback: str | None = None


class SearchEngine:
    """Index items, search them four ways, learn a ranker from judgments."""

    def __init__(self, config: SearchConfig | None = None, encoder: TextEncoder | None = None,
                 query_encoder: TextEncoder | None = None) -> None:
        """``encoder`` embeds items (offline, float32 by default); ``query_encoder`` embeds queries
        (latency-bound: an int8 encoder of the same model is faster), ``encoder`` when left out."""
        self.config = config or SearchConfig()
        self.catalog = Catalog()
        self.lexical = LexicalIndex(self.config.lexical)
        # (item encoder, query encoder, vector index): one tuple, replaced whole by use_encoders(), so a
        # reader never pairs one encoder's query vector with another encoder's item vectors
        self._dense: tuple[TextEncoder | None, TextEncoder | None, VectorIndex | None] = (None, None, None)
        if encoder is not None:
            self.use_encoders(encoder, query_encoder, VectorIndex(encoder.dim, self.config.vector))
        self.ranker: LearnedRanker | None = None
        self.features = FeatureExtractor(self.lexical, self.catalog)
        self.categories = CategoryPredictor(self.lexical.analyzer)
        self.autocomplete = Autocomplete()
        self.speller = SpellCorrector(self.lexical.surface)
        self._categories_stale = False

    @property
    def encoder(self) -> TextEncoder | None:
        return self._dense[0]

    @property
    def query_encoder(self) -> TextEncoder | None:
        return self._dense[1]

    @property
    def vector(self) -> VectorIndex | None:
        return self._dense[2]

    @vector.setter
    def vector(self, index: VectorIndex | None) -> None:
        self._dense = (self._dense[0], self._dense[1], index)

    def semantic(self) -> tuple[TextEncoder, VectorIndex] | None:
        """(query encoder, item vector index) read together (one read: a consistent pair while
        use_encoders() swaps), or None without an encoder."""
        _, query_encoder, vector = self._dense
        return None if query_encoder is None or vector is None else (query_encoder, vector)

    def dense_text(self, query: str) -> str:
        """What the query encoder reads of ``query`` (see ``SearchConfig.dense_spelling``)."""
        if not self.config.dense_spelling:
            return query
        self.lexical.refresh()  # the corrector's vocabulary is the lexical index's surface words
        return self.speller.correct(query)

    def query_vectors(self, queries: Sequence[str]) -> np.ndarray:
        """``(B, D)`` query embeddings as ``search`` computes them, for callers that batch them up front."""
        encoder, _ = self._need_vectors()
        return encoder.encode([self.dense_text(q) for q in queries], progress=False)

    def use_encoders(self, encoder: TextEncoder, query_encoder: TextEncoder | None, vector: VectorIndex) -> None:
        """Serve with these encoders and this index of the catalogue's item vectors, all at once (a
        promoted encoder goes live this way; ``vector`` must hold every live slot, made by ``encoder``)."""
        query_encoder = query_encoder or encoder
        if query_encoder.dim != encoder.dim or vector.dim != encoder.dim:
            raise ValidationError(f"the query encoder makes {query_encoder.dim}-d vectors, the item encoder "
                                  f"{encoder.dim}-d and the index holds {vector.dim}-d: use encoders of one model.")
        self._dense = (encoder, query_encoder, vector)

    # ------------------------------------------------------------------ indexing
    def index(self, rows: Sequence[ItemRow], vectors: np.ndarray | None = None) -> np.ndarray:
        """Add or update items; returns their slots. ``vectors`` skips encoding (precomputed embeddings)."""
        slots = self.catalog.upsert(rows)
        self.lexical.add(slots, [item_fields(r) for r in rows])
        if self.vector is not None:
            if vectors is None:
                assert self.encoder is not None
                vectors = self.encoder.encode([embedding_text(r) for r in rows])
            self.vector.add(slots, vectors)
        self.autocomplete.add_catalogue(r.title or "" for r in rows)
        self._categories_stale = True
        return slots

    def delete(self, ext_ids: Sequence[str]) -> None:
        slots = self.catalog.delete(ext_ids)
        self.lexical.delete(slots)
        if self.vector is not None:
            self.vector.delete(slots)
        self._categories_stale = True

    def _refit_categories(self) -> None:
        """Refit the category predictor when the catalogue changed (lazily: updates stay cheap)."""
        if not self._categories_stale:
            return
        self._categories_stale = False
        live = np.flatnonzero(self.catalog.live)
        leaves = [self.catalog.categories[s][-1] if self.catalog.categories[s] else None for s in live]
        if any(leaves):
            self.categories.fit([self.catalog.titles[s] for s in live], leaves)

    def add_past_queries(self, queries: Sequence[str]) -> None:
        """Past shopper queries feed autocomplete and spelling correction."""
        self.autocomplete.add_queries(queries)
        self.speller.add_queries(queries)

    # ------------------------------------------------------------------ candidates
    def _need_vectors(self) -> tuple[TextEncoder, VectorIndex]:
        dense = self.semantic()
        if dense is None:
            raise NotFittedError("this engine has no text encoder: build it with SearchEngine(config, encoder=TextEncoder()) "
                                 "to use the vector, hybrid and learned modes.")
        return dense

    def _lexical_top(self, qterms: QueryTerms, n: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        docs, scores = self.lexical.score_terms(qterms)
        if mask is not None and len(docs):
            keep = mask[docs]
            docs, scores = docs[keep], scores[keep]
        return _top(docs, scores, n)

    def candidates(self, query: str, mask: np.ndarray | None = None,
                   qvec: np.ndarray | None = None) -> tuple[QueryTerms, Candidates, tuple[np.ndarray, np.ndarray], ScoredItems]:
        """The pooled lexical + vector candidates of one query, and both source lists."""
        encoder, vector = self._need_vectors()
        k = self.config.candidates
        qterms = self.lexical.query_terms(query)
        lex_ids, lex_scores = self._lexical_top(qterms, k, mask)
        if qvec is None:
            qvec = encoder.encode_query(self.dense_text(query))
        vec = vector.search(qvec[None, :], k, mask)
        vec_ids, _ = vec.row(0)
        ids = np.union1d(lex_ids, vec_ids).astype(np.int64)
        miss = np.float32(k + 1)
        lex_rank = np.full(len(ids), miss, np.float32)
        lex_rank[np.searchsorted(ids, lex_ids)] = np.arange(1, len(lex_ids) + 1)
        vec_rank = np.full(len(ids), miss, np.float32)
        vec_rank[np.searchsorted(ids, vec_ids)] = np.arange(1, len(vec_ids) + 1)
        cosine = vector.vectors[ids] @ qvec
        return qterms, Candidates(ids, lex_rank, vec_rank, cosine.astype(np.float32)), (lex_ids, lex_scores), vec

    # ------------------------------------------------------------------ searching
    def search(self, queries: Sequence[str], n: int = 10, mode: Mode | None = None,
               flt: SearchFilter | None = None, qvecs: np.ndarray | None = None) -> ScoredItems:
        """Top ``n`` slots per query. ``qvecs`` (B, D) reuses query embeddings computed elsewhere."""
        if n < 1:
            raise ValidationError(f"n of {n} is not a result count: ask for n >= 1.")
        mode = mode or self.config.mode
        mask = self.catalog.mask(flt)
        if mode == "lexical":
            return self.lexical.search(queries, n, self.catalog.live if mask is None else mask)
        encoder, vector = self._need_vectors()
        if mode == "vector":
            q = qvecs if qvecs is not None else np.stack([encoder.encode_query(self.dense_text(t)) for t in queries])
            return vector.search(q, n, mask)
        rows = []
        for b, text in enumerate(queries):
            qv = None if qvecs is None else qvecs[b]
            if mode == "hybrid":
                rows.append(self._hybrid_one(text, n, mask, qv))
            elif mode == "learned":
                rows.append(self._learned_one(text, n, mask, qv))
            else:
                raise ValidationError(f"unknown search mode {mode!r}: use lexical, vector, hybrid or learned.")
        return ScoredItems.from_rows(rows, n)

    def _hybrid_one(self, text: str, n: int, mask: np.ndarray | None, qvec: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        _, _, (lex_ids, lex_scores), vec = self.candidates(text, mask, qvec)
        k = self.config.candidates
        lex = ScoredItems.from_rows([(lex_ids, lex_scores)], k)
        w = [self.config.lexical_weight, 1.0 - self.config.lexical_weight]
        if self.config.fusion == "rrf":
            fused = reciprocal_rank_fusion([lex, vec], n, k=self.config.rrf_k, weights=[2 * w[0], 2 * w[1]])
        else:
            fused = weighted_fusion([lex, vec], n, weights=w)
        return fused.row(0)

    def _learned_one(self, text: str, n: int, mask: np.ndarray | None, qvec: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if self.ranker is None:
            raise NotFittedError("the learned mode needs a trained ranker: call fit_ranker(judgments) or load one.")
        qterms, cands, _, _ = self.candidates(text, mask, qvec)
        if len(cands.ids) == 0:
            return cands.ids, np.zeros(0, np.float32)
        x = self.features.compute(text, qterms, cands, self._category_proba(text))
        return _top(cands.ids, self.ranker.predict(x), n)

    def _category_proba(self, text: str) -> dict[str, float] | None:
        self._refit_categories()
        if not self.categories.categories:
            return None
        return {c.casefold(): p for c, p in self.categories.predict(text, 5)}

    # ------------------------------------------------------------------ learning
    def training_rows(self, query: str, judged: dict[int, float], qvec: np.ndarray | None = None,
                      popularity: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Features and grades of one training query's candidates (unjudged candidates get grade 0)."""
        qterms, cands, _, _ = self.candidates(query, None, qvec)
        pop = None
        if popularity is not None:
            pop = popularity[cands.ids]
        x = self.features.compute(query, qterms, cands, self._category_proba(query), pop)
        y = np.array([judged.get(int(s), 0.0) for s in cands.ids], dtype=np.float32)
        return x, y

    def fit_ranker(self, judgments: Sequence[tuple[str, str, float]], qvecs: dict[str, np.ndarray] | None = None,
                   leave_query_out_popularity: bool = False) -> LearnedRanker:
        """Train the LambdaMART ranker on ``(query, item ext id, gain)`` judgments.

        With ``leave_query_out_popularity``, the catalogue's popularity is taken to count judged
        impressions, and each training query sees popularity without its own judgments (so the
        model does not learn "judged for this query" from the feature it will not have at query time).
        """
        by_query: dict[str, dict[int, float]] = {}
        for q, ext, grade in judgments:
            s = self.catalog.slot(ext)
            if s is not None:
                by_query.setdefault(q, {})[s] = grade
        xs, ys, groups = [], [], []
        for q in sorted(by_query):
            judged = by_query[q]
            pop = None
            if leave_query_out_popularity:
                pop = self.catalog.popularity.copy()
                idx = np.fromiter(judged, dtype=np.int64)
                pop[idx] = np.maximum(pop[idx] - 1, 0)
            x, y = self.training_rows(q, judged, None if qvecs is None else qvecs.get(q), pop)
            if len(y) and y.max() > 0:
                xs.append(x)
                ys.append(y)
                groups.append(len(y))
        if len(groups) < 2:
            raise ValidationError("fewer than 2 judged queries have a relevant item among their candidates: "
                                  "give more judgments or raise SearchConfig.candidates.")
        ranker = LearnedRanker(self.config.ranker)
        ranker.fit(np.vstack(xs), np.concatenate(ys), np.array(groups), self.features.names)
        self.ranker = ranker
        return ranker

    # ------------------------------------------------------------------ persistence
    KIND = "search-engine"

    def save(self, directory: str | Path) -> None:
        """Everything but the encoder: catalogue, both indexes, the ranker, autocomplete (plain files)."""
        directory = Path(directory)
        self.catalog.save(directory / "catalog")
        self.lexical.save(directory / "lexical")
        if self.vector is not None:
            self.vector.save(directory / "vector")
        if self.ranker is not None:
            self.ranker.save(directory / "ranker")
        (directory / "autocomplete.json").write_text(json.dumps(self.autocomplete.to_json(), ensure_ascii=False),
                                                     encoding="utf-8")
        write_manifest(directory, self.KIND, json.loads(self.config.model_dump_json()),
                       encoder_id=self.encoder.id if self.encoder is not None else None, n_items=len(self.catalog))

    @classmethod
    def load(cls, directory: str | Path, encoder: TextEncoder | None = None,
             query_encoder: TextEncoder | None = None) -> SearchEngine:
        """Load a saved engine; pass the encoder it was built with to use the vector modes."""
        directory = Path(directory)
        manifest = read_manifest(directory, cls.KIND)
        saved_id = manifest.get("encoder_id")
        if encoder is not None and saved_id is not None and encoder.id != saved_id:
            raise ArtifactError(f"{directory} was indexed with encoder {saved_id!r}, not {encoder.id!r}: "
                                "load it with that encoder, or index the catalogue again.")
        engine = cls(SearchConfig(**manifest["config"]), encoder if saved_id else None, query_encoder)
        engine.catalog = Catalog.load(directory / "catalog")
        engine.lexical = LexicalIndex.load(directory / "lexical")
        if engine.vector is not None:
            engine.vector = VectorIndex.load(directory / "vector")
        if (directory / "ranker" / "manifest.json").is_file():
            engine.ranker = LearnedRanker.load(directory / "ranker")
        engine.features = FeatureExtractor(engine.lexical, engine.catalog)
        engine.categories = CategoryPredictor(engine.lexical.analyzer)
        engine.speller = SpellCorrector(engine.lexical.surface)
        engine.autocomplete.load_json(json.loads((directory / "autocomplete.json").read_text(encoding="utf-8")))
        engine._categories_stale = True
        return engine

    # ------------------------------------------------------------------ one shopper query
    def query(self, text: str, n: int = 10, mode: Mode | None = None, flt: SearchFilter | None = None) -> SearchResponse:
        """Answer one query; zero results fall back to the corrected query, then semantic search, then popular items."""
        mode = mode or self.config.mode
        self._refit_categories()
        if mode != "lexical" and self.encoder is None:
            mode = "lexical"
        res = self.search([text], n, mode, flt)
        ids, scores = res.row(0)
        fallback = None
        corrected = self.speller.correct(text)
        corrected = corrected if corrected.casefold() != text.casefold() else None
        if len(ids) == 0 and corrected:
            ids, scores = self.search([corrected], n, mode, flt).row(0)
            fallback = "spelling" if len(ids) else None
        if len(ids) == 0 and self.encoder is not None and mode == "lexical":
            ids, scores = self.search([text], n, "vector", flt).row(0)
            fallback = "vector" if len(ids) else None
        if len(ids) == 0:
            mask = self.catalog.mask(flt)
            keep = self.catalog.live if mask is None else mask
            slots = np.flatnonzero(keep)
            ids, scores = _top(slots.astype(np.int32), self.catalog.popularity[slots], n)
            fallback = "popular" if len(ids) else None
        mask = self.catalog.mask(flt)
        matched, _ = self.lexical.score_terms(self.lexical.query_terms(text))
        if mask is not None:
            matched = matched[mask[matched]]
        return SearchResponse(
            items=self.catalog.external(ids), scores=[float(s) for s in scores], mode=mode, corrected=corrected,
            categories=self.categories.predict(text, 3) if self.categories.categories else [],
            facets=self.catalog.facets(matched if len(matched) else ids), fallback=fallback)
