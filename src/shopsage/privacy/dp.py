"""Differentially private counts, and the ledger of every release against the shop's budget.

What a shop publishes about its shoppers in aggregate (the counts behind ``trending``, the top
search queries of ``shopsage privacy report``) goes through :func:`dp_counts`: each shopper (a
user, else a session) counts **at most once per key and toward at most** ``max_contributions``
**keys** (:func:`clamped_counts`, their latest ones), so one shopper changes the histogram by at
most ``k = max_contributions`` in L1; each count then gets discrete Laplace noise of scale
``k / epsilon`` (OpenDP's ``make_laplace`` on integers: the geometric mechanism, sampled exactly,
immune to the floating-point attacks on textbook Laplace noise). That release is
``epsilon``-differentially private.

When the keys themselves are private (search queries: a query only one shopper typed must not
appear), :func:`dp_counts` with ``delta`` uses OpenDP's ``make_laplace_threshold``: noisy counts
below a threshold are dropped, chosen so that a key only one shopper contributed is released with
probability at most ``delta``; the release is ``(epsilon, delta)``-DP. Keys known in advance
(the catalogue's items) need no threshold.

Every release first spends its epsilon in the :class:`PrivacyLedger`, a JSON Lines file
(``<home>/privacy/ledger.jsonl``, one line per release: time, what, epsilon, delta, mechanism,
sensitivity), under a file lock so that workers and commands of one home never overspend. A release
that would take the last ``period_days`` past ``epsilon_per_period`` is refused with
:class:`~shopsage.errors.PrivacyBudgetError` saying when budget frees up. Serving a past release
again is post-processing and costs nothing.

Why OpenDP rather than diffprivlib: OpenDP's measurements carry their own privacy map (the code
asks the measurement for the epsilon and delta it spends instead of trusting a formula here), it has
the thresholded histogram for unknown keys that search analytics needs, it samples noise with a
secure generator, and it vectorises (50,000 counts in one call; diffprivlib's mechanisms
randomise one value per Python call). Its generator cannot be seeded, so the tests check the noise
scale over many draws with bounds far outside sampling error.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shopsage.config import PrivacyBudget
from shopsage.errors import ConfigError, PrivacyBudgetError

__all__ = ["PrivacyBudget", "PrivacyLedger", "Release", "clamped_counts", "dp_counts", "laplace_scale",
           "ledger_path"]

_DAY = 86_400.0


def ledger_path(home: Path) -> Path:
    """Where a home records its releases: ``<home>/privacy/ledger.jsonl``."""
    return Path(home) / "privacy" / "ledger.jsonl"


@dataclass(frozen=True)
class Release:
    """One recorded release: what was published, when, and the privacy it spent."""

    what: str
    epsilon: float
    delta: float
    at: float
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "epsilon": self.epsilon, "delta": self.delta, "at": self.at, **self.details}


class PrivacyLedger:
    """Every release of a home, and the budget they spend (see the module docstring)."""

    def __init__(self, path: Path, budget: PrivacyBudget) -> None:
        self.path = Path(path)
        self.budget = budget

    @classmethod
    def of_home(cls, home: Path, budget: PrivacyBudget) -> PrivacyLedger:
        return cls(ledger_path(home), budget)

    def releases(self) -> list[Release]:
        """Every recorded release, oldest first."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    out.append(Release(str(d.pop("what")), float(d.pop("epsilon")), float(d.pop("delta")),
                                       float(d.pop("at")), d))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ConfigError(f"{self.path} line {n} is not a ledger record ({exc}); the ledger is written "
                                      "only by ShopSage: restore it from a backup rather than edit it") from exc
        return out

    def spent(self, now: float | None = None) -> float:
        """Epsilon spent by the releases of the current period (the last ``period_days``)."""
        since = (time.time() if now is None else now) - self.budget.period_days * _DAY
        return sum(r.epsilon for r in self.releases() if r.at > since)

    def spend(self, what: str, epsilon: float, delta: float = 0.0, now: float | None = None,
              **details: Any) -> Release:
        """Record a release of ``epsilon`` (durably, before the caller computes it) or refuse it."""
        if not epsilon > 0:
            raise ConfigError(f"a release must spend a positive epsilon, not {epsilon!r}")
        if epsilon > self.budget.epsilon_per_release + 1e-12:
            raise PrivacyBudgetError(f"{what} would spend epsilon {epsilon:g}, more than privacy.budget."
                                     f"epsilon_per_release ({self.budget.epsilon_per_release:g}); ask for less")
        with self._locked():
            at = time.time() if now is None else now
            since = at - self.budget.period_days * _DAY
            recent = [r for r in self.releases() if r.at > since]
            used = sum(r.epsilon for r in recent)
            if used + epsilon > self.budget.epsilon_per_period + 1e-9:
                raise PrivacyBudgetError(self._refusal(what, epsilon, used, recent))
            release = Release(what, float(epsilon), float(delta), at, dict(details))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(release.as_dict(), sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
        return release

    def _refusal(self, what: str, epsilon: float, used: float, recent: list[Release]) -> str:
        b = self.budget
        free_at = None
        left = used
        for r in sorted(recent, key=lambda r: r.at):  # the oldest releases age out first
            left -= r.epsilon
            if left + epsilon <= b.epsilon_per_period + 1e-9:
                free_at = r.at + b.period_days * _DAY
                break
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(free_at)) if free_at is not None else "never"
        return (f"the privacy budget is exhausted: {what} needs epsilon {epsilon:g}, and {used:g} of "
                f"{b.epsilon_per_period:g} was spent in the last {b.period_days:g} days ({len(recent)} releases, "
                f"{self.path}). Budget frees up at {when}; until then serve the last release again, or raise "
                "privacy.budget.epsilon_per_period (weaker privacy)")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def clamped_counts(owners: np.ndarray, keys: np.ndarray, max_contributions: int, n_keys: int | None = None) -> np.ndarray:
    """``(n_keys,)`` int64 counts of distinct owners per key, each owner counting toward at most
    ``max_contributions`` keys: their latest ones (positions later in the arrays are later).

    ``owners`` and ``keys`` are ``(N,)`` non-negative int codes in time order within an owner; rows
    with a negative owner or key are left out."""
    if max_contributions < 1:
        raise ConfigError(f"max_contributions of {max_contributions} must be at least 1")
    owners, keys = np.asarray(owners, np.int64), np.asarray(keys, np.int64)
    size = int(keys.max(initial=-1)) + 1 if n_keys is None else int(n_keys)
    ok = (owners >= 0) & (keys >= 0) & (keys < size)
    owners, keys = owners[ok], keys[ok]
    if not len(keys):
        return np.zeros(size, np.int64)
    pair = owners * size + keys  # (N,) one code per (owner, key)
    latest = len(pair) - 1 - np.unique(pair[::-1], return_index=True)[1]  # position of each pair's last event
    p_owner, p_key = owners[latest], keys[latest]
    order = np.lexsort((-latest, p_owner))  # per owner, latest pair first
    p_owner, p_key = p_owner[order], p_key[order]
    first = np.r_[0, np.flatnonzero(p_owner[1:] != p_owner[:-1]) + 1]  # start of each owner's run
    rank = np.arange(len(p_owner)) - np.repeat(first, np.diff(np.r_[first, len(p_owner)]))
    return np.bincount(p_key[rank < max_contributions], minlength=size).astype(np.int64)


def laplace_scale(epsilon: float, max_contributions: int) -> float:
    """The noise scale of an ``epsilon``-DP release of counts clamped to ``max_contributions`` per shopper."""
    if not epsilon > 0:
        raise ConfigError(f"epsilon must be positive, not {epsilon!r}")
    return max_contributions / epsilon


def _opendp() -> Any:
    try:
        import opendp.prelude as dp
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ConfigError("differentially private counts need OpenDP: pip install opendp") from exc
    dp.enable_features("contrib")
    return dp


def dp_counts(counts: Mapping[str, float] | Sequence[float] | np.ndarray, epsilon: float, max_contributions: int,
              *, delta: float | None = None) -> Any:
    """Counts with discrete Laplace noise of scale ``max_contributions / epsilon``; each count must
    already be clamped (:func:`clamped_counts`: a shopper adds at most 1 to at most
    ``max_contributions`` counts).

    ``counts`` an array or a sequence (keys known in advance, e.g. catalogue slots): the noisy
    ``(n,)`` int64 array, ``epsilon``-DP. A mapping with ``delta`` (private keys, e.g. queries): a dict
    of the keys whose noisy count clears the threshold that shows a key only one shopper contributed
    with probability at most ``delta``; ``(epsilon, delta)``-DP. A mapping without ``delta``: a dict
    over the same keys (they must be public, such as event types or categories)."""
    dp = _opendp()
    scale = laplace_scale(epsilon, max_contributions)
    k = int(max_contributions)
    if isinstance(counts, Mapping):
        if delta is not None:
            return _thresholded(dp, counts, epsilon, delta, scale, k)
        keys = list(counts)
        noisy = dp_counts(np.array([counts[key] for key in keys], dtype=np.float64), epsilon, k)
        return dict(zip(keys, noisy.tolist(), strict=True))
    values = np.rint(np.asarray(counts, dtype=np.float64)).astype(np.int64)
    if not len(values):
        return values
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    meas = dp.m.make_laplace(*space, scale=scale)
    assert meas.map(k) <= epsilon + 1e-9, (meas.map(k), epsilon)  # OpenDP's own accounting agrees
    return np.asarray(meas(values.tolist()), dtype=np.int64)


def _thresholded(dp: Any, counts: Mapping[str, float], epsilon: float, delta: float, scale: float,
                 k: int) -> dict[str, int]:
    if not 0 < delta < 1:
        raise ConfigError(f"delta must lie in (0, 1), not {delta!r}")
    space = (dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=int)),
             dp.l01inf_distance(dp.absolute_distance(T=int)))
    threshold = 1 + math.ceil(scale * math.log(k / delta))  # a key of count 1 survives with chance <= delta / k
    while True:
        meas = dp.m.make_laplace_threshold(*space, scale=scale, threshold=threshold)
        eps, dlt = meas.map((k, k, 1))  # (keys a shopper touches, L1, Linf): OpenDP's own accounting
        if dlt <= delta:
            break
        threshold += max(1, math.ceil(scale))
    assert eps <= epsilon + 1e-9, (eps, epsilon)
    data = {str(key): int(round(v)) for key, v in counts.items() if v > 0}
    return {key: int(v) for key, v in meas(data).items()}
