"""The linear bandit: hand-computed LinUCB scores, learning the best arm, exact propensities, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopsage.errors import NotFoundError, ValidationError
from shopsage.policy.bandits import BanditConfig, LinearBandit, disjoint_features
from shopsage.policy.bandits_variants import VariantBandit


def test_linucb_matches_hand_computed_scores() -> None:
    # A = I + [1,0][1,0]^T + [1,1][1,1]^T = [[3,1],[1,2]], b = 1*[1,0] + 0*[1,1] = [1,0]
    # A^-1 = [[2,-1],[-1,3]] / 5, theta = [0.4, -0.2]
    bandit = LinearBandit(2, BanditConfig(alpha=2.0, reg=1.0))
    bandit.update(np.array([1.0, 0.0]), 1.0)
    bandit.update(np.array([1.0, 1.0]), 0.0)
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(bandit.theta, [0.4, -0.2], atol=1e-12)
    mean, width = bandit.mean_and_width(X)
    np.testing.assert_allclose(mean, [0.4, -0.2, 0.2], atol=1e-12)
    np.testing.assert_allclose(width, np.sqrt([2 / 5, 3 / 5, 3 / 5]), atol=1e-12)
    np.testing.assert_allclose(bandit.ucb(X), [0.4 + 2 * np.sqrt(0.4), -0.2 + 2 * np.sqrt(0.6), 0.2 + 2 * np.sqrt(0.6)])
    # the greedy ranking is by UCB: [1,1] (1.749), [1,0] (1.665), [0,1] (1.349)
    assert bandit.rankings(X, 3).tolist() == [[2, 0, 1]]


def test_delayed_feedback_equals_a_full_update() -> None:
    rng = np.random.default_rng(0)
    X, r = rng.normal(size=(50, 4)), rng.integers(0, 2, 50).astype(float)
    whole, split, batch = LinearBandit(4), LinearBandit(4), LinearBandit(4)
    for x, y in zip(X, r, strict=True):
        whole.update(x, y)
        split.observe(x)
    for x, y in zip(X, r, strict=True):
        split.reward(x, y)
    batch.update_many(X, r)
    for other in (split, batch):
        np.testing.assert_allclose(other.theta, whole.theta, atol=1e-9)
        assert other.n_updates == 50


def test_incremental_inverse_matches_a_fresh_one() -> None:
    """Scoring between updates keeps A^-1 current by Sherman-Morrison (and refreshes it every 1,000)."""
    rng = np.random.default_rng(4)
    bandit = LinearBandit(5, BanditConfig(reg=0.5))
    X = rng.normal(size=(6, 5))
    for t in range(1500):
        bandit.ucb(X)  # solve, so the next update goes through Sherman-Morrison
        bandit.update(rng.normal(size=5), float(t % 3 == 0))
    mean, width = bandit.mean_and_width(X)
    A_inv = np.linalg.inv(bandit.A)
    np.testing.assert_allclose(mean, X @ (A_inv @ bandit.b), atol=1e-10)
    np.testing.assert_allclose(width, np.sqrt(np.einsum("kd,de,ke->k", X, A_inv, X)), atol=1e-10)


def _synthetic_problem(seed: int) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(5, 3)), rng  # one true weight vector per arm over a 3-value context


@pytest.mark.parametrize("policy", ["linucb", "lints"])
def test_learns_the_best_arm_on_a_synthetic_problem(policy: str) -> None:
    true, rng = _synthetic_problem(1)
    bandit = LinearBandit(5 * 4, BanditConfig(policy=policy, alpha=0.5, epsilon=0.05, n_samples=20, seed=3))  # type: ignore[arg-type]
    best_late, regret, uniform_regret = [], 0.0, 0.0
    for t in range(3000):
        ctx = rng.normal(size=3)
        p = 1 / (1 + np.exp(-true @ ctx))  # each arm's click probability in this context
        X = disjoint_features(5, ctx)
        a = int(bandit.choose(X, 1, rng).shown[0])
        bandit.update(X[a], float(rng.random() < p[a]))
        regret += p.max() - p[a]
        uniform_regret += p.max() - p.mean()
        if t >= 2500:
            best_late.append(a == int(np.argmax(p)))
    assert np.mean(best_late) > 0.75
    assert regret < 0.35 * uniform_regret


@given(k=st.integers(1, 12), s=st.integers(1, 5), eps=st.floats(0, 1), policy=st.sampled_from(["linucb", "lints"]),
       seed=st.integers(0, 2**16))
def test_recorded_propensities_sum_to_one_over_the_candidates(k: int, s: int, eps: float, policy: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    bandit = LinearBandit(3, BanditConfig(policy=policy, epsilon=eps, n_samples=7))  # type: ignore[arg-type]
    bandit.update_many(rng.normal(size=(10, 3)), rng.integers(0, 2, 10).astype(float))
    c = bandit.choose(rng.normal(size=(k, 3)), s, rng)
    assert c.distribution.shape == (k, min(k, s))
    np.testing.assert_allclose(c.distribution.sum(axis=0), 1.0, atol=1e-12)
    assert len(set(c.shown.tolist())) == len(c.shown)  # distinct items
    np.testing.assert_array_equal(c.probabilities, c.distribution[c.shown, np.arange(len(c.shown))])
    assert np.all(c.probabilities >= eps / k - 1e-12) and np.all(c.probabilities > 0)


def test_linucb_propensities_match_empirical_frequencies() -> None:
    rng = np.random.default_rng(7)
    bandit = LinearBandit(3, BanditConfig(epsilon=0.3))
    bandit.update_many(rng.normal(size=(20, 3)), rng.integers(0, 2, 20).astype(float))
    X = rng.normal(size=(6, 3))
    n = 20_000
    counts = np.zeros((6, 2))
    dist = bandit.choose(X, 2, rng).distribution
    for _ in range(n):
        c = bandit.choose(X, 2, rng)
        np.testing.assert_array_equal(c.distribution, dist)  # no update: the same distribution every time
        counts[c.shown, [0, 1]] += 1
    freq = counts / n
    sd = np.sqrt(dist * (1 - dist) / n)
    assert np.all(np.abs(freq - dist) <= 4 * sd + 1e-12)
    np.testing.assert_allclose(dist[:, 0].min(), 0.3 / 6)  # the epsilon floor


def test_thompson_propensities_match_empirical_frequencies_on_average() -> None:
    """Each decision's probabilities are exact given its posterior draws, so their mean over decisions
    estimates the same marginal as the empirical frequency of what was shown."""
    rng = np.random.default_rng(11)
    bandit = LinearBandit(3, BanditConfig(policy="lints", epsilon=0.1, n_samples=10, alpha=1.0))
    bandit.update_many(rng.normal(size=(8, 3)), rng.integers(0, 2, 8).astype(float))
    X = rng.normal(size=(5, 3))
    n = 8000
    shown = np.zeros((5, 2))
    recorded = np.zeros((5, 2))
    for _ in range(n):
        c = bandit.choose(X, 2, rng)
        shown[c.shown, [0, 1]] += 1
        recorded += c.distribution
    freq, mean = shown / n, recorded / n
    sd = np.sqrt(mean * (1 - mean) / n)
    assert np.all(np.abs(freq - mean) <= 4 * sd + 1e-3)
    assert 0.05 < mean[:, 0].max() < 0.95  # a real spread: Thompson sampling is not greedy here


def test_save_and_load_give_the_same_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    bandit = LinearBandit(4, BanditConfig(policy="lints", alpha=0.3), feature_names=["a", "b", "c", "d"])
    bandit.update_many(rng.normal(size=(30, 4)), rng.integers(0, 2, 30).astype(float))
    bandit.save(tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["A.npy", "b.npy", "manifest.json"]
    back = LinearBandit.load(tmp_path / "b")
    X = rng.normal(size=(5, 4))
    np.testing.assert_allclose(back.ucb(X), bandit.ucb(X))
    assert back.config == bandit.config and back.feature_names == ["a", "b", "c", "d"] and back.n_updates == 30


def test_bad_input_says_what_to_do() -> None:
    bandit = LinearBandit(3)
    with pytest.raises(ValidationError, match="this bandit has 3"):
        bandit.update(np.ones(2), 1.0)
    with pytest.raises(ValidationError, match=r"\(K, 3\)"):
        bandit.choose(np.ones((0, 3)))
    with pytest.raises(ValidationError, match="at least one feature"):
        LinearBandit(0)


def test_variant_bandit_learns_the_better_variant(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    vb = VariantBandit(["control", "new"], config=BanditConfig(epsilon=0.1, alpha=0.5))
    truth = {"control": 0.05, "new": 0.15}
    picks = []
    for _ in range(3000):
        c = vb.choose(rng=rng)
        assert abs(sum(c.probabilities.values()) - 1) < 1e-12 and c.probability == c.probabilities[c.variant]
        vb.update(c.variant, None, float(rng.random() < truth[c.variant]))
        picks.append(c.variant)
    assert picks[-500:].count("new") / 500 > 0.85
    vb.save(tmp_path / "v")
    back = VariantBandit.load(tmp_path / "v")
    assert back.choose(rng=np.random.default_rng(0)).probabilities == vb.choose(rng=np.random.default_rng(0)).probabilities
    with pytest.raises(NotFoundError, match="not one of"):
        vb.update("other", None, 1.0)


def test_variant_bandit_with_context_prefers_the_right_variant_per_context() -> None:
    rng = np.random.default_rng(9)
    vb = VariantBandit(["a", "b"], context_dim=1, config=BanditConfig(epsilon=0.1, alpha=0.3))
    for _ in range(4000):
        ctx = [float(rng.integers(0, 2))]  # e.g. mobile (1) or desktop (0)
        c = vb.choose(ctx, rng)
        p = 0.2 if (c.variant == "a") == (ctx[0] == 1.0) else 0.02  # "a" wins on mobile, "b" on desktop
        vb.update(c.variant, ctx, float(rng.random() < p))
    assert vb.choose([1.0], rng).probabilities["a"] > 0.9
    assert vb.choose([0.0], rng).probabilities["b"] > 0.9
