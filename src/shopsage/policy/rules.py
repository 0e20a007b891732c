"""Merchant rules applied to a ranked list: pin, boost and bury items matching a condition.

A :class:`Rule` matches items by id, category (any level of the path, case-insensitive), brand or
arrival (``new_within_days``: items created that recently), and either multiplies their score
(``boost`` with ``factor > 1``; ``bury`` moves them after every unburied item) or ``pin`` s them
at a fixed position. :func:`apply_rules` returns the new order and, per item, which rules touched
it, so the caller can explain every change; it also keeps the unpinned items with their buried
flags and the pins apart, so that a later stage (diversity) reorders only within what the rules
allow and places the pins last.

A rule may also be conditioned on the shopper: ``segments`` (e.g. ``["lapsed"]``, the names of
:mod:`shopsage.profiles.segments`) makes it apply only to shoppers in one of them, so "boost new
arrivals for lapsed shoppers" is ``action = "boost"``, ``new_within_days = 30``,
``segments = ["lapsed"]``. A request whose shopper's segments are unknown gets no such rule.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ItemFacts", "Pin", "Rule", "RuleOutcome", "apply_rules", "place_pins"]


class ItemFacts(Protocol):
    """What rules and diversity need to know about an item slot."""

    def ext(self, slot: int) -> str: ...

    def category_path(self, slot: int) -> tuple[str, ...]: ...

    def brand(self, slot: int) -> str | None: ...


class Rule(BaseModel):
    """One merchant rule (``[[rules]]`` in the pipeline configuration)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Shown in the reasons of the items it touches.")
    action: Literal["pin", "boost", "bury"]
    items: list[str] = Field(default_factory=list, description="Item ids the rule applies to.")
    categories: list[str] = Field(default_factory=list, description="Categories (any level) it applies to.")
    brands: list[str] = Field(default_factory=list, description="Brands it applies to.")
    factor: float = Field(2.0, gt=0, description="Score multiplier of boost (> 1).")
    position: int = Field(0, ge=0, description="0-based position of pinned items.")
    scenarios: list[str] = Field(default_factory=list, description="Scenarios it applies to; empty = all, search included.")
    new_within_days: float | None = Field(None, gt=0, description="Matches items created at most this many days "
                                          "ago (new arrivals; items without a creation time never match).")
    segments: list[str] = Field(default_factory=list, description="Only for shoppers in one of these segments "
                                "(new, active, at_risk, lapsed, value_high, ..., interest_<k>); empty = everyone.")
    stockout_risk: bool = Field(False, description="Matches items the demand forecast says sell out before their "
                                "restock (shopsage.forecast.stock); e.g. action = \"bury\" to stop promoting them.")
    min_margin: float | None = Field(None, ge=-1, le=1, description="Matches items whose margin (price - cost) / price, "
                                     "with the item attribute cost, is at least this; e.g. action = \"boost\".")

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if not (self.items or self.categories or self.brands or self.new_within_days or self.stockout_risk
                or self.min_margin is not None):
            raise ValueError(f"rule {self.name!r} matches nothing: give items, categories, brands, new_within_days, "
                             "stockout_risk or min_margin")
        if self.action == "pin" and not self.items:
            raise ValueError(f"pin rule {self.name!r} needs items (a pin names the items it places)")
        if self.action == "boost" and self.factor <= 1:
            raise ValueError(f"boost rule {self.name!r} has factor {self.factor:g}: a boost multiplies scores by more "
                             "than 1; use a factor > 1, or action = \"bury\" to place items lower")
        return self

    def matches(self, slot: int, facts: ItemFacts) -> bool:
        if self.items and facts.ext(slot) in self.items:
            return True
        if self.categories:
            wanted = {c.casefold() for c in self.categories}
            if wanted.intersection(c.casefold() for c in facts.category_path(slot)):
                return True
        if self.brands:
            b = facts.brand(slot)
            if b is not None and b.casefold() in {x.casefold() for x in self.brands}:
                return True
        if self.new_within_days is not None:
            created = _created_at(slot, facts)
            if created is not None and time.time() - created <= self.new_within_days * 86400.0:
                return True
        if self.stockout_risk or self.min_margin is not None:
            fact = _stock_fact(slot, facts)
            if fact is not None and self.stockout_risk and fact.runs_out_before_restock:
                return True
            if fact is not None and self.min_margin is not None and fact.margin is not None and fact.margin >= self.min_margin:
                return True
        return False

    def forecast_evidence(self, slot: int, facts: ItemFacts) -> Any:
        """The stock fact behind a ``stockout_risk`` or ``min_margin`` match (shown in the rule's reason);
        None for the other conditions."""
        if not (self.stockout_risk or self.min_margin is not None):
            return None
        return _stock_fact(slot, facts)

    def applies_to(self, scenario: str, segments: Collection[str] | None = None) -> bool:
        """The rule runs in ``scenario`` for a shopper in ``segments`` (None: unknown, so a rule that
        names segments does not run)."""
        if self.scenarios and scenario not in self.scenarios:
            return False
        return not self.segments or (segments is not None and not set(self.segments).isdisjoint(segments))


@dataclass(frozen=True)
class Pin:
    """An item a pin rule places: ``position`` is its 0-based target (the rule's position, moved to
    the first free one when an earlier rule or item holds it)."""

    slot: int
    position: int
    rule: Rule


@dataclass
class RuleOutcome:
    slots: np.ndarray  # (m,) int64, the new order with the pins placed
    scores: np.ndarray  # (m,) float32
    touched: dict[int, list[Rule]] = field(default_factory=dict)  # slot -> rules that changed it
    ranked: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (k,) the unpinned items in order
    ranked_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (k,)
    buried: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (k,) buried flags of ``ranked``
    pins: list[Pin] = field(default_factory=list)


def apply_rules(slots: np.ndarray, scores: np.ndarray, rules: Sequence[Rule], scenario: str, facts: ItemFacts,
                pinnable: np.ndarray | None = None, segments: Collection[str] | None = None) -> RuleOutcome:
    """Pin, then boost and bury the other ``slots`` (ranked best first).

    ``pinnable`` (bool over slots) says which pinned items may be inserted when the list does not
    hold them (live, in stock, allowed). An item keeps the first pin that places it; a pin
    overrides boost and bury (they do not move it, so they do not touch it). ``ranked`` holds the
    unpinned items, unburied ones by score then buried ones by score, so a caller that reorders
    them (diversity) can keep the tiers and place the pins after (:func:`place_pins`); ``slots``
    is ``ranked`` with the pins placed. ``segments``: the shopper's (rules naming segments need them)."""
    slots = np.asarray(slots, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    active = [r for r in rules if r.applies_to(scenario, segments)]
    if not active and len(np.unique(slots)) == len(slots):  # most requests: the list by score, nothing touched
        order = np.argsort(-scores, kind="stable")  # the lexsort below without rules: by score, ties by position
        rest, rest_scores = slots[order], scores[order]
        return RuleOutcome(rest.copy(), rest_scores.copy(), {}, rest, rest_scores, np.zeros(len(rest), dtype=bool), [])
    touched: dict[int, list[Rule]] = {}
    pins = _resolve_pins([r for r in active if r.action == "pin"], slots.tolist(), facts, pinnable)
    for p in pins:
        touched[p.slot] = [p.rule]
    keep = ~np.isin(slots, [p.slot for p in pins])
    rest, rest_scores = slots[keep], scores[keep].copy()
    buried = np.zeros(len(rest), dtype=bool)
    for r in active:
        if r.action == "pin":
            continue
        for i, s in enumerate(rest.tolist()):
            if r.matches(s, facts):
                touched.setdefault(s, []).append(r)
                if r.action == "boost":
                    rest_scores[i] = rest_scores[i] * r.factor if rest_scores[i] > 0 else rest_scores[i] / r.factor
                else:
                    buried[i] = True
    order = np.lexsort((np.arange(len(rest)), -rest_scores, buried))  # unburied first, then by score
    rest, rest_scores, buried = rest[order], rest_scores[order], buried[order]
    score_of = dict(zip(rest.tolist(), rest_scores.tolist(), strict=True))
    top = float(rest_scores.max()) if len(rest_scores) else 1.0
    given = dict(zip(slots.tolist(), scores.tolist(), strict=True))
    score_of.update({p.slot: given.get(p.slot, top) for p in pins})  # an inserted pin scores as the top item
    placed = place_pins(rest.tolist(), pins)
    return RuleOutcome(np.asarray(placed, dtype=np.int64), np.asarray([score_of[s] for s in placed], dtype=np.float32),
                       touched, rest, rest_scores, buried, pins)


def place_pins(order: Sequence[int], pins: Sequence[Pin], n: int | None = None) -> list[int]:
    """``order`` with each pinned slot at its position; pins whose position lies beyond the other
    items follow them, in position order; at most ``n`` items."""
    total = len(order) + len(pins) if n is None else min(n, len(order) + len(pins))
    if not pins:
        return list(order[:total])
    at = {p.position: p.slot for p in pins}
    out: list[int] = []
    rest = iter(order)
    placed: set[int] = set()
    while len(out) < total:
        pos = len(out)
        if pos in at:
            out.append(at[pos])
            placed.add(pos)
            continue
        nxt = next(rest, None)
        if nxt is None:
            break
        out.append(nxt)
    out += [at[pos] for pos in sorted(at) if pos not in placed][: total - len(out)]
    return out


def _resolve_pins(rules: Sequence[Rule], present: list[int], facts: ItemFacts, pinnable: np.ndarray | None) -> list[Pin]:
    """Every item the pin ``rules`` place, in rule order: an item listed by several rules keeps the
    first; a position already taken moves the pin to the next free one."""
    if not rules:
        return []
    by_ext = {facts.ext(s): s for s in present}
    pins: list[Pin] = []
    taken: set[int] = set()
    done: set[int] = set()
    for rule in rules:
        k = 0
        for ext in rule.items:
            s = by_ext.get(ext)
            if s is None:
                s = _slot_of(ext, facts)
                if s is None or (pinnable is not None and not (0 <= s < len(pinnable) and pinnable[s])):
                    continue
            if s in done:
                continue
            pos = rule.position + k
            while pos in taken:
                pos += 1
            pins.append(Pin(s, pos, rule))
            taken.add(pos)
            done.add(s)
            k += 1
    return pins


def _created_at(slot: int, facts: ItemFacts) -> float | None:
    """The item's creation time when the facts know rows (the serving catalogue does)."""
    row = getattr(facts, "row", None)
    r = row(slot) if row is not None else None
    created = getattr(r, "created_at", None)
    return float(created) if created is not None else None


def _stock_fact(slot: int, facts: ItemFacts) -> Any:
    """The item's :class:`~shopsage.forecast.stock.StockFact` when the facts have a stock table (the serving
    catalogue does); None otherwise."""
    of = getattr(facts, "stock_fact", None)
    return of(slot) if of is not None else None


def _slot_of(ext: str, facts: ItemFacts) -> int | None:
    finder = getattr(facts, "slot", None)
    return finder(ext) if finder is not None else None
