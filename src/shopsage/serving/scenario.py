"""One scenario's pipeline: candidates (fallbacks below them) -> rank fusion -> merchant rules -> diversity.

The fallbacks fill the candidate pool (below every fused candidate) before the rules run, so every
item shown has been through the rules; diversity then reorders only within what the rules allow
(buried items stay after the others, pins are placed last, at their positions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopsage.policy import Rule, RuleOutcome, apply_rules, category_cap, mmr, place_pins
from shopsage.search.fusion import fuse_ranked, rrf_term
from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.config import PipelinesConfig, ScenarioConfig
from shopsage.serving.explore import Explorer
from shopsage.serving.generators import CandidateList, Generators, Shopper
from shopsage.serving.learned import LearnedOrder, StageRankers, learned_order
from shopsage.serving.reasons import Reason

__all__ = ["Ranked", "fused_candidates", "run_scenario", "rule_reason"]


@dataclass
class Ranked:
    slots: list[int]
    scores: list[float]
    reasons: list[list[Reason]]
    stages: dict[str, Any] = field(default_factory=dict)  # what each stage did, for merchants
    propensities: list[float] | None = None
    """The policy's probability of showing each item at its position (the explore stage's bandit); None: a
    deterministic list (recorded as 1.0)."""
    explored: dict[int, np.ndarray] = field(default_factory=dict)
    """The explore stage's positions (0-based) and the features its bandit chose them with (it learns from them)."""


def rule_reason(rule: Rule, position: int | None = None, forecast: Any = None) -> Reason:
    """What ``rule`` did to an item; ``position``: where a pinned item is shown (0-based), when known;
    ``forecast``: the item's stock fact when the rule matched on it (:mod:`shopsage.forecast.stock`)."""
    evidence: dict[str, Any] = {"rule": rule.name, "action": rule.action,
                                "factor": rule.factor if rule.action == "boost" else None}
    why = ""
    if forecast is not None:
        evidence["forecast"] = forecast.evidence()
        why = f": {forecast.describe()}"
    if rule.action == "boost":
        text = f"Promoted by the shop (score x{rule.factor:g}){why}"
    elif rule.action == "bury":
        text = f"Placed lower by the shop{why}"
    elif position is None:
        text = "Featured by the shop"
    else:
        text = f"Pinned at #{position + 1} by the shop"
        evidence["position"] = position
    return Reason("rules", f"rule:{rule.name}", text, evidence)


def _fuse(lists: list[tuple[CandidateList, float]], k: float) -> tuple[np.ndarray, np.ndarray]:
    """Weighted reciprocal-rank fusion of the candidate lists (:func:`shopsage.search.fusion.fuse_ranked`:
    ``score(s) = sum_lists weight / (k + rank + 1)``, rank from 0), best first, ties by slot."""
    slots, score = fuse_ranked([cl.slots for cl, _ in lists], [w for _, w in lists], k)
    return slots, score.astype(np.float32)


def _why(lists: list[tuple[CandidateList, float]], k: float, hits: list[int]) -> list[Reason]:
    """A fused slot's reasons, from every list that holds it (``hits``: its first position in each list, -1
    where absent: :func:`_first_hits`), the largest contribution first."""
    found = [(rrf_term(r, k, w), li, r) for li, ((_cl, w), r) in enumerate(zip(lists, hits, strict=True)) if r >= 0]
    return [lists[li][0].reason(r) for _, li, r in sorted(found, key=lambda t: -t[0])]


def _first_hits(lists: list[tuple[CandidateList, float]], shown: list[int]) -> list[list[int]]:
    """For each shown slot, its first position in each candidate list (-1 where absent): one comparison of
    the shown slots with each list instead of a search per slot and list."""
    wanted = np.asarray(shown, dtype=np.int64)
    cols = []
    for cl, _w in lists:
        eq = cl.slots[None, :] == wanted[:, None]  # (shown, m)
        cols.append(np.where(eq.any(axis=1), eq.argmax(axis=1), -1).tolist())
    return [list(row) for row in zip(*cols, strict=True)] if cols else [[] for _ in shown]


def fused_candidates(name: str, sc: ScenarioConfig, gens: Generators, shopper: Shopper, allowed: np.ndarray,
                     stages: dict[str, Any]) -> tuple[list[tuple[CandidateList, float]], np.ndarray, np.ndarray]:
    """The candidates stage: each generator's list (with its weight) and their fusion ``(slots, scores)``,
    best first (also what the learned ranker's training reads: :mod:`shopsage.serving.ranker_training`)."""
    lists: list[tuple[CandidateList, float]] = []
    for g in sc.candidates:
        cl = gens.run(g, shopper, allowed, name)
        stages["candidates"][g.model or g.kind] = None if cl is None else len(cl)
        if cl is not None and len(cl):
            lists.append((cl, g.weight))
    slots, scores = _fuse(lists, sc.rrf_k)
    return lists, slots, scores


@dataclass
class _Pool:
    """The candidate pool: fused candidates, then fallback items below them."""

    slots: list[int]
    scores: list[float]
    lists: list[tuple[CandidateList, float]]
    fallback: dict[int, tuple[CandidateList, int]]  # slot -> (fallback list, position in it)
    learned: LearnedOrder | None = None  # the learned ranking stage's order of the fused candidates
    fused_index: dict[int, int] = field(default_factory=dict)  # slot -> its row in ``learned.features``


def _pool(name: str, sc: ScenarioConfig, gens: Generators, shopper: Shopper, allowed: np.ndarray, n: int,
          stages: dict[str, Any], rankers: StageRankers | None = None) -> _Pool:
    lists, slots, scores = fused_candidates(name, sc, gens, shopper, allowed, stages)
    learned = None if rankers is None else learned_order(sc, rankers, gens, shopper, slots, scores,
                                                         [cl for cl, _ in lists], stages)
    pool = _Pool(slots.tolist(), scores.tolist(), lists, {})
    if learned is not None:  # the ranker's order of the fused candidates replaces rank fusion's
        pool = _Pool(slots[learned.order].tolist(), learned.scores.tolist(), lists, {}, learned,
                     {int(s): i for i, s in enumerate(slots.tolist())})
    have = set(pool.slots)
    low = min(pool.scores, default=1.0)
    for g in sc.fallbacks:  # each fallback adds its whole list while the pool is short of n
        if len(pool.slots) >= n:
            break
        cl = gens.run(g, shopper, allowed, name)
        stages["fallbacks"][g.model or g.kind] = None if cl is None else len(cl)
        if cl is None:
            continue
        for i, s in enumerate(cl.slots.tolist()):
            if s not in have:
                have.add(s)
                pool.fallback[s] = (cl, i)
                j = len(pool.fallback)
                pool.slots.append(s)
                pool.scores.append(low * (sc.rrf_k + 1.0) / (sc.rrf_k + 1.0 + j))  # below every candidate, decreasing
    return pool


def _diversify(sc: ScenarioConfig, catalog: ServingCatalog, out: RuleOutcome, n: int) -> tuple[list[int], dict[str, Any]]:
    """Indexes into ``out.ranked`` of the (at most) ``n`` unpinned items to show, in order; buried
    items stay after the others."""
    d = sc.diversity
    slots = out.ranked.tolist()
    tiers = out.buried.astype(np.int64).tolist()
    if d.method == "none" or len(slots) <= 1:
        return list(range(min(n, len(slots)))), {"method": "none"}
    if d.method == "category_cap":  # leaf category codes (case-insensitive labels), -1 = none
        codes = catalog.leaf[np.asarray(slots, dtype=np.int64)].tolist()
        kept, skipped = category_cap([str(c) if c >= 0 else None for c in codes], n, d.max_per_category, tiers)
        return kept, {"method": "category_cap", "max_per_category": d.max_per_category, "capped": len(skipped)}
    cats = [catalog.category(s) for s in slots]
    brands = [catalog.brand(s) for s in slots]

    def sim(i: int, j: int) -> float:
        if cats[i] is not None and cats[i] == cats[j]:
            return 1.0
        return 0.5 if brands[i] is not None and brands[i] == brands[j] else 0.0

    return mmr(out.ranked_scores, sim, n, d.mmr_lambda, tiers), {"method": "mmr", "lambda": d.mmr_lambda}


def _reasons(s: int, at: int, pool: _Pool, rules: dict[int, list[Rule]], k: float, hits: list[int],
             facts: Any = None) -> list[Reason]:
    """Every stage's reasons for the slot ``s`` shown at position ``at`` (``hits``: its first position in each
    candidate list, -1 where absent)."""
    if s in pool.fallback:
        cl, i = pool.fallback[s]
        r = cl.reason(i)
        out = [Reason("fallback", r.source, r.text, r.evidence)]
    else:
        out = _why(pool.lists, k, hits)
        if pool.learned is not None:
            out = out + [pool.learned.reason(pool.fused_index[s])]
    return out + [rule_reason(x, at if x.action == "pin" else None, x.forecast_evidence(s, facts) if facts else None)
                  for x in rules.get(s, [])]


def run_scenario(name: str, cfg: PipelinesConfig, gens: Generators, shopper: Shopper, allowed: np.ndarray, n: int,
                 rankers: StageRankers | None = None, explorer: Explorer | None = None) -> Ranked:
    """``rankers``: the registry's scenario rankers (a ``learned`` ranking stage; None: rank fusion serves);
    ``explorer``: the explore stages' bandits (a scenario with ``explore`` explores only with one)."""
    sc = cfg.scenario(name)
    stages: dict[str, Any] = {"candidates": {}, "fallbacks": {}}
    pool = _pool(name, sc, gens, shopper, allowed, n, stages, rankers)
    out = apply_rules(np.asarray(pool.slots, np.int64), np.asarray(pool.scores, np.float32), cfg.rules, name,
                      gens.catalog, pinnable=allowed, segments=shopper.segments)
    stages["rules"] = _rule_counts(out)
    keep, stages["diversity"] = _diversify(sc, gens.catalog, out, n)
    shown = place_pins([int(out.ranked[i]) for i in keep], out.pins, n)
    hits = _first_hits(pool.lists, shown)
    _prepare(pool, shown, hits)
    score_of = dict(zip(out.slots.tolist(), out.scores.tolist(), strict=True))
    ranked = Ranked(shown, [score_of[s] for s in shown],
                    [_reasons(s, at, pool, out.touched, sc.rrf_k, h, gens.catalog)
                     for at, (s, h) in enumerate(zip(shown, hits, strict=True))], stages)
    if sc.explore is not None and explorer is not None:  # the explore stage: a bandit fills chosen positions
        pins = {p.slot for p in out.pins}
        x = explorer.fill(name, sc.explore, gens, shopper, allowed, ranked.slots, ranked.scores, ranked.reasons,
                          {at for at, s in enumerate(shown) if s in pins}, n)
        stages["explore"] = x.stage
        ranked = Ranked(x.slots, x.scores, x.reasons, stages, x.propensities, x.explored)
    return ranked


def _prepare(pool: _Pool, shown: list[int], hits: list[list[int]]) -> None:
    """Tell every candidate list, fallbacks included, the positions of its items that are shown (before
    their reasons are built; ``hits``: :func:`_first_hits` of ``shown``)."""
    if pool.learned is not None:
        pool.learned.prepare([pool.fused_index[s] for s in shown if s in pool.fused_index])
    for li, (cl, _w) in enumerate(pool.lists):  # a list holds each slot once: first positions are all of them
        cl.prepare(sorted(h[li] for h in hits if h[li] >= 0))
    fallbacks: dict[int, tuple[CandidateList, list[int]]] = {}
    for s in shown:
        if s in pool.fallback:
            cl, i = pool.fallback[s]
            fallbacks.setdefault(id(cl), (cl, []))[1].append(i)
    for cl, positions in fallbacks.values():
        cl.prepare(positions)


def _rule_counts(out: RuleOutcome) -> dict[str, int]:
    """Items of the pool each kind of rule touched."""
    boosted = sum(any(r.action == "boost" for r in rules) for rules in out.touched.values())
    return {"pinned": len(out.pins), "boosted": boosted, "buried": int(out.buried.sum())}
