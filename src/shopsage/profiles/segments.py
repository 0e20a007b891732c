"""Shopper segments: lifecycle, value and interest, each with the evidence that put the shopper there.

Three independent segmentations, all learned from the shop's own data (:mod:`.segments_fit`):

- **Lifecycle** (``new``, ``active``, ``at_risk``, ``lapsed``) from recency and frequency of
  *occasions*: a purchase (or, in a shop without purchases, any interaction) more than
  ``occasion_gap_s`` after the shopper's previous one starts a new occasion. The gaps between
  occasions across the shop form a distribution; a shopper whose last occasion is older than its
  ``lapsed_quantile`` (0.9) is ``lapsed``, one with a single occasion ``new``, one seen within its
  median ``active``, anyone between ``at_risk``. Thresholds that come from the shop's own rhythm
  transfer between a grocer (days) and a furniture shop (months); fixed day counts do not.
- **Value** (``value_high``, ``value_medium``, ``value_low``) from RFM quintile scores: each of
  frequency (occasions) and monetary (money spent, purchases only) scores 1..5 by how many of the
  shop's 20/40/60/80th percentiles it exceeds; their mean decides the tier. Recency is lifecycle's.
- **Interest** (``interest_<k>``): the shopper's category shares (interactions weighted by type,
  :data:`shopsage.profiles.EVENT_WEIGHTS`) assigned to the nearest k-means centre; ``k`` is the one
  with the best silhouette on the shop's shoppers.

Everything here is a pure function of a :class:`ShopperStats` (updated in O(1) per event) and a
:class:`SegmentModel` (thresholds, quantiles, centres), so the live service and a batch job give
the same answer for the same events, and a test can recompute every piece of evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.profiles.profile import EVENT_WEIGHTS

__all__ = ["DAY_S", "LIFECYCLE", "VALUE_TIERS", "Assignment", "SegmentConfig", "SegmentModel", "ShopperStats",
           "assign", "rfm_score"]

DAY_S = 86400.0
LIFECYCLE = ("new", "active", "at_risk", "lapsed")
VALUE_TIERS = ("value_low", "value_medium", "value_high")


class SegmentConfig(BaseModel):
    """How segments are learned (``[segments]``; every field has a working default)."""

    model_config = ConfigDict(extra="forbid")

    activity: Literal["auto", "purchase", "visit"] = "auto"
    """What an occasion is: ``purchase`` events, any interaction (``visit``), or ``auto``: purchases
    when at least ``min_repeat_buyers`` shoppers bought on two occasions, else visits."""
    occasion_gap_s: float = Field(1800.0, gt=0)
    """An activity event this long after the shopper's previous one starts a new occasion (30 min:
    the usual session gap), so the several purchases of one checkout count once."""
    active_quantile: float = Field(0.5, gt=0, lt=1)
    """Shoppers whose last occasion is within this quantile of the shop's inter-occasion gaps are active."""
    lapsed_quantile: float = Field(0.9, gt=0, lt=1)
    """Beyond this quantile of the gaps a shopper is lapsed (90% of returns happen sooner)."""
    min_repeat_buyers: int = Field(30, ge=1)
    """``auto``: shoppers with two purchase occasions needed to learn lifecycle from purchases."""
    max_clusters: int = Field(8, ge=2, le=30)
    """Interest clusters tried: k = 2..max_clusters, the best silhouette wins."""
    max_dims: int = Field(32, ge=2, le=256)
    """Categories an interest vector spans (the most interacted ones at the chosen level)."""
    min_interest_weight: float = Field(2.0, ge=0)
    """Weighted interactions a shopper needs before an interest cluster is assigned."""
    silhouette_sample: int = Field(3000, ge=100)
    """Shoppers sampled (seeded) to fit k-means and score silhouettes: bounded batch time."""
    seed: int = 0


@dataclass
class ShopperStats:
    """What segments read of one shopper; :meth:`observe` applies one event in O(1)."""

    first_ts: float = math.nan
    last_ts: float = math.nan  # last interaction of any type
    last_occasion_ts: float = math.nan  # last activity event (purchase, or any in visit mode)
    occasions: int = 0
    monetary: float = 0.0
    events: int = 0
    interest: dict[str, float] = field(default_factory=dict)  # category (at the model's level) -> weight

    def observe(self, typ: str, ts: float | None, category: str | None, money: float | None,
                activity: str, gap_s: float) -> float | None:
        """Apply one interaction; returns the gap (seconds) closed by a new occasion, when there is one.
        Events without a time count as occasions each (order-only data has no rhythm to learn)."""
        self.events += 1
        t = math.nan if ts is None else float(ts)
        if not math.isnan(t):
            self.first_ts = t if math.isnan(self.first_ts) else min(self.first_ts, t)
            self.last_ts = t if math.isnan(self.last_ts) else max(self.last_ts, t)
        w = EVENT_WEIGHTS.get(typ, 1.0)
        if category is not None and w > 0:
            self.interest[category] = self.interest.get(category, 0.0) + w
        if typ == "purchase" and money is not None and math.isfinite(money):
            self.monetary += float(money)
        if activity == "purchase" and typ != "purchase":
            return None
        if w == 0:  # impressions and searches are not activity
            return None
        closed: float | None = None
        if math.isnan(t) or math.isnan(self.last_occasion_ts):
            self.occasions += 1
        elif t - self.last_occasion_ts > gap_s:
            closed = t - self.last_occasion_ts
            self.occasions += 1
        if not math.isnan(t):
            self.last_occasion_ts = t if math.isnan(self.last_occasion_ts) else max(self.last_occasion_ts, t)
        return closed


@dataclass(frozen=True)
class SegmentModel:
    """Learned thresholds and centres (plain numbers: saved as JSON, recomputed by tests)."""

    activity: str  # "purchase" | "visit"
    occasion_gap_s: float
    level: int  # category path level the interest vectors read
    active_within_s: float | None  # None: the data has no times (no lifecycle)
    lapsed_after_s: float | None
    active_quantile: float
    lapsed_quantile: float
    n_gaps: int
    f_cutoffs: tuple[float, ...]  # 20/40/60/80th percentiles of occasions
    m_cutoffs: tuple[float, ...] | None  # of money spent; None: no purchase carries money
    dims: tuple[str, ...]  # interest categories
    centers: tuple[tuple[float, ...], ...]  # (k, len(dims)) interest centres
    cluster_labels: tuple[str, ...]
    silhouette: float | None
    min_interest_weight: float
    now: float | None  # the shop's clock at fit time (its latest event); None: no times

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentModel:
        tup = {"f_cutoffs", "m_cutoffs", "dims", "cluster_labels"}
        kw = {k: (tuple(v) if k in tup and v is not None else v) for k, v in data.items()}
        kw["centers"] = tuple(tuple(float(x) for x in c) for c in data["centers"])
        return cls(**kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Assignment:
    """One shopper's segments, each ``{"segment", "kind", "text", "evidence"}``."""

    user: str
    segments: tuple[dict[str, Any], ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(s["segment"] for s in self.segments)

    def of(self, kind: str) -> dict[str, Any] | None:
        return next((s for s in self.segments if s["kind"] == kind), None)

    def as_list(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self.segments]


def rfm_score(x: float, cutoffs: tuple[float, ...]) -> int:
    """1 + the number of the shop's quintile cutoffs that ``x`` exceeds (ties score the lower quintile)."""
    return 1 + sum(1 for c in cutoffs if x > c)


def _days(s: float) -> str:
    d = s / DAY_S
    return f"{d:.1f} days" if d < 10 else f"{d:.0f} days"


def _lifecycle(st: ShopperStats, m: SegmentModel, now: float) -> dict[str, Any] | None:
    if m.active_within_s is None or m.lapsed_after_s is None or math.isnan(st.last_ts):
        return None
    last = st.last_occasion_ts if not math.isnan(st.last_occasion_ts) else st.last_ts
    recency = max(0.0, now - last)
    what = "purchase" if m.activity == "purchase" else "visit"
    ev = {"recency_s": recency, "occasions": st.occasions, "active_within_s": m.active_within_s,
          "lapsed_after_s": m.lapsed_after_s, "active_quantile": m.active_quantile,
          "lapsed_quantile": m.lapsed_quantile, "activity": m.activity, "now": now}
    pct = f"{round(m.lapsed_quantile * 100)}th percentile of this shop's {m.n_gaps:,} times between {what}s"
    since = f"last {what} {_days(recency)} ago" if st.occasions else f"no {what} yet; last seen {_days(recency)} ago"
    if recency > m.lapsed_after_s:
        name, text = "lapsed", f"{since}; lapsed after {_days(m.lapsed_after_s)} = the {pct}"
    elif st.occasions <= 1:
        name, text = "new", f"{st.occasions} {what}{'s' if st.occasions != 1 else ''} so far; {since}"
    elif recency <= m.active_within_s:
        apct = f"{round(m.active_quantile * 100)}th percentile"
        name, text = "active", f"{since}, within {_days(m.active_within_s)} (the {apct} of times between {what}s); {st.occasions} {what}s"
    else:
        name, text = "at_risk", f"{since}: later than the usual {_days(m.active_within_s)}, not yet {_days(m.lapsed_after_s)} ({pct})"
    return {"segment": name, "kind": "lifecycle", "text": text, "evidence": ev}


def _value(st: ShopperStats, m: SegmentModel) -> dict[str, Any] | None:
    if not m.f_cutoffs or st.events == 0:
        return None
    f = rfm_score(float(st.occasions), m.f_cutoffs)
    parts = [f"{st.occasions} occasion{'s' if st.occasions != 1 else ''} (F {f}/5)"]
    ev: dict[str, Any] = {"occasions": st.occasions, "f_score": f, "f_cutoffs": list(m.f_cutoffs)}
    scores = [f]
    if m.m_cutoffs is not None:
        ms = rfm_score(st.monetary, m.m_cutoffs)
        scores.append(ms)
        parts.append(f"spent {st.monetary:,.2f} (M {ms}/5; top fifth above {m.m_cutoffs[-1]:,.2f})")
        ev.update(monetary=st.monetary, m_score=ms, m_cutoffs=list(m.m_cutoffs))
    mean = sum(scores) / len(scores)
    tier = "value_high" if mean >= 4 else "value_low" if mean <= 2 else "value_medium"
    ev["mean_score"] = mean
    return {"segment": tier, "kind": "value",
            "text": f"{', '.join(parts)}: mean RFM score {mean:.1f} (high >= 4, low <= 2, by this shop's quintiles)",
            "evidence": ev}


def interest_vector(st: ShopperStats, dims: tuple[str, ...]) -> np.ndarray | None:
    """The shopper's share of weighted interactions per interest category (None: none in ``dims``)."""
    v = np.array([st.interest.get(d, 0.0) for d in dims], dtype=np.float64)
    total = v.sum()
    return v / total if total > 0 else None


def _interest(st: ShopperStats, m: SegmentModel) -> dict[str, Any] | None:
    if not m.centers or sum(st.interest.values()) < m.min_interest_weight:
        return None
    v = interest_vector(st, m.dims)
    if v is None:
        return None
    centers = np.asarray(m.centers)
    dist = np.linalg.norm(centers - v[None, :], axis=1)
    k = int(np.argmin(dist))
    top = int(np.argmax(v))
    ctop = np.argsort(-centers[k], kind="stable")[:2]
    centre = ", ".join(f"{m.dims[int(i)]} {centers[k, int(i)]:.0%}" for i in ctop if centers[k, int(i)] > 0)
    sil = f"; k={len(centers)} chosen by silhouette {m.silhouette:.2f}" if m.silhouette is not None else ""
    text = (f"{v[top]:.0%} of weighted interactions in {m.dims[top]}; nearest interest group "
            f"'{m.cluster_labels[k]}' (centre: {centre}){sil}")
    ev = {"cluster": k, "label": m.cluster_labels[k], "shares": {m.dims[i]: round(float(v[i]), 4)
                                                                 for i in np.flatnonzero(v)},
          "distance": float(dist[k]), "silhouette": m.silhouette}
    return {"segment": f"interest_{k}", "kind": "interest", "text": text, "evidence": ev}


def assign(user: str, st: ShopperStats, model: SegmentModel, now: float | None = None) -> Assignment:
    """The shopper's segments under ``model``; ``now`` defaults to the model's clock (its latest event)
    or the shopper's own latest event when later."""
    clock = now
    if clock is None:
        clock = max(x for x in (model.now, st.last_ts, 0.0) if x is not None and not math.isnan(x))
    found = [s for s in (_lifecycle(st, model, clock), _value(st, model), _interest(st, model)) if s is not None]
    return Assignment(user, tuple(found))
