"""Off-policy evaluation: a policy's mean reward per shown item, estimated from another policy's logs.

Notation (one logged row ``i`` = one shown item, see :class:`LoggedFeedback`): context ``x_i``,
item ``a_i`` at position ``k_i``, reward ``r_i``, logging propensity ``pi_0(a_i | x_i, k_i)``
(``pscore``); the evaluated policy ``pi_e`` gives ``pi_e(a | x, k)``; a reward model gives
``q(x, a, k)``. Importance weight ``w_i = pi_e(a_i | x_i, k_i) / pi_0(a_i | x_i, k_i)``.

=========  ===========================================================================================
ips        ``V = 1/n sum_i w_i r_i``                                      (inverse propensity scoring)
snips      ``V = sum_i w_i r_i / sum_i w_i``                              (self-normalised IPS)
dm         ``V = 1/n sum_i sum_a pi_e(a | x_i, k_i) q(x_i, a, k_i)``       (direct method)
dr         ``V = dm + 1/n sum_i w_i (r_i - q(x_i, a_i, k_i))``            (doubly robust)
switch_dr  dr with ``w_i`` replaced by ``w_i 1[w_i <= tau]``: rows with larger weights rely on the
           model alone (Wang, Agarwal & Dudik 2017)
dr_os      dr with ``w_i`` shrunk to ``lambda w_i / (w_i^2 + lambda)`` (optimistic shrinkage, Su et
           al. 2020)
=========  ===========================================================================================

The value is the mean reward per logged row (per shown item), the Open Bandit Pipeline's
convention (its ``estimate_policy_value`` averages its per-row terms over all rows, every position
pooled), so the numbers compare with obp's directly. Each estimate carries a percentile bootstrap
interval (rows resampled with replacement, the whole estimator recomputed, so snips renormalises
in every resample; the reward model is held fixed) and the effective sample size
``(sum v)^2 / sum v^2`` of the weights ``v`` it applies to the observed rewards (``n`` for dm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.data.logged_feedback import LoggedFeedback
from shopsage.errors import ValidationError

__all__ = ["ESTIMATORS", "EstimatorName", "OPEConfig", "EvaluationPolicy", "Estimate", "LoggedFeedback",
           "importance_weights", "effective_sample_size", "bootstrap_interval", "estimate_policy_value"]

EstimatorName = Literal["ips", "snips", "dm", "dr", "switch_dr", "dr_os"]
ESTIMATORS: tuple[EstimatorName, ...] = ("ips", "snips", "dm", "dr", "switch_dr", "dr_os")
_NEEDS_MODEL = {"dm", "dr", "switch_dr", "dr_os"}


class OPEConfig(BaseModel):
    """Settings of an off-policy evaluation run."""

    model_config = ConfigDict(extra="forbid")

    estimators: list[EstimatorName] = Field(default_factory=lambda: list(ESTIMATORS))
    """Estimators to compute, in report order."""
    n_bootstrap: int = Field(default=2000, ge=10)
    """Bootstrap resamples per confidence interval."""
    confidence: float = Field(default=0.95, gt=0, lt=1)
    """Coverage of the bootstrap interval (and of the on-policy truth's Wilson interval)."""
    seed: int = 12345
    """The one seed: bootstrap, reward-model folds, Monte Carlo policies."""
    switch_tau: float = Field(default=50.0, gt=0)
    """switch_dr: rows whose importance weight exceeds this use the reward model only."""
    shrinkage_lambda: float = Field(default=2500.0, gt=0)
    """dr_os: lambda of the shrunk weight lambda w / (w^2 + lambda); weights well below sqrt(lambda) stay
    almost whole, the largest one is sqrt(lambda) / 2 (2500: 25, beside switch_tau's 50)."""
    n_folds: int = Field(default=3, ge=2)
    """Reward model: cross-fitting folds (each row is predicted by a model that did not train on it)."""
    reg: float = Field(default=0.01, gt=0)
    """Reward model: L2 regularisation strength of the logistic regression (scikit-learn's C = 1 / reg)."""


@dataclass(frozen=True)
class EvaluationPolicy:
    """The policy being evaluated: its full action distribution (needed by dm and the dr family), or
    only its probability of each logged ``(action, position)`` (enough for ips and snips).

    ``action_dist`` is ``(n_rounds, n_actions, n_positions)``, or ``(n_actions, n_positions)`` for a
    context-free policy (the same distribution for every row); each position's column sums to 1.
    """

    action_dist: np.ndarray | None = None
    pi_logged: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.action_dist is None) == (self.pi_logged is None):
            raise ValidationError("give the evaluated policy either action_dist or pi_logged (one of them).")
        if self.action_dist is not None:
            dist = np.asarray(self.action_dist, dtype=np.float64)
            if dist.ndim not in (2, 3) or np.any(dist < 0) or not np.allclose(dist.sum(axis=-2), 1.0, atol=1e-6):
                raise ValidationError("action_dist must be (n_actions, n_positions) or (n_rounds, n_actions, "
                                      "n_positions) probabilities summing to 1 over actions at each position.")
            object.__setattr__(self, "action_dist", dist)

    def at_logged(self, fb: LoggedFeedback) -> np.ndarray:
        """``pi_e(a_i | x_i, k_i)`` for every logged row, (n,)."""
        if self.pi_logged is not None:
            pi = np.asarray(self.pi_logged, dtype=np.float64)
            if pi.shape != (fb.n_rounds,) or np.any(pi < 0) or np.any(pi > 1):
                raise ValidationError(f"pi_logged must hold one probability in [0, 1] per logged row ({fb.n_rounds}).")
            return pi
        dist = self._dist(fb)
        if dist.ndim == 2:
            return dist[fb.action, fb.position]
        return dist[np.arange(fb.n_rounds), fb.action, fb.position]

    def expected(self, q_hat: np.ndarray, fb: LoggedFeedback) -> np.ndarray:
        """``sum_a pi_e(a | x_i, k_i) q(x_i, a, k_i)`` for every row, (n,); q_hat is (n, n_actions, n_positions)."""
        if self.action_dist is None:
            raise ValidationError("dm and the dr estimators need the evaluated policy's full action_dist; "
                                  "with pi_logged only, ask for ips and snips.")
        dist = self._dist(fb)
        rows = np.arange(fb.n_rounds)
        q_at = q_hat[rows, :, fb.position]                                    # (n, A)
        pi_at = dist[:, fb.position].T if dist.ndim == 2 else dist[rows, :, fb.position]  # (n, A)
        return np.einsum("na,na->n", pi_at, q_at)

    def _dist(self, fb: LoggedFeedback) -> np.ndarray:
        dist = self.action_dist
        assert dist is not None
        want = (fb.n_actions, fb.n_positions)
        if dist.shape[-2:] != want or (dist.ndim == 3 and len(dist) != fb.n_rounds):
            raise ValidationError(f"action_dist has shape {dist.shape}; this log needs (n_rounds, n_actions, "
                                  f"n_positions) = ({fb.n_rounds}, {want[0]}, {want[1]}) or {want}.")
        return dist


@dataclass(frozen=True)
class Estimate:
    """One estimator's policy value with its bootstrap interval and effective sample size."""

    name: str
    estimate: float
    ci_low: float
    ci_high: float
    ess: float
    max_weight: float


def importance_weights(fb: LoggedFeedback, policy: EvaluationPolicy) -> np.ndarray:
    """``w_i = pi_e(a_i | x_i, k_i) / pscore_i``, (n,)."""
    return policy.at_logged(fb) / fb.pscore


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (0 when every weight is 0)."""
    squares = float(np.sum(np.square(weights)))
    return float(np.sum(weights)) ** 2 / squares if squares > 0 else 0.0


def bootstrap_interval(numerators: np.ndarray, denominators: np.ndarray, n_bootstrap: int, seed: int,
                       confidence: float = 0.95, chunk: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of ``sum num / sum den`` for each of k estimators, all on the same resamples.

    ``numerators``, ``denominators``: (k, n) per-row terms. Returns ``(low, high)``, each (k,).
    Resampled row counts come from one seeded generator, ``chunk`` resamples at a time.
    """
    k, n = numerators.shape
    rng = np.random.default_rng(seed)
    stats = np.empty((k, n_bootstrap))
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        idx = rng.integers(0, n, size=(b, n))                                   # (B, n) rows drawn
        counts = np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n)
        num = counts @ numerators.T                                             # (B, k)
        den = counts @ denominators.T
        with np.errstate(invalid="ignore", divide="ignore"):
            stats[:, start:start + b] = (num / den).T
    tail = 100 * (1 - confidence) / 2
    return np.nanpercentile(stats, tail, axis=1), np.nanpercentile(stats, 100 - tail, axis=1)


def _terms(name: str, w: np.ndarray, r: np.ndarray, dm: np.ndarray | None, q_logged: np.ndarray | None,
           cfg: OPEConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row (numerator, denominator, weights on the observed reward) of one estimator."""
    ones = np.ones_like(w)
    if name == "ips":
        return w * r, ones, w
    if name == "snips":
        return w * r, w, w
    assert dm is not None and q_logged is not None
    if name == "dm":
        return dm, ones, ones
    if name == "dr":
        v = w
    elif name == "switch_dr":
        v = w * (w <= cfg.switch_tau)
    elif name == "dr_os":
        v = cfg.shrinkage_lambda * w / (np.square(w) + cfg.shrinkage_lambda)
    else:
        raise ValidationError(f"unknown estimator {name!r}; use one of {', '.join(ESTIMATORS)}.")
    return dm + v * (r - q_logged), ones, v


def estimate_policy_value(fb: LoggedFeedback, policy: EvaluationPolicy, q_hat: np.ndarray | None = None,
                          config: OPEConfig | None = None) -> dict[str, Estimate]:
    """Every configured estimator's value of ``policy`` from the log ``fb``, in config order.

    ``q_hat`` is the reward model's prediction ``(n_rounds, n_actions, n_positions)`` for every row
    (cross-fitted: see :func:`shopsage.evaluate.reward_model.fit_reward_model`); dm and the dr
    family need it.
    """
    cfg = config or OPEConfig()
    w = importance_weights(fb, policy)
    dm = q_logged = None
    if _NEEDS_MODEL.intersection(cfg.estimators):
        if q_hat is None:
            raise ValidationError("dm and the dr estimators need reward-model predictions (q_hat): fit them "
                                  "with fit_reward_model(feedback), or ask for ips and snips only.")
        q_hat = np.asarray(q_hat, dtype=np.float64)
        if q_hat.shape != (fb.n_rounds, fb.n_actions, fb.n_positions):
            raise ValidationError(f"q_hat has shape {q_hat.shape}; expected (n_rounds, n_actions, n_positions) "
                                  f"= ({fb.n_rounds}, {fb.n_actions}, {fb.n_positions}).")
        dm = policy.expected(q_hat, fb)
        q_logged = q_hat[np.arange(fb.n_rounds), fb.action, fb.position]
    parts = [_terms(name, w, fb.reward, dm, q_logged, cfg) for name in cfg.estimators]
    num = np.stack([p[0] for p in parts])
    den = np.stack([p[1] for p in parts])
    low, high = bootstrap_interval(num, den, cfg.n_bootstrap, cfg.seed, cfg.confidence)
    return {name: Estimate(name=name, estimate=float(num[j].sum() / den[j].sum()), ci_low=float(low[j]),
                           ci_high=float(high[j]), ess=effective_sample_size(parts[j][2]),
                           max_weight=float(np.max(parts[j][2])))
            for j, name in enumerate(cfg.estimators)}
