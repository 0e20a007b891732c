"""Imports go through the same privacy edge as the API: pseudonymous ids, scrubbed and optionally
encrypted queries.

:class:`PrivateImporter` wraps any format's importer: every user and session id it yields is
replaced by its keyed pseudonym (:class:`~shopsage.privacy.ids.Pseudonymizer`, the same key as the
API, so an imported shopper and the same shopper's live events share one history), every query is
scrubbed of e-mail addresses, card and phone numbers (:func:`~shopsage.privacy.scrub.scrub_query`,
as the API does), and with a field key the events' queries and contexts are encrypted
(:class:`~shopsage.privacy.cipher.FieldCipher`).
The shop-facing commands (``shopsage import``, ``shopsage demo``) import through it; benchmarks
import public data through their own path, untouched.

An :class:`~shopsage.data.rows.EventBlock` stays columnar: the user and session columns are mapped
through a per-id cache (``list(map(cache.__getitem__, column))``, the HMAC computed once per
distinct id), never row by row; queries likewise, once per distinct query.

Not rewritten: the raw text of rows the importer rejects, which goes to the quarantine as read
(it is what lets a shop fix the row); ``shopsage users delete`` removes the events of a user, not
quarantined lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from shopsage.data.importers import Importer
from shopsage.data.importers.base import Record, ShownAnswer
from shopsage.data.rows import EventBlock, EventRow
from shopsage.feedback.records import ExposureRow
from shopsage.privacy.cipher import FieldCipher
from shopsage.privacy.ids import Pseudonymizer
from shopsage.privacy.scrub import scrub_query

__all__ = ["PrivateImporter", "PseudonymCache", "private_importer", "shop_pseudonymizer"]

_CACHE_LIMIT = 1_000_000
"""Distinct ids remembered (about 150 MB at the limit); past it the cache starts afresh."""


class PseudonymCache(dict):  # type: ignore[type-arg]
    """``value -> f(value)`` computed on first use (``None`` maps to ``None``): a raw id to its
    pseudonym (``f`` a pseudonymizer's ``pseudonymize``), or a query to its scrubbed form."""

    def __init__(self, f: Callable[[str], str], limit: int = _CACHE_LIMIT) -> None:
        super().__init__()
        self._f = f
        self._limit = limit
        self[None] = None

    def __missing__(self, raw: str) -> str:
        if len(self) >= self._limit:
            self.clear()
            self[None] = None
        value = self[raw] = self._f(raw)
        return value

    def column(self, values: list[Any]) -> list[Any]:
        """A column of ids, mapped (one dictionary look-up per row, one HMAC per new id)."""
        return list(map(self.__getitem__, values))


class PrivateImporter(Importer):
    """``inner``'s records with pseudonymous ids (and encrypted fields with a cipher)."""

    def __init__(self, inner: Importer, pseudonymizer: Pseudonymizer, cipher: FieldCipher | None = None) -> None:
        # no super().__init__: the inner importer checked its path; this one only maps what it yields
        self.inner = inner
        self.path = inner.path
        self.options = inner.options
        self.format = inner.format  # type: ignore[misc]
        self.limits = inner.limits
        self.description = inner.description  # type: ignore[misc]
        self.pseudonymizer = pseudonymizer
        self.cipher = cipher
        self._ids = PseudonymCache(pseudonymizer.pseudonymize) if pseudonymizer.enabled else None
        self._queries = PseudonymCache(scrub_query, limit=100_000)

    def records(self) -> Iterator[Record]:
        ids, queries, cipher = self._ids, self._queries, self.cipher
        for rec in self.inner.records():
            if type(rec) is EventBlock:
                if ids is not None:
                    rec.user = ids.column(rec.user)
                    rec.session = ids.column(rec.session)
                if rec.query.count(None) != len(rec):
                    rec.query = queries.column(rec.query)
                if cipher is not None:
                    cipher.protect_block(rec)
            elif isinstance(rec, EventRow):
                if ids is not None:
                    rec = rec._replace(user=ids[rec.user], session=ids[rec.session])
                if rec.query is not None:
                    rec = rec._replace(query=queries[rec.query])
                if cipher is not None:
                    rec = cipher.protect_event(rec)
            elif type(rec) is ShownAnswer:  # what an answer showed (ubi): the same ids, the same query rules
                rec = rec._replace(rows=tuple(self._exposure(r) for r in rec.rows))
            yield rec

    def _exposure(self, rec: ExposureRow) -> ExposureRow:
        ids, cipher = self._ids, self.cipher
        if ids is not None:
            rec = rec._replace(user_id=ids[rec.user_id], session_id=ids[rec.session_id])
        if rec.query is not None:
            query = self._queries[rec.query]
            rec = rec._replace(query=query if cipher is None else cipher.protect_query(query))
        return rec


def shop_pseudonymizer(home: Path, raw_ids: bool = False) -> Pseudonymizer:
    """The home's pseudonymizer (:meth:`Pseudonymizer.from_env`), off when ``raw_ids`` (the config's
    ``privacy.raw_ids``) or ``SHOPSAGE_RAW_IDS=1``."""
    pseudonymizer = Pseudonymizer.from_env(home)
    if raw_ids:
        pseudonymizer.enabled = False
    return pseudonymizer


def private_importer(inner: Importer, home: Path, raw_ids: bool = False) -> PrivateImporter:
    """``inner`` behind the shop's privacy edge: the home's pseudonymizer (:func:`shop_pseudonymizer`)
    and the field cipher when ``SHOPSAGE_FIELD_KEY`` is set."""
    pseudonymizer = shop_pseudonymizer(home, raw_ids)
    return PrivateImporter(inner, pseudonymizer, FieldCipher.from_env())
