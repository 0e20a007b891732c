"""Merchant rules applied to a ranked list: pin, boost and bury items matching a condition.

A :class:`Rule` matches items by id, category (any level of the path, case-insensitive) or brand,
and either multiplies their score (``boost`` with ``factor > 1``; ``bury`` moves them after every
unburied item) or ``pin`` s them at a fixed position. :func:`apply_rules` returns the new order
and, per item, which rules touched it, so the caller can explain every change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ItemFacts", "Rule", "RuleOutcome", "apply_rules"]


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

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if not (self.items or self.categories or self.brands):
            raise ValueError(f"rule {self.name!r} matches nothing: give items, categories or brands")
        if self.action == "pin" and not self.items:
            raise ValueError(f"pin rule {self.name!r} needs items (a pin names the items it places)")
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
        return False

    def applies_to(self, scenario: str) -> bool:
        return not self.scenarios or scenario in self.scenarios


@dataclass
class RuleOutcome:
    slots: np.ndarray  # (m,) int64, the new order
    scores: np.ndarray  # (m,) float32
    touched: dict[int, list[Rule]] = field(default_factory=dict)  # slot -> rules that changed it


def apply_rules(slots: np.ndarray, scores: np.ndarray, rules: Sequence[Rule], scenario: str, facts: ItemFacts,
                pinnable: np.ndarray | None = None) -> RuleOutcome:
    """Boost and bury ``slots`` (ranked best first), then pin; ``pinnable`` (bool over slots) says
    which pinned items may be inserted when the list does not hold them (live, in stock, allowed)."""
    slots = np.asarray(slots, dtype=np.int64).copy()
    scores = np.asarray(scores, dtype=np.float32).copy()
    active = [r for r in rules if r.applies_to(scenario)]
    touched: dict[int, list[Rule]] = {}
    buried = np.zeros(len(slots), dtype=bool)
    for r in active:
        if r.action == "pin":
            continue
        for i, s in enumerate(slots.tolist()):
            if r.matches(s, facts):
                touched.setdefault(s, []).append(r)
                if r.action == "boost":
                    scores[i] = scores[i] * r.factor if scores[i] > 0 else scores[i] / r.factor
                else:
                    buried[i] = True
    order = np.lexsort((np.arange(len(slots)), -scores, buried))  # unburied first, then by score
    slots, scores = slots[order], scores[order]
    for r in (r for r in active if r.action == "pin"):
        slots, scores = _pin(slots, scores, r, facts, pinnable, touched)
    return RuleOutcome(slots, scores, touched)


def _pin(slots: np.ndarray, scores: np.ndarray, rule: Rule, facts: ItemFacts, pinnable: np.ndarray | None,
         touched: dict[int, list[Rule]]) -> tuple[np.ndarray, np.ndarray]:
    present = {facts.ext(s): i for i, s in enumerate(slots.tolist())}
    lst, sc = slots.tolist(), scores.tolist()
    pos = rule.position
    for ext in rule.items:
        if ext in present:
            i = lst.index(slots[present[ext]])
            s, v = lst.pop(i), sc.pop(i)
        else:
            s = _slot_of(ext, facts)
            if s is None or (pinnable is not None and not pinnable[s]):
                continue
            v = float(sc[0]) if sc else 1.0
        lst.insert(min(pos, len(lst)), s)
        sc.insert(min(pos, len(sc)), v)
        touched.setdefault(s, []).append(rule)
        pos += 1
    return np.asarray(lst, dtype=np.int64), np.asarray(sc, dtype=np.float32)


def _slot_of(ext: str, facts: ItemFacts) -> int | None:
    finder = getattr(facts, "slot", None)
    return finder(ext) if finder is not None else None
