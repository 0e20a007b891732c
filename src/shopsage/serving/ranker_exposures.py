"""The learned ranker's training data from logged answers: exposures and the clicks attributed to them.

For each recommendation answer of the scenario that has attributed events (clicks, carts,
purchases: :data:`shopsage.feedback.ATTRIBUTED_TYPES`), the shopper's history is rebuilt as of the
answer (the stored events before its time, from :class:`~shopsage.serving.history.StoredHistory`),
the scenario's candidates stage and the stage features are computed by the serving code, and each
attributed item found in that pool is one logged click, weighted
``min(1 / (exam(k) * propensity), max_weight)`` with ``k`` its logged position
(:mod:`shopsage.rank.clicks`) and the propensity the policy logged. See
:mod:`shopsage.serving.ranker_training` for the caveats.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from shopsage.data.stores.base import TYPE_CODES
from shopsage.feedback import ATTRIBUTED_TYPES, AttributedEvent
from shopsage.rank.clicks import PositionBasedClicks
from shopsage.rank.features import StageFeatures
from shopsage.serving.config import ScenarioConfig
from shopsage.serving.generators import Shopper
from shopsage.serving.learned import stage_input
from shopsage.serving.scenario import fused_candidates

__all__ = ["attributed_to", "shopper_as_of", "exposure_stage_data"]

_TYPE_NAMES = {c: t for t, c in TYPE_CODES.items()}


def attributed_to(store: Any, scenario: str) -> dict[str, list[AttributedEvent]]:
    """The attributed events of the scenario's recommendation answers, by answer id (empty when the store
    keeps no exposures)."""
    reader = getattr(store, "read_attributed", None)
    out: dict[str, list[AttributedEvent]] = defaultdict(list)
    if reader is None:
        return out
    for ev in reader():
        if ev.type in ATTRIBUTED_TYPES and ev.scenario == scenario and ev.kind in (None, "recommendation"):
            out[ev.exposure_id].append(ev)
    return out


def shopper_as_of(svc: Any, user: str | None, session: str | None, ts: float) -> Shopper:
    """The shopper with only the stored events before ``ts`` (events without a time are kept)."""
    def before(hist: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[tuple[int, str]]:
        slots, types, times = hist
        keep = ~(times >= ts)  # nan (order-only events) stays
        return [(int(s), _TYPE_NAMES.get(int(t), "view")) for s, t in zip(slots[keep].tolist(), types[keep].tolist(),
                                                                           strict=True)]

    empty = (np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0))
    uh = before(svc.history.users.get(user, empty)) if user else []
    sh = before(svc.history.sessions.get(session, empty)) if session else []
    bought = {s for s, t in uh + sh if t == "purchase"}
    return Shopper(user=user, session=session, user_history=uh, session_history=sh, purchased=bought)


def exposure_stage_data(svc: Any, scenario: str, sc: ScenarioConfig, features: StageFeatures,
                        clicks: PositionBasedClicks) -> tuple[list[np.ndarray], list[int], list[float], int]:
    """Per logged click: the pool's features, the clicked item's index in the pool (-1: not in it) and its
    weight; and the number of answers read."""
    events = attributed_to(svc.store, scenario)
    answered_at = {e.exposure_id: e.ts for e in svc.store.read_exposures() if e.exposure_id in events} if events else {}
    xs: list[np.ndarray] = []
    targets: list[int] = []
    weights: list[float] = []
    cap = clicks.config.max_weight
    history = sc.candidates[0].history if sc.candidates else "user+session"
    for evs in events.values():
        first = evs[0]
        exposed_at = answered_at.get(first.exposure_id)
        if exposed_at is None:  # the exposure row is gone (erased): the first event's time
            exposed_at = min((e.ts for e in evs if e.ts is not None), default=np.inf)
        sh = shopper_as_of(svc, first.user_id, first.session_id, float(exposed_at))
        allowed = svc.masks.allowed(sc.exclude, sh)
        lists, slots, fused = fused_candidates(scenario, sc, svc.gens, sh, allowed, {"candidates": {}})
        x = features.compute(stage_input(svc.gens, sh, slots, fused, [cl for cl, _ in lists], history))
        for item, ev in {e.item: e for e in evs}.items():  # one click per item and answer
            s = svc.catalog.slot(item)
            hit = np.flatnonzero(slots == s) if s is not None else np.zeros(0, np.int64)
            exam = float(clicks.examination(np.array([ev.position]))[0]) if ev.position else 0.0
            p = exam * (ev.propensity if ev.propensity else 1.0)
            xs.append(x)
            targets.append(int(hit[0]) if len(hit) else -1)
            weights.append(min(1.0 / p, cap) if p > 0 else cap)
    return xs, targets, weights, len(events)
