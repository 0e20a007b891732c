"""Personal data out of free text: ``scrub_query`` before a query is stored or logged.

Replaced, in this order:

- **e-mail addresses** (``local@domain.tld``, RFC 5322 dot-atom local parts) by ``[email]``;
- **payment card numbers**: 13 to 19 digits, optionally grouped by single spaces or dashes, that
  pass the Luhn check, by ``[card]``;
- **phone numbers** by ``[phone]``: an international number (``+`` then 7 to 17 digits, separators
  and one parenthesised area code allowed), a parenthesised area code (``(555) 123-4567``), three
  groups of 2-5, 3-4 and 3-4 digits (``555-123-4567``, ``020 7946 0958``), a national trunk ``0``
  number in two groups (``07700 900123``) or a bare run of 10 to 15 digits.

A number glued to letters (``256gb``, ``rtx3080``, ``2x4``) is never touched, nor are short numbers
(sizes, years, model numbers up to 9 digits), so ordinary product queries pass unchanged. The
trade-off, privacy first: a 10-15 digit product code typed alone (an EAN-13 barcode) reads as a phone
number (or, one in ten, as a card) and is stored so; the search itself runs on the query as typed.
Every pattern runs in linear time (no nested ambiguous repetition), whatever the input.
Digits of any script (full-width ``０-９`` from a Japanese keyboard, Arabic-Indic) count as digits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = ["scrub_query", "luhn_ok", "EMAIL", "PHONE", "CARD"]

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"

_ATOM_CHARS = r"\w!#$%&'*+/=?^`{|}~-"
_ATOM = f"[{_ATOM_CHARS}]"
_EMAIL_RE = re.compile(
    rf"(?<![.{_ATOM_CHARS}])"  # starts where a run of address characters starts: linear time
    rf"{_ATOM}[.\"{_ATOM_CHARS}]*"  # local part (dot-atom, sloppy dots and quotes included)
    r"@[\w-]+(?:\.[\w-]+)+"  # domain with at least one dot (labels separated by dots: no backtracking)
)
_NUMBER_RUN_RE = re.compile(r"(?<![\w+])\+?\(?[0-9]+\)?(?:[ .-]\(?[0-9]+\)?)*(?!\w)")
"""A run of digit groups separated by single spaces, dots or dashes (parentheses and a leading ``+``
allowed): card and phone numbers are looked for among the groups of a run."""
_GROUP_RE = re.compile(r"\+?\(?[0-9]+\)?")
_PHONE_RE = re.compile(
    r"""\+[0-9]{1,3}[ .-]?(?:\([0-9]{1,4}\)[ .-]?)?(?:[0-9][ .-]?){5,13}[0-9]   # +44 20 7946 0958
      | \([0-9]{2,5}\)[ .-]?[0-9]{3,4}[ .-]?[0-9]{3,4}                        # (555) 123-4567
      | [0-9]{2,5}[ .-][0-9]{3,4}[ .-][0-9]{3,4}                              # 555-123-4567
      | 0[0-9]{2,4}[ .-][0-9]{5,8}                                            # 07700 900123
      | [0-9]{10,15}                                                          # 5551234567
    """,
    re.VERBOSE,
)
_CARD_RE = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
_MAX_GROUPS = 8  # a card or phone number spans at most this many groups


class _AsciiDigits(dict[int, str]):
    """``str.translate`` table: every non-ASCII decimal digit -> its ASCII digit (one character to one,
    so positions are kept); filled on demand."""

    def __missing__(self, code: int) -> str:
        value = unicodedata.decimal(chr(code), None)
        if value is None:
            raise LookupError(code)  # translate() keeps the character
        self[code] = str(value)
        return self[code]


_DIGITS = _AsciiDigits()


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a string of ASCII digits (payment card numbers pass it)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _replace(text: str, view: str, spans: list[tuple[int, int]], repl: str) -> tuple[str, str]:
    """Replace ``spans`` (positions in ``view``, the same as in ``text``) by ``repl`` in both."""
    if not spans:
        return text, view
    out: list[str] = []
    seen: list[str] = []
    last = 0
    for a, b in spans:
        out += [text[last:a], repl]
        seen += [view[last:a], repl]
        last = b
    return "".join(out) + text[last:], "".join(seen) + view[last:]


def _is_card(number: str) -> bool:
    if not _CARD_RE.fullmatch(number):
        return False
    digits = number.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _is_phone(number: str) -> bool:
    return _PHONE_RE.fullmatch(number) is not None


def _number_spans(view: str, accept: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Spans of the numbers ``accept`` takes: within each run of digit groups, the accepted sequences of
    whole groups, most digits first (then the latest), not overlapping. A number may sit between others
    in a run ("rtx 3080 4111 1111 1111 1111", "555-123-4567 2 pack"): every split is tried."""
    spans: list[tuple[int, int]] = []
    for run in _NUMBER_RUN_RE.finditer(view):
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in _GROUP_RE.finditer(run.group())]
        found = []
        for i in range(len(groups)):
            for j in range(i, min(i + _MAX_GROUPS, len(groups))):
                text = view[groups[i][0]:groups[j][1]]
                if accept(text):
                    found.append((-sum(c.isdigit() for c in text), -i, i, j))
        taken: set[int] = set()
        for _n, _i, i, j in sorted(found):
            if taken.isdisjoint(range(i, j + 1)):
                taken.update(range(i, j + 1))
                spans.append((groups[i][0], groups[j][1]))
    return sorted(spans)


def scrub_query(text: str) -> str:
    """``text`` with e-mail addresses, card and phone numbers replaced by ``[email]``, ``[card]``,
    ``[phone]`` (see the module docstring); anything else unchanged."""
    view = text if text.isascii() else text.translate(_DIGITS)
    if "@" in view:
        text, view = _replace(text, view, [m.span() for m in _EMAIL_RE.finditer(view)], EMAIL)
    if sum(c.isdigit() for c in view) < 7:  # no number long enough to be personal
        return text
    text, view = _replace(text, view, _number_spans(view, _is_card), CARD)
    return _replace(text, view, _number_spans(view, _is_phone), PHONE)[0]
