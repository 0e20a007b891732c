"""The search engine: one catalogue, a lexical and a vector index, fusion and a learned ranker.

Modes (``SearchConfig.mode``, or per request):

- ``lexical``: BM25F with typo tolerance; the result set is every item matching a query word.
- ``vector``: cosine between the query and item embeddings (the encoder reads the spelling-corrected
  query, ``SearchConfig.dense_spelling``); the ``candidates`` nearest items.
- ``hybrid``: the top ``candidates`` of both, fused by reciprocal rank or weighted scores; the other
  word matches follow by BM25.
- ``learned``: the same candidate pool re-ranked by the LambdaMART model; the other word matches
  follow by BM25. Without an encoder the pool and the ranker's features are lexical only.
- ``auto`` (the default): the best mode this engine can serve, ``learned`` when a ranker fits it,
  else ``lexical``: hybrid fusion measured below BM25F alone on Home Depot (:meth:`SearchEngine.resolve_mode`).

``search`` returns :class:`ScoredItems` over catalogue slots (batch-first, one row per query), the raw
ranking of a mode. ``query`` is the shopper's front door (:mod:`shopsage.search.front`): one request
in, one page of results with their evidence, facets and total out. Outside ``search/`` nothing reads
the engine's parts; it uses the public methods (``more_like_text``, ``nearest_in_meaning``,
``matched_words``, ``terms``, ``slot``...).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.artifacts import read_manifest, write_manifest
from shopsage.data.rows import ItemRow
from shopsage.errors import ArtifactError, NotFittedError, ValidationError
from shopsage.search.attributes import AttributeTable
from shopsage.search.autocomplete import Autocomplete
from shopsage.search.catalog import Catalog, SearchFilter, item_fields
from shopsage.search.evidence import matched_words
from shopsage.search.features import Candidates, FeatureExtractor
from shopsage.search.index_settings import IndexSettings
from shopsage.search.lexical import LexicalConfig, LexicalIndex, QueryTerms, _top
from shopsage.search.query import CategoryPredictor, SpellCorrector
from shopsage.search.ranker import LearnedRanker, RankerConfig
from shopsage.search.ranking import rank
from shopsage.search.vector import VectorConfig, VectorIndex
from shopsage.text.encoder import TextEncoder
from shopsage.types import ScoredItems

if TYPE_CHECKING:
    from shopsage.policy import Rule
    from shopsage.search.front import SearchPage, SearchRequest

__all__ = ["SearchConfig", "SearchEngine", "Mode", "ModeChoice", "embedding_text"]

Mode = Literal["lexical", "vector", "hybrid", "learned"]
ModeChoice = Literal["auto", "lexical", "vector", "hybrid", "learned"]


class SearchConfig(BaseModel):
    """Settings of a :class:`SearchEngine` and of its front door."""

    model_config = ConfigDict(extra="forbid")

    mode: ModeChoice = "auto"
    """Mode of requests that name none: ``auto`` is the best this engine can serve (learned with a
    ranker that fits it, else lexical; hybrid is asked for by name)."""
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
    min_similarity: float | None = Field(0.45, ge=-1, le=1)
    """Front door: an item that matches no query word is shown only when its cosine to the query is at
    least this (the semantic fallback, and the vector side of vector, hybrid and learned results), so
    gibberish finds nothing. ``None``: no floor (benchmarks rank the whole catalogue). 0.45 suits
    all-MiniLM-L6-v2: on Home Depot 95% of real queries have a product closer than 0.478, 95% of
    made-up word pairs none closer than 0.466."""
    semantic_results: int = Field(50, ge=1, le=1000)
    """Front door: items of the semantic fallback (a query none of whose words matches, even corrected)."""
    personalize_boost: float = Field(0.0, ge=0, le=1)
    """Front door: a request with a shopper profile multiplies an item's score by ``1 + boost * share``,
    ``share`` being the profile's weight on the item's best-matching category or brand."""


def embedding_text(row: ItemRow) -> str:
    """What the encoder reads of an item: title, then brand and category path when present."""
    parts = [row.title or ""]
    if row.brand:
        parts.append(row.brand)
    if row.category_path:
        parts.append(" > ".join(row.category_path))
    return " | ".join(p for p in parts if p)


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
        self.attributes = AttributeTable()
        """Every item attribute as a column: filter expressions, facets and sorts read it."""
        self.settings = IndexSettings.model_validate({})
        """The index settings applied (:meth:`apply_settings`)."""
        self._parts()
        self.autocomplete = Autocomplete(analyzer=self.lexical.analyzer)

    def _parts(self) -> None:
        """The parts built over the lexical index and the catalogue (again after loading them)."""
        self.features = FeatureExtractor(self.lexical, self.catalog)
        self.categories = CategoryPredictor(self.lexical.analyzer)
        self.speller = SpellCorrector(self.lexical.surface, self.config.lexical.typos_allowed)
        self._categories_stale = True

    # ------------------------------------------------------------------ encoders
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

    @property
    def has_encoder(self) -> bool:
        """Whether the vector side (vector, hybrid, the semantic fallback) is available."""
        return self.semantic() is not None

    def semantic(self) -> tuple[TextEncoder, VectorIndex] | None:
        """(query encoder, item vector index) read together (one read: a consistent pair while
        use_encoders() swaps), or None without an encoder."""
        _, query_encoder, vector = self._dense
        return None if query_encoder is None or vector is None else (query_encoder, vector)

    def dense_text(self, query: str) -> str:
        """What the query encoder reads of ``query`` (see ``SearchConfig.dense_spelling``)."""
        if not self.config.dense_spelling:
            return query
        return self.correct(query)

    def correct(self, query: str) -> str:
        """``query`` with each word neither the catalogue nor past queries know replaced by its nearest
        known word (within the lexical index's typo tolerance), or split into two known words."""
        if not self.settings.typo_tolerance.enabled:  # the merchant turned typo tolerance off
            return query
        self.lexical.refresh()  # the corrector's vocabulary is the lexical index's surface words
        return self.speller.correct(query)

    def apply_settings(self, settings: IndexSettings) -> None:
        """Serve the next queries with ``settings`` (:mod:`.index_settings`): typo tolerance, synonyms, stop
        words and searchable fields are read at query time, so nothing is re-indexed."""
        typo = settings.typo_tolerance
        lex = self.config.lexical.model_copy(update={
            "typo_tolerance": typo.enabled, "min_word_size_for_one_typo": typo.min_word_size_for_one_typo,
            "min_word_size_for_two_typos": typo.min_word_size_for_two_typos})
        self.config = self.config.model_copy(update={"lexical": lex})
        self.lexical.config = lex
        self.speller.typos = lex.typos_allowed
        analyzer = self.lexical.analyzer
        self.lexical.stop_words = frozenset(t for w in settings.stop_words for t in analyzer.tokens(w))
        synonyms: dict[str, tuple[str, ...]] = {}
        for key, values in settings.synonyms.items():
            k = " ".join(analyzer.tokens(key))
            if k:
                synonyms[k] = tuple(dict.fromkeys((*synonyms.get(k, ()), *values)))
        self.lexical.synonyms = synonyms
        self.lexical.set_searchable([f for f in settings.searchable_attributes if f in self.lexical.fields])
        self.autocomplete.min_shoppers = settings.autocomplete_min_shoppers
        self.settings = settings

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

    def embed_catalogue(self, encoder: TextEncoder, rows: Sequence[ItemRow]) -> VectorIndex:
        """A vector index of ``rows`` (every live item) embedded by ``encoder``, for :meth:`use_encoders`."""
        vector = VectorIndex(encoder.dim, self.config.vector)
        slots = self.catalog.slots([r.ext_id for r in rows])
        if (slots < 0).any():
            raise ValidationError("embed_catalogue got items the engine has not indexed: index them first.")
        vector.add(slots, encoder.encode([embedding_text(r) for r in rows]))
        return vector

    def _need_vectors(self) -> tuple[TextEncoder, VectorIndex]:
        dense = self.semantic()
        if dense is None:
            raise NotFittedError("this engine has no text encoder: build it with SearchEngine(config, encoder=TextEncoder()) "
                                 "(the service: start it with --semantic) to use the vector and hybrid modes.")
        return dense

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
        self.attributes.set(slots.tolist(), rows)
        for r in rows:
            self.autocomplete.set_item(r.ext_id, r.title, r.brand, r.category_path)
        self._categories_stale = True
        return slots

    def delete(self, ext_ids: Sequence[str]) -> None:
        slots = self.catalog.delete(ext_ids)
        self.lexical.delete(slots)
        self.attributes.clear(slots.tolist())
        for e in ext_ids:
            self.autocomplete.remove_item(e)
        if self.vector is not None:
            self.vector.delete(slots)
        self._categories_stale = True

    def compact(self) -> None:
        """Merge the lexical index's segments into one (after a bulk load: faster queries)."""
        self.lexical.merge()

    def add_past_queries(self, queries: Sequence[str]) -> None:
        """Past shopper queries feed autocomplete and spelling correction."""
        self.autocomplete.add_queries(queries)
        self.speller.add_queries(queries)

    # ------------------------------------------------------------------ the catalogue, read from outside
    @property
    def n_items(self) -> int:
        """Live items (not ``__len__``: an empty engine must not be falsy)."""
        return len(self.catalog)

    @property
    def capacity(self) -> int:
        """Slots handed out so far (deleted items keep theirs)."""
        return self.catalog.capacity

    @property
    def live(self) -> np.ndarray:
        """``(capacity,) bool``: slots of items in the catalogue."""
        return self.catalog.live

    @property
    def in_stock(self) -> np.ndarray:
        """``(capacity,) bool``: live, available, with stock unknown or above zero."""
        return self.catalog.in_stock & self.catalog.live

    @property
    def leaf(self) -> np.ndarray:
        """``(capacity,) int32`` code of each item's leaf category (-1: none; one code per case-folded name)."""
        return self.catalog.leaf

    def slot(self, ext_id: str) -> int | None:
        """The slot of a live item, None for an unknown or deleted id."""
        s = self.catalog.slot(ext_id)
        return s if s is not None and self.catalog.live[s] else None

    def ext(self, slot: int) -> str:
        return self.catalog.external([slot])[0]

    # ------------------------------------------------------------------ text and evidence
    def terms(self, text: str) -> set[str]:
        """The index terms of a text (stemmed or segmented as the lexical index does)."""
        return set(self.lexical.analyzer.analyze(text))

    def matched_words(self, query: str, slot: int) -> list[str]:
        """The item's own words (as its text writes them: 'Drill' for the query "drills") whose index
        term is a term of ``query``, one per term, in the query's order."""
        return matched_words(self.lexical.analyzer, self.lexical.analyzer.analyze(query), self.catalog.texts[slot])

    def more_like_text(self, text: str, n: int, mask: np.ndarray | None = None) -> ScoredItems:
        """``(1, n)``: the items whose text matches ``text`` best by BM25F (``mask``: bool over slots)."""
        return self.lexical.search([text], n, self.catalog.live if mask is None else mask)

    def nearest_in_meaning(self, texts: Sequence[str], n: int, mask: np.ndarray | None = None) -> ScoredItems:
        """``(1, n)``: the items nearest by cosine to the mean embedding of ``texts`` (item texts, read by
        the query encoder as written); ``(1, n)`` of padding when nothing passes ``mask``."""
        encoder, vector = self._need_vectors()
        vecs = encoder.encode(list(texts), progress=False)  # cached by text: a page's item costs once
        centre = vecs.mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        return vector.search(centre, n, mask)

    def predict_categories(self, query: str, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` leaf categories most probable for ``query`` (empty when items have none)."""
        self._refit_categories()
        return self.categories.predict(query, n) if self.categories.categories else []

    def _refit_categories(self) -> None:
        """Refit the category predictor when the catalogue changed (lazily: updates stay cheap)."""
        if not self._categories_stale:
            return
        self._categories_stale = False
        live = np.flatnonzero(self.catalog.live)
        leaves = [self.catalog.categories[s][-1] if self.catalog.categories[s] else None for s in live]
        if any(leaves):
            self.categories.fit([self.catalog.titles[s] for s in live], leaves)

    # ------------------------------------------------------------------ modes
    def resolve_mode(self, mode: ModeChoice | None = None) -> Mode:
        """The mode a request gets: ``None`` is the configured one, ``auto`` the best this engine can
        serve; a mode it cannot serve is refused, saying what it needs."""
        mode = mode or self.config.mode
        if mode == "auto":
            if self.ranker is not None and (self.has_encoder or not self.ranker.dense):
                return "learned"
            # not hybrid: rank fusion of BM25F with the vector list lost 0.04 nDCG@10 to BM25F alone on Home
            # Depot (0.363 vs 0.403, docs/benchmarks.md); the encoder still serves the meaning fallback
            return "lexical"
        if mode in ("vector", "hybrid"):
            self._need_vectors()
        if mode == "learned":
            if self.ranker is None:
                raise NotFittedError("the learned mode needs a trained ranker: fit one (search.training."
                                     "train_ranker_version, `shopsage models train ranker`) and promote it.")
            if self.ranker.dense and not self.has_encoder:
                raise NotFittedError("the ranker was trained on the text encoder's features (cosine, vector rank): "
                                     "serve with the encoder (--semantic), or train a lexical ranker "
                                     "(semantic=false) for this service.")
        if mode not in ("lexical", "vector", "hybrid", "learned"):
            raise ValidationError(f"unknown search mode {mode!r}: use auto, lexical, vector, hybrid or learned.")
        return mode  # type: ignore[return-value]

    def matches(self, query: str, mask: np.ndarray | None = None) -> tuple[QueryTerms, np.ndarray, np.ndarray]:
        """The analyzed query and every live item matching one of its words (after typo tolerance) among
        the slots ``mask`` keeps: ``(query terms, slots (m,) int64, BM25F scores (m,))``, unordered."""
        qterms = self.lexical.query_terms(query)
        docs, scores = self.lexical.score_terms(qterms)
        if mask is not None and len(docs):
            ok = docs < len(mask)
            ok[ok] = mask[docs[ok]]
            docs, scores = docs[ok], scores[ok]
        return qterms, docs.astype(np.int64), scores

    def candidates(self, query: str, mask: np.ndarray | None = None, qvec: np.ndarray | None = None,
                   matched: tuple[QueryTerms, np.ndarray, np.ndarray] | None = None, dense_side: bool = True,
                   ) -> tuple[QueryTerms, Candidates, tuple[np.ndarray, np.ndarray], ScoredItems]:
        """The pooled lexical + vector candidates of one query, and both source lists. Without an
        encoder (or with ``dense_side=False``, for a ranker trained on lexical features) the pool is
        lexical: vector ranks are ``candidates + 1``, cosines 0. ``matched`` reuses :meth:`matches` of
        the same query and mask."""
        k = self.config.candidates
        qterms, docs, bm25 = matched if matched is not None else self.matches(query, mask)
        lex_ids, lex_scores = _top(docs, bm25, k)
        dense = self.semantic() if dense_side else None
        if dense is not None:
            encoder, vector = dense
            if qvec is None:
                qvec = encoder.encode_query(self.dense_text(query))
            vec = vector.search(qvec[None, :], k, mask)
        else:
            vec = ScoredItems.from_rows([(np.zeros(0, np.int32), np.zeros(0, np.float32))], k)
        vec_ids, _ = vec.row(0)
        ids = np.union1d(lex_ids, vec_ids).astype(np.int64)
        miss = np.float32(k + 1)
        lex_rank = np.full(len(ids), miss, np.float32)
        lex_rank[np.searchsorted(ids, lex_ids)] = np.arange(1, len(lex_ids) + 1)
        vec_rank = np.full(len(ids), miss, np.float32)
        vec_rank[np.searchsorted(ids, vec_ids)] = np.arange(1, len(vec_ids) + 1)
        cosine = dense[1].vectors[ids] @ qvec if dense is not None else np.zeros(len(ids))
        return qterms, Candidates(ids, lex_rank, vec_rank, cosine.astype(np.float32)), (lex_ids, lex_scores), vec

    def category_proba(self, text: str) -> dict[str, float] | None:
        """The predicted leaf categories of a query (case-folded) with their probabilities, for features."""
        self._refit_categories()
        if not self.categories.categories:
            return None
        return {c.casefold(): p for c, p in self.categories.predict(text, 5)}

    # ------------------------------------------------------------------ searching
    def search(self, queries: Sequence[str], n: int = 10, mode: ModeChoice | None = None,
               flt: SearchFilter | None = None, qvecs: np.ndarray | None = None,
               popularity: np.ndarray | None = None) -> ScoredItems:
        """Top ``n`` slots per query, the mode's raw ranking (no fallback, rules or floor: see ``query``).
        ``qvecs`` (B, D) reuses query embeddings computed elsewhere; ``popularity`` (capacity,) holds
        behaviour-event counts per slot for the learned ranker."""
        if n < 1:
            raise ValidationError(f"n of {n} is not a result count: ask for n >= 1.")
        resolved = self.resolve_mode(mode)
        mask = self.catalog.mask(flt)
        mask = self.catalog.live if mask is None else mask
        rows = []
        for b, text in enumerate(queries):
            r = rank(self, text, resolved, mask, None if qvecs is None else qvecs[b], popularity, limit=n)
            rows.append((r.slots, r.scores))
        return ScoredItems.from_rows(rows, n)

    def query(self, request: SearchRequest, rules: Sequence[Rule] = (), allowed: np.ndarray | None = None) -> SearchPage:
        """The front door: one shopper request in, one page of results with evidence, facets and total
        out (see :func:`shopsage.search.front.answer`)."""
        from shopsage.search.front import answer

        return answer(self, request, rules, allowed)

    # ------------------------------------------------------------------ learning
    def training_rows(self, query: str, judged: dict[int, float], qvec: np.ndarray | None = None,
                      popularity: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Features and grades of one training query's candidates (unjudged candidates get grade 0);
        ``popularity`` (capacity,) holds behaviour-event counts per slot."""
        qterms, cands, _, _ = self.candidates(query, None, qvec, dense_side=self.has_encoder)
        pop = None if popularity is None else _gather(popularity, cands.ids)
        x = self.features.compute(query, qterms, cands, self.category_proba(query), pop)
        y = np.array([judged.get(int(s), 0.0) for s in cands.ids], dtype=np.float32)
        return x, y

    def fit_ranker(self, judgments: Sequence[tuple[str, str, float]], qvecs: dict[str, np.ndarray] | None = None,
                   popularity: np.ndarray | None = None) -> LearnedRanker:
        """Train the LambdaMART ranker on ``(query, item ext id, gain)`` judgments; with an encoder its
        features hold the vector side, without one they are lexical only. ``popularity`` (capacity,)
        counts behaviour events per slot (never judgments); ``None`` leaves the feature at zero."""
        by_query: dict[str, dict[int, float]] = {}
        for q, ext, grade in judgments:
            s = self.catalog.slot(ext)
            if s is not None:
                by_query.setdefault(q, {})[s] = grade
        xs, ys, groups = [], [], []
        for q in sorted(by_query):
            x, y = self.training_rows(q, by_query[q], None if qvecs is None else qvecs.get(q), popularity)
            if len(y) and y.max() > 0:
                xs.append(x)
                ys.append(y)
                groups.append(len(y))
        if len(groups) < 2:
            raise ValidationError("fewer than 2 judged queries have a relevant item among their candidates: "
                                  "give more judgments or raise SearchConfig.candidates.")
        ranker = LearnedRanker(self.config.ranker)
        ranker.fit(np.vstack(xs), np.concatenate(ys), np.array(groups), self.features.names)
        ranker.dense = self.has_encoder
        ranker.encoder_id = self.encoder.id if self.encoder is not None else None
        self.ranker = ranker
        return ranker

    def use_ranker(self, ranker: LearnedRanker | None) -> None:
        """Serve with ``ranker`` (a loaded registry version); its features must be this engine's."""
        if ranker is not None and ranker.feature_names != self.features.names:
            raise ArtifactError(f"the ranker was trained on features {ranker.feature_names[:4]}..., this engine computes "
                                f"{self.features.names[:4]}... (other lexical fields): train it for this engine.")
        self.ranker = ranker

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
        (directory / "attributes.json").write_text(json.dumps(self.attributes.to_json(), ensure_ascii=False),
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
        engine._parts()
        engine.autocomplete = Autocomplete(analyzer=engine.lexical.analyzer)
        engine.autocomplete.load_json(json.loads((directory / "autocomplete.json").read_text(encoding="utf-8")))
        if (directory / "attributes.json").is_file():  # engines saved before attributes were kept filter built-ins only
            engine.attributes.load_json(json.loads((directory / "attributes.json").read_text(encoding="utf-8")))
        return engine


def _gather(values: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """``values[slots]`` with 0 for slots past the end (an array sized before the catalogue grew)."""
    values = np.asarray(values, dtype=np.float32)
    out = np.zeros(len(slots), np.float32)
    ok = slots < len(values)
    out[ok] = values[slots[ok]]
    return out
