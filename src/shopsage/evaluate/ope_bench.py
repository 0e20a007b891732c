"""The Open Bandit off-policy evaluation protocol (Saito et al., Open Bandit Pipeline, 2021).

Per campaign, two logging policies ran on the same traffic: uniform random and Bernoulli Thompson
Sampling (BTS). Each direction estimates one policy's click rate from the other's logs and
compares it with the truth, the target policy's own on-policy click rate (mean click per shown
item in its file, with a Wilson 95% interval):

- ``bts_from_random``: logs of random, evaluated policy BTS (its action distribution from the
  Beta prior by Monte Carlo);
- ``random_from_bts``: logs of BTS, evaluated policy uniform over items at each position.

``relative_error = |estimate - truth| / truth``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

from shopsage.data.logged_feedback import LoggedFeedback
from shopsage.data.open_bandit import (
                                       Campaign,
                                       bts_action_distribution,
                                       load_bts_prior,
                                       load_open_bandit,
                                       uniform_action_distribution,
)
from shopsage.errors import ImportFormatError
from shopsage.evaluate.ope import EvaluationPolicy, OPEConfig, estimate_policy_value
from shopsage.evaluate.reward_model import fit_reward_model

__all__ = ["DIRECTIONS", "on_policy_truth", "run_open_bandit", "goal_check", "markdown_report", "write_ope_report"]

DIRECTIONS = ("bts_from_random", "random_from_bts")
GOAL_ESTIMATORS = ("dr", "snips")


def on_policy_truth(reward: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """The on-policy click rate and its Wilson interval (scipy): ``(mean, low, high)``."""
    clicks = int(np.sum(reward > 0))
    ci = binomtest(clicks, len(reward)).proportion_ci(confidence_level=confidence, method="wilson")
    return clicks / len(reward), float(ci.low), float(ci.high)


def _direction(fb: LoggedFeedback, dist: np.ndarray, target: LoggedFeedback, cfg: OPEConfig) -> dict[str, Any]:
    q_hat = fit_reward_model(fb, cfg)
    estimates = estimate_policy_value(fb, EvaluationPolicy(action_dist=dist), q_hat, cfg)
    truth, low, high = on_policy_truth(target.reward, cfg.confidence)
    return {name: {"estimate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high, "truth": truth,
                   "truth_ci_low": low, "truth_ci_high": high,
                   "relative_error": abs(e.estimate - truth) / truth if truth > 0 else None,
                   "covers_truth": e.ci_low <= truth <= e.ci_high, "ess": e.ess, "max_weight": e.max_weight}
            for name, e in estimates.items()}


def goal_check(results: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The issue's goal on these directions: the dr or snips interval covers the truth in every
    direction, and that estimator's mean relative error is no worse than ips's."""
    def mean_error(name: str) -> float:
        return float(np.mean([results[d][name]["relative_error"] for d in results]))

    out: dict[str, Any] = {"ips_mean_relative_error": mean_error("ips")}
    for name in GOAL_ESTIMATORS:
        covers = all(results[d][name]["covers_truth"] for d in results)
        out[name] = {"covers_truth_everywhere": covers, "mean_relative_error": mean_error(name),
                     "met": covers and mean_error(name) <= out["ips_mean_relative_error"]}
    out["met"] = any(out[name]["met"] for name in GOAL_ESTIMATORS)
    return out


def run_open_bandit(root: str | Path, campaign: Campaign, config: OPEConfig | None = None, n_sim: int = 100_000,
                    log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Both directions of one campaign: every configured estimator with its interval, the truth with its
    interval, relative error and effective sample size."""
    cfg = config or OPEConfig()
    start = time.perf_counter()
    random_fb = load_open_bandit(root, "random", campaign)
    bts_fb = load_open_bandit(root, "bts", campaign)
    alpha, beta = load_bts_prior(root, campaign)
    if len(alpha) != bts_fb.n_actions:
        raise ImportFormatError(f"prior_bts.yaml has {len(alpha)} items for campaign {campaign}, its logs "
                                f"{bts_fb.n_actions}: use the prior that belongs to these files.")
    bts_dist = bts_action_distribution(alpha, beta, random_fb.n_positions, n_sim=n_sim, seed=cfg.seed)
    plans = {"bts_from_random": (random_fb, bts_dist, bts_fb),
             "random_from_bts": (bts_fb, uniform_action_distribution(bts_fb.n_actions, bts_fb.n_positions), random_fb)}
    results: dict[str, Any] = {}
    for name, (logged, dist, target) in plans.items():
        log(f"{campaign}: {name} (reward model: {cfg.n_folds}-fold logistic regression, {cfg.n_bootstrap} resamples)")
        results[name] = _direction(logged, dist, target, cfg)
    return {"benchmark": "ope-open-bandit", "campaign": campaign, "data": str(root),
            "rows": {"random": random_fb.n_rounds, "bts": bts_fb.n_rounds}, "n_actions": random_fb.n_actions,
            "config": cfg.model_dump(), "bts_monte_carlo_draws": n_sim, "results": results,
            "goal": goal_check(results), "seconds": round(time.perf_counter() - start, 1)}


def _pct(value: float) -> str:
    return f"{100 * value:.3f}%"


def markdown_report(report: dict[str, Any]) -> str:
    """A Markdown table: every direction and estimator, estimate and interval, truth, error, ESS."""
    lines = [f"### Open Bandit, campaign `{report['campaign']}` (click rate per shown item)", "",
             "| direction | estimator | estimate | 95% CI | truth (95% CI) | rel. error | covers | ESS |",
             "|---|---|---:|---|---|---:|:-:|---:|"]
    for direction, rows in report["results"].items():
        for name, r in rows.items():
            lines.append(f"| {direction} | {name} | {_pct(r['estimate'])} | [{_pct(r['ci_low'])}, {_pct(r['ci_high'])}] "
                         f"| {_pct(r['truth'])} [{_pct(r['truth_ci_low'])}, {_pct(r['truth_ci_high'])}] "
                         f"| {r['relative_error']:.3f} | {'yes' if r['covers_truth'] else 'no'} | {r['ess']:,.0f} |")
    goal = report["goal"]
    lines += ["", f"Goal (dr or snips covers the truth in both directions, mean relative error <= ips's "
                  f"{goal['ips_mean_relative_error']:.3f}): " + ("met" if goal["met"] else "not met") + "; " +
              "; ".join(f"{n}: covers {'yes' if goal[n]['covers_truth_everywhere'] else 'no'}, mean rel. error "
                        f"{goal[n]['mean_relative_error']:.3f}" for n in GOAL_ESTIMATORS)]
    return "\n".join(lines) + "\n"


def write_ope_report(report: dict[str, Any], json_path: str | Path, command: str = "") -> Path:
    """Write the JSON report and a Markdown table beside it (``.md``); returns the Markdown path."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    if command:
        report = {**report, "command": command}
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path = json_path.with_suffix(".md")
    md_path.write_text(markdown_report(report), encoding="utf-8")
    return md_path
