"""``shopsage bench abtest --allocation bandit``: bandit allocation against a 50/50 split, same traffic.

A simulated shop whose two variants differ by a known click-through: a request shows ``list_size``
items and each is clicked with probability ``ctr`` (the control) or ``ctr * (1 + true_lift)`` (the
treatment), so a variant's true value is ``list_size * ctr_v`` clicks per answer. Requests arrive
at ``rate`` per simulated second from ``shoppers`` returning shoppers.

Each run goes through the serving code path of an experiment: a real store (SQLite, in a temporary
folder), the experiment created by :func:`~shopsage.experiments.book.create_experiment`, each
request assigned by :meth:`ExperimentBook.assign` (the bandit's choice and probability, or the
salted hash of a split), its exposures and clicks (events naming the ``recomm_id``) written to the
store once per simulated second as the exposure log and the event API would, and the bandit refit
from the store's exposures and attributed clicks at its cutoffs. The same seeds drive a bandit run
and a split run of the same traffic; the figures are clicks, regret (clicks the best variant would
have added) and the best variant's share, and, for the bandit, whether the report's off-policy
intervals cover each variant's true value.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.data.rows import EventRow, ItemRow, RowKey
from shopsage.data.stores import open_store
from shopsage.evaluate.abtest_bandit import bandit_report
from shopsage.evaluate.ope import OPEConfig
from shopsage.experiments import ExperimentConfig
from shopsage.experiments.book import ExperimentBook, create_experiment
from shopsage.feedback.ids import new_answer_id
from shopsage.feedback.records import ExposureRow

__all__ = ["BanditShopConfig", "simulate_allocation", "run_bandit_abtest_bench", "write_bandit_abtest_report"]


class BanditShopConfig(BaseModel):
    """The simulated shop, its traffic and the bandit's settings."""

    model_config = ConfigDict(extra="forbid")

    requests: int = Field(20_000, ge=10, description="Requests per run (each one decision).")
    rate: float = Field(10.0, gt=0, description="Requests per simulated second.")
    shoppers: int = Field(2_000, ge=1, description="Distinct shoppers the requests come from.")
    list_size: int = Field(5, ge=1, le=100, description="Items per answer.")
    ctr: float = Field(0.04, gt=0, lt=1, description="The control's click probability per shown item.")
    true_lift: float = Field(0.25, ge=0, description="The treatment's relative lift in click-through.")
    policy: Literal["linucb", "lints"] = "linucb"
    alpha: float = Field(0.5, ge=0, description="Confidence width (linucb) / posterior scale (lints), clicks per answer.")
    epsilon: float = Field(0.1, gt=0, le=1)
    refit_s: float = Field(60.0, ge=1, description="Simulated seconds between refits.")
    rebuild_every: int = Field(10, ge=1)
    n_bootstrap: int = Field(500, ge=10, description="Bootstrap resamples of the report's intervals.")

    def values(self) -> np.ndarray:
        """Each variant's true clicks per answer: control, treatment."""
        p = np.array([self.ctr, min(self.ctr * (1 + self.true_lift), 1.0)])
        return self.list_size * p


def _experiment(cfg: BanditShopConfig, allocation: str, seed: int) -> ExperimentConfig:
    data: dict[str, Any] = {"name": f"bench-{allocation}-{seed}", "scope": "for_you", "allocation": allocation,
                            "variants": [{"name": "control"}, {"name": "treatment", "pipeline": {}}],
                            "planned_units": 2}
    if allocation == "bandit":
        data["bandit"] = {"policy": cfg.policy, "alpha": cfg.alpha, "epsilon": cfg.epsilon, "reward": "click",
                          "refit_s": cfg.refit_s, "settle_s": 1.0, "rebuild_every": cfg.rebuild_every}
    return ExperimentConfig.model_validate(data)


def simulate_allocation(cfg: BanditShopConfig, allocation: Literal["bandit", "split"], seed: int,
                        folder: Path) -> dict[str, Any]:
    """One seeded run of ``cfg.requests`` requests on a fresh store in ``folder``."""
    rng = np.random.default_rng(seed)
    store = open_store(f"sqlite:///{folder / f'{allocation}-{seed}.db'}")
    try:
        items = [f"i{j}" for j in range(cfg.list_size)]
        store.write_items([ItemRow(x) for x in items])
        exp = create_experiment(store, _experiment(cfg, allocation, seed))  # type: ignore[arg-type]
        t0 = float(exp.created_at or time.time()) + 1.0
        now = [t0]
        book = ExperimentBook(lambda: store, clock=lambda: now[0], background=False,  # type: ignore[arg-type,return-value]
                              rng=np.random.default_rng(seed + 1))
        p = cfg.values() / cfg.list_size
        chosen = np.empty(cfg.requests, np.int64)
        clicks = 0
        shown: list[ExposureRow] = []
        events: list[EventRow] = []
        per_flush = max(int(cfg.rate), 1)
        for i in range(cfg.requests):
            now[0] = t0 + i / cfg.rate
            user = f"u{int(rng.integers(cfg.shoppers))}"
            a = book.assign("for_you", user, None)
            assert a is not None
            v = 0 if a.variant == "control" else 1
            chosen[i] = v
            rid = new_answer_id(int(now[0] * 1000))
            shown += [ExposureRow(rid, k + 1, "recommendation", "for_you", exp.name, a.variant, user, None, it, 1.0,
                                  now[0], None, a.probability) for k, it in enumerate(items)]
            for k in np.flatnonzero(rng.random(cfg.list_size) < p[v]):
                events.append(EventRow(RowKey("bench/live", len(events) + clicks + 1), "click", items[k], user,
                                       ts=now[0] + 0.5, context={"recomm_id": rid, "position": int(k) + 1}))
            if (i + 1) % per_flush == 0 or i + 1 == cfg.requests:  # the exposure log's and the event API's writes
                store.write_exposures(shown)
                clicks += len(events)
                store.write_events(events)
                shown, events = [], []
        values = cfg.values()
        best = int(np.argmax(values))
        tail = chosen[-max(cfg.requests // 5, 1):]
        out: dict[str, Any] = {"allocation": allocation, "seed": seed, "clicks": clicks,
                               "expected_clicks": float(values[chosen].sum()),
                               "regret": float((values[best] - values[chosen]).sum()),
                               "best_share": float(np.mean(chosen == best)), "best_share_last_fifth": float(np.mean(tail == best))}
        if allocation == "bandit":
            now[0] += cfg.refit_s + 2.0
            rep = bandit_report(store, exp, OPEConfig(n_bootstrap=cfg.n_bootstrap, seed=seed), now=now[0])  # type: ignore[arg-type]
            names = [v.name for v in exp.variants]
            out["favoured_variant"] = rep["favoured_variant"]
            out["current_share_best"] = rep["current_allocation"][names[best]]
            out["ope"] = {n: {est: {**e, "true": float(values[j]), "covers": bool(e["ci_low"] <= values[j] <= e["ci_high"])}
                              for est, e in rep["variants"][n]["estimates"].items()} for j, n in enumerate(names)}
        return out
    finally:
        store.close()  # type: ignore[attr-defined]


def run_bandit_abtest_bench(cfg: BanditShopConfig, runs: int, seed: int = 0,
                            log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """``runs`` seeded pairs of runs (bandit, split) of the same traffic."""
    started = time.time()
    results: dict[str, list[dict[str, Any]]] = {"bandit": [], "split": []}
    with tempfile.TemporaryDirectory(prefix="shopsage-bandit-bench-") as tmp:
        for i in range(runs):
            for allocation in ("bandit", "split"):
                results[allocation].append(simulate_allocation(cfg, allocation, seed + i, Path(tmp)))  # type: ignore[arg-type]
            b, s = results["bandit"][-1], results["split"][-1]
            log(f"run {i + 1}/{runs}: regret bandit {b['regret']:.0f} vs split {s['regret']:.0f}; clicks "
                f"{b['clicks']} vs {s['clicks']}")
    summary = {}
    for allocation, rs in results.items():
        summary[allocation] = {k: float(np.mean([r[k] for r in rs])) for k in
                               ("clicks", "expected_clicks", "regret", "best_share", "best_share_last_fifth")}
    bandit = results["bandit"]
    coverage = {}
    for est in bandit[0]["ope"]["control"]:
        hits = [r["ope"][n][est]["covers"] for r in bandit for n in r["ope"] if est in r["ope"][n]]
        coverage[est] = {"covered": int(sum(hits)), "intervals": len(hits)}
    return {"config": cfg.model_dump(), "runs": runs, "seed": seed, "true_values": cfg.values().tolist(),
            "summary": summary, "ope_coverage": coverage, "results": results,
            "seconds": round(time.time() - started, 1)}


def _markdown(r: dict[str, Any], command: str) -> str:
    c, s = r["config"], r["summary"]
    lines = [f"`{command}`", "",
             f"{r['runs']} seeded runs of {c['requests']:,} requests each ({c['list_size']} items per answer; true clicks "
             f"per answer control {r['true_values'][0]:.3f}, treatment {r['true_values'][1]:.3f}); {c['policy']}, "
             f"epsilon {c['epsilon']}, alpha {c['alpha']}, refit every {c['refit_s']:g} simulated s "
             f"({c['refit_s'] * c['rate']:,.0f} requests).", "",
             "| allocation | clicks | regret (clicks) | best variant's share | share, last fifth |", "|---|---|---|---|---|"]
    for a in ("bandit", "split"):
        x = s[a]
        lines.append(f"| {a} | {x['clicks']:,.0f} | {x['regret']:,.1f} | {100 * x['best_share']:.1f}% | "
                     f"{100 * x['best_share_last_fifth']:.1f}% |")
    cov = ", ".join(f"{k} {v['covered']}/{v['intervals']}" for k, v in r["ope_coverage"].items())
    lines += ["", f"Bandit report: 95% off-policy intervals covering the true value: {cov}. Wall time {r['seconds']} s.", ""]
    return "\n".join(lines)


def write_bandit_abtest_report(r: dict[str, Any], json_out: Path, command: str) -> Path:
    """The JSON report at ``json_out`` and the Markdown beside it (``.md``); returns the Markdown's path."""
    from shopsage.evaluate.abtest_bench import write_abtest_report

    return write_abtest_report(r, json_out, command, _markdown)
