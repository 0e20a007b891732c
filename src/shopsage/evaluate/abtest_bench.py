"""``shopsage bench abtest``: does the experiment machinery find a known lift, and only that?

A simulated shop with two pipelines whose true difference is known exactly. Shoppers arrive one
after another; each makes ``1 + Poisson(return_rate)`` sessions (later ones after exponential gaps,
so sessions of different shoppers interleave); a session asks for ``1 + Poisson(extra_lists)`` lists
of ``list_size`` items. A shopper clicks the item at position ``i`` with probability
``attract * i ** -position_decay * m * lift`` (a position-based click model; ``m``, the shopper's
taste, is Gamma(2, 0.5) with mean 1, so a shopper's clicks are correlated and the delta method has
work to do); a click becomes an add-to-cart with ``p_cart``, a cart a purchase with ``p_buy`` at a
log-normal price. ``lift`` is 1 for the control pipeline and ``1 + true_lift`` for the treatment, so
the treatment's click-through is exactly ``1 + true_lift`` times the control's.

Each run assigns shoppers with the real assignment code (:func:`shopsage.experiments.assignment.assign_units`,
a new salt per run) and analyses with the real analysis (:func:`shopsage.evaluate.abtest.sequential_path`,
looking after every ``peek_every`` sessions). The planned size comes from
:func:`~shopsage.evaluate.abtest.plan_sample_size` with the per-shopper standard deviation measured
on a separate A/A pilot of the same shop, as a shop would measure it on its own history.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import binomtest

from shopsage.evaluate.abtest import Plan, plan_sample_size, sequential_path
from shopsage.evaluate.abtest_data import METRIC_PARTS, Contributions
from shopsage.experiments import ExperimentConfig, assign_units

__all__ = ["SimShopConfig", "simulate_shop", "pilot_unit_sd", "run_abtest_bench", "markdown_report"]


class SimShopConfig(BaseModel):
    """The simulated shop and the experiment run on it."""

    model_config = ConfigDict(extra="forbid")

    list_size: int = Field(10, ge=1, description="Items per list.")
    extra_lists: float = Field(1.0, ge=0, description="Lists per session beyond the first (Poisson mean).")
    return_rate: float = Field(0.8, ge=0, description="Sessions per shopper beyond the first (Poisson mean).")
    return_gap: float = Field(300.0, gt=0, description="Mean gap between a shopper's sessions, in shopper arrivals.")
    attract: float = Field(0.112, gt=0, description="Click probability at position 1 for an average shopper.")
    position_decay: float = Field(0.8, ge=0, description="Examination falls as position ** -decay.")
    p_cart: float = Field(0.15, ge=0, le=1)
    p_buy: float = Field(0.4, ge=0, le=1)
    true_lift: float = Field(0.05, ge=0, description="The treatment's relative lift in click-through (0: A/A).")
    metric: str = Field("ctr", description="Primary metric: " + ", ".join(METRIC_PARTS))
    min_lift: float = Field(0.05, gt=0, description="The lift the experiment is planned to detect.")
    alpha: float = Field(0.05, gt=0, lt=0.5)
    power: float = Field(0.8, gt=0.5, lt=1)
    peek_every: int = Field(1000, ge=1, description="Sessions between two looks.")
    pilot_shoppers: int = Field(20000, ge=100, description="Shoppers of the A/A pilot that measures the unit sd.")


def simulate_shop(cfg: SimShopConfig, shoppers: int, lift: np.ndarray, rng: np.random.Generator,
                  variant: np.ndarray, variants: list[str]) -> Contributions:
    """Sessions of ``shoppers`` shoppers in time order; ``variant[u]`` the shopper's variant index and
    ``lift[k]`` that variant's click multiplier. One row per session."""
    per = 1 + rng.poisson(cfg.return_rate, shoppers)
    unit = np.repeat(np.arange(shoppers), per)
    first = np.r_[0, np.cumsum(per)[:-1]]
    gaps = rng.exponential(cfg.return_gap, len(unit))
    gaps[first] = 0.0
    t = np.repeat(np.arange(shoppers, dtype=np.float64), per) + _segment_cumsum(gaps, first, per)
    order = np.argsort(t, kind="stable")
    unit = unit[order]
    taste = rng.gamma(2.0, 0.5, shoppers)
    lists = 1 + rng.poisson(cfg.extra_lists, len(unit))
    pos = np.arange(1, cfg.list_size + 1, dtype=np.float64) ** -cfg.position_decay  # (P,)
    p = np.minimum(cfg.attract * np.outer(taste[unit] * lift[variant[unit]], pos), 1.0)  # (S, P)
    clicks = rng.binomial(lists[:, None], p).sum(axis=1).astype(np.float64)
    carts = rng.binomial(clicks.astype(np.int64), cfg.p_cart).astype(np.float64)
    buys = rng.binomial(carts.astype(np.int64), cfg.p_buy)
    revenue = np.where(buys > 0, buys * rng.lognormal(3.5, 0.6, len(unit)), 0.0)
    return Contributions.from_arrays(unit, variant[unit], variants, impressions=lists * cfg.list_size,
                                     sessions=np.ones(len(unit)), clicks=clicks, carts=carts,
                                     purchases=buys.astype(np.float64), revenue=revenue)


def _segment_cumsum(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    cs = np.cumsum(values)
    return cs - np.repeat(cs[starts] - values[starts], lengths)


def pilot_unit_sd(cfg: SimShopConfig, seed: int) -> tuple[float, float]:
    """The primary metric's value and its linearised per-shopper sd, ``sd(y - R x) / mean(x)``, on an A/A
    pilot of ``pilot_shoppers`` shoppers."""
    rng = np.random.default_rng(seed)
    n = cfg.pilot_shoppers
    c = simulate_shop(cfg, n, np.ones(1), rng, np.zeros(n, np.int64), ["pilot"])
    tot = c.totals()
    num, den = METRIC_PARTS[cfg.metric]
    y, x = tot.column(num), tot.column(den)
    r = y.sum() / x.sum()
    return float(r), float(np.std(y - r * x) / np.mean(x))


def _experiment(salt: str) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"name": "bench-abtest", "scope": "for_you", "salt": salt,
                                            "variants": [{"name": "control"}, {"name": "treatment", "pipeline": {}}]})


def _one_run(cfg: SimShopConfig, plan: Plan, lift: float, seed: int) -> dict[str, Any]:
    """One seeded experiment run to the planned size: when (if ever) the mSPRT rejected, and whether a
    fixed-horizon test read at every look would have."""
    exp = _experiment(f"bench-{seed}-{lift}")
    shoppers = 2 * plan.sequential_units
    variant = assign_units(exp, [f"u:shopper-{seed}-{i}" for i in range(shoppers)])
    rng = np.random.default_rng(seed)
    c = simulate_shop(cfg, shoppers, np.array([1.0, 1.0 + lift]), rng, variant, [v.name for v in exp.variants])
    path = sequential_path(c, cfg.metric, 0, 1, plan.tau, cfg.peek_every)
    hit = path.first_rejection(cfg.alpha)
    naive = np.flatnonzero(path.p_fixed <= cfg.alpha)
    return {"rejected": hit is not None, "positive": hit is not None and bool(path.diff[hit] > 0),
            "at_sessions": None if hit is None else int(path.sessions[hit]), "looks": int(len(path.sessions)),
            "naive_peeking_rejected": bool(len(naive)), "final_fixed_rejected": bool(path.p_fixed[-1] <= cfg.alpha),
            "sessions": int(path.sessions[-1]), "units": [int(path.units_a[-1]), int(path.units_b[-1])]}


def _rate(hits: int, runs: int) -> dict[str, Any]:
    ci = binomtest(hits, runs).proportion_ci(0.95, method="wilson")
    return {"rate": hits / runs, "hits": hits, "runs": runs, "ci_low": float(ci.low), "ci_high": float(ci.high)}


def run_abtest_bench(cfg: SimShopConfig, runs: int, seed: int = 0,
                     log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """``runs`` A/B runs (true lift ``cfg.true_lift``) and ``runs`` A/A runs, each to the planned size."""
    started = time.time()
    base, sd = pilot_unit_sd(cfg, seed + 10_000_019)
    plan = plan_sample_size(base, cfg.min_lift, sd, cfg.alpha, cfg.power)
    log(f"pilot: {cfg.metric} {base:.4f}, unit sd {sd:.4f}; plan: {plan.sequential_units:,} shoppers per variant "
        f"(fixed-horizon test: {plan.fixed_units:,})")
    out: dict[str, Any] = {"config": cfg.model_dump(), "runs": runs, "seed": seed,
                           "pilot": {"metric_value": base, "unit_sd": sd}, "plan": plan.as_dict()}
    for name, lift in (("ab", cfg.true_lift), ("aa", 0.0)):
        results = []
        for i in range(runs):
            results.append(_one_run(cfg, plan, lift, seed + i + (0 if name == "ab" else 1_000_000)))
            if (i + 1) % max(runs // 5, 1) == 0:
                log(f"{name}: {i + 1}/{runs} runs")
        key = "positive" if name == "ab" else "rejected"
        decided = [r["at_sessions"] for r in results if r[key]]
        out[name] = {"true_lift": lift, "detected" if name == "ab" else "false_positive":
                     _rate(sum(r[key] for r in results), runs),
                     "naive_peeking": _rate(sum(r["naive_peeking_rejected"] for r in results), runs),
                     "fixed_horizon_at_end": _rate(sum(r["final_fixed_rejected"] for r in results), runs),
                     "sessions_per_run": float(np.mean([r["sessions"] for r in results])),
                     "looks_per_run": float(np.mean([r["looks"] for r in results])),
                     "median_sessions_to_decision": float(np.median(decided)) if decided else None}
    out["goal"] = {"power_at_least": cfg.power, "aa_false_positive_at_most": cfg.alpha,
                   "power_met": out["ab"]["detected"]["rate"] >= cfg.power,
                   "aa_met": out["aa"]["false_positive"]["rate"] <= cfg.alpha}
    out["seconds"] = round(time.time() - started, 1)
    return out


def markdown_report(r: dict[str, Any], command: str) -> str:
    ab, aa, plan = r["ab"], r["aa"], r["plan"]

    def pct(x: dict[str, Any]) -> str:
        return f"{100 * x['rate']:.1f}% [{100 * x['ci_low']:.1f}, {100 * x['ci_high']:.1f}] ({x['hits']}/{x['runs']})"

    lines = [f"`{command}`", "",
             f"Pilot (A/A, {r['config']['pilot_shoppers']:,} shoppers): {r['config']['metric']} "
             f"{r['pilot']['metric_value']:.4f}, per-shopper sd {r['pilot']['unit_sd']:.4f}. Plan for a "
             f"{100 * r['config']['min_lift']:g}% lift at alpha {r['config']['alpha']}, power {r['config']['power']}: "
             f"{plan['sequential_units']:,} shoppers per variant for the mSPRT ({plan['fixed_units']:,} for one "
             f"fixed-horizon look); about {ab['sessions_per_run']:,.0f} sessions, {ab['looks_per_run']:.0f} looks "
             f"(one every {r['config']['peek_every']:,} sessions) per run.", "",
             "| runs | true lift | mSPRT rejects (any look) | z-test read at every look | z-test once, at the end |",
             "|---|---|---|---|---|",
             f"| A/B x{ab['detected']['runs']} | {100 * ab['true_lift']:g}% | {pct(ab['detected'])} | "
             f"{pct(ab['naive_peeking'])} | {pct(ab['fixed_horizon_at_end'])} |",
             f"| A/A x{aa['false_positive']['runs']} | 0 | {pct(aa['false_positive'])} | {pct(aa['naive_peeking'])} | "
             f"{pct(aa['fixed_horizon_at_end'])} |", "",
             f"Goal: power >= {100 * r['goal']['power_at_least']:g}%: **{'met' if r['goal']['power_met'] else 'not met'}**; "
             f"A/A false positives <= {100 * r['goal']['aa_false_positive_at_most']:g}%: "
             f"**{'met' if r['goal']['aa_met'] else 'not met'}**. Median sessions to a decision (A/B): "
             f"{ab['median_sessions_to_decision']:,.0f}. Wall time {r['seconds']} s.", ""]
    return "\n".join(lines)


def write_abtest_report(r: dict[str, Any], json_out: Path, command: str,
                        render: Callable[[dict[str, Any], str], str] | None = None) -> Path:
    """The JSON report at ``json_out`` and the Markdown beside it (``.md``, by ``render``, default
    :func:`markdown_report`); returns the Markdown's path."""
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps({**r, "command": command}, indent=2), encoding="utf-8")
    md = json_out.with_suffix(".md")
    md.write_text((render or markdown_report)(r, command), encoding="utf-8")
    return md
