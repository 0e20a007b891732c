"""What an A/B analysis reads: per-unit increments in time order, built from the store's exposures.

One row of :class:`Contributions` is one answer the service gave (a recommendation list or a search
page, i.e. one ``recomm_id`` / ``query_id``) with what followed it: the items shown (impressions)
and the clicks, add-to-carts, purchases and revenue attributed to them. Rows are in time order, so
the analysis can replay the experiment and look at it after every ``k`` sessions (the sequential
test); summed per unit they give the per-unit aggregates the delta method needs.

The unit is the assignment unit (:func:`shopsage.experiments.assignment.unit_of`): the user, else
the session. A row starts a session when its session (else its unit) was not seen before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopsage.experiments.assignment import unit_of
from shopsage.feedback.records import AttributedEvent, ExposureRow

__all__ = ["Contributions", "UnitTotals", "METRIC_PARTS", "contributions_from_rows"]

METRIC_PARTS: dict[str, tuple[str, str]] = {
    "ctr": ("clicks", "impressions"),
    "add_to_cart_rate": ("carts", "impressions"),
    "conversion_rate": ("purchases", "sessions"),
    "revenue_per_session": ("revenue", "sessions"),
}
"""Each metric as a ratio of two per-unit sums (numerator, denominator): click-through and
add-to-cart rate per item shown, purchases and revenue per session."""

_COLUMNS = ("impressions", "sessions", "clicks", "carts", "purchases", "revenue")
_TYPE_COLUMN = {"click": "clicks", "add_to_cart": "carts", "purchase": "purchases"}


@dataclass
class UnitTotals:
    """Per-unit sums: ``variant[u]`` and one float array per column of :data:`_COLUMNS`."""

    variant: np.ndarray  # (U,) int64
    columns: dict[str, np.ndarray]  # name -> (U,) float64
    variants: list[str]

    def column(self, name: str) -> np.ndarray:
        return self.columns[name]


@dataclass
class Contributions:
    """Time-ordered rows: ``unit`` and ``variant`` indexes and one float array per column."""

    unit: np.ndarray  # (R,) int64, 0..U-1
    variant: np.ndarray  # (R,) int64, index into variants
    columns: dict[str, np.ndarray]  # impressions, sessions (1 when the row starts a session), clicks, ...
    variants: list[str]
    unit_names: list[str] | None = None
    """Each unit index's assignment unit (``u:<user>`` / ``s:<session>``), when built from the store."""

    def __len__(self) -> int:
        return int(self.unit.shape[0])

    @property
    def n_units(self) -> int:
        return int(self.unit.max()) + 1 if len(self) else 0

    def totals(self) -> UnitTotals:
        """Sums per unit; a unit's variant is that of its rows (one, by the assignment)."""
        n = self.n_units
        variant = np.zeros(n, np.int64)
        variant[self.unit] = self.variant
        cols = {k: np.bincount(self.unit, weights=v, minlength=n) for k, v in self.columns.items()}
        return UnitTotals(variant, cols, self.variants)

    def select_units(self, keep: np.ndarray) -> Contributions:
        """The rows of the units where ``keep[unit]`` is true, units renumbered in order."""
        rows = keep[self.unit]
        old = np.flatnonzero(keep)
        new = np.full(len(keep), -1, np.int64)
        new[old] = np.arange(len(old))
        names = [self.unit_names[i] for i in old] if self.unit_names is not None else None
        return Contributions(new[self.unit[rows]], self.variant[rows], {k: v[rows] for k, v in self.columns.items()},
                             self.variants, names)

    @classmethod
    def from_arrays(cls, unit: np.ndarray, variant: np.ndarray, variants: list[str], **columns: Any) -> Contributions:
        """Rows from arrays; missing columns are zero."""
        n = len(unit)
        cols = {c: np.asarray(columns.get(c, np.zeros(n)), dtype=np.float64) for c in _COLUMNS}
        return cls(np.asarray(unit, np.int64), np.asarray(variant, np.int64), cols, variants)


def contributions_from_rows(exposures: Iterable[ExposureRow], attributed: Iterable[AttributedEvent],
                            variants: list[str]) -> tuple[Contributions, int]:
    """Rows of one experiment from the store's ``read_exposures`` and ``read_attributed`` (filtered to the
    experiment). Exposures of unknown variants, or of requests with neither user nor session, are left
    out; returns the rows and how many exposures were left out. Revenue is a purchase's ``value``."""
    index = {v: i for i, v in enumerate(variants)}
    answers: dict[str, list[Any]] = {}  # exposure_id -> [ts, unit, variant, session key, impressions, ...]
    skipped = 0
    for e in exposures:
        who = unit_of(e.user_id, e.session_id)
        if who is None or e.variant not in index:
            skipped += 1
            continue
        row = answers.get(e.exposure_id)
        if row is None:
            answers[e.exposure_id] = [e.ts, who, index[e.variant], e.session_id or who, 1.0, 0.0, 0.0, 0.0, 0.0]
        else:
            row[4] += 1.0
            row[0] = min(row[0], e.ts)
    for a in attributed:
        row = answers.get(a.exposure_id)
        col = _TYPE_COLUMN.get(a.type)
        if row is None or col is None:
            continue
        row[5 + ("clicks", "carts", "purchases").index(col)] += 1.0
        if col == "purchases" and a.value is not None:
            row[8] += float(a.value)
    rows = sorted(answers.values(), key=lambda r: r[0])
    units: dict[str, int] = {}
    sessions: set[str] = set()
    unit = np.empty(len(rows), np.int64)
    variant = np.empty(len(rows), np.int64)
    new_session = np.zeros(len(rows))
    for i, r in enumerate(rows):
        unit[i] = units.setdefault(r[1], len(units))
        variant[i] = r[2]
        if r[3] not in sessions:
            sessions.add(r[3])
            new_session[i] = 1.0
    cols = np.asarray([r[4:9] for r in rows], dtype=np.float64).reshape(len(rows), 5)
    out = Contributions.from_arrays(unit, variant, variants, impressions=cols[:, 0], sessions=new_session,
                                    clicks=cols[:, 1], carts=cols[:, 2], purchases=cols[:, 3], revenue=cols[:, 4])
    out.unit_names = list(units)
    return out, skipped
