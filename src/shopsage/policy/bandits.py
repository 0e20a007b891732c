"""Contextual exploration: a linear bandit (LinUCB or linear Thompson sampling) that fills slots of a
list and reports the exact probability of every item it shows.

Model (Li et al. 2010, "A contextual-bandit approach to personalized news article recommendation",
shared-parameter form; Agrawal & Goyal 2013 for Thompson sampling). Each candidate ``a`` of a
decision is a feature vector ``x_a`` (d,), joint features of the request and the item; the expected
reward is linear, ``E[r | x_a] = theta . x_a``, fitted by ridge regression::

    A = reg * I + sum_t x_t x_t^T        b = sum_t r_t x_t        theta = A^-1 b
    linucb:  score_a = theta . x_a + alpha * sqrt(x_a^T A^-1 x_a)
    lints:   score_a = theta_m . x_a,  theta_m ~ N(theta, alpha^2 A^-1),  m = 1..n_samples

A decision fills ``S`` slots from ``K`` candidates. It is a mixture, so that every candidate keeps
a known, non-zero chance (off-policy evaluation divides by it):

- with probability ``epsilon``: a uniformly random ordered set of ``S`` distinct candidates;
- otherwise: one ranking drawn uniformly from ``M`` rankings (linucb: ``M = 1``, the candidates by
  UCB score; lints: ``M = n_samples`` posterior draws, each ranking the candidates by its score)
  and its top ``S`` in order.

So the probability that candidate ``a`` is shown at slot ``j`` is, exactly,
``P(a, j) = epsilon / K + (1 - epsilon) * #{m : ranking_m[j] = a} / M``. For Thompson sampling this
is the probability *given the M posterior draws* of this decision (drawn before, and independent
of, the reward), which is what importance weighting needs; it is a Monte Carlo estimate of the
probability over fresh posterior draws, and the shown list is sampled from it, so what is recorded
is what was used. Each slot's column sums to 1 over the candidates (every slot is filled); the
recorded propensity of a shown item is its marginal ``P(a, j)`` (the Open Bandit convention).
Ties in a ranking go to the lower candidate index (a stable sort).

Rewards may arrive late: :meth:`LinearBandit.observe` adds ``x x^T`` when an item is shown and
:meth:`LinearBandit.reward` adds ``r x`` when a reward arrives (a shown item without a reward
counts as reward 0), which is :meth:`LinearBandit.update` split in two.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.artifacts import load_arrays, read_manifest, save_arrays, write_manifest
from shopsage.errors import ValidationError

__all__ = ["BanditConfig", "BanditPolicy", "Choice", "LinearBandit", "disjoint_features"]

BanditPolicy = Literal["linucb", "lints"]
_KIND = "linear-bandit"


class BanditConfig(BaseModel):
    """Settings of a linear bandit (the hyperparameter names of docs/conventions.md)."""

    model_config = ConfigDict(extra="forbid")

    policy: BanditPolicy = "linucb"
    """``linucb``: rank by upper confidence bound; ``lints``: linear Thompson sampling."""
    alpha: float = Field(default=1.0, ge=0)
    """linucb: width of the confidence bonus; lints: scale of the posterior covariance."""
    epsilon: float = Field(default=0.05, ge=0, le=1)
    """Share of decisions that show a uniformly random ordered set: every candidate keeps at least
    ``epsilon / K`` probability at every slot (0 makes linucb deterministic)."""
    reg: float = Field(default=1.0, gt=0)
    """L2 regularisation of the ridge regression (the prior precision)."""
    n_samples: int = Field(default=100, ge=1, le=10_000)
    """lints: posterior draws per decision; the recorded probabilities are exact given them."""
    seed: int = 12345
    """Seed of the decisions' random numbers when the caller gives no generator."""


@dataclass(frozen=True)
class Choice:
    """One decision: ``shown[j]`` (an index into the candidates) fills slot ``j`` with probability
    ``probabilities[j]``; ``distribution`` (K, S) is every candidate's probability at every slot."""

    shown: np.ndarray  # (S,) int64 candidate indexes, slot order
    probabilities: np.ndarray  # (S,) float64, distribution[shown[j], j]
    distribution: np.ndarray  # (K, S) float64, each column sums to 1


class LinearBandit:
    """A shared-parameter linear bandit over ``dim`` features; thread-safe (one lock)."""

    def __init__(self, dim: int, config: BanditConfig | None = None, feature_names: Sequence[str] | None = None) -> None:
        if dim < 1:
            raise ValidationError(f"a linear bandit needs at least one feature; dim is {dim}.")
        if feature_names is not None and len(feature_names) != dim:
            raise ValidationError(f"{len(feature_names)} feature names for {dim} features: give one name per feature.")
        self.dim = dim
        self.config = config or BanditConfig()
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.A = self.config.reg * np.eye(dim)
        self.b = np.zeros(dim)
        self.n_updates = 0
        self._lock = threading.Lock()
        self._A_inv: np.ndarray | None = None  # A^-1, kept current by Sherman-Morrison between full inversions
        self._since_inverse = 0
        self._theta: np.ndarray | None = None
        self._chol: np.ndarray | None = None  # Cholesky factor of A^-1 (lints)
        self._rng = np.random.default_rng(self.config.seed)

    # ------------------------------------------------------------------ learning
    def observe(self, x: np.ndarray) -> None:
        """An item with features ``x`` was shown: ``A += x x^T`` (its reward counts 0 until :meth:`reward`)."""
        x = self._vector(x)
        with self._lock:
            self._add(x)

    def reward(self, x: np.ndarray, r: float) -> None:
        """A reward ``r`` arrived for an item shown with features ``x``: ``b += r x``."""
        x = self._vector(x)
        with self._lock:
            self.b += float(r) * x
            self._theta = None

    def update(self, x: np.ndarray, r: float) -> None:
        """Show and reward in one step: ``A += x x^T``, ``b += r x``."""
        x = self._vector(x)
        with self._lock:
            self._add(x)
            self.b += float(r) * x

    def _add(self, x: np.ndarray) -> None:
        """``A += x x^T`` and ``A^-1`` by Sherman-Morrison, O(d^2) (a full inversion every 1,000 updates
        keeps rounding errors from adding up). Called with the lock held."""
        self.A += np.outer(x, x)
        self.n_updates += 1
        if self._A_inv is not None and self._since_inverse < 1000:
            Ax = self._A_inv @ x
            self._A_inv = self._A_inv - np.outer(Ax, Ax) / (1.0 + x @ Ax)
            self._since_inverse += 1
        else:
            self._A_inv = None
        self._theta = self._chol = None

    def update_many(self, X: np.ndarray, r: np.ndarray) -> None:
        """A batch of ``(x_t, r_t)``: ``A += X^T X``, ``b += X^T r`` (the same as updating row by row)."""
        X = np.asarray(X, dtype=np.float64)
        r = np.asarray(r, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.dim or len(r) != len(X):
            raise ValidationError(f"update_many needs X of shape (n, {self.dim}) and one reward per row; got "
                                  f"{X.shape} and {r.shape}.")
        with self._lock:
            self.A += X.T @ X
            self.b += X.T @ r
            self.n_updates += len(X)
            self._A_inv = self._theta = self._chol = None

    def reconfigure(self, config: BanditConfig) -> None:
        """New settings, what was learned kept: ``A`` trades the old ``reg * I`` for the new one."""
        with self._lock:
            self.A += (config.reg - self.config.reg) * np.eye(self.dim)
            self.config = config
            self._A_inv = self._theta = self._chol = None

    def _vector(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.shape != (self.dim,):
            raise ValidationError(f"features have {x.size} values; this bandit has {self.dim}.")
        return x

    def _solve(self, need_chol: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(A^-1, theta, chol)``, each computed once per change (chol only when asked)."""
        with self._lock:
            if self._A_inv is None:
                A_inv = np.linalg.inv(self.A)
                self._A_inv = (A_inv + A_inv.T) / 2  # symmetric to rounding, for the Cholesky factor
                self._since_inverse = 0
            if self._theta is None:
                self._theta = self._A_inv @ self.b
            if need_chol and self._chol is None:
                self._chol = np.linalg.cholesky((self._A_inv + self._A_inv.T) / 2)
            return self._A_inv, self._theta, self._chol

    # ------------------------------------------------------------------ scoring
    @property
    def theta(self) -> np.ndarray:
        """The ridge estimate ``A^-1 b``, (d,)."""
        return self._solve()[1].copy()

    def mean_and_width(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate: the estimated reward ``theta . x`` and the width ``sqrt(x^T A^-1 x)``, each (K,)."""
        X = self._matrix(X)
        A_inv, theta, _ = self._solve()
        width = np.sqrt(np.maximum(((X @ A_inv) * X).sum(axis=1), 0.0))  # diag(X A^-1 X^T)
        return X @ theta, width

    def ucb(self, X: np.ndarray) -> np.ndarray:
        """LinUCB scores ``theta . x + alpha sqrt(x^T A^-1 x)``, (K,)."""
        mean, width = self.mean_and_width(X)
        return mean + self.config.alpha * width

    def rankings(self, X: np.ndarray, slots: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """(M, S) candidate indexes: the top ``slots`` of each ranking the greedy branch draws from."""
        X = self._matrix(X)
        s = min(slots, len(X))
        if self.config.policy == "linucb":
            scores = self.ucb(X)[None, :]
        else:
            _, theta, chol = self._solve(need_chol=True)
            assert chol is not None
            z = (rng or self._rng).standard_normal((self.config.n_samples, self.dim))
            draws = theta[None, :] + self.config.alpha * z @ chol.T  # (M, d) ~ N(theta, alpha^2 A^-1)
            scores = draws @ X.T  # (M, K)
            if s < len(X):  # only the top s of each draw matter: partition first (ties have probability 0)
                top = np.argpartition(-scores, s - 1, axis=1)[:, :s]
                order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
                return np.take_along_axis(top, order, axis=1)
        return np.argsort(-scores, axis=1, kind="stable")[:, :s]

    def distribution(self, rankings: np.ndarray, n_candidates: int) -> np.ndarray:
        """(K, S): every candidate's exact probability at every slot under the epsilon mixture."""
        m, s = rankings.shape
        eps = self.config.epsilon
        dist = np.full((n_candidates, s), eps / n_candidates)
        for j in range(s):
            dist[:, j] += (1 - eps) * np.bincount(rankings[:, j], minlength=n_candidates) / m
        return dist

    def choose(self, X: np.ndarray, slots: int = 1, rng: np.random.Generator | None = None) -> Choice:
        """Fill ``slots`` slots (at most K) from the candidates ``X`` (K, d); see the module docstring."""
        X = self._matrix(X)
        rng = rng or self._rng
        ranks = self.rankings(X, slots, rng)
        dist = self.distribution(ranks, len(X))
        if rng.random() < self.config.epsilon:
            shown = np.asarray(rng.choice(len(X), size=ranks.shape[1], replace=False), dtype=np.int64)
        else:
            shown = np.asarray(ranks[int(rng.integers(len(ranks)))], dtype=np.int64)
        return Choice(shown, dist[shown, np.arange(len(shown))], dist)

    def _matrix(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.dim or len(X) == 0:
            raise ValidationError(f"candidates must be a (K, {self.dim}) feature matrix with K >= 1; got {X.shape}.")
        return X

    # ------------------------------------------------------------------ files
    def save(self, directory: str | Path, **extra: Any) -> None:
        """``A.npy``, ``b.npy`` and ``manifest.json`` (config, dim, feature names, updates, ``extra``)."""
        with self._lock:
            A, b, n = self.A.copy(), self.b.copy(), self.n_updates
        save_arrays(Path(directory), A=A, b=b)
        write_manifest(Path(directory), _KIND, self.config.model_dump(), dim=self.dim, n_updates=n,
                       feature_names=self.feature_names, **extra)

    @classmethod
    def load(cls, directory: str | Path) -> LinearBandit:
        manifest = read_manifest(Path(directory), _KIND)
        arrays = load_arrays(Path(directory), "A", "b")
        bandit = cls(int(manifest["dim"]), BanditConfig.model_validate(manifest["config"]), manifest.get("feature_names"))
        if arrays["A"].shape != (bandit.dim, bandit.dim) or arrays["b"].shape != (bandit.dim,):
            raise ValidationError(f"{directory}: A.npy / b.npy do not match dim {bandit.dim}; the files are damaged, "
                                  "save the bandit again.")
        bandit.A, bandit.b = arrays["A"].astype(np.float64), arrays["b"].astype(np.float64)
        bandit._A_inv = bandit._theta = bandit._chol = None
        bandit.n_updates = int(manifest.get("n_updates", 0))
        return bandit


def disjoint_features(n_arms: int, context: np.ndarray | None = None) -> np.ndarray:
    """(K, K * (1 + c)): arm ``a``'s row holds ``[1, context]`` in block ``a`` and zeros elsewhere, so a
    shared-parameter bandit on it is LinUCB's disjoint model (one ridge regression per arm)."""
    ctx = np.r_[1.0, np.asarray(context, dtype=np.float64).ravel()] if context is not None else np.ones(1)
    return np.kron(np.eye(n_arms), ctx[None, :])
