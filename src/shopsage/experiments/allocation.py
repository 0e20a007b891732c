"""Bandit allocation: a contextual bandit chooses the variant of each request of an experiment.

With ``allocation = "bandit"`` (:class:`~shopsage.experiments.definition.BanditAllocation`) every
request in scope is one decision of a :class:`~shopsage.policy.bandits_variants.VariantBandit`
(arms = variants, LinUCB's disjoint ridge model on ``[1, context]``, an epsilon mixture so that every
variant keeps at least ``epsilon / K``). The answer's exposures record the variant and the exact
probability it had (``ExposureRow.variant_propensity``), so the experiment's own logs feed
off-policy evaluation (:mod:`shopsage.evaluate.abtest_bandit`).

**One decision, one reward.** A decision is one answer (``recomm_id`` / ``query_id``); its reward is
the number of attributed events of the configured type (``click``, ``add_to_cart``, ``purchase``),
or the summed value of its purchases (``revenue``). Events without a timestamp are not counted.

**No worker-local truth.** The bandit's statistics are sums (``A = reg I + sum x x^T``,
``b = sum r x``), rebuilt from the store: the state at cutoff ``C`` holds every answer of the
experiment logged before ``C`` and every attributed event stamped before ``C``. Cutoffs are
multiples of ``refit_s`` (epoch time), ``settle_s`` behind the clock (rows still in a worker's write
queue), so every worker refits at the same cutoffs from the same rows, and a restarted worker
rebuilds the same state. Between cutoffs a refit adds only the window ``[previous, C)`` (sums add up);
every ``rebuild_every``-th cutoff re-reads everything from the experiment's start, so a row written
or attributed later than ``settle_s`` is counted there. Refits build a new bandit and swap it in:
a request sees one state or the other, never half of one.

**A refit that fails backs off.** When the store is down, the allocator keeps serving its last state
and is not due again for 1 s, then 2, 4, ... up to ``refit_s`` (:meth:`BanditAllocator.failed`); the
first refit that succeeds resets the delay.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from shopsage.experiments.definition import ExperimentConfig
from shopsage.feedback.records import AttributedEvent, ExposureRow
from shopsage.policy.bandits import BanditConfig
from shopsage.policy.bandits_variants import VariantBandit, VariantChoice

__all__ = ["BanditAllocator", "Answers", "answers_from_logs", "reward_of", "context_of", "CONTEXT_SCENARIOS"]

CONTEXT_SCENARIOS: tuple[str, ...] = ("for_you", "similar_items", "frequently_bought_together", "next_in_session",
                                      "trending", "also_viewed")
"""The one-hot of context ``scenario``: the recommendation scenarios (``shopsage.serving.config.SCENARIOS``,
which a test keeps equal; this layer does not import the serving layer)."""


class _Logs(Protocol):
    def read_exposures(self, experiment: str | None = None, since: float | None = None) -> Iterable[ExposureRow]: ...

    def read_attributed(self, experiment: str | None = None, since: float | None = None) -> Iterable[AttributedEvent]: ...


def context_of(exp: ExperimentConfig, scenario: str | None) -> np.ndarray | None:
    """The decision's context vector (None for context ``none``): the one-hot of the scenario that answered."""
    assert exp.bandit is not None
    if exp.bandit.context == "none":
        return None
    out = np.zeros(len(CONTEXT_SCENARIOS))
    if scenario in CONTEXT_SCENARIOS:
        out[CONTEXT_SCENARIOS.index(scenario)] = 1.0
    return out


def _context_dim(exp: ExperimentConfig) -> int:
    assert exp.bandit is not None
    return 0 if exp.bandit.context == "none" else len(CONTEXT_SCENARIOS)


def reward_of(exp: ExperimentConfig, event: AttributedEvent) -> float | None:
    """What ``event`` adds to its answer's reward (None: nothing, another type or no timestamp)."""
    assert exp.bandit is not None
    if event.ts is None:
        return None
    want = exp.bandit.reward
    if want == "revenue":
        return float(event.value) if event.type == "purchase" and event.value is not None else None
    return 1.0 if event.type == want else None


@dataclass
class Answers:
    """The experiment's decisions as columns, one row per answer, in time order."""

    ids: list[str]
    variant: np.ndarray  # (n,) int64 index into the experiment's variants
    context: np.ndarray | None  # (n, c) or None (context none)
    probability: np.ndarray  # (n,) the recorded variant_propensity
    scenario: list[str]
    ts: np.ndarray  # (n,)
    reward: np.ndarray  # (n,) float64, 0 until rewards are added

    def __len__(self) -> int:
        return len(self.ids)


def answers_from_logs(exp: ExperimentConfig, exposures: Iterable[ExposureRow], until: float | None = None) -> Answers:
    """One row per answer of ``exp`` that recorded its variant's probability, logged before ``until``."""
    index = {v.name: i for i, v in enumerate(exp.variants)}
    seen: dict[str, tuple[float, int, float, str]] = {}
    for e in exposures:
        if e.variant_propensity is None or e.variant not in index or (until is not None and e.ts >= until):
            continue
        if e.exposure_id not in seen:
            seen[e.exposure_id] = (e.ts, index[e.variant], e.variant_propensity, e.scenario)
    ids = sorted(seen, key=lambda a: (seen[a][0], a))
    rows = [seen[a] for a in ids]
    scen = [r[3] for r in rows]
    ctx = None
    if _context_dim(exp):
        ctx = np.asarray([context_of(exp, s) for s in scen], dtype=np.float64).reshape(len(rows), _context_dim(exp))
    return Answers(ids, np.asarray([r[1] for r in rows], np.int64), ctx,
                   np.asarray([r[2] for r in rows], np.float64), scen,
                   np.asarray([r[0] for r in rows], np.float64), np.zeros(len(rows)))


class BanditAllocator:
    """The bandit of one running experiment, refit from the store's logs at deterministic cutoffs."""

    def __init__(self, exp: ExperimentConfig, rng: np.random.Generator | None = None) -> None:
        if exp.bandit is None:
            raise ValueError(f"experiment {exp.name!r} is not allocated by a bandit")
        self.exp = exp
        self.cfg = exp.bandit
        self.bandit = self._fresh()
        self.cutoff: float | None = None
        """Every answer logged and every event stamped before this moment is in the state (None: not fitted)."""
        self.refits = 0
        self.failures = 0
        """Refits that failed in a row (0 after one succeeds)."""
        self.retry_at = float("-inf")
        """No refit is due before this moment (the back-off after a failed one)."""
        self._rng = rng if rng is not None else np.random.default_rng()
        self._lock = threading.Lock()

    def _fresh(self) -> VariantBandit:
        c = self.cfg
        return VariantBandit([v.name for v in self.exp.variants], _context_dim(self.exp),
                             BanditConfig(policy=c.policy, alpha=c.alpha, epsilon=c.epsilon, reg=c.reg))

    # ------------------------------------------------------------------ serving
    def choose(self, scenario: str) -> VariantChoice:
        """The variant of one request of ``scenario``, with the exact probability it had."""
        bandit = self.bandit  # one state for the whole decision (a refit swaps in a new one)
        with self._lock:  # one generator, many request threads
            return bandit.choose(context_of(self.exp, scenario), self._rng)

    def shares(self, scenario: str | None = None, rng: np.random.Generator | None = None) -> dict[str, float]:
        """Every variant's probability of being chosen now for a request of ``scenario``."""
        return self.bandit.distribution(context_of(self.exp, scenario), rng)

    # ------------------------------------------------------------------ refitting
    def cutoff_at(self, now: float) -> float:
        """The refit point in force at ``now``: the last multiple of ``refit_s`` at least ``settle_s`` ago."""
        return math.floor((now - self.cfg.settle_s) / self.cfg.refit_s) * self.cfg.refit_s

    def due(self, now: float) -> bool:
        """A new cutoff is in force at ``now`` and no back-off holds the refit."""
        return (self.cutoff is None or self.cutoff_at(now) > self.cutoff) and now >= self.retry_at

    def failed(self, now: float) -> float:
        """Record a failed refit at ``now``: the next is not due for 1 s after the first failure, twice as long
        after each further one, at most ``refit_s``. Returns that delay."""
        self.failures += 1
        delay = min(float(self.cfg.refit_s), 2.0 ** min(self.failures - 1, 62))
        self.retry_at = now + delay
        return delay

    def refit(self, store: _Logs, now: float | None = None) -> bool:
        """Bring the state to the cutoff in force at ``now`` (default: the clock); False when it already is."""
        cut = self.cutoff_at(time.time() if now is None else now)
        if self.cutoff is not None and cut <= self.cutoff:
            return False
        start = self.exp.created_at if self.exp.created_at is not None else float("-inf")
        k_old = None if self.cutoff is None else math.floor(self.cutoff / self.cfg.refit_s)
        k_new = math.floor(cut / self.cfg.refit_s)
        every = self.cfg.rebuild_every
        rebuild = k_old is None or k_new // every > k_old // every  # a rebuild point lies in (old, new]
        if rebuild:
            bandit, since = self._fresh(), start
        else:
            bandit, since = self._copy(), float(self.cutoff)  # type: ignore[arg-type]
        self._add_window(bandit, store, since, cut)
        self.bandit, self.cutoff = bandit, cut
        self.refits += 1
        self.failures, self.retry_at = 0, float("-inf")
        return True

    def _copy(self) -> VariantBandit:
        out = self._fresh()
        out.bandit.A, out.bandit.b = self.bandit.bandit.A.copy(), self.bandit.bandit.b.copy()
        out.bandit.n_updates = self.bandit.bandit.n_updates
        return out

    def _add_window(self, bandit: VariantBandit, store: _Logs, since: float, until: float) -> None:
        """Add the answers logged and the rewards stamped in ``[since, until)``."""
        lo = None if math.isinf(since) else since
        answers = answers_from_logs(self.exp, store.read_exposures(self.exp.name, lo), until)
        bandit.observe_many(answers.variant, answers.context)
        index = {v.name: i for i, v in enumerate(self.exp.variants)}
        for ev in store.read_attributed(self.exp.name, lo):
            r = reward_of(self.exp, ev)
            if r is None or ev.variant not in index or ev.ts >= until or (lo is not None and ev.ts < lo):  # type: ignore[operator]
                continue
            bandit.reward(index[ev.variant], context_of(self.exp, ev.scenario), r)

    def describe(self) -> dict[str, Any]:
        """The state in words: cutoff, decisions counted, and each variant's estimated reward per answer."""
        theta = self.bandit.bandit.theta
        width = 1 + _context_dim(self.exp)
        return {"cutoff": self.cutoff, "refits": self.refits, "decisions": int(self.bandit.bandit.n_updates),
                "intercepts": {v.name: float(theta[i * width]) for i, v in enumerate(self.exp.variants)}}

