"""Deterministic salted-hash assignment: the same shopper always lands in the same variant.

A unit is the user when the request names one, else the session (an anonymous visit). Its bucket
is the first 8 bytes of ``sha256(salt, unit)`` read as a fraction of 2^64, uniform on [0, 1); the
variants own consecutive slices of [0, 1) in proportion to their weights. Nothing is stored: every
worker, and the analysis, recomputes the same answer; a new salt reshuffles the traffic
independently of earlier experiments (the same users do not always land in the treatment).
The ids are those the service sees, pseudonyms unless raw ids are configured: rotating the id key
reshuffles running experiments, so rotate between experiments.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from itertools import accumulate

import numpy as np

from shopsage.experiments.definition import ExperimentConfig

__all__ = ["bucket", "unit_of", "assign", "assign_units"]


def bucket(salt: str, unit: str) -> float:
    """Where ``unit`` falls on [0, 1) under ``salt`` (uniform over units, independent across salts)."""
    digest = hashlib.sha256(f"{salt}\x1f{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 18446744073709551616.0  # 2 ** 64


def unit_of(user: str | None, session: str | None) -> str | None:
    """The assignment unit of a request: the user, else the session; None when it names neither (such
    a request is served the live configuration and is no part of any experiment)."""
    if user:
        return "u:" + user
    if session:
        return "s:" + session
    return None


def _edges(exp: ExperimentConfig) -> list[float]:
    edges = list(accumulate(exp.weights))
    edges[-1] = 1.0  # rounding never leaves a gap at the top
    return edges


def assign(exp: ExperimentConfig, user: str | None, session: str | None) -> str | None:
    """The variant name of the request's unit, or None without a user or session."""
    unit = unit_of(user, session)
    if unit is None:
        return None
    return exp.variants[bisect.bisect_right(_edges(exp), bucket(exp.hash_salt, unit))].name


def assign_units(exp: ExperimentConfig, units: Sequence[str]) -> np.ndarray:
    """Variant indexes of many units (already in :func:`unit_of` form), by the same hash as :func:`assign`."""
    edges = np.asarray(_edges(exp))
    b = np.fromiter((bucket(exp.hash_salt, u) for u in units), dtype=np.float64, count=len(units))
    return np.minimum(np.searchsorted(edges, b, side="right"), len(edges) - 1).astype(np.int64)
