"""Evaluating learning policies online, without a live shop: replay of uniform logs and a simulator.

**Replay** (Li, Chu, Langford & Wang 2011, "Unbiased offline evaluation of contextual-bandit-based
news article recommendation algorithms"). Walk a log in time order; each row offers ``K``
candidates (features ``X_t``), shows the logged one ``a_t`` and its reward ``r_t``. The policy
chooses ``c_t`` from ``X_t``; when ``c_t == a_t`` the row is *accepted*: its reward counts and the
policy learns from it; otherwise the row is skipped. When the logging policy chose uniformly
(``P(a_t) = 1/K`` independent of everything), the accepted rows are distributed exactly as if the
policy had been live, so the mean reward of the accepted rows is an unbiased estimate of the
policy's online click rate; about ``n / K`` rows are accepted. :func:`replay` refuses logs whose
propensities are not uniform.

**Simulator** (:func:`simulate`): contexts resampled from real logs, rewards drawn from a click
model ``q(x, a)`` fitted to those logs: each step draws a context, the policy chooses, the reward
is Bernoulli ``q(x, a)``; cumulative reward and regret against the model's best item are
recorded. Its assumption, to state beside any figure: the fitted model is the truth (a policy that
exploits its errors looks better than it would be live).

Policies implement :class:`Learner`: ``choose(X, rng) -> int`` and ``update(x, a, r)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from shopsage.errors import ValidationError
from shopsage.policy.bandits import LinearBandit

__all__ = ["Learner", "BanditLearner", "EpsilonGreedy", "FixedRanking", "ReplayResult", "replay", "simulate"]


class Learner(Protocol):
    """A policy that picks one of ``K`` candidates and learns from the reward."""

    def choose(self, X: np.ndarray, rng: np.random.Generator) -> int: ...

    def update(self, x: np.ndarray, a: int, r: float) -> None: ...


@dataclass
class BanditLearner:
    """:class:`~shopsage.policy.bandits.LinearBandit` as a learner: its epsilon-mixed choice of one slot."""

    bandit: LinearBandit

    def choose(self, X: np.ndarray, rng: np.random.Generator) -> int:
        return int(self.bandit.choose(X, 1, rng).shown[0])

    def update(self, x: np.ndarray, a: int, r: float) -> None:
        self.bandit.update(x, r)


class EpsilonGreedy:
    """Context-free epsilon-greedy over item ids: the best mean reward so far, or a uniform item with
    probability ``epsilon`` (unseen items count as mean ``prior``, ties to the lower id)."""

    def __init__(self, n_arms: int, epsilon: float = 0.1, prior: float = 0.0,
                 clicks: np.ndarray | None = None, shows: np.ndarray | None = None) -> None:
        self.epsilon = epsilon
        self.prior = prior
        self.clicks = np.zeros(n_arms) if clicks is None else np.asarray(clicks, dtype=np.float64).copy()
        self.shows = np.zeros(n_arms) if shows is None else np.asarray(shows, dtype=np.float64).copy()

    def choose(self, X: np.ndarray, rng: np.random.Generator) -> int:
        if rng.random() < self.epsilon:
            return int(rng.integers(len(self.clicks)))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(self.shows > 0, self.clicks / self.shows, self.prior)
        return int(np.argmax(mean))

    def update(self, x: np.ndarray, a: int, r: float) -> None:
        self.clicks[a] += r
        self.shows[a] += 1


@dataclass
class FixedRanking:
    """A policy that never learns: always its first-ranked item (e.g. the most popular)."""

    ranking: np.ndarray

    def choose(self, X: np.ndarray, rng: np.random.Generator) -> int:
        return int(self.ranking[0])

    def update(self, x: np.ndarray, a: int, r: float) -> None:
        return None


@dataclass(frozen=True)
class ReplayResult:
    steps: int
    """Rows accepted (replay) or steps taken (simulator)."""
    total_reward: float
    cumulative: np.ndarray
    """(steps,) reward summed up to each accepted row / step."""
    regret: np.ndarray | None = None
    """Simulator only: (steps,) cumulative expected regret against the click model's best item."""

    @property
    def mean_reward(self) -> float:
        return self.total_reward / self.steps if self.steps else float("nan")


def replay(learner: Learner, rows: Iterator[tuple[np.ndarray, int, float, float]], seed: int = 0) -> ReplayResult:
    """Li et al.'s replay over ``(X_t, a_t, r_t, pscore_t)`` rows in time order; every ``pscore_t``
    must be ``1 / K_t`` (a uniform logging policy)."""
    rng = np.random.default_rng(seed)
    rewards: list[float] = []
    for X, a, r, pscore in rows:
        if abs(pscore * len(X) - 1.0) > 1e-6:
            raise ValidationError(f"replay is unbiased only on uniformly random logs: a row has propensity {pscore} "
                                  f"with {len(X)} candidates (uniform: {1 / len(X):.6g}). Use off-policy estimators "
                                  "(shopsage.evaluate.ope) for other logs.")
        if learner.choose(X, rng) == a:
            learner.update(X[a], a, r)
            rewards.append(r)
    cumulative = np.cumsum(np.asarray(rewards, dtype=np.float64))
    return ReplayResult(len(rewards), float(cumulative[-1]) if len(cumulative) else 0.0, cumulative)


def simulate(learner: Learner, contexts: Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]],
             steps: int, seed: int = 0) -> ReplayResult:
    """``steps`` rounds: ``contexts(rng)`` gives the candidates' features ``X`` (K, d) and their true click
    probabilities ``q`` (K,); the reward of the chosen item is Bernoulli ``q[a]``."""
    if steps < 1:
        raise ValidationError(f"steps of {steps} must be at least 1.")
    rng = np.random.default_rng(seed)
    reward = np.empty(steps)
    regret = np.empty(steps)
    for t in range(steps):
        X, q = contexts(rng)
        a = learner.choose(X, rng)
        reward[t] = float(rng.random() < q[a])
        regret[t] = q.max() - q[a]
        learner.update(X[a], a, reward[t])
    cumulative = np.cumsum(reward)
    return ReplayResult(steps, float(cumulative[-1]), cumulative, np.cumsum(regret))
