"""Highlights: an item's text, HTML-escaped, with ``<mark>`` around the words that matched the query.

Meilisearch's ``_formatted``: the storefront inserts the result as HTML, so everything but the marks
is escaped (a title ``<script>`` comes back ``&lt;script&gt;``). A word is marked when its index term
(as the search analyzer makes it: "Drills" -> ``drill``) is one of the query's terms, the same test
as the matched-words evidence (:func:`shopsage.search.evidence.matched_words`).

Words are found in the text as written: word runs for alphabetic scripts; for text with CJK
ideographs, the analyzer's words located in the text (jieba's search mode yields overlapping words,
whose spans are merged). Text whose Unicode normalization (NFKC) changes it is highlighted in its
normalized form, the form the analyzer reads.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Collection

from shopsage.text.analyzers import Analyzer, is_cjk

__all__ = ["highlight", "highlight_prefix", "marked_spans", "MARK", "UNMARK"]

MARK, UNMARK = "<mark>", "</mark>"
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def marked_spans(analyzer: Analyzer, terms: Collection[str], text: str) -> tuple[str, list[tuple[int, int]]]:
    """``(text as highlighted, sorted disjoint [start, end) spans of matched words)``."""
    base = text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    wanted = set(terms)
    if not wanted:
        return base, []
    spans: list[tuple[int, int]] = []
    if any(is_cjk(c) for c in base):
        words = {w for w, t in analyzer.words(base) if t in wanted}
        folded = base.casefold() if len(base.casefold()) == len(base) else None
        for w in words:
            hay, needle = (folded, w.casefold()) if folded is not None else (base, w)
            start = hay.find(needle)
            while needle and start >= 0:
                spans.append((start, start + len(needle)))
                start = hay.find(needle, start + len(needle))
    else:
        for m in _WORD.finditer(base):
            t = analyzer.term(m.group().casefold())
            if t is not None and t in wanted:
                spans.append(m.span())
    return base, _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def highlight(analyzer: Analyzer, terms: Collection[str], text: str) -> str:
    """``text`` HTML-escaped with ``<mark>``...``</mark>`` around each word whose term is in ``terms``."""
    base, spans = marked_spans(analyzer, terms, text)
    parts: list[str] = []
    at = 0
    for s, e in spans:
        parts.append(html.escape(base[at:s]))
        parts.append(MARK + html.escape(base[s:e]) + UNMARK)
        at = e
    parts.append(html.escape(base[at:]))
    return "".join(parts)


def highlight_prefix(text: str, prefix: str) -> str:
    """``text`` HTML-escaped with ``<mark>`` around the first place a word of it starts with ``prefix``
    (case-insensitive; an autocomplete suggestion shows what was typed)."""
    p = prefix.casefold().strip()
    folded = text.casefold()
    at = -1
    if p and len(folded) == len(text):
        at = folded.find(p)
        while at > 0 and folded[at - 1].isalnum() and not is_cjk(folded[at]):
            at = folded.find(p, at + 1)
    if at < 0:
        return html.escape(text)
    end = at + len(p)
    return html.escape(text[:at]) + MARK + html.escape(text[at:end]) + UNMARK + html.escape(text[end:])
