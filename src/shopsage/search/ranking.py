"""One query's result set in one mode, best first: what the front door filters, pages and explains.

- ``lexical``: every item matching a query word (after typo tolerance), by BM25F.
- ``vector``: the ``candidates`` items nearest the query embedding, by cosine.
- ``hybrid`` / ``learned``: the pool of the lexical and the vector top ``candidates`` ranked by fusion
  or by the LambdaMART ranker, then every other word match by BM25F, below the pool.

Each result carries whether it matched a query word and, where the vector side saw it, its cosine
to the query: the front door's evidence and its similarity floor read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from shopsage.search.fusion import reciprocal_rank_fusion, weighted_fusion
from shopsage.search.lexical import QueryTerms, _top
from shopsage.types import ScoredItems

if TYPE_CHECKING:
    from shopsage.search.engine import Mode, SearchEngine

__all__ = ["Ranking", "rank"]


@dataclass
class Ranking:
    """A mode's ranked result set for one query."""

    mode: Mode
    slots: np.ndarray  # (m,) int64, best first
    scores: np.ndarray  # (m,) float32, non-increasing
    lexical: np.ndarray  # (m,) bool: matches at least one query word
    similarity: np.ndarray  # (m,) float32 cosine to the query, nan where the vector side did not see the item
    corrected: dict[str, str] = field(default_factory=dict)  # typed word -> the known word(s) typo tolerance used

    @property
    def words_matched(self) -> bool:
        return bool(self.lexical.any())

    def __len__(self) -> int:
        return len(self.slots)

    def keep(self, which: np.ndarray) -> Ranking:
        return Ranking(self.mode, self.slots[which], self.scores[which], self.lexical[which], self.similarity[which],
                       self.corrected)

    @classmethod
    def empty(cls, mode: Mode) -> Ranking:
        return cls(mode, np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, bool), np.zeros(0, np.float32))


def rank(engine: SearchEngine, query: str, mode: Mode, mask: np.ndarray, qvec: np.ndarray | None = None,
         popularity: np.ndarray | None = None, limit: int | None = None) -> Ranking:
    """The result set of ``query`` in ``mode`` among the slots ``mask`` keeps (bool over slots), at most
    ``limit`` items (``None``: all of it; the vector side always stops at ``candidates``)."""
    matched = engine.matches(query, mask)
    qterms, docs, bm25 = matched
    corrected = dict(qterms.corrected)
    if mode == "lexical":
        slots, scores = _top(docs, bm25, len(docs) if limit is None else limit)
        return Ranking(mode, slots, scores, np.ones(len(slots), bool), np.full(len(slots), np.nan, np.float32), corrected)
    if mode == "vector":
        encoder, vector = engine._need_vectors()
        if qvec is None:
            qvec = encoder.encode_query(engine.dense_text(query))
        n = engine.config.candidates if limit is None else limit
        ids, cos = vector.search(qvec[None, :], n, mask).row(0)
        return Ranking(mode, ids.astype(np.int64), cos, np.isin(ids, docs), cos.astype(np.float32), corrected)
    return _pool_then_words(engine, query, mode, mask, qvec, popularity, limit, matched)


def _pool_then_words(engine: SearchEngine, query: str, mode: Mode, mask: np.ndarray, qvec: np.ndarray | None,
                     popularity: np.ndarray | None, limit: int | None,
                     matched: tuple[QueryTerms, np.ndarray, np.ndarray]) -> Ranking:
    """Hybrid and learned: the candidate pool ranked by the mode, then the other word matches by BM25F."""
    cfg = engine.config
    qterms, docs, bm25 = matched
    corrected = dict(qterms.corrected)
    ranker = engine.ranker
    dense_side = mode == "hybrid" or (ranker is not None and ranker.dense)
    _, cands, (lex_ids, lex_scores), vec = engine.candidates(query, mask, qvec, matched, dense_side)
    if mode == "hybrid":
        engine._need_vectors()
        lex = ScoredItems.from_rows([(lex_ids, lex_scores)], cfg.candidates)
        w = [cfg.lexical_weight, 1.0 - cfg.lexical_weight]
        if cfg.fusion == "rrf":
            fused = reciprocal_rank_fusion([lex, vec], len(cands.ids), k=cfg.rrf_k, weights=[2 * w[0], 2 * w[1]])
        else:
            fused = weighted_fusion([lex, vec], len(cands.ids), weights=w)
        pool, pool_scores = fused.row(0)
    else:
        if ranker is None:
            engine.resolve_mode("learned")  # raises, saying what the learned mode needs
        assert ranker is not None
        pop = None
        if popularity is not None:
            pop = np.zeros(len(cands.ids), np.float32)
            ok = cands.ids < len(popularity)
            pop[ok] = np.asarray(popularity, np.float32)[cands.ids[ok]]
        x = engine.features.compute(query, qterms, cands, engine.category_proba(query), pop)
        pool, pool_scores = _top(cands.ids, ranker.predict(x), len(cands.ids))
    pool = pool.astype(np.int64)
    rest = ~np.isin(docs, pool)
    tail, tail_bm25 = _top(docs[rest], bm25[rest], int(rest.sum()))
    if limit is not None:
        tail, tail_bm25 = tail[: max(limit - len(pool), 0)], tail_bm25[: max(limit - len(pool), 0)]
    floor = float(pool_scores.min()) if len(pool_scores) else 0.0
    top = float(tail_bm25.max()) if len(tail_bm25) else 1.0
    tail_scores = floor - 1.0 - (top - tail_bm25) / max(top, 1e-12)  # below the pool, in BM25F order
    pos = np.searchsorted(cands.ids, pool)
    similarity = np.concatenate([cands.cosine[pos] if dense_side and engine.has_encoder else np.full(len(pool), np.nan),
                                 np.full(len(tail), np.nan)]).astype(np.float32)
    slots = np.concatenate([pool, tail])
    scores = np.concatenate([pool_scores, tail_scores]).astype(np.float32)
    lexical = np.isin(slots, docs)
    if limit is not None:
        slots, scores, lexical, similarity = slots[:limit], scores[:limit], lexical[:limit], similarity[:limit]
    return Ranking(mode, slots, scores, lexical, similarity, corrected)
