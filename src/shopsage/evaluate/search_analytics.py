"""Search analytics from stored events: top queries, queries with no results, queries nobody clicks.

Read from the store's query log (:meth:`~shopsage.data.stores.sql.SqlStore.search_log`): ``search``
events (their ``value`` is the number of results the shopper saw, as the storefront and the UBI
convention record it) and the click, add-to-cart and purchase events that carry the query they came
from. Queries are compared case- and space-folded (``"Blue  Pen"`` and ``"blue pen"`` are one query)
and shown in their most frequent spelling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["QueryStat", "SearchReport", "search_report", "fold"]

OUTCOMES = ("click", "add_to_cart", "purchase")


def fold(query: str) -> str:
    """The key two spellings of one query share."""
    return " ".join(query.casefold().split())


@dataclass(frozen=True)
class QueryStat:
    query: str
    searches: int
    zero_results: int
    """Searches of it that found nothing."""
    clicks: int
    """Clicks, carts and purchases that came from it."""

    @property
    def click_rate(self) -> float:
        return self.clicks / self.searches if self.searches else 0.0


@dataclass
class SearchReport:
    searches: int = 0
    distinct: int = 0
    top: list[QueryStat] = field(default_factory=list)
    zero_results: list[QueryStat] = field(default_factory=list)
    """Queries whose searches found nothing, most searched first."""
    no_clicks: list[QueryStat] = field(default_factory=list)
    """Queries with results that no search led to a click, cart or purchase from, most searched first."""


def search_report(log: Iterable[tuple[str, str, float | None]], top: int = 20) -> SearchReport:
    """The report of ``(type, query, value)`` rows (oldest first): ``top`` queries in each list."""
    searches: Counter[str] = Counter()
    zero: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for type_, query, value in log:
        key = fold(query)
        if not key:
            continue
        if type_ == "search":
            searches[key] += 1
            spellings.setdefault(key, Counter())[query.strip()] += 1
            if value is not None and value <= 0:
                zero[key] += 1
        elif type_ in OUTCOMES:
            outcomes[key] += 1

    def stat(key: str) -> QueryStat:
        shown = spellings[key].most_common(1)[0][0]
        return QueryStat(shown, searches[key], zero[key], outcomes[key])

    ranked = sorted(searches, key=lambda k: (-searches[k], k))
    return SearchReport(
        searches=sum(searches.values()), distinct=len(searches),
        top=[stat(k) for k in ranked[:top]],
        zero_results=[stat(k) for k in ranked if zero[k]][:top],
        no_clicks=[stat(k) for k in ranked if not outcomes[k] and zero[k] < searches[k]][:top],
    )
