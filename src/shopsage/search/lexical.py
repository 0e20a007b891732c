"""Lexical search: BM25F over weighted fields, stemming or Chinese segmentation, typo tolerance.

Scoring is BM25F (Robertson & Zaragoza 2009): per field ``f`` with weight ``w_f``,

    tf~(t, d) = sum_f  w_f * tf_f(t, d) / (1 - b + b * len_f(d) / avglen_f)
    score(q, d) = sum_{t in q}  idf(t) * tf~ * (k1 + 1) / (k1 + tf~)

With one field of weight 1 it is plain BM25, which the comparison tests check against
``rank_bm25`` (``idf="robertson"``) and ``bm25s`` (``idf="lucene"``). Collection statistics
(N, document frequency, average field lengths) are those of the live documents at query time, so
adding, updating and deleting items is exact without re-analysing anything: new postings go to a
new segment (see ``_segments``), old postings of an updated or deleted item are skipped, and
small segments are merged by a vectorized sort.

Typo tolerance: a query word unknown to the index is replaced by the nearest known word within
one edit from ``min_word_size_for_one_typo`` letters (5) and two edits from
``min_word_size_for_two_typos`` letters (9), Meilisearch's defaults; shorter words must be typed
right. A word with no such neighbour may be split into two known words ("sheetrock"). Either
counts ``typo_weight`` of a word found as typed.

Ids are the caller's contiguous int slots (the engine's vocabulary); results are
:class:`~shopsage.types.ScoredItems`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shopsage.artifacts import load_arrays, read_manifest, save_arrays, write_manifest
from shopsage.errors import ValidationError
from shopsage.search._segments import Segment, build_segment, merge_segments
from shopsage.search.spelling import SpellingIndex
from shopsage.text.analyzers import is_cjk, make_analyzer
from shopsage.types import ScoredItems

__all__ = ["LexicalConfig", "LexicalIndex", "QueryTerms", "DEFAULT_FIELDS"]

DEFAULT_FIELDS = {"title": 3.0, "category": 1.5, "brand": 2.0, "description": 1.0, "attributes": 1.0}


class LexicalConfig(BaseModel):
    """BM25F settings of a :class:`LexicalIndex`."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_FIELDS))
    """Field name -> weight; documents may leave any field out."""
    k1: float = Field(1.2, ge=0)
    """Term-frequency saturation."""
    b: float = Field(0.75, ge=0, le=1)
    """Length normalization, the same for every field."""
    idf: Literal["lucene", "robertson"] = "lucene"
    """``lucene``: log(1 + (N - df + .5)/(df + .5)), never negative; ``robertson``: log((N - df + .5)/(df + .5))."""
    analyzer: Literal["english", "english-nostem", "chinese", "multilingual"] = "english"
    """How text becomes terms; ``multilingual`` picks jieba or English per text."""
    typo_tolerance: bool = True
    """Replace query words the index does not know by close known words."""
    typo_weight: float = Field(0.7, ge=0, le=1)
    """Weight of a corrected or split query word relative to a word found as typed."""
    min_word_size_for_one_typo: int = Field(5, ge=1)
    """A query word of at least this many letters may match a known word one edit away (an insertion,
    deletion, substitution or swap of neighbours); shorter words get no typo (Meilisearch's default)."""
    min_word_size_for_two_typos: int = Field(9, ge=1)
    """From this many letters a word may match a known word two edits away (Meilisearch's default)."""
    max_segments: int = Field(8, ge=1)
    """Merge all segments into one when there are more than this many."""

    @model_validator(mode="after")
    def _check_typos(self) -> LexicalConfig:
        if self.min_word_size_for_two_typos < self.min_word_size_for_one_typo:
            raise ValueError(f"min_word_size_for_two_typos ({self.min_word_size_for_two_typos}) is below "
                             f"min_word_size_for_one_typo ({self.min_word_size_for_one_typo}): two typos need "
                             "longer words than one; raise it")
        return self

    def typos_allowed(self, word: str) -> int:
        """Edits a query word of this length may be away from a known word (0, 1 or 2)."""
        if len(word) >= self.min_word_size_for_two_typos:
            return 2
        return 1 if len(word) >= self.min_word_size_for_one_typo else 0


class QueryTerms:
    """An analyzed query: term ids with weights (typo corrections weigh less)."""

    def __init__(self, tids: np.ndarray, weights: np.ndarray, corrected: dict[str, str]) -> None:
        self.tids = tids  # (m,) int32, one entry per query term occurrence
        self.weights = weights  # (m,) float32
        self.corrected = corrected  # typed word -> replacement(s) used

    def __len__(self) -> int:
        return len(self.tids)


class LexicalIndex:
    """A BM25F inverted index over int item slots."""

    KIND = "lexical-index"

    def __init__(self, config: LexicalConfig | None = None) -> None:
        self.config = config or LexicalConfig()
        self.fields = list(self.config.fields)
        self._w = np.array([self.config.fields[f] for f in self.fields], dtype=np.float32)
        self.analyzer = make_analyzer(self.config.analyzer)
        self._terms: dict[str, int] = {}
        self._segments: list[Segment] = []
        self._pending: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._gen = 0
        self._owner = np.full(0, -1, dtype=np.int32)  # slot -> segment gen, -1 = absent
        self._lens = np.zeros((0, len(self.fields)), dtype=np.float32)
        self._norm: np.ndarray | None = None
        self._norm_w = self._w  # the field weights self._norm was computed with
        self.surface = SpellingIndex()
        self._surface_pending: Counter[str] = Counter()
        self.stop_words: frozenset[str] = frozenset()
        """Query words ignored (index settings; on top of the analyzer's own stop list)."""
        self.synonyms: dict[str, tuple[str, ...]] = {}
        """Query phrase (normalized words, up to 3) -> texts it also matches, with full weight (index settings)."""
        self._searchable: frozenset[str] | None = None  # fields a query word may match in (None: all)

    def set_searchable(self, fields: Sequence[str] | None) -> None:
        """Only ``fields`` match query words from now on (``None``: every field): the others weigh 0."""
        unknown = set(fields or ()) - set(self.fields)
        if unknown:
            raise ValidationError(f"fields {sorted(unknown)} are not indexed; this index has {self.fields}.")
        self._searchable = None if fields is None or set(fields) >= set(self.fields) else frozenset(fields)
        keep = [self._searchable is None or f in self._searchable for f in self.fields]
        self._w = np.array([self.config.fields[f] if k else 0.0 for f, k in zip(self.fields, keep, strict=True)],
                           dtype=np.float32)
        self._norm = None

    def query_words(self, text: str) -> tuple[list[str], list[str]]:
        """``(the query's tokens without stop words, the synonym texts they bring)``."""
        toks = [t for t in self.analyzer.tokens(text) if t not in self.stop_words]
        extra: list[str] = []
        if self.synonyms:
            for n in (3, 2, 1):
                for i in range(len(toks) - n + 1):
                    extra.extend(self.synonyms.get(" ".join(toks[i:i + n]), ()))
        return toks, list(dict.fromkeys(extra))

    def query_term_list(self, text: str) -> list[str]:
        """The index terms a query searches for: its words' (stop words out) and its synonyms'."""
        toks, extra = self.query_words(text)
        terms = [t for t in (self.analyzer.term(tok) for tok in toks) if t is not None]
        for e in extra:
            terms.extend(self.analyzer.analyze(e))
        return terms

    # ------------------------------------------------------------------ writing
    def _grow(self, cap: int) -> None:
        if cap <= len(self._owner):
            return
        new = max(cap, 2 * len(self._owner), 1024)
        owner = np.full(new, -1, dtype=np.int32)
        owner[:len(self._owner)] = self._owner
        lens = np.zeros((new, len(self.fields)), dtype=np.float32)
        lens[:len(self._lens)] = self._lens
        self._owner, self._lens = owner, lens

    def _analyze_doc(self, doc: Mapping[str, str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts: dict[int, np.ndarray] = {}
        lens = np.zeros(len(self.fields), dtype=np.float32)
        unknown = set(doc) - set(self.fields)
        if unknown:
            raise ValidationError(f"fields {sorted(unknown)} are not indexed; this index has {self.fields}. "
                                  "Add them to LexicalConfig.fields or leave them out.")
        for f, name in enumerate(self.fields):
            text = doc.get(name)
            if not text:
                continue
            for tok in self.analyzer.tokens(text):
                term = self.analyzer.term(tok)
                if term is None:
                    continue
                if len(tok) >= 3 and tok.isalpha() and not is_cjk(tok[0]):
                    self._surface_pending[tok] += 1
                tid = self._terms.setdefault(term, len(self._terms))
                row = counts.get(tid)
                if row is None:
                    row = counts[tid] = np.zeros(len(self.fields), dtype=np.float32)
                row[f] += 1
                lens[f] += 1
        tids = np.fromiter(counts, dtype=np.int32, count=len(counts))
        tfs = np.stack(list(counts.values())) if counts else np.zeros((0, len(self.fields)), np.float32)
        return tids, tfs, lens

    def add(self, ids: Sequence[int] | np.ndarray, docs: Sequence[Mapping[str, str | None]]) -> None:
        """Index ``docs[i]`` (field -> text) under slot ``ids[i]``; an existing slot is replaced."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != len(docs):
            raise ValidationError(f"{len(ids)} ids for {len(docs)} documents: give one id per document.")
        if len(ids) and ids.min() < 0:
            raise ValidationError("item ids must be >= 0 (they are vocabulary indexes).")
        if len(ids) == 0:
            return
        self._grow(int(ids.max()) + 1)
        for slot, doc in zip(ids.tolist(), docs, strict=True):
            tids, tfs, lens = self._analyze_doc(doc)
            self._pending.append((slot, tids, tfs))
            self._lens[slot] = lens
            self._owner[slot] = -2  # pending: not searchable until flushed
        self._norm = None

    def delete(self, ids: Sequence[int] | np.ndarray) -> None:
        """Remove slots from the index (unknown ids are ignored)."""
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[(ids >= 0) & (ids < len(self._owner))]
        if len(ids) == 0:
            return
        if self._pending:
            self._flush()
        self._owner[ids] = -1
        self._lens[ids] = 0
        self._norm = None

    def _flush(self) -> None:
        if self._surface_pending:
            self.surface.add(self._surface_pending.items())
            self._surface_pending = Counter()
        if not self._pending:
            return
        # The last write of a slot wins.
        last: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for slot, tids, tfs in self._pending:
            last[slot] = (tids, tfs)
        self._pending = []
        self._gen += 1
        docs = np.concatenate([np.full(len(t), s, np.int32) for s, (t, _) in last.items()])
        tids = np.concatenate([t for t, _ in last.values()])
        tfs = np.concatenate([f for _, f in last.values()])
        self._segments.append(build_segment(self._gen, tids, docs, tfs))
        self._owner[np.fromiter(last, dtype=np.int64)] = self._gen
        if len(self._segments) > self.config.max_segments:
            self.merge()

    def refresh(self) -> None:
        """Apply pending additions, so that the statistics and the spelling vocabulary (``surface``) are current."""
        self._flush()

    def merge(self) -> None:
        """Merge every segment into one, dropping postings of updated and deleted items."""
        self._flush()
        if len(self._segments) <= 1 and not self._has_dead_postings():
            return
        self._gen += 1
        self._segments = [merge_segments(self._gen, self._segments, self._owner)]

    def _has_dead_postings(self) -> bool:
        return any(bool((self._owner[s.docs] != s.gen).any()) for s in self._segments)

    # ------------------------------------------------------------------ statistics
    @property
    def live(self) -> np.ndarray:
        """``(capacity,) bool``: slots currently indexed."""
        self._flush()
        return self._owner >= 0

    def __len__(self) -> int:
        return int(self.live.sum())

    @property
    def capacity(self) -> int:
        return len(self._owner)

    def _norms(self) -> np.ndarray:
        if self._norm is None or self._norm_w is not self._w:  # (searchable fields changed: other weights)
            w = self._norm_w = self._w
            live = self._owner >= 0
            n = max(int(live.sum()), 1)
            avg = self._lens[live].sum(axis=0) / n
            avg[avg == 0] = 1.0
            b = self.config.b
            norm = (1 - b) + b * self._lens / avg  # (cap, F)
            # BM25F: weight over normalized length, folded into one (cap, F) factor.
            self._norm = (w / norm).astype(np.float32)
        return self._norm

    def _idf(self, df: int, n: int) -> float:
        if self.config.idf == "lucene":
            return float(np.log1p((n - df + 0.5) / (df + 0.5)))
        return float(np.log((n - df + 0.5) / (df + 0.5)))

    # ------------------------------------------------------------------ querying
    def query_terms(self, text: str) -> QueryTerms:
        """Analyze a query, with typo tolerance for words the index does not know."""
        self._flush()
        tids: list[int] = []
        weights: list[float] = []
        corrected: dict[str, str] = {}
        toks, extra = self.query_words(text)
        for e in extra:  # synonyms weigh as the typed words (Meilisearch's synonyms)
            for t in self.analyzer.analyze(e):
                if t in self._terms:
                    tids.append(self._terms[t])
                    weights.append(1.0)
        for tok in toks:
            term = self.analyzer.term(tok)
            if term is None:
                continue
            tid = self._terms.get(term)
            if tid is not None:
                tids.append(tid)
                weights.append(1.0)
                continue
            if not (self.config.typo_tolerance and tok.isalpha() and not is_cjk(tok[0])):
                continue
            repl = self._correct(tok)
            if repl:
                corrected[tok] = " ".join(repl)
                for word in repl:
                    t2 = self.analyzer.term(word)
                    if t2 is not None and t2 in self._terms:
                        tids.append(self._terms[t2])
                        weights.append(self.config.typo_weight)
        return QueryTerms(np.array(tids, dtype=np.int32), np.array(weights, dtype=np.float32), corrected)

    def _correct(self, word: str) -> list[str]:
        cands = self.surface.candidates(word, limit=1, max_distance=self.config.typos_allowed(word))
        if cands:
            return [cands[0][0]]
        parts = self.surface.split(word)
        return list(parts) if parts else []

    def _term_postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        docs_l, tfs_l = [], []
        for seg in self._segments:
            docs, tfs = seg.postings(tid)
            if len(docs):
                keep = self._owner[docs] == seg.gen
                docs_l.append(docs[keep])
                tfs_l.append(tfs[keep])
        if not docs_l:
            return np.zeros(0, np.int32), np.zeros((0, len(self.fields)), np.float32)
        if len(docs_l) == 1:
            return docs_l[0], tfs_l[0]
        return np.concatenate(docs_l), np.concatenate(tfs_l)

    def _term_scores(self, q: QueryTerms) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per query term: ``(docs, per-field weighted normalized tf (n, F), idf * weight)``."""
        n = int((self._owner >= 0).sum())
        norm = self._norms()
        out = []
        for tid, w in zip(q.tids.tolist(), q.weights.tolist(), strict=True):
            docs, tfs = self._term_postings(tid)
            if self._searchable is not None and len(docs):  # a match in a field not searchable is none
                hit = (tfs * (self._w > 0)).sum(axis=1) > 0
                docs, tfs = docs[hit], tfs[hit]
            if len(docs) == 0:
                continue
            idf = self._idf(len(docs), n)
            out.append((docs, tfs * norm[docs], np.float32(idf * w)))
        return out

    def score_terms(self, q: QueryTerms) -> tuple[np.ndarray, np.ndarray]:
        """``(docs, scores)`` of every live document matching at least one query term."""
        k1 = self.config.k1
        parts = self._term_scores(q)
        if not parts:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        all_docs = np.concatenate([p[0] for p in parts])
        all_s = np.concatenate([idf * (tf := wtf.sum(axis=1)) * (k1 + 1) / (k1 + tf) for _, wtf, idf in parts])
        dense = np.bincount(all_docs, weights=all_s, minlength=self.capacity)
        touched = np.zeros(self.capacity, dtype=bool)
        touched[all_docs] = True
        docs = np.flatnonzero(touched)  # cheaper than np.unique on long posting lists
        return docs.astype(np.int32), dense[docs].astype(np.float32)

    def search(self, queries: Sequence[str], n: int = 10, mask: np.ndarray | None = None) -> ScoredItems:
        """Top ``n`` live items per query, best first; ``mask`` (bool over slots) filters them."""
        if n < 1:
            raise ValidationError(f"n of {n} is not a result count: ask for n >= 1.")
        rows = []
        for text in queries:
            docs, scores = self.score_terms(self.query_terms(text))
            if mask is not None and len(docs):
                m = np.asarray(mask, dtype=bool)
                keep = docs < len(m)
                keep[keep] = m[docs[keep]]
                docs, scores = docs[keep], scores[keep]
            rows.append(_top(docs, scores, n))
        return ScoredItems.from_rows(rows, n)

    def field_features(self, q: QueryTerms, ids: np.ndarray) -> dict[str, np.ndarray]:
        """Per candidate in ``ids``: BM25F total, BM25 per field, matched query terms (any field, per field)."""
        k1 = self.config.k1
        ids = np.asarray(ids, dtype=np.int64)
        n_f = len(self.fields)
        pos = np.full(self.capacity, -1, dtype=np.int64)
        valid = (ids >= 0) & (ids < self.capacity)
        pos[ids[valid]] = np.flatnonzero(valid)
        total = np.zeros(len(ids), np.float32)
        per_field = np.zeros((len(ids), n_f), np.float32)
        matched = np.zeros(len(ids), np.float32)
        field_matched = np.zeros((len(ids), n_f), np.float32)
        w = np.where(self._w > 0, self._w, 1.0)
        for docs, wtf, idf in self._term_scores(q):
            p = pos[docs]
            hit = p >= 0
            if not hit.any():
                continue
            p, wtf = p[hit], wtf[hit]
            tf = wtf.sum(axis=1)
            total[p] += idf * tf * (k1 + 1) / (k1 + tf)
            ftf = wtf / w  # undo the field weight: plain BM25 per field
            per_field[p] += idf * ftf * (k1 + 1) / (k1 + ftf)
            matched[p] += 1
            field_matched[p] += (ftf > 0)
        return {"bm25": total, "field_bm25": per_field, "matched": matched, "field_matched": field_matched}

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> None:
        """Write the index as ``manifest.json`` + ``.npy`` + ``terms.txt`` (no pickles)."""
        directory = Path(directory)
        self.merge()
        self._flush()
        seg = self._segments[0] if self._segments else build_segment(
            0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros((0, len(self.fields)), np.float32))
        directory.mkdir(parents=True, exist_ok=True)
        terms = sorted(self._terms, key=self._terms.__getitem__)
        (directory / "terms.txt").write_text("\n".join(terms), encoding="utf-8")
        surface = list(self.surface.counts)
        (directory / "surface.txt").write_text("\n".join(surface), encoding="utf-8")
        save_arrays(directory, tids=seg.tids, ptr=seg.ptr, docs=seg.docs, tfs=seg.tfs,
                    live=self._owner >= 0, lens=self._lens,
                    surface_counts=np.array([self.surface.counts[w] for w in surface], dtype=np.int64))
        write_manifest(directory, self.KIND, json.loads(self.config.model_dump_json()),
                       n_items=len(self), n_terms=len(terms), capacity=self.capacity,
                       field_order=self.fields)  # the manifest sorts keys; tfs columns follow this order

    @classmethod
    def load(cls, directory: str | Path) -> LexicalIndex:
        directory = Path(directory)
        manifest = read_manifest(directory, cls.KIND)
        cfg = dict(manifest["config"])
        cfg["fields"] = {f: cfg["fields"][f] for f in manifest["field_order"]}
        index = cls(LexicalConfig(**cfg))
        arr = load_arrays(directory, "tids", "ptr", "docs", "tfs", "live", "lens", "surface_counts")
        text = (directory / "terms.txt").read_text(encoding="utf-8")
        index._terms = {t: i for i, t in enumerate(text.split("\n"))} if text else {}
        words = (directory / "surface.txt").read_text(encoding="utf-8")
        if words:
            index.surface.add(zip(words.split("\n"), arr["surface_counts"].tolist(), strict=True))
        index._gen = 1
        index._segments = [Segment(1, arr["tids"], arr["ptr"], arr["docs"], arr["tfs"])]
        index._owner = np.where(arr["live"], 1, -1).astype(np.int32)
        index._lens = arr["lens"].astype(np.float32)
        return index


def _top(docs: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``n`` of ``(docs, scores)``, ties broken by smaller id."""
    if len(docs) > n:
        part = np.argpartition(-scores, n - 1)[:n]
        docs, scores = docs[part], scores[part]
    order = np.lexsort((docs, -scores))
    return docs[order], scores[order]
