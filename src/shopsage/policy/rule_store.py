"""The merchant's live rules: pin, boost, bury and hide, edited while the service runs.

Rules in the pipeline configuration (``[[rules]]``) need a restart; a merchant steering a shop from
the dashboard needs the next request to obey. :class:`RuleBook` keeps the live rules in one JSON file
in the home (``<home>/merchandising/rules.json``), replaced atomically, and re-reads it when its
modification time or size changed: a ``stat`` per request, so every worker of ``shopsage serve``
sees an edit made through any of them at its next request, without a message bus. Every change
appends an audit record (who, when, what, the rule before and after) to ``audit.jsonl`` beside it.

``hide`` is the fourth action: the items it matches are shown nowhere (search and every scenario)
while the rule stands; the catalogue is untouched, so deleting the rule brings them back at once.

A *draft* (:meth:`RuleBook.drafting`) replaces the live rules for the current context only (a
thread, a request): the dashboard's preview runs the real search and scenarios with a rule that
is not saved yet, through the same code path that serves.
"""

from __future__ import annotations

import contextvars
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shopsage.artifacts import atomic_write_text
from shopsage.errors import NotFoundError, ValidationError
from shopsage.policy.rules import ItemFacts, Rule

__all__ = ["MerchantRule", "RuleBook", "RuleSet"]

_DRAFT: contextvars.ContextVar[RuleSet | None] = contextvars.ContextVar("shopsage_rule_draft", default=None)


class MerchantRule(BaseModel):
    """One rule a merchant edits live: a :class:`~shopsage.policy.rules.Rule` or a ``hide``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Unique; shown in the reasons of the items it touches.")
    action: Literal["pin", "boost", "bury", "hide"]
    items: list[str] = Field(default_factory=list, max_length=200)
    categories: list[str] = Field(default_factory=list, max_length=50)
    brands: list[str] = Field(default_factory=list, max_length=50)
    factor: float = Field(2.0, gt=0, le=1000)
    position: int = Field(0, ge=0, le=1000)
    scenarios: list[str] = Field(default_factory=list, description="Scenarios it applies to; empty = all, search included.")

    @field_validator("items", "categories", "brands", "scenarios")
    @classmethod
    def _clean(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(v.strip() for v in values if v.strip()))

    @model_validator(mode="after")
    def _check(self) -> MerchantRule:
        self.as_rule()  # the same checks as a configured rule (pins need items, boosts a factor > 1...)
        return self

    def as_rule(self) -> Rule:
        """The pipeline rule (a hide is matched as a rule but applied as a mask: :meth:`RuleSet.hidden`)."""
        data = self.model_dump()
        if self.action == "hide":
            data["action"] = "bury"
        return Rule.model_validate(data)


class RuleSet:
    """One version of the live rules: the pipeline rules, and which catalogue slots the hides remove."""

    def __init__(self, rules: Sequence[MerchantRule], version: tuple[int, int] = (0, 0)) -> None:
        self.merchant = list(rules)
        self.version = version
        self.rules = [r.as_rule() for r in self.merchant if r.action != "hide"]
        self._hides = [r.as_rule() for r in self.merchant if r.action == "hide"]
        self._hidden: dict[tuple[int, int], list[int]] = {}

    def hides(self, scenario: str) -> bool:
        return any(r.applies_to(scenario) for r in self._hides)

    def hidden(self, scenario: str, facts: ItemFacts, capacity: int, catalog_version: int) -> list[int]:
        """Slots a hide rule of ``scenario`` removes (cached per catalogue version: a new item of a hidden
        brand is hidden too)."""
        active = [r for r in self._hides if r.applies_to(scenario)]
        if not active:
            return []
        key = (catalog_version, hash(scenario))
        found = self._hidden.get(key)
        if found is None:
            found = [s for s in _candidates(active, facts, capacity) if any(r.matches(s, facts) for r in active)]
            self._hidden = {key: found, **{k: v for k, v in list(self._hidden.items())[-8:]}}
        return found


def _candidates(rules: Sequence[Rule], facts: ItemFacts, capacity: int) -> Iterator[int]:
    """Slots worth testing: the named items alone when no rule names a category or brand."""
    if any(r.categories or r.brands for r in rules):
        yield from range(capacity)
        return
    finder = getattr(facts, "slot", None)
    for r in rules:
        for ext in r.items:
            s = finder(ext) if finder is not None else None
            if s is not None:
                yield int(s)


class RuleBook:
    """The live rules of a home (see the module docstring)."""

    def __init__(self, home: Path | str) -> None:
        self.dir = Path(home) / "merchandising"
        self.path = self.dir / "rules.json"
        self.audit_path = self.dir / "audit.jsonl"
        self._lock = threading.Lock()
        self._current = RuleSet([], (-1, -1))

    # -- reading ---------------------------------------------------------------------------
    def current(self) -> RuleSet:
        """The rules in force for this context: a draft when one is set, else the file's (re-read when changed)."""
        draft = _DRAFT.get()
        if draft is not None:
            return draft
        try:
            st = os.stat(self.path)
            version = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            version = (0, 0)
        if version != self._current.version:
            with self._lock:
                if version != self._current.version:
                    self._current = RuleSet(self._read() if version != (0, 0) else [], version)
        return self._current

    def _read(self) -> list[MerchantRule]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [MerchantRule.model_validate(r) for r in raw.get("rules", [])]
        except FileNotFoundError:
            return []

    def rules(self) -> list[MerchantRule]:
        return list(self.current().merchant)

    def audit(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest audit records first."""
        if not self.audit_path.is_file():
            return []
        lines = self.audit_path.read_text(encoding="utf-8").splitlines()[-limit:]
        return [json.loads(line) for line in reversed(lines) if line.strip()]

    # -- writing ---------------------------------------------------------------------------
    def put(self, rule: MerchantRule, actor: str) -> MerchantRule:
        """Add ``rule``, or replace the rule of the same name; audited."""
        with self._lock:
            rules = self._read()
            before = next((r for r in rules if r.name == rule.name), None)
            rules = [r for r in rules if r.name != rule.name] + [rule]
            self._write(rules, actor, "update" if before else "create", before, rule)
        return rule

    def delete(self, name: str, actor: str) -> None:
        with self._lock:
            rules = self._read()
            before = next((r for r in rules if r.name == name), None)
            if before is None:
                known = ", ".join(r.name for r in rules) or "none"
                raise NotFoundError(f"no live rule is named {name!r} (live rules: {known})")
            self._write([r for r in rules if r.name != name], actor, "delete", before, None)

    def _write(self, rules: list[MerchantRule], actor: str, action: str, before: MerchantRule | None,
               after: MerchantRule | None) -> None:
        if len(rules) > 500:
            raise ValidationError("a home holds at most 500 live rules: delete some, or move long-lived ones into "
                                  "the pipeline configuration's [[rules]]")
        atomic_write_text(self.path, json.dumps({"rules": [r.model_dump() for r in rules]}, ensure_ascii=False, indent=1))
        record = {"ts": time.time(), "actor": actor, "action": action,
                  "before": before.model_dump() if before else None, "after": after.model_dump() if after else None}
        with open(self.audit_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")

    # -- previews --------------------------------------------------------------------------
    @contextmanager
    def drafting(self, rules: Sequence[MerchantRule]) -> Iterator[RuleSet]:
        """Within the block (this context only), ``rules`` are in force instead of the live ones."""
        draft = RuleSet(rules, (-2, -2))
        token = _DRAFT.set(draft)
        try:
            yield draft
        finally:
            _DRAFT.reset(token)
