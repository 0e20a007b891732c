"""Choosing between an experiment's variants with a contextual bandit (arms = variants).

The small API the experiments engine calls instead of (or after) a fixed split: ``choose`` returns
the variant with the exact probability it had (record it as the exposure's propensity, so the
variant's logs stay usable for off-policy evaluation), ``update`` feeds a reward back. The model
is LinUCB's disjoint form (one ridge regression per variant on ``[1, context]``, see
:func:`~shopsage.policy.bandits.disjoint_features`) inside :class:`~shopsage.policy.bandits.LinearBandit`,
so the probabilities follow its epsilon mixture: ``epsilon / K`` for every variant plus
``1 - epsilon`` shared by the best one(s) (linucb) or by posterior draws (lints).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shopsage.artifacts import read_manifest
from shopsage.errors import NotFoundError, ValidationError
from shopsage.policy.bandits import BanditConfig, LinearBandit, disjoint_features

__all__ = ["VariantChoice", "VariantBandit"]


@dataclass(frozen=True)
class VariantChoice:
    variant: str
    probability: float
    """The exact probability this decision had of choosing ``variant``."""
    probabilities: dict[str, float]
    """Every variant's probability in this decision (they sum to 1)."""


class VariantBandit:
    """A bandit over named variants, optionally conditioned on a context vector of ``context_dim`` values."""

    def __init__(self, variants: Sequence[str], context_dim: int = 0, config: BanditConfig | None = None) -> None:
        if len(variants) < 2 or len(set(variants)) != len(variants):
            raise ValidationError(f"a variant bandit needs at least two distinct variants; got {list(variants)}.")
        if context_dim < 0:
            raise ValidationError(f"context_dim of {context_dim} must be 0 or more.")
        self.variants = list(variants)
        self.context_dim = context_dim
        self.bandit = LinearBandit(len(variants) * (1 + context_dim), config)

    def _features(self, context: Sequence[float] | np.ndarray | None) -> np.ndarray:
        if self.context_dim == 0:
            if context is not None and np.size(context):
                raise ValidationError("this variant bandit takes no context (context_dim 0); pass context=None.")
            return disjoint_features(len(self.variants))
        ctx = np.asarray(context if context is not None else [], dtype=np.float64).ravel()
        if ctx.size != self.context_dim:
            raise ValidationError(f"context has {ctx.size} values; this variant bandit expects {self.context_dim}.")
        return disjoint_features(len(self.variants), ctx)

    def _index(self, variant: str) -> int:
        try:
            return self.variants.index(variant)
        except ValueError:
            raise NotFoundError(f"variant {variant!r} is not one of {self.variants}.") from None

    def choose(self, context: Sequence[float] | np.ndarray | None = None,
               rng: np.random.Generator | None = None) -> VariantChoice:
        """Pick a variant for one request (or one shopper's assignment)."""
        c = self.bandit.choose(self._features(context), 1, rng)
        probs = c.distribution[:, 0]
        i = int(c.shown[0])
        return VariantChoice(self.variants[i], float(probs[i]), dict(zip(self.variants, probs.tolist(), strict=True)))

    def update(self, variant: str, context: Sequence[float] | np.ndarray | None, reward: float) -> None:
        """The reward (e.g. 1.0 for a conversion, 0.0 for none) that followed choosing ``variant``."""
        self.bandit.update(self._features(context)[self._index(variant)], reward)

    def observe_many(self, variants: np.ndarray, contexts: np.ndarray | None = None) -> None:
        """Decisions whose rewards come later (:meth:`reward`): ``variants`` (n,) indexes, ``contexts`` (n, c)
        (None with context_dim 0). The same as :meth:`update` with reward 0 for each, in one step."""
        X = self._rows(variants, contexts)
        if len(X):
            self.bandit.update_many(X, np.zeros(len(X)))

    def reward(self, variant: int, context: Sequence[float] | np.ndarray | None, reward: float) -> None:
        """A reward that arrived for an observed decision of variant index ``variant`` (``b += r x``)."""
        self.bandit.reward(self._features(context)[variant], reward)

    def _rows(self, variants: np.ndarray, contexts: np.ndarray | None) -> np.ndarray:
        """(n, dim): each decision's feature row (its variant's block holds ``[1, context]``)."""
        v = np.asarray(variants, dtype=np.int64)
        if not len(v):
            return np.zeros((0, self.bandit.dim))
        if (v.min() < 0 or v.max() >= len(self.variants)):
            raise ValidationError(f"variant indexes must lie in 0..{len(self.variants) - 1}.")
        ctx = np.ones((len(v), 1))
        if self.context_dim:
            c = np.asarray(contexts, dtype=np.float64).reshape(len(v), -1)  # (n, c)
            if c.shape[1] != self.context_dim:
                raise ValidationError(f"contexts have {c.shape[1]} values; this variant bandit expects {self.context_dim}.")
            ctx = np.column_stack([ctx, c])
        X = np.zeros((len(v), self.bandit.dim))
        width = 1 + self.context_dim
        for j in range(width):
            X[np.arange(len(v)), v * width + j] = ctx[:, j]
        return X

    def distribution(self, context: Sequence[float] | np.ndarray | None = None,
                     rng: np.random.Generator | None = None) -> dict[str, float]:
        """Every variant's probability of being chosen now (lints: given one set of posterior draws)."""
        X = self._features(context)
        ranks = self.bandit.rankings(X, 1, rng)
        probs = self.bandit.distribution(ranks, len(self.variants))[:, 0]
        return dict(zip(self.variants, probs.tolist(), strict=True))

    def save(self, directory: str | Path) -> None:
        self.bandit.save(directory, variants=self.variants, context_dim=self.context_dim)

    @classmethod
    def load(cls, directory: str | Path) -> VariantBandit:
        manifest = read_manifest(Path(directory), "linear-bandit")
        if "variants" not in manifest:
            raise ValidationError(f"{directory} holds a linear bandit without variants; load it with LinearBandit.load.")
        out = cls(manifest["variants"], int(manifest["context_dim"]), BanditConfig.model_validate(manifest["config"]))
        out.bandit = LinearBandit.load(directory)
        return out
