"""One scenario's pipeline: candidates -> rank fusion -> merchant rules -> diversity -> fallbacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.config import PipelinesConfig, ScenarioConfig
from shopsage.serving.generators import CandidateList, Generators, Shopper
from shopsage.serving.reasons import Reason
from shopsage.policy import Rule, apply_rules, category_cap, mmr

__all__ = ["Ranked", "run_scenario", "rule_reason"]

_RULE_TEXT = {"pin": "Featured by the shop", "boost": "Promoted by the shop", "bury": "Placed lower by the shop"}


@dataclass
class Ranked:
    slots: list[int]
    scores: list[float]
    reasons: list[list[Reason]]
    stages: dict[str, Any] = field(default_factory=dict)  # what each stage did, for merchants


def rule_reason(rule: Rule) -> Reason:
    return Reason("rules", f"rule:{rule.name}", _RULE_TEXT[rule.action],
                  {"rule": rule.name, "action": rule.action, "factor": rule.factor if rule.action == "boost" else None})


def _fuse(lists: list[tuple[CandidateList, float]], k: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted reciprocal-rank fusion: ``score(s) = sum_lists weight / (k + rank + 1)``, best first
    (ties by slot)."""
    if not lists:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    slots = np.concatenate([cl.slots for cl, _ in lists])
    parts = np.concatenate([w / (k + np.arange(len(cl)) + 1.0) for cl, w in lists])
    uniq, inv = np.unique(slots, return_inverse=True)
    score = np.bincount(inv, weights=parts)
    order = np.lexsort((uniq, -score))
    return uniq[order].astype(np.int64), score[order].astype(np.float32)


def _why(lists: list[tuple[CandidateList, float]], k: float, slots: list[int]) -> list[list[Reason]]:
    """Each shown slot's reasons, from every list that holds it, the largest contribution first."""
    ranks = [{s: r for r, s in enumerate(cl.slots.tolist())} for cl, _ in lists]
    out = []
    for s in slots:
        found = [(w / (k + ranks[li][s] + 1), li, ranks[li][s]) for li, (_, w) in enumerate(lists) if s in ranks[li]]
        out.append([lists[li][0].reason(r) for _, li, r in sorted(found, key=lambda t: -t[0])])
    return out


def _diversify(sc: ScenarioConfig, catalog: ServingCatalog, slots: list[int], scores: list[float], n: int) -> tuple[list[int], dict[str, Any]]:
    d = sc.diversity
    if d.method == "none" or len(slots) <= 1:
        return list(range(min(n, len(slots)))), {"method": "none"}
    if d.method == "category_cap":  # leaf category codes (case-insensitive labels), -1 = none
        codes = catalog.leaf[np.asarray(slots, dtype=np.int64)].tolist()
        kept, skipped = category_cap([str(c) if c >= 0 else None for c in codes], n, d.max_per_category)
        return kept, {"method": "category_cap", "max_per_category": d.max_per_category, "capped": len(skipped)}
    cats = [catalog.category(s) for s in slots]
    brands = [catalog.brand(s) for s in slots]

    def sim(i: int, j: int) -> float:
        if cats[i] is not None and cats[i] == cats[j]:
            return 1.0
        return 0.5 if brands[i] is not None and brands[i] == brands[j] else 0.0

    return mmr(np.asarray(scores), sim, n, d.mmr_lambda), {"method": "mmr", "lambda": d.mmr_lambda}


def run_scenario(name: str, cfg: PipelinesConfig, gens: Generators, shopper: Shopper, allowed: np.ndarray, n: int) -> Ranked:
    sc = cfg.scenario(name)
    stages: dict[str, Any] = {"candidates": {}, "fallbacks": {}}
    lists: list[tuple[CandidateList, float]] = []
    for g in sc.candidates:
        cl = gens.run(g, shopper, allowed, name)
        stages["candidates"][g.model or g.kind] = None if cl is None else len(cl)
        if cl is not None and len(cl):
            lists.append((cl, g.weight))
    slots, scores = _fuse(lists, sc.rrf_k)
    out = apply_rules(slots, scores, cfg.rules, name, gens.catalog, pinnable=allowed)
    slots_l, scores_l = out.slots.tolist(), out.scores.tolist()
    keep, stages["diversity"] = _diversify(sc, gens.catalog, slots_l, scores_l, n)
    slots_l, scores_l = [slots_l[i] for i in keep], [scores_l[i] for i in keep]
    reasons = [r + [rule_reason(x) for x in out.touched.get(s, [])]
               for s, r in zip(slots_l, _why(lists, sc.rrf_k, slots_l), strict=True)]
    if len(slots_l) < n:
        have = set(slots_l)
        low = min(scores_l, default=1.0)
        for g in sc.fallbacks:
            if len(slots_l) >= n:
                break
            cl = gens.run(g, shopper, allowed, name)
            stages["fallbacks"][g.model or g.kind] = None if cl is None else len(cl)
            if cl is None:
                continue
            for i, s in enumerate(cl.slots.tolist()):
                if s in have:
                    continue
                r = cl.reason(i)
                have.add(s)
                low = low * 0.999 if low > 0 else low - 1e-6
                slots_l.append(s)
                scores_l.append(low)
                reasons.append([Reason("fallback", r.source, r.text, r.evidence)])
                if len(slots_l) >= n:
                    break
    return Ranked(slots_l[:n], scores_l[:n], reasons[:n], stages)
