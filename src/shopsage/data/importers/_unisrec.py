"""Titles, category paths and brands inside UniSRec's item texts.

UniSRec's preprocessing of the Amazon 2018 data (the ``NAME.text`` atomic files of RecBole's
text-aware data sets, e.g. Amazon Scientific) writes one text per item: the title, the category
list and the brand, each cleaned to end with one ``.`` and followed by a space::

    PORTER-CABLE 740000801 ... Sanding Roll. Industrial & Scientific Abrasive & Finishing Products
    Manual Sanding Products Sanding Rolls. PORTER-CABLE.

An empty category list leaves ``. .`` between title and brand. The category names were joined with
spaces, so where one name ends and the next begins is lost; what is certain is kept:

- the root (the data set's top category, shared by most items) is found from the file itself;
- a boundary is placed after a run of words only where that run is itself the whole category text
  of another item (``Abrasive & Finishing Products`` holds items of its own, so it is a node);
- the rest stays one name (``Commercial Door Products Commercial Door Hardware Door Stops``):
  never a guessed split, so a leaf never merges two different nodes.

Titles and brands may themselves contain ``. `` (``Mr. Heater``, ``12 oz. (Pack of 1)``): the
category text is found by its root, the title is what comes before it, the brand what follows.
A file whose texts do not follow this layout is left alone (:meth:`UniSRecText.detect` returns None).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["UniSRecText"]

_SEP = ". "
_LAID_OUT = 0.5  # share of the texts that must read "title. categories. brand."
_ROOT_SHARE = 0.9  # share of those with categories that must hold a segment starting with the root


def _body(text: str) -> str | None:
    """The text without its final ``.``, or None when it does not end with one."""
    s = text.rstrip()
    return s[:-1].rstrip() if s.endswith(".") else None


def _common_root(bodies: Sequence[str]) -> str | None:
    """The longest run of leading words that a segment (after the title) of nearly every body starts with."""
    segments = [[seg.split(" ") for seg in b.split(_SEP)[1:] if seg] for b in bodies]
    root: list[str] = []
    for k in range(1, 8):
        heads: Counter[tuple[str, ...]] = Counter()
        for segs in segments:
            heads.update({tuple(w[:k]) for w in segs if len(w) >= k and w[:k - 1] == root})
        if not heads:
            break
        head, n = heads.most_common(1)[0]
        if n < max(2, _ROOT_SHARE * len(bodies)):  # one text alone proves no layout
            break
        root = list(head)
    return " ".join(root) or None


@dataclass(frozen=True)
class UniSRecText:
    """How to split one file's texts: its root category and the category texts that are nodes."""

    root: str
    nodes: frozenset[str]
    """Category texts after the root that end some item's path (so they are whole nodes)."""

    @classmethod
    def detect(cls, texts: Sequence[str]) -> UniSRecText | None:
        """The layout of ``texts`` (every item text of one file), or None when they do not follow it."""
        bodies = [b for b in (_body(t) for t in texts if t.strip()) if b is not None and _SEP in b]
        if not bodies or len(bodies) < _LAID_OUT * sum(1 for t in texts if t.strip()):
            return None
        root = _common_root([b for b in bodies if ". . " not in b and not b.endswith(". .")])  # categories present
        if root is None:
            return None
        layout = cls(root, frozenset())
        nodes = frozenset(c[len(root) + 1:] for c in (layout._parts(t)[1] for t in texts) if c.startswith(root + " "))
        return cls(root, nodes)

    def _root_at(self, body: str) -> int:
        """Where the category text starts in ``body`` (after its ``. ``), or -1."""
        marker = _SEP + self.root
        i = body.rfind(marker)
        while i >= 0:
            after = body[i + len(marker):]
            if after == "" or after.startswith(" ") or after.startswith(_SEP):
                return i + len(_SEP)
            i = body.rfind(marker, 0, i)
        return -1

    def _parts(self, text: str) -> tuple[str, str, str] | tuple[None, str, None]:
        """``(title, category text, brand)``; ``(None, "", None)`` when the text has another layout."""
        body = _body(text)
        if body is None:
            return None, "", None
        start = self._root_at(body)
        if start >= 0:
            rest = body[start:]
            end = rest.find(_SEP)
            if end < 0:  # no brand: the category text ends the body, with its own "."
                return body[:start - len(_SEP)], rest.removesuffix("."), ""
            return body[:start - len(_SEP)], rest[:end], rest[end + len(_SEP):]
        empty = body.rfind(". . ")
        if empty < 0 and body.endswith(". ."):  # no categories and no brand
            empty = len(body) - len(". .")
        if empty >= 0:
            return body[:empty], "", body[empty + len(". . "):]
        return None, "", None

    def path(self, categories: str) -> tuple[str, ...]:
        """The category path of one category text, root first, split only where certain."""
        if not categories:
            return ()
        if categories == self.root:
            return (self.root,)
        words = categories[len(self.root) + 1:].split(" ")
        out, start = [self.root], 0
        for i in range(1, len(words)):
            if " ".join(words[:i]) in self.nodes:
                out.append(" ".join(words[start:i]))
                start = i
        out.append(" ".join(words[start:]))
        return tuple(out)

    def split(self, text: str) -> tuple[str | None, tuple[str, ...], str | None] | None:
        """``(title, category path, brand)`` of one text (empty parts as None / ``()``), or None when the
        text does not follow the layout (keep it whole as the title)."""
        title, categories, brand = self._parts(text)
        if title is None:
            return None
        return title.strip() or None, self.path(categories.strip()), (brand or "").strip() or None
