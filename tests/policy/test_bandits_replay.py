"""Replay (Li et al. 2011) on synthetic uniform logs whose truth is known exactly, and the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from shopsage.errors import ValidationError
from shopsage.evaluate.replay import BanditLearner, EpsilonGreedy, FixedRanking, replay, simulate
from shopsage.policy.bandits import BanditConfig, LinearBandit, disjoint_features

K = 4
CONTEXTS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # three kinds of request
CONTEXT_P = np.array([0.5, 0.3, 0.2])
TRUE = np.array([[0.10, 0.30, 0.05, 0.20],  # click probability of each item for each kind of request
                 [0.40, 0.05, 0.10, 0.15],
                 [0.20, 0.20, 0.60, 0.10]])
FEATURES = [np.column_stack([np.eye(K), np.tile(c, (K, 1))]) for c in CONTEXTS]  # candidates of each kind
CUMULATIVE = np.cumsum(CONTEXT_P)


def _kind(rng: np.random.Generator) -> int:
    return int(np.searchsorted(CUMULATIVE, rng.random(), side="right"))


def _log(rng: np.random.Generator, n: int):  # type: ignore[no-untyped-def]
    """A uniformly random logging policy's rows: (candidate features, logged item, click, propensity)."""
    for _ in range(n):
        c = _kind(rng)
        a = int(rng.integers(K))
        yield FEATURES[c], a, float(rng.random() < TRUE[c, a]), 1.0 / K


class ByContext:
    """A fixed context-dependent policy: item ``rule[c]`` for request kind ``c``."""

    def __init__(self, rule: list[int]) -> None:
        self.rule = rule

    def choose(self, X: np.ndarray, rng: np.random.Generator) -> int:
        return self.rule[next(c for c, f in enumerate(FEATURES) if f is X)]

    def update(self, x: np.ndarray, a: int, r: float) -> None:
        return None


def test_replay_of_a_fixed_policy_is_unbiased() -> None:
    rule = [1, 0, 2]
    truth = float(np.sum(CONTEXT_P * TRUE[np.arange(3), rule]))  # 0.5*0.3 + 0.3*0.4 + 0.2*0.6 = 0.39
    assert truth == pytest.approx(0.39)
    rng = np.random.default_rng(0)
    estimates = [replay(ByContext(rule), _log(rng, 800)).mean_reward for _ in range(100)]
    se = np.std(estimates, ddof=1) / np.sqrt(len(estimates))
    assert abs(np.mean(estimates) - truth) < 4 * se
    assert se < 0.005  # the test has the power to see a bias of a few points


def test_replay_of_a_learning_policy_matches_running_it_online() -> None:
    """The accepted rows arrive as a live policy would see them: epsilon-greedy's mean reward over its
    first 100 decisions is the same in replay and online (simulated on the same truth)."""
    rng = np.random.default_rng(1)
    steps = 100
    replayed = []
    for _ in range(150):
        r = replay(EpsilonGreedy(K, 0.2), _log(rng, 600), seed=int(rng.integers(1 << 30)))
        assert r.steps >= steps
        replayed.append(r.cumulative[steps - 1] / steps)

    def contexts(g: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        c = _kind(g)
        return FEATURES[c], TRUE[c]

    online = [simulate(EpsilonGreedy(K, 0.2), contexts, steps, seed=s).mean_reward for s in range(150)]
    se = np.sqrt(np.var(replayed, ddof=1) / 150 + np.var(online, ddof=1) / 150)
    assert abs(np.mean(replayed) - np.mean(online)) < 4 * se


def test_replay_refuses_logs_that_are_not_uniform() -> None:
    rows = iter([(np.eye(K), 0, 1.0, 0.5)])
    with pytest.raises(ValidationError, match="uniformly random logs"):
        replay(FixedRanking(np.arange(K)), rows)


DISJOINT = [disjoint_features(K, c) for c in CONTEXTS]


def test_simulator_the_contextual_bandit_beats_fixed_and_epsilon_greedy() -> None:
    """On a problem where the best item depends on the request, LinUCB (disjoint, per item on the
    context) gathers more clicks than the best fixed item and context-free epsilon-greedy."""
    def contexts(g: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        c = _kind(g)
        return DISJOINT[c], TRUE[c]

    best_fixed = int(np.argmax(CONTEXT_P @ TRUE))
    steps = 3000
    bandit = simulate(BanditLearner(LinearBandit(K * 3, BanditConfig(alpha=0.3, epsilon=0.02))), contexts, steps, seed=2)
    fixed = simulate(FixedRanking(np.array([best_fixed])), contexts, steps, seed=2)
    greedy = simulate(EpsilonGreedy(K, 0.1), contexts, steps, seed=2)
    assert bandit.regret is not None and fixed.regret is not None and greedy.regret is not None
    assert bandit.regret[-1] < 0.5 * min(fixed.regret[-1], greedy.regret[-1])
    assert bandit.total_reward > max(fixed.total_reward, greedy.total_reward)
