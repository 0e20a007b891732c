"""Differentially private counts behind the ``trending`` generator (``privacy.dp_trending``).

A release counts, per item, the distinct shoppers (users, else sessions) who interacted with it,
each shopper toward at most ``max_contributions`` items (their latest), from the store, which holds
every acknowledged live event too; then adds discrete Laplace noise (:func:`~shopsage.privacy.dp.dp_counts`)
and spends ``epsilon_per_release`` in the home's ledger. Between releases (``trending_release_s``)
the last one is served again at no cost; it is kept in ``<home>/privacy/trending.json`` so that a
restart or another worker serves it without spending more. A refused release (budget exhausted)
keeps the last one; with none at all, trending shows nothing and the scenarios' fallbacks answer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shopsage.config import PrivacyConfig
from shopsage.data.stores.base import Interactions, StoreReader
from shopsage.errors import PrivacyBudgetError
from shopsage.privacy.dp import PrivacyLedger, clamped_counts, dp_counts, laplace_scale
from shopsage.training.data import owner_groups, store_interactions

__all__ = ["PrivateTrending", "TrendingRelease", "noisy_release", "shopper_counts"]

log = logging.getLogger("shopsage.privacy")


def shopper_counts(inter: Interactions, max_contributions: int) -> np.ndarray:
    """``(n_items,)`` the exact counts a release is made of: distinct shoppers (users, else sessions)
    per item row id, each toward their latest ``max_contributions`` items (:func:`clamped_counts`)."""
    return clamped_counts(owner_groups(inter), inter.item, max_contributions)


def recent(inter: Interactions, window_s: float, now: float) -> Interactions:
    """The events a release counts: those of the last ``window_s`` seconds before ``now`` (0: every event;
    with a window, events without a time are left out)."""
    if window_s <= 0:
        return inter
    return inter.select((inter.ts >= now - window_s) & (inter.ts < now))


def noisy_release(counts: np.ndarray, epsilon: float, max_contributions: int) -> np.ndarray:
    """``(n_items,)`` what a release publishes of ``counts``: discrete Laplace noise of scale
    ``max_contributions / epsilon`` (:func:`dp_counts`), items whose noisy count is not positive at 0
    (they are left out of the release)."""
    return np.maximum(dp_counts(counts, epsilon, max_contributions), 0)


class TrendingRelease:
    """One release: noisy shopper counts by item id, when, and at what epsilon."""

    def __init__(self, counts: dict[str, int], at: float, epsilon: float, scale: float) -> None:
        self.counts, self.at, self.epsilon, self.scale = counts, at, epsilon, scale

    def to_json(self) -> str:
        return json.dumps({"at": self.at, "epsilon": self.epsilon, "scale": self.scale, "counts": self.counts})

    @classmethod
    def from_json(cls, text: str) -> TrendingRelease:
        d = json.loads(text)
        return cls({str(k): int(v) for k, v in d["counts"].items()}, float(d["at"]), float(d["epsilon"]), float(d["scale"]))


class PrivateTrending:
    """Releases and serves private trending counts for one service (see the module docstring)."""

    def __init__(self, store: Callable[[], StoreReader], home: Path, config: PrivacyConfig) -> None:
        self._store = store
        self.config = config
        self.ledger = PrivacyLedger.of_home(home, config.budget)
        self.path = Path(home) / "privacy" / "trending.json"
        self._release: TrendingRelease | None = None
        self._busy = threading.Lock()
        self._load()
        shortfall = config.trending_shortfall() if config.dp_trending else None
        if shortfall:
            log.warning("%s", shortfall)

    def _load(self) -> None:
        try:
            self._release = TrendingRelease.from_json(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError):
            self._release = None

    def release(self, now: float | None = None) -> TrendingRelease:
        """A new release now (spends the budget; :class:`PrivacyBudgetError` when it is exhausted)."""
        b = self.config.budget
        inter = recent(store_interactions(self._store()), self.config.trending_window_s,
                       time.time() if now is None else now)
        counts = shopper_counts(inter, b.max_contributions)
        ext_of = {rid: ext for ext, rid in self._store().item_ids().items()}
        spent = self.ledger.spend("trending counts", b.epsilon_per_release, 0.0, now=now,
                                  mechanism="discrete laplace (OpenDP make_laplace)",
                                  max_contributions=b.max_contributions, items=int(len(counts)),
                                  scale=laplace_scale(b.epsilon_per_release, b.max_contributions))
        noisy = noisy_release(counts, b.epsilon_per_release, b.max_contributions)
        keep = np.flatnonzero(noisy > 0)
        rel = TrendingRelease({ext_of[int(r)]: int(noisy[r]) for r in keep if int(r) in ext_of}, spent.at,
                              b.epsilon_per_release, laplace_scale(b.epsilon_per_release, b.max_contributions))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_text(rel.to_json(), encoding="utf-8")
        os.replace(tmp, self.path)
        self._release = rel
        return rel

    def current(self) -> TrendingRelease | None:
        """The release to serve now; starts a new one in the background when it is older than
        ``trending_release_s`` (another worker's newer release on disk is picked up first)."""
        rel = self._release
        if rel is None or time.time() - rel.at > self.config.trending_release_s:
            self._load()
            rel = self._release
            if (rel is None or time.time() - rel.at > self.config.trending_release_s) and self._busy.acquire(blocking=False):
                threading.Thread(target=self._refresh, name="shopsage-dp-trending", daemon=True).start()
        return rel

    def _refresh(self) -> None:
        try:
            self.release()
        except PrivacyBudgetError as exc:
            log.warning("private trending not refreshed: %s", exc)
        except Exception:  # noqa: BLE001 - keep serving the last release
            log.exception("private trending release failed; the last release stays")
        finally:
            self._busy.release()
