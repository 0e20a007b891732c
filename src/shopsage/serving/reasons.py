"""Why an item is in a list: every stage that touched it leaves a :class:`Reason`.

A reason names its ``stage`` (candidates, ranking, rules, diversity, fallback) and ``source`` (the
generator, model or rule), carries its machine-readable ``evidence`` (the item a shopper viewed,
the matched query terms, the category an item is popular in, with counts) and a ``text`` a
shopper can read. Tests check the evidence against the data, so it must always be the true one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reason"]


@dataclass(frozen=True)
class Reason:
    stage: str
    source: str
    text: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "source": self.source, "text": self.text, "evidence": self.evidence}
