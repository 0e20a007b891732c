"""Autocomplete: completions of a typed prefix over past queries and catalogue terms, most frequent first.

Completions are phrases: catalogue terms (each title word, the openings of titles up to
``max_words`` words, brands, the names of the category path) weighted by the items that have them,
and past shopper queries weighted ``query_weight`` per search. A typed prefix matches a phrase at the
start of any of its words ("dri" finds "drill" and "cordless drill"; a phrase's own start ranks
first), words split as the search analyzer splits them (jieba for Chinese, so "电" finds "笔记本电脑").

**Privacy.** A query a shopper typed is suggested to others only once at least ``min_shoppers``
distinct shoppers (the user's pseudonym, else the session's) searched it: one shopper's query,
scrubbed or not, never leaks. Queries holding a scrubbing placeholder (``[email]``, ``[phone]``,
``[card]``) are never suggested. :meth:`Autocomplete.add_queries` is for trusted query lists (a
benchmark's training queries), counted as seen by enough shoppers.

**Speed.** The index is a sorted array of every phrase suffix that starts a word (``bisect`` finds a
prefix's range) beside numpy arrays of each suffix's phrase: a request is two binary searches and one
vectorised top-n over the range, whatever its size. Weights are per phrase and change in place, so
new searches count at once; a new phrase's suffixes wait in a small sorted list (searched the same
way) until ``rebuild_after`` new phrases trigger a rebuild of the sorted array in the background.
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from shopsage.text.analyzers import Analyzer, is_cjk

__all__ = ["Autocomplete", "Suggestion", "normalize_phrase", "SCRUBBED"]

SCRUBBED = ("[email]", "[phone]", "[card]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TRUSTED = 1 << 30  # shopper count of trusted queries
_MAX_SHOPPERS = 100  # distinct shoppers remembered per query (the largest k a setting allows)
_MAX_LEN = 100  # longest phrase suggested (characters)
_MAX_TIES = 512  # candidates sorted exactly (ties at the top-n cut included) before picking any
_CJK_TITLE = 20  # Chinese titles up to this many characters are suggested whole


def normalize_phrase(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: the form phrases are compared and shown in."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Suggestion:
    text: str
    source: Literal["query", "catalogue"]
    weight: float


class Autocomplete:
    """Prefix completion over catalogue phrases and (k-anonymous) past queries."""

    def __init__(self, query_weight: float = 5.0, max_words: int = 3, min_shoppers: int = 5,
                 analyzer: Analyzer | None = None, rebuild_after: int = 1000) -> None:
        self.query_weight = query_weight
        self.max_words = max_words
        self.min_shoppers = min_shoppers
        self.analyzer = analyzer
        self.rebuild_after = rebuild_after
        self._lock = threading.RLock()
        self._phrases: list[str] = []
        self._ids: dict[str, int] = {}
        self._cat = np.zeros(0, np.float64)  # catalogue weight per phrase
        self._qw = np.zeros(0, np.float64)  # query weight per phrase
        self._qn = np.zeros(0, np.int64)  # distinct shoppers per phrase
        self._shoppers: dict[int, set[int]] = {}
        self._items: dict[str, list[int]] = {}  # item id -> its phrase ids (an update replaces them)
        self._keys: list[str] = []  # sorted word-start suffixes
        self._key_phrase = np.zeros(0, np.int64)
        self._key_inner = np.zeros(0, bool)  # the suffix starts after the phrase's first word
        self._new: list[int] = []  # phrases not yet in the sorted array
        self._pending: list[tuple[str, int, bool]] = []  # their word-start suffixes, kept sorted (small)
        self._built = False
        self._building = False

    # ------------------------------------------------------------------ phrases
    def _phrase(self, text: str) -> int:
        pid = self._ids.get(text)
        if pid is None:
            pid = self._ids[text] = len(self._phrases)
            self._phrases.append(text)
            if pid >= len(self._cat):
                n = max(1024, 2 * len(self._cat))
                self._cat = np.concatenate([self._cat, np.zeros(n, np.float64)])
                self._qw = np.concatenate([self._qw, np.zeros(n, np.float64)])
                self._qn = np.concatenate([self._qn, np.zeros(n, np.int64)])
            self._new.append(pid)
            if self._built:  # before the first build every phrase goes into it
                for st in self._starts(text):
                    bisect.insort(self._pending, (text[st:], pid, st > 0))
        return pid

    def _words(self, text: str) -> list[str]:
        if self.analyzer is not None and any(is_cjk(c) for c in text):
            return [w for w in self.analyzer.tokens(text) if w.strip()]
        return _WORD.findall(text)

    def _catalogue_phrases(self, title: str | None, brand: str | None = None,
                           categories: Iterable[str] = ()) -> set[str]:
        out: set[str] = set()
        t = normalize_phrase(title or "")
        if t:
            words = self._words(t)
            out.update(w for w in words if (len(w) >= 2 or is_cjk(w[0]))
                       and (self.analyzer is None or self.analyzer.term(w) is not None))  # no stop words alone
            if not any(is_cjk(c) for c in t):  # openings of words ("cordless drill"), punctuation left out
                for k in range(2, min(self.max_words, len(words)) + 1):
                    out.add(" ".join(words[:k]))
            elif len(t) <= _CJK_TITLE:  # a short Chinese title whole (its words have no spaces to open on)
                out.add(t)
        for extra in (brand, *categories):
            e = normalize_phrase(extra or "")
            if e:
                out.add(e)
        return {p for p in out if len(p) <= _MAX_LEN}

    def add_catalogue(self, titles: Iterable[str]) -> None:
        """Count the phrases of item titles (items without ids: they are never removed)."""
        with self._lock:
            for title in titles:
                for p in self._catalogue_phrases(title):
                    pid = self._phrase(p)  # first: it may grow the arrays
                    self._cat[pid] += 1
            self._maybe_rebuild()

    def set_item(self, item: str, title: str | None, brand: str | None = None, categories: Iterable[str] = ()) -> None:
        """Count an item's phrases, replacing what the item counted before (an update)."""
        with self._lock:
            self._remove(item)
            pids = [self._phrase(p) for p in self._catalogue_phrases(title, brand, categories)]
            self._cat[pids] += 1
            self._items[item] = pids
            self._maybe_rebuild()

    def remove_item(self, item: str) -> None:
        with self._lock:
            self._remove(item)

    def _remove(self, item: str) -> None:
        old = self._items.pop(item, None)
        if old:
            self._cat[old] -= 1

    def add_queries(self, queries: Iterable[str]) -> None:
        """Trusted past queries (counted as if enough shoppers searched them)."""
        with self._lock:
            for q in queries:
                p = normalize_phrase(q)
                if p and len(p) <= _MAX_LEN and not any(s in p for s in SCRUBBED):
                    pid = self._phrase(p)
                    self._qw[pid] += self.query_weight
                    self._qn[pid] = _TRUSTED
            self._maybe_rebuild()

    def add_search(self, query: str, shopper: str) -> None:
        """One shopper's search (``shopper``: their pseudonymous user id, else their session's)."""
        p = normalize_phrase(query)
        if not p or len(p) > _MAX_LEN or any(s in p for s in SCRUBBED):
            return
        with self._lock:
            pid = self._phrase(p)
            self._qw[pid] += self.query_weight
            if self._qn[pid] < _MAX_SHOPPERS:
                seen = self._shoppers.setdefault(pid, set())
                seen.add(hash(shopper))
                self._qn[pid] = max(int(self._qn[pid]), len(seen))
                if len(seen) >= _MAX_SHOPPERS:
                    del self._shoppers[pid]
            self._maybe_rebuild()

    def shoppers(self, query: str) -> int:
        """Distinct shoppers seen searching ``query``."""
        pid = self._ids.get(normalize_phrase(query))
        return 0 if pid is None else int(self._qn[pid])

    # ------------------------------------------------------------------ the prefix index
    def _starts(self, phrase: str) -> list[int]:
        starts = {m.start() for m in _WORD.finditer(phrase)}
        if self.analyzer is not None and any(is_cjk(c) for c in phrase):
            for w in self.analyzer.tokens(phrase):
                at = phrase.find(w)
                while w and at >= 0:
                    starts.add(at)
                    at = phrase.find(w, at + 1)
        return sorted(starts) or [0]

    def _maybe_rebuild(self) -> None:
        """Past ``rebuild_after`` new phrases, sort them in, in a background thread (the first build, after
        the bulk load, is the caller's or the first request's)."""
        if len(self._new) >= self.rebuild_after and self._built and not self._building:
            self._building = True
            threading.Thread(target=self.build, name="shopsage-autocomplete", daemon=True).start()

    def build(self) -> None:
        """Sort every phrase's word-start suffixes (the first time), or merge the pending ones into the
        sorted array (after that: linear, no re-sort); requests meanwhile use the previous array plus
        the pending list."""
        try:
            with self._lock:
                count = len(self._phrases)
                phrases = self._phrases[:count]
                pending = list(self._pending) if self._built else None
                keys, kp, ki = self._keys, self._key_phrase, self._key_inner
            if pending is None:
                every: list[tuple[str, int, bool]] = []
                for pid, phrase in enumerate(phrases):
                    for s in self._starts(phrase):
                        every.append((phrase[s:], pid, s > 0))
                every.sort()
                sorted_keys = [k for k, _, _ in every]
                key_phrase = np.fromiter((p for _, p, _ in every), np.int64, count=len(every))
                key_inner = np.fromiter((b for _, _, b in every), bool, count=len(every))
            else:
                sorted_keys, key_phrase, key_inner = _merge(keys, kp, ki, pending)
            with self._lock:
                self._keys, self._key_phrase, self._key_inner = sorted_keys, key_phrase, key_inner
                self._new = [p for p in self._new if p >= count]
                if self._built:
                    self._pending = [k for k in self._pending if k[1] >= count]
                else:  # phrases added during the first build were not put in the pending list
                    self._pending = sorted((self._phrases[p][st:], p, st > 0) for p in self._new
                                           for st in self._starts(self._phrases[p]))
                self._built = True
        finally:
            self._building = False

    def _weights(self, pids: np.ndarray) -> np.ndarray:
        q = np.where(self._qn[pids] >= self.min_shoppers, self._qw[pids], 0.0)
        return self._cat[pids] + q

    def suggest(self, prefix: str, n: int = 8) -> list[Suggestion]:
        """Up to ``n`` completions of ``prefix``: phrases starting with it first, then phrases with a later
        word starting with it, each by weight (then shorter, then alphabetical)."""
        p = normalize_phrase(prefix)
        if not p or n < 1:
            return []
        if prefix[-1:].isspace():
            p += " "
        if not self._built:
            self.build()
        with self._lock:
            keys, kp, ki = self._keys, self._key_phrase, self._key_inner
            plo = bisect.bisect_left(self._pending, (p,))
            extra = self._pending[plo:bisect.bisect_left(self._pending, (p + "\U0010ffff",), plo)]
            cat, qw, qn = self._cat, self._qw, self._qn
            phrases = self._phrases
        lo = bisect.bisect_left(keys, p)
        hi = bisect.bisect_left(keys, p + "\U0010ffff", lo)
        pids, inner = kp[lo:hi], ki[lo:hi]
        if extra:  # phrases added since the last build
            pids = np.concatenate([pids, np.array([e[1] for e in extra], np.int64)])
            inner = np.concatenate([inner, np.array([e[2] for e in extra], bool)])
        w = cat[pids] + np.where(qn[pids] >= self.min_shoppers, qw[pids], 0.0)
        ok = w > 0
        pids, inner, w = pids[ok], inner[ok], w[ok]
        if len(pids) > 4 * n:  # the best 4n by (outer first, weight), ties at the cut included: a few to sort
            rank = w - inner * (w.max() + 1.0)
            cut = np.partition(-rank, 4 * n - 1)[4 * n - 1]
            top = np.flatnonzero(-rank <= cut)
            if len(top) > _MAX_TIES:  # thousands of equal weights: any 4n of them
                top = np.argpartition(-rank, 4 * n - 1)[:4 * n]
            pids, inner, w = pids[top], inner[top], w[top]
        order = sorted(range(len(pids)), key=lambda i: (bool(inner[i]), -w[i], len(phrases[pids[i]]), phrases[pids[i]]))
        out: list[Suggestion] = []
        seen: set[int] = set()
        for i in order:
            pid = int(pids[i])
            if pid in seen:
                continue
            seen.add(pid)
            source: Literal["query", "catalogue"] = "query" if qn[pid] >= self.min_shoppers and qw[pid] > 0 else "catalogue"
            out.append(Suggestion(phrases[pid], source, float(w[i])))
        typed = p.strip()
        rest = [s for s in out if s.text != typed]
        return (rest or out)[:n]

    def complete(self, prefix: str, n: int = 8) -> list[str]:
        """The texts of :meth:`suggest`."""
        return [s.text for s in self.suggest(prefix, n)]

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> dict[str, list[float]]:
        """Phrase -> [catalogue weight, query weight, shoppers] (shopper ids are not kept)."""
        return {p: [float(self._cat[i]), float(self._qw[i]), int(self._qn[i])] for i, p in enumerate(self._phrases)}

    def load_json(self, data: dict[str, list[float] | float]) -> None:
        """Read :meth:`to_json` (or the older phrase -> weight form, counted as catalogue weight)."""
        with self._lock:
            for phrase, v in data.items():
                pid = self._phrase(phrase)
                if isinstance(v, list):
                    self._cat[pid], self._qw[pid], self._qn[pid] = v[0], v[1], int(v[2])
                else:
                    self._cat[pid] = float(v)
        self.build()


def _merge(keys: list[str], kp: np.ndarray, ki: np.ndarray,
           pending: list[tuple[str, int, bool]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The sorted suffix array with the sorted ``pending`` suffixes inserted where they belong."""
    at = [bisect.bisect_left(keys, k) for k, _, _ in pending]  # non-decreasing: pending is sorted
    out: list[str] = []
    prev = 0
    for pos, (k, _, _) in zip(at, pending, strict=True):
        out.extend(keys[prev:pos])
        out.append(k)
        prev = pos
    out.extend(keys[prev:])
    where = np.asarray(at, dtype=np.int64)
    return (out, np.insert(kp, where, np.array([p for _, p, _ in pending], np.int64)),
            np.insert(ki, where, np.array([b for _, _, b in pending], bool)))
