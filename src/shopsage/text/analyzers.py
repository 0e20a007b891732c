"""Analyzers turn text into index terms: English stemming, Chinese segmentation, or both.

An analyzer has two steps so that typo tolerance can work on surface words:
``tokens(text)`` splits text into lower-case surface tokens, ``term(token)`` maps one surface
token to its index term (a stem for English, the word itself for Chinese). ``analyze(text)`` is
both steps at once; ``words(text)`` pairs each word as the text writes it with its term (search
quotes an item's own words as evidence: "Drill" for the query "drills"). Every analyzer is a plain, picklable-free object described by its ``name``,
which index manifests record so that a loaded index analyzes queries the way it analyzed
documents.

Chinese text is segmented by jieba in its search-engine mode (``lcut_for_search``): a long word
also yields its shorter dictionary words, so "电脑" finds "笔记本电脑" (laptop), which plain ``lcut``
keeps as one token. :func:`detect_language` tells a Chinese catalogue from an English one by its
text, for services started with ``language = "auto"``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal, Protocol

from shopsage.errors import ConfigError

__all__ = ["Analyzer", "EnglishAnalyzer", "ChineseAnalyzer", "MultilingualAnalyzer", "make_analyzer",
           "ENGLISH_STOPWORDS", "is_cjk", "cjk_ratio", "detect_language", "LANGUAGE_ANALYZERS", "Language"]

# A short list: product queries are short and words like "in", "x" or "with" carry units and
# sizes often enough that an aggressive list hurts ("1/2 in." needs "in", "no-drill" needs "no").
ENGLISH_STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will"]
)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF))


def is_cjk(ch: str) -> bool:
    """Whether one character is a CJK ideograph."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def cjk_ratio(text: str) -> float:
    """Share of the letters of ``text`` that are CJK ideographs (0.0 for text without letters)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if is_cjk(c)) / len(letters)


def _normalize(text: str) -> str:
    # NFKC folds full-width forms ("ＡＢＣ１２"), then case folding.
    return unicodedata.normalize("NFKC", text).casefold()


Language = Literal["en", "zh", "multilingual"]
LANGUAGE_ANALYZERS: dict[str, str] = {"en": "english", "zh": "chinese", "multilingual": "multilingual"}
"""The analyzer (:func:`make_analyzer` name) that serves each catalogue language."""


def detect_language(texts: Iterable[str], cjk_share: float = 0.2) -> Language:
    """``zh`` when at least ``cjk_share`` of the texts with letters are mostly Chinese (a fifth of
    their letters CJK ideographs), ``multilingual`` when some are, ``en`` when none is (or no text has
    letters)."""
    with_letters = chinese = 0
    for text in texts:
        if not any(c.isalpha() for c in text):
            continue
        with_letters += 1
        chinese += cjk_ratio(text) >= 0.2
    if chinese == 0:
        return "en"
    return "zh" if chinese >= cjk_share * with_letters else "multilingual"


class Analyzer(Protocol):
    """What the lexical index needs from an analyzer."""

    name: str

    def tokens(self, text: str) -> list[str]: ...

    def term(self, token: str) -> str | None: ...

    def analyze(self, text: str) -> list[str]: ...

    def words(self, text: str) -> list[tuple[str, str]]: ...


class EnglishAnalyzer:
    """Lower-case word tokens, a short stop list, Snowball (Porter 2) stems via PyStemmer."""

    def __init__(self, stem: bool = True, stopwords: frozenset[str] = ENGLISH_STOPWORDS) -> None:
        import Stemmer  # PyStemmer

        self._stemmer = Stemmer.Stemmer("english") if stem else None
        self._stopwords = stopwords
        self.name = "english" if stem else "english-nostem"
        self._stem_cached = lru_cache(maxsize=200_000)(self._stem)

    def _stem(self, token: str) -> str:
        return self._stemmer.stemWord(token) if self._stemmer is not None else token

    def tokens(self, text: str) -> list[str]:
        return _WORD.findall(_normalize(text))

    def term(self, token: str) -> str | None:
        if token in self._stopwords:
            return None
        if len(token) == 1 and not token.isdigit():
            return None
        return self._stem_cached(token)

    def analyze(self, text: str) -> list[str]:
        out = []
        for tok in self.tokens(text):
            t = self.term(tok)
            if t is not None:
                out.append(t)
        return out

    def words(self, text: str) -> list[tuple[str, str]]:
        """``(word as written, index term)`` of every word of ``text`` that has a term."""
        out = []
        for m in _WORD.finditer(unicodedata.normalize("NFKC", text)):
            t = self.term(m.group().casefold())
            if t is not None:
                out.append((m.group(), t))
        return out


class ChineseAnalyzer:
    """jieba word segmentation; runs of non-CJK characters go through the English analyzer."""

    name = "chinese"

    def __init__(self) -> None:
        import jieba

        jieba.setLogLevel(60)
        self._jieba = jieba
        self._english = EnglishAnalyzer()

    def tokens(self, text: str) -> list[str]:
        return [w.casefold() for w, _ in self._pieces(text)]

    def _pieces(self, text: str) -> list[tuple[str, bool]]:
        """``(word as written, is Chinese)``: jieba's search-engine segmentation, English words of the rest."""
        out: list[tuple[str, bool]] = []
        for word in self._jieba.lcut_for_search(unicodedata.normalize("NFKC", text)):
            word = word.strip()
            if not word:
                continue
            if any(is_cjk(c) for c in word):
                out.append((word, True))
            else:
                out.extend((m.group(), False) for m in _WORD.finditer(word))
        return out

    def term(self, token: str) -> str | None:
        if is_cjk(token[0]):
            return token if token not in _CHINESE_STOPWORDS else None
        return self._english.term(token)

    def analyze(self, text: str) -> list[str]:
        out = []
        for tok in self.tokens(text):
            t = self.term(tok)
            if t is not None:
                out.append(t)
        return out

    def words(self, text: str) -> list[tuple[str, str]]:
        """``(word as written, index term)`` of every word of ``text`` that has a term."""
        out = []
        for word, _ in self._pieces(text):
            t = self.term(word.casefold())
            if t is not None:
                out.append((word, t))
        return out


_CHINESE_STOPWORDS = frozenset(["的", "了", "是", "在", "和", "也", "就", "都", "而", "及", "与", "着", "或", "一个", "我", "你", "他", "她", "它", "这", "那", "很", "吧", "啊", "呢", "吗"])


class MultilingualAnalyzer:
    """Chooses per text: jieba for text with at least ``cjk_threshold`` CJK letters, else English.

    jieba is loaded only when the first Chinese text arrives, so English-only catalogues never
    pay for its dictionary.
    """

    name = "multilingual"

    def __init__(self, cjk_threshold: float = 0.2) -> None:
        self._english = EnglishAnalyzer()
        self._chinese: ChineseAnalyzer | None = None
        self._threshold = cjk_threshold

    def _pick(self, text: str) -> EnglishAnalyzer | ChineseAnalyzer:
        if cjk_ratio(text) >= self._threshold:
            if self._chinese is None:
                self._chinese = ChineseAnalyzer()
            return self._chinese
        return self._english

    def tokens(self, text: str) -> list[str]:
        return self._pick(text).tokens(text)

    def term(self, token: str) -> str | None:
        if token and is_cjk(token[0]):
            return token if token not in _CHINESE_STOPWORDS else None
        return self._english.term(token)

    def analyze(self, text: str) -> list[str]:
        return self._pick(text).analyze(text)

    def words(self, text: str) -> list[tuple[str, str]]:
        return self._pick(text).words(text)


def make_analyzer(name: str) -> Analyzer:
    """The analyzer called ``name``: ``english``, ``english-nostem``, ``chinese`` or ``multilingual``."""
    if name == "english":
        return EnglishAnalyzer()
    if name == "english-nostem":
        return EnglishAnalyzer(stem=False)
    if name == "chinese":
        return ChineseAnalyzer()
    if name == "multilingual":
        return MultilingualAnalyzer()
    raise ConfigError(f"unknown analyzer {name!r}: use one of english, english-nostem, chinese, multilingual.")
