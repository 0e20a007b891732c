"""Query understanding: category prediction, spelling correction and autocomplete.

- :class:`CategoryPredictor`: multinomial naive Bayes from analyzed terms to leaf categories,
  learned from item texts and, when given, past queries labelled with the category of the item
  they led to.
- :class:`SpellCorrector`: rewrites query words the catalogue does not know to the nearest frequent
  catalogue (or past query) word, for a "did you mean".
- :class:`Autocomplete` (:mod:`shopsage.search.autocomplete`): prefix completion over catalogue
  terms and k-anonymous past queries, re-exported here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from scipy import sparse

from shopsage.search.autocomplete import Autocomplete
from shopsage.search.spelling import SpellingIndex
from shopsage.text.analyzers import Analyzer, is_cjk

__all__ = ["CategoryPredictor", "SpellCorrector", "Autocomplete"]


class CategoryPredictor:
    """Naive Bayes ``P(category | query terms)`` with Laplace smoothing ``alpha``."""

    def __init__(self, analyzer: Analyzer, alpha: float = 0.1) -> None:
        self.analyzer = analyzer
        self.alpha = alpha
        self.categories: list[str] = []
        self._terms: dict[str, int] = {}
        self._counts: sparse.csr_matrix | None = None
        self._log_prior = np.zeros(0)
        self._cat_total = np.zeros(0)

    def fit(self, texts: Sequence[str], categories: Sequence[str | None]) -> CategoryPredictor:
        """Learn from ``texts[i]`` labelled ``categories[i]`` (``None`` labels are skipped)."""
        cat_index: dict[str, int] = {}
        rows, cols = [], []
        for text, cat in zip(texts, categories, strict=True):
            if not cat:
                continue
            c = cat_index.setdefault(cat, len(cat_index))
            for term in self.analyzer.analyze(text):
                rows.append(self._terms.setdefault(term, len(self._terms)))
                cols.append(c)
        self.categories = list(cat_index)
        shape = (len(self._terms), len(self.categories))
        self._counts = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
        docs = Counter(c for c in categories if c)
        prior = np.array([docs[c] for c in self.categories], dtype=np.float64)
        self._log_prior = np.log(prior / max(prior.sum(), 1))
        self._cat_total = np.asarray(self._counts.sum(axis=0)).ravel()
        return self

    def predict_proba(self, query: str) -> np.ndarray:
        """``(n_categories,)`` posterior; uniform-free (prior only) when no query term is known."""
        if self._counts is None or not self.categories:
            return np.zeros(0)
        tids = [self._terms[t] for t in self.analyzer.analyze(query) if t in self._terms]
        logp = self._log_prior.copy()
        if tids:
            v = len(self._terms)
            counts = self._counts[tids].toarray()  # (m, C)
            logp += np.log((counts + self.alpha) / (self._cat_total + self.alpha * v)).sum(axis=0)
        logp -= logp.max()
        p = np.exp(logp)
        return p / p.sum()

    def predict(self, query: str, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` most probable categories with their probabilities."""
        p = self.predict_proba(query)
        order = np.argsort(-p, kind="stable")[:n]
        return [(self.categories[i], float(p[i])) for i in order]


class SpellCorrector:
    """Word-by-word correction against known words (see :class:`SpellingIndex`); ``typos(word)``
    says how many edits a word of its length may be away (the lexical index's typo tolerance)."""

    def __init__(self, words: SpellingIndex, typos: Callable[[str], int] | None = None) -> None:
        self.words = words
        self.typos = typos or words.allowed_distance

    def add_queries(self, queries: Iterable[str]) -> None:
        counts: Counter[str] = Counter()
        for q in queries:
            counts.update(w for w in q.casefold().split() if w.isalpha() and len(w) >= 3)
        self.words.add(counts.items())

    def correct(self, query: str) -> str:
        """The query with each unknown alphabetic word replaced by its best known neighbour (or split)."""
        out = []
        for word in query.split():
            low = word.casefold()
            if not low.isalpha() or is_cjk(low[0]) or low in self.words:
                out.append(word)
                continue
            cands = self.words.candidates(low, limit=1, max_distance=self.typos(low))
            if cands:
                out.append(cands[0][0])
                continue
            parts = self.words.split(low)
            out.append(" ".join(parts) if parts else word)
        return " ".join(out)
