"""The report of an experiment allocated by a bandit: each variant's value, estimated off-policy.

Under adaptive allocation the fixed-split analysis (:func:`shopsage.evaluate.abtest.analyse`) is not
valid: the share of each variant moves with what was seen, so the sample-ratio check and the
sequential test have no fixed design to test against, and a variant's raw mean mixes the periods
in which it was shown. Instead every logged decision (one answer: its variant, the probability the
bandit had of choosing it, ``variant_propensity``, and its reward, see
:mod:`shopsage.experiments.allocation`) is one row of logged bandit feedback, and the value of the
policy "always serve variant k" (reward per answer) is estimated from it with the off-policy
estimators of :mod:`shopsage.evaluate.ope` (ips and snips always; dm and dr when every reward is 0 or
1, through the cross-fitted logistic reward model), each with its bootstrap interval. The report
also gives the bandit's current allocation: the state every worker serves (refit from the same
logs at the current cutoff) and the share of traffic it gives each variant.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from shopsage.data.logged_feedback import LoggedFeedback
from shopsage.evaluate.ope import EstimatorName, EvaluationPolicy, OPEConfig, estimate_policy_value
from shopsage.experiments.allocation import Answers, BanditAllocator, answers_from_logs, reward_of
from shopsage.experiments.definition import ExperimentConfig

__all__ = ["bandit_report", "variant_values", "answers_with_rewards", "markdown_bandit_report"]


class _Logs(Protocol):
    def read_exposures(self, experiment: str | None = None, since: float | None = None) -> Any: ...

    def read_attributed(self, experiment: str | None = None, since: float | None = None) -> Any: ...


def answers_with_rewards(store: _Logs, exp: ExperimentConfig) -> tuple[Answers, int]:
    """Every decision of ``exp`` with its reward (its attributed events of the bandit's reward type), and how
    many answers were left out for want of a recorded variant probability."""
    exposures = list(store.read_exposures(exp.name))
    answers = answers_from_logs(exp, exposures)
    left_out = len({e.exposure_id for e in exposures}) - len(answers)
    row = {a: i for i, a in enumerate(answers.ids)}
    for ev in store.read_attributed(exp.name):
        r = reward_of(exp, ev)
        i = row.get(ev.exposure_id)
        if r is not None and i is not None:
            answers.reward[i] += r
    return answers, left_out


def variant_values(exp: ExperimentConfig, answers: Answers, config: OPEConfig | None = None) -> dict[str, Any]:
    """Per variant: the off-policy value of always serving it (reward per answer) by each estimator, with
    its interval, effective sample size and largest weight."""
    k = len(exp.variants)
    cfg = config or OPEConfig()
    fb = LoggedFeedback(answers.variant, np.zeros(len(answers), np.int64), answers.reward, answers.probability,
                        k, 1, answers.context)
    names: list[EstimatorName] = ["ips", "snips"]
    q_hat = None
    positives = int(np.sum(answers.reward == 1.0))
    binary = bool(np.all(np.isin(answers.reward, (0.0, 1.0))))
    if binary and min(positives, len(answers) - positives) >= 2 * cfg.n_folds:  # each fold's model sees both
        from shopsage.evaluate.reward_model import fit_reward_model

        try:
            q_hat = fit_reward_model(fb, cfg)
            names += ["dm", "dr"]
        except ValueError:  # a training fold without one of the classes: the model-free estimators only
            q_hat = None
    cfg = cfg.model_copy(update={"estimators": names})
    out: dict[str, Any] = {}
    for i, v in enumerate(exp.variants):
        if not np.any(answers.variant == i):  # never chosen: the logs say nothing of it (snips would be 0/0)
            out[v.name] = {}
            continue
        always = np.zeros((k, 1))
        always[i, 0] = 1.0
        est = estimate_policy_value(fb, EvaluationPolicy(action_dist=always), q_hat, cfg)
        out[v.name] = {e.name: {"value": _finite(e.estimate), "ci_low": _finite(e.ci_low), "ci_high": _finite(e.ci_high),
                                "ess": _finite(e.ess), "max_weight": _finite(e.max_weight)} for e in est.values()}
    return out


def _finite(x: float) -> float | None:
    """None for an estimate the logs cannot give (a variant never chosen: snips is 0/0), so that the report
    stays valid JSON and reads "-" rather than nan."""
    return float(x) if np.isfinite(x) else None


def bandit_report(store: _Logs, exp: ExperimentConfig, config: OPEConfig | None = None,
                  now: float | None = None) -> dict[str, Any]:
    """The body of a bandit experiment's report (``experiment_report`` adds the head)."""
    answers, left_out = answers_with_rewards(store, exp)
    assert exp.bandit is not None
    body: dict[str, Any] = {"allocation": "bandit", "bandit": exp.bandit.model_dump(), "decisions": len(answers),
                            "answers_left_out": left_out}
    if len(answers) == 0:
        return {**body, "variants": {}, "note": "no decisions recorded for this experiment yet: serve traffic in its "
                "scope first"}
    current = BanditAllocator(exp, np.random.default_rng((config or OPEConfig()).seed))
    current.refit(store, now)
    scenarios, counts = np.unique(np.asarray(answers.scenario), return_counts=True)
    by_scenario = {str(s): current.shares(str(s)) for s in scenarios}
    weights = counts / counts.sum()
    shares = {v.name: float(sum(w * by_scenario[str(s)][v.name] for s, w in zip(scenarios, weights, strict=True)))
              for v in exp.variants}
    values = variant_values(exp, answers, config)
    variants = {}
    for i, v in enumerate(exp.variants):
        mine = answers.variant == i
        variants[v.name] = {"answers": int(mine.sum()), "logged_share": float(mine.mean()),
                            "reward": float(answers.reward[mine].sum()), "current_share": shares[v.name],
                            "estimates": values[v.name]}
    favoured = max(shares, key=lambda n: shares[n])
    estimators = next((list(e) for e in values.values() if e), [])  # a never-chosen variant has none
    return {**body, "reward": exp.bandit.reward, "variants": variants, "estimators": estimators,
            "favoured_variant": favoured,
            "current_allocation": shares, "allocation_by_scenario": by_scenario if exp.bandit.context != "none" else None,
            "state": current.describe(),
            "note": "allocation is adaptive, so the fixed-split tests (sample-ratio check, mSPRT) do not apply; each "
                    "variant's value is the off-policy estimate of always serving it, in reward per answer (dm's interval "
                    "holds its reward model fixed and is too narrow: read ips, snips or dr)"}


def _cell(e: dict[str, Any] | None) -> str:
    if not e or e.get("value") is None:
        return "-"
    lo, hi = e.get("ci_low"), e.get("ci_high")
    return f"{e['value']:.4g} [{lo:.4g}, {hi:.4g}]" if lo is not None and hi is not None else f"{e['value']:.4g}"


def markdown_bandit_report(r: dict[str, Any]) -> str:
    """The Markdown of a bandit experiment's report."""
    b = r["bandit"]
    lines = [f"# Experiment {r['experiment']}", "",
             f"Scope `{r['scope']}`, {r['status']}; allocated by a bandit ({b['policy']}, epsilon {b['epsilon']}, "
             f"context {b['context']}); reward: {b['reward']} per answer; {r['decisions']:,} decisions so far.", ""]
    if not r.get("variants"):
        return "\n".join([*lines, r.get("note", ""), ""])
    names = r.get("estimators") or next((list(v["estimates"]) for v in r["variants"].values() if v["estimates"]), [])
    lines += ["| variant | answers | logged share | current share | " + " | ".join(names) + " |",
              "|---|---|---|---|" + "---|" * len(names)]
    for name, v in r["variants"].items():
        cells = [_cell(v["estimates"].get(n)) for n in names]
        lines.append(f"| {name} | {v['answers']:,} | {100 * v['logged_share']:.1f}% | {100 * v['current_share']:.1f}% | "
                     + " | ".join(cells) + " |")
    lines += ["", f"The bandit currently favours **{r['favoured_variant']}** "
              f"({100 * r['current_allocation'][r['favoured_variant']]:.1f}% of requests at its state of "
              f"{r['state']['decisions']:,} decisions).", "", r["note"] + " (95% bootstrap intervals).", ""]
    return "\n".join(lines)
