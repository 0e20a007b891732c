"""Ranking features of (query, candidate item) pairs for the learned ranker.

Every feature is computed the same way at training and at query time from what the engine knows:
the lexical index (BM25F and BM25 per field, matched query terms), the query and item vectors
(cosine), the candidate ranks in each source list, exact-match signals on the title, numbers in
the query, the predicted query category, and the item's popularity and price.

Popularity is the count of behaviour events (views, clicks, carts, purchases, ratings) per item,
given with each call; where the data has none it is zero for every item and the feature carries
nothing (LightGBM never splits on a constant). It is never a count of judgments: a judged set
records what an old engine showed, so its counts predict "was judged", not "is wanted".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from shopsage.search.catalog import Catalog, char_trigrams, normalize_title
from shopsage.search.lexical import LexicalIndex, QueryTerms

__all__ = ["Candidates", "FeatureExtractor"]

_NUM = re.compile(r"\d+(?:[./]\d+)?")


@dataclass
class Candidates:
    """The pooled candidates of one query with their rank in each source (``miss`` when absent)."""

    ids: np.ndarray  # (m,) int64 slots
    lex_rank: np.ndarray  # (m,) float32, 1-based
    vec_rank: np.ndarray  # (m,) float32, 1-based
    cosine: np.ndarray  # (m,) float32


class FeatureExtractor:
    """Turns a query and its candidates into a ``(m, n_features)`` float32 matrix."""

    def __init__(self, lexical: LexicalIndex, catalog: Catalog) -> None:
        self.lexical = lexical
        self.catalog = catalog
        self.names = (["bm25f"] + [f"bm25_{f}" for f in lexical.fields] + ["matched"]
                      + [f"matched_{f}" for f in lexical.fields]
                      + ["n_query_terms", "coverage", "title_coverage", "all_terms_in_title", "corrected",
                         "cosine", "cosine_gap", "bm25_gap", "lex_rank", "vec_rank", "rrf",
                         "phrase_in_title", "title_starts_with_query", "title_words", "query_words",
                         "numbers_matched", "trigram_jaccard", "category_prob", "popularity", "log_price"])

    def _trigram_jaccard(self, qnorm: str, ids: np.ndarray) -> np.ndarray:
        """Jaccard similarity of character trigrams of the query and each candidate title (typo-robust)."""
        qtri = char_trigrams(qnorm)
        known = np.sort(np.array([self.catalog.trigram_ids[t] for t in qtri if t in self.catalog.trigram_ids],
                                 dtype=np.int32))
        parts = [self.catalog.trigrams[s] for s in ids.tolist()]
        sizes = np.array([len(p) for p in parts], dtype=np.int64)
        if len(ids) == 0 or sizes.sum() == 0:
            return np.zeros(len(ids), np.float32)
        flat = np.concatenate(parts)
        hit = np.isin(flat, known, assume_unique=False).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        inter = np.zeros(len(ids), np.int64)
        nonempty = sizes > 0
        inter[nonempty] = np.add.reduceat(hit, starts[nonempty])
        union = len(qtri) + sizes - inter
        return (inter / np.maximum(union, 1)).astype(np.float32)

    def compute(self, query: str, qterms: QueryTerms, cands: Candidates,
                category_proba: dict[str, float] | None = None,
                popularity: np.ndarray | None = None) -> np.ndarray:
        """Features of ``cands``; ``popularity`` holds the candidates' behaviour-event counts, ``(m,)``
        (``None``: no events, zeros)."""
        ids = cands.ids
        m = len(ids)
        f = self.lexical.field_features(qterms, ids)
        n_terms = max(len(qterms), 1)
        title_pos = self.lexical.fields.index("title") if "title" in self.lexical.fields else 0
        title_matched = f["field_matched"][:, title_pos]
        qnorm = normalize_title(query)
        qwords = qnorm.split()
        titles = [self.catalog.titles[s] for s in ids.tolist()]
        phrase = np.array([bool(qnorm) and qnorm in t for t in titles], np.float32)
        starts = np.array([bool(qnorm) and t.startswith(qnorm) for t in titles], np.float32)
        twords = np.array([t.count(" ") + 1 if t else 0 for t in titles], np.float32)
        qnums = set(_NUM.findall(qnorm))
        nums = np.full(m, np.nan, np.float32)
        if qnums:
            nums[:] = [len(qnums.intersection(_NUM.findall(t))) / len(qnums) for t in titles]
        tri = self._trigram_jaccard(qnorm, ids)
        cat = np.zeros(m, np.float32)
        if category_proba:
            cat[:] = [sum(category_proba.get(c, 0.0) for c in self.catalog.categories[s]) for s in ids.tolist()]
        bm25 = f["bm25"]
        pop = np.zeros(m, np.float32) if popularity is None else np.asarray(popularity, np.float32)
        price = self.catalog.price[ids]
        cols = [
            bm25[:, None], f["field_bm25"], f["matched"][:, None], f["field_matched"],
            np.full((m, 1), len(qterms), np.float32),
            (f["matched"] / n_terms)[:, None], (title_matched / n_terms)[:, None],
            (title_matched >= len(qterms))[:, None] if len(qterms) else np.zeros((m, 1)),
            np.full((m, 1), float(bool(qterms.corrected)), np.float32),
            cands.cosine[:, None], (cands.cosine - cands.cosine.max(initial=0.0))[:, None],
            (bm25 - bm25.max(initial=0.0))[:, None],
            cands.lex_rank[:, None], cands.vec_rank[:, None],
            (1.0 / (60 + cands.lex_rank) + 1.0 / (60 + cands.vec_rank))[:, None],
            phrase[:, None], starts[:, None], twords[:, None], np.full((m, 1), len(qwords), np.float32),
            nums[:, None], tri[:, None], cat[:, None], np.log1p(pop)[:, None],
            np.log1p(np.where(np.isnan(price), np.nan, np.maximum(price, 0)))[:, None],
        ]
        out = np.hstack([np.asarray(c, dtype=np.float32) for c in cols])
        assert out.shape == (m, len(self.names)), (out.shape, len(self.names))
        return out
