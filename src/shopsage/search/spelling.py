"""Spelling candidates for a word from a known vocabulary (symmetric-delete, as in SymSpell).

Every vocabulary word's deletions within ``max_distance`` (of its first ``prefix`` characters)
point back to it; a query word's deletions meet them. Candidates are then checked with the true
Damerau-Levenshtein (optimal string alignment) distance. Lookup costs a few dictionary probes, so
it can run on every query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["SpellingIndex", "edit_distance"]


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal string alignment distance of ``a`` and ``b``, or ``limit + 1`` once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        nxt = set()
        for w in frontier:
            for i in range(len(w)):
                nxt.add(w[:i] + w[i + 1:])
        out |= nxt
        frontier = nxt
    return out


class SpellingIndex:
    """Words with their counts; ``candidates(word)`` lists close known words, best first."""

    def __init__(self, counts: Mapping[str, int] | None = None, max_distance: int = 2, prefix: int = 7,
                 min_length: int = 4) -> None:
        self.max_distance = max_distance
        self.prefix = prefix
        self.min_length = min_length
        self.counts: dict[str, int] = {}
        self._deletes: dict[str, list[str]] = {}
        if counts:
            self.add(counts.items())

    def add(self, items: Iterable[tuple[str, int]]) -> None:
        for word, count in items:
            if word in self.counts:
                self.counts[word] += count
                continue
            self.counts[word] = count
            if len(word) < self.min_length - self.max_distance:
                continue
            for d in _deletes(word[:self.prefix], self.max_distance):
                self._deletes.setdefault(d, []).append(word)

    def __contains__(self, word: object) -> bool:
        return word in self.counts

    def allowed_distance(self, word: str) -> int:
        """Short words tolerate fewer edits: 0 below ``min_length``, 1 up to 7 letters, then 2."""
        if len(word) < self.min_length:
            return 0
        return 1 if len(word) <= 7 else self.max_distance

    def candidates(self, word: str, limit: int = 3, max_distance: int | None = None) -> list[tuple[str, int]]:
        """Up to ``limit`` ``(known word, distance)``, nearest first, then most frequent first, within
        ``max_distance`` edits (default: :meth:`allowed_distance`; never more than the index's own)."""
        allowed = self.allowed_distance(word) if max_distance is None else max_distance
        max_d = min(allowed, self.max_distance)
        if max_d == 0:
            return []
        seen: set[str] = set()
        found: list[tuple[int, int, str]] = []
        for d in _deletes(word[:self.prefix], max_d):
            for cand in self._deletes.get(d, ()):
                if cand in seen or cand == word:
                    continue
                seen.add(cand)
                dist = edit_distance(word, cand, max_d)
                if dist <= max_d:
                    found.append((dist, -self.counts[cand], cand))
        found.sort()
        return [(w, d) for d, _, w in found[:limit]]

    def split(self, word: str, min_part: int = 3) -> tuple[str, str] | None:
        """The most frequent split of ``word`` into two known words ("sheetrock" -> sheet, rock)."""
        best: tuple[int, tuple[str, str]] | None = None
        for i in range(min_part, len(word) - min_part + 1):
            a, b = word[:i], word[i:]
            if a in self.counts and b in self.counts:
                score = min(self.counts[a], self.counts[b])
                if best is None or score > best[0]:
                    best = (score, (a, b))
        return best[1] if best else None
