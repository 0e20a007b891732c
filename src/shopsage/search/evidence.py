"""The evidence a search result carries, computed from the data so that it is always the true one.

- :func:`matched_words`: the item's own words that match the query, quoted as the item's text writes
  them (a stemmed match of the query "drills" quotes the title's "Drill").
- :func:`interest`: the share of a shopper's profile weight on the item's best-matching category or
  brand, which personalization multiplies the item's score by.
- :func:`rule_reason`: what a merchant rule did to a result (pinned it, boosted or buried it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shopsage.policy import ItemFacts, Rule
from shopsage.profiles import Profile
from shopsage.text.analyzers import Analyzer
from shopsage.types import Reason

__all__ = ["matched_words", "interest", "rule_reason", "quote"]


def matched_words(analyzer: Analyzer, query_terms: Sequence[str], texts: Mapping[str, str]) -> list[str]:
    """One word of ``texts`` (field -> text, searched in field order) per term of ``query_terms`` that
    the item has, as the text writes it, in the query's order."""
    wanted = set(query_terms)
    found: dict[str, str] = {}
    for text in texts.values():
        for word, term in analyzer.words(text):
            if term in wanted and term not in found:
                found[term] = word
        if len(found) == len(wanted):
            break
    return [found[t] for t in dict.fromkeys(query_terms) if t in found]


def quote(words: Sequence[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def interest(profile: Profile | None, facts: ItemFacts, slot: int) -> tuple[float, dict[str, Any] | None]:
    """The largest share of the shopper's category or brand weight on this item, with its evidence
    (the profile's name of the category or brand, and the share); ``(0, None)`` when none matches."""
    if profile is None:
        return 0.0, None
    cats = {c.casefold(): (c, w) for c, w in profile.top_categories}
    total_c = sum(w for _, w in profile.top_categories) or 1.0
    total_b = sum(w for _, w in profile.top_brands) or 1.0
    best: tuple[float, dict[str, Any] | None] = (0.0, None)
    for c in facts.category_path(slot):
        hit = cats.get(c.casefold())
        if hit is not None and hit[1] / total_c > best[0]:
            best = (hit[1] / total_c, {"category": hit[0], "share": round(hit[1] / total_c, 4)})
    b = facts.brand(slot)
    if b is not None:
        for name, w in profile.top_brands:
            if name.casefold() == b.casefold() and w / total_b > best[0]:
                best = (w / total_b, {"brand": name, "share": round(w / total_b, 4)})
    return best


def rule_reason(rule: Rule, position: int | None = None, in_results: bool = True) -> Reason:
    """The reason of a merchant rule on a search result: a pin says where it placed the item and, for an
    item the query did not find, that it was not found; boost and bury say what they did."""
    evidence: dict[str, Any] = {"rule": rule.name, "action": rule.action,
                                "factor": rule.factor if rule.action == "boost" else None}
    if rule.action == "pin":
        evidence.update(position=position, matches_query=in_results)
        text = "Pinned by the shop" + ("" if in_results else " (it does not match your search)")
    elif rule.action == "boost":
        text = f"Promoted by the shop (score x{rule.factor:g})"
    else:
        text = "Placed lower by the shop"
    return Reason("rules", f"rule:{rule.name}", text, evidence)
