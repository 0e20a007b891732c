"""The search route's request and answer: the front door's, plus who is asking.

All of search (modes, the fallback chain, personalization, merchant rules, facets, evidence) is the
front door's (:mod:`shopsage.search.front`); the service only turns the shopper's ids into a profile,
the exclusions into a mask and live behaviour events into popularity, then formats the page.

:class:`SearchSettings` is the service's side of the index settings and autocomplete: it applies the
settings file's current version to the engine before each search or autocomplete request (one
``stat`` when unchanged, so a PATCH through any worker serves the next request of every worker), feeds
autocomplete the stored search events at start and each newly stored one after.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopsage.data.schema import Event
from shopsage.errors import ConfigError, FieldKeyError
from shopsage.privacy.cipher import FieldCipher, reveal_query_events
from shopsage.search import SearchEngine
from shopsage.search.front import SearchPage, Sort
from shopsage.search.front import SearchRequest as _FrontRequest
from shopsage.search.highlight import highlight_prefix
from shopsage.search.index_settings import IndexSettings, SettingsFile, SettingsPatch
from shopsage.serving.catalog import ServingCatalog

__all__ = ["SearchRequest", "Sort", "page_json", "SearchSettings"]

log = logging.getLogger("shopsage.service")


@dataclass(frozen=True)
class SearchRequest(_FrontRequest):
    """A shopper's query as the route receives it: the front door's request plus the ids the service
    reads a profile from (``profile`` and ``popularity`` are filled in by the service)."""

    user: str | None = None
    session: str | None = None


def page_json(page: SearchPage, catalog: ServingCatalog) -> dict[str, Any]:
    """The route's JSON of a page: each shown item as the API shows items, with score and reasons."""
    items = [{**catalog.view(h.slot), "score": h.score, "reasons": [r.as_dict() for r in h.reasons],
              "formatted": h.formatted} for h in page.hits]
    return {"query": page.query, "corrected": page.corrected, "mode": page.mode, "fallback": page.fallback,
            "total": page.total, "page": page.page, "per_page": page.per_page, "sort": page.sort, "items": items,
            "facets": {k: [{"value": v, "count": c} for v, c in vals] for k, vals in page.facets.items()},
            "personalized": page.personalized, "facet_stats": page.facet_stats}


class SearchSettings:
    """The index settings of one shop home applied to one engine, and what autocomplete learns from."""

    def __init__(self, home: str | Path, engine: SearchEngine) -> None:
        self.file = SettingsFile(home)
        self.engine = engine
        self._broken: str | None = None  # the error of a settings file that does not validate

    def apply(self, strict: bool = False) -> IndexSettings:
        """The current settings, applied to the engine first when they changed (by this worker or another).
        A settings file that does not validate (edited by hand) leaves the last good settings serving, and
        is reported (``strict``: raised, as ``GET /v1/settings`` does)."""
        try:
            current = self.file.current()
        except ConfigError as exc:
            if strict:
                raise
            if self._broken != str(exc):
                self._broken = str(exc)
                log.error("%s", exc)
            return self.engine.settings
        self._broken = None
        if current is not self.engine.settings:
            self.engine.apply_settings(current)
        return current

    def update(self, patch: SettingsPatch) -> dict[str, Any]:
        """Change, persist and apply the settings (the next request serves them); returns them."""
        new = self.file.update(patch)
        self.engine.apply_settings(new)
        return new.model_dump()

    def load_past_queries(self, store: object) -> int:
        """Feed autocomplete every stored search event (their queries stored scrubbed, maybe encrypted);
        returns how many. A store whose queries are encrypted with a key this process lacks gives none."""
        reader = getattr(store, "search_queries", None)
        if reader is None:
            return 0
        try:
            rows = reveal_query_events(reader(), FieldCipher.from_env())
        except FieldKeyError as exc:
            log.warning("autocomplete starts without past queries: %s", exc)
            return 0
        ac = self.engine.autocomplete
        for query, shopper in rows:
            ac.add_search(query, shopper)
        ac.build()
        return len(rows)

    def observe(self, events: Sequence[Event]) -> None:
        """Count newly stored search events (an ingest listener): their queries are already scrubbed."""
        for e in events:
            if e.type == "search" and e.query:
                who = e.user or e.session  # as the store names them (load_past_queries)
                if who:
                    self.engine.autocomplete.add_search(e.query, who)

    def suggest(self, prefix: str, n: int) -> dict[str, Any]:
        """The autocomplete answer for ``prefix``."""
        self.apply()
        found = self.engine.autocomplete.suggest(prefix, n)
        return {"query": prefix, "suggestions": [{"text": s.text, "highlighted": highlight_prefix(s.text, prefix),
                                                  "source": s.source} for s in found]}
