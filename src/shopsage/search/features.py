"""Ranking features of (query, candidate item) pairs for the learned ranker.

Every feature is computed the same way at training and at query time from what the engine knows:
the lexical index (BM25F and BM25 per field, matched query terms), the query and item vectors
(cosine), the candidate ranks in each source list, exact-match signals on the title, numbers in
the query, the predicted query category, and the item's popularity and price.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from shopsage.search.catalog import Catalog, normalize_title
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


def _trigrams(text: str) -> set[str]:
    t = f"  {text} "
    return {t[i:i + 3] for i in range(len(t) - 2)}


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

    def compute(self, query: str, qterms: QueryTerms, cands: Candidates,
                category_proba: dict[str, float] | None = None,
                popularity: np.ndarray | None = None) -> np.ndarray:
        """Features of ``cands``; ``popularity`` overrides the catalogue's (leave-one-query-out training)."""
        ids = cands.ids
        m = len(ids)
        f = self.lexical.field_features(qterms, ids)
        n_terms = max(len(qterms), 1)
        title_pos = self.lexical.fields.index("title") if "title" in self.lexical.fields else 0
        title_matched = f["field_matched"][:, title_pos]
        qnorm = normalize_title(query)
        qwords = qnorm.split()
        qnums = set(_NUM.findall(qnorm))
        qtri = _trigrams(qnorm)
        phrase = np.zeros(m, np.float32)
        starts = np.zeros(m, np.float32)
        twords = np.zeros(m, np.float32)
        nums = np.full(m, np.nan, np.float32)
        tri = np.zeros(m, np.float32)
        cat = np.zeros(m, np.float32)
        for i, s in enumerate(ids.tolist()):
            title = self.catalog.titles[s]
            phrase[i] = bool(qnorm) and qnorm in title
            starts[i] = bool(qnorm) and title.startswith(qnorm)
            twords[i] = title.count(" ") + 1 if title else 0
            if qnums:
                nums[i] = len(qnums.intersection(_NUM.findall(title))) / len(qnums)
            ttri = _trigrams(title)
            tri[i] = len(qtri & ttri) / max(len(qtri | ttri), 1)
            if category_proba:
                cat[i] = sum(category_proba.get(c, 0.0) for c in self.catalog.categories[s])
        bm25 = f["bm25"]
        pop = self.catalog.popularity[ids] if popularity is None else popularity
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
