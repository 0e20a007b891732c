"""``shopsage bench bandit``: the linear bandit of :mod:`shopsage.policy.bandits` on the Open Bandit Dataset.

Three measurements, one campaign at a time (the same :class:`~shopsage.policy.bandits.LinearBandit`
class, feature map and epsilon mixture that the ``explore`` pipeline stage serves):

1. **Off-policy evaluation.** Both logs are split by time: the first ``train_share`` of the random
   policy's rows train the bandit (ridge regression on the logged rows; the log is uniform, so it is
   unbiased), the rest are held out. The trained bandit, frozen, ranks the items for every held-out
   row's context and fills the three positions (its marginal probability of each item at each
   position: ``epsilon / K + (1 - epsilon) * [item is the ranking's k-th]``). Its click rate per
   shown item is estimated by every estimator of :mod:`shopsage.evaluate.ope` from the held-out
   random rows and from the held-out BTS rows, beside the on-policy click rates (Wilson intervals)
   of the random and BTS policies on their held-out rows, and the same estimates for a fixed
   "most clicked in training" ranking.
2. **Replay** (:func:`shopsage.evaluate.replay.replay`) on the held-out random rows, every policy
   warm-started on the training rows. Each row is one decision (one position of an impression);
   about ``n / K`` rows are accepted, so on this sample (5,000 rows, 80 or 34 items) only a
   hundred or so rows count: the figures are reported, with that caveat, not ranked.
3. **Simulator** (:func:`shopsage.evaluate.replay.simulate`): contexts resampled from the random log,
   the click probability of item ``a`` for context ``x`` given by the cross-fitted reward model of
   the OPE estimators (:func:`~shopsage.evaluate.reward_model.fit_reward_model`, a logistic
   regression per position on the context and the item, averaged over the three positions, so
   the value is the click rate at a random position, as in the logs). Cumulative clicks and regret
   of the bandit against a fixed most-clicked policy and context-free epsilon-greedy, all starting
   cold except the fixed one (which read the whole random log). Assumption: the fitted model is
   the truth; its context effects are additive in the logit, so the best item hardly depends on
   the context, and the affinity feature the bandit reads is not part of it.

Features of item ``a`` for a request ``x`` (``K + 1`` values): a one-hot of the item, and
``log(1 + affinity(x, a))`` from the file's ``user-item_affinity_<a>`` columns.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from shopsage.data.logged_feedback import LoggedFeedback
from shopsage.data.open_bandit import Campaign, Policy, load_open_bandit
from shopsage.errors import ImportFormatError
from shopsage.evaluate.ope import EvaluationPolicy, OPEConfig, estimate_policy_value
from shopsage.evaluate.ope_bench import on_policy_truth
from shopsage.evaluate.replay import BanditLearner, EpsilonGreedy, FixedRanking, Learner, replay, simulate
from shopsage.evaluate.reward_model import fit_reward_model
from shopsage.policy.bandits import BanditConfig, LinearBandit

__all__ = ["load_affinity", "candidate_features", "train_bandit", "bandit_action_distribution", "run_bandit_bench",
           "markdown_report", "write_bandit_report"]


def load_affinity(root: str | Path, policy: Policy, campaign: Campaign, n_actions: int) -> np.ndarray:
    """(n, n_actions) ``user-item_affinity_<a>`` columns, rows in :func:`load_open_bandit`'s order (time)."""
    path = Path(root) / policy / campaign / f"{campaign}.csv"
    if not path.is_file():
        raise ImportFormatError(f"{path} does not exist: point --data at the open-bandit folder.")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        try:
            cols = [header.index(f"user-item_affinity_{a}") for a in range(n_actions)]
            ts = header.index("timestamp")
        except ValueError as exc:
            raise ImportFormatError(f"{path} lacks the user-item_affinity_0..{n_actions - 1} columns.") from exc
        rows = [(r[ts], [float(r[c]) for c in cols]) for r in reader]
    order = np.argsort(np.array([t for t, _ in rows]), kind="stable")  # as load_open_bandit sorts
    return np.array([v for _, v in rows], dtype=np.float64)[order]


def candidate_features(affinity: np.ndarray) -> np.ndarray:
    """(K, K + 1): the features of every item for one request with ``affinity`` (K,)."""
    k = len(affinity)
    return np.column_stack([np.eye(k), np.log1p(affinity)])


def _logged_features(fb: LoggedFeedback, affinity: np.ndarray, rows: np.ndarray) -> np.ndarray:
    X = np.zeros((len(rows), fb.n_actions + 1))
    X[np.arange(len(rows)), fb.action[rows]] = 1.0
    X[:, -1] = np.log1p(affinity[rows, fb.action[rows]])
    return X


def train_bandit(fb: LoggedFeedback, affinity: np.ndarray, rows: np.ndarray, config: BanditConfig) -> LinearBandit:
    """The bandit after learning from the logged ``rows`` (every shown item with its click)."""
    bandit = LinearBandit(fb.n_actions + 1, config, [f"item_{a}" for a in range(fb.n_actions)] + ["log1p_affinity"])
    bandit.update_many(_logged_features(fb, affinity, rows), fb.reward[rows])
    return bandit


def bandit_action_distribution(bandit: LinearBandit, affinity: np.ndarray, n_positions: int, seed: int) -> np.ndarray:
    """(n, K, n_positions): the frozen bandit's probability of each item at each position, per row."""
    rng = np.random.default_rng(seed)
    n, k = affinity.shape
    out = np.empty((n, k, n_positions))
    for i in range(n):
        X = candidate_features(affinity[i])
        out[i] = bandit.distribution(bandit.rankings(X, n_positions, rng), k)
    return out


def _ranking_distribution(ranking: np.ndarray, n_actions: int, n_positions: int, epsilon: float) -> np.ndarray:
    dist = np.full((n_actions, n_positions), epsilon / n_actions)
    dist[ranking[:n_positions], np.arange(n_positions)] += 1 - epsilon
    return dist


def _subset(fb: LoggedFeedback, rows: np.ndarray) -> LoggedFeedback:
    return LoggedFeedback(fb.action[rows], fb.position[rows], fb.reward[rows], fb.pscore[rows], fb.n_actions,
                          fb.n_positions, None if fb.context is None else fb.context[rows], fb.action_context)


def _most_clicked(fb: LoggedFeedback, rows: np.ndarray) -> np.ndarray:
    """Items by click rate on ``rows`` (clicks / shows), ties to the lower id."""
    shows = np.bincount(fb.action[rows], minlength=fb.n_actions).astype(np.float64)
    clicks = np.bincount(fb.action[rows], weights=fb.reward[rows], minlength=fb.n_actions)
    return np.argsort(-(clicks / np.maximum(shows, 1)), kind="stable")


def _ope(fb: LoggedFeedback, dists: dict[str, np.ndarray], cfg: OPEConfig) -> dict[str, Any]:
    q_hat = fit_reward_model(fb, cfg)
    out: dict[str, Any] = {}
    for name, dist in dists.items():
        est = estimate_policy_value(fb, EvaluationPolicy(action_dist=dist), q_hat, cfg)
        out[name] = {e.name: {"estimate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high, "ess": e.ess,
                              "max_weight": e.max_weight} for e in est.values()}
    return out


def _truth(reward: np.ndarray, confidence: float) -> dict[str, float]:
    mean, low, high = on_policy_truth(reward, confidence)
    return {"click_rate": mean, "ci_low": low, "ci_high": high, "rows": len(reward)}


def _replay_rows(fb: LoggedFeedback, affinity: np.ndarray, rows: np.ndarray) -> Iterator[tuple[np.ndarray, int, float, float]]:
    for i in rows.tolist():
        yield candidate_features(affinity[i]), int(fb.action[i]), float(fb.reward[i]), float(fb.pscore[i])


def _learners(fb: LoggedFeedback, affinity: np.ndarray, train: np.ndarray, cfg: BanditConfig,
              warm: bool) -> dict[str, Callable[[], Learner]]:
    """Fresh policies to compare (``warm``: started from the training rows)."""
    shows = np.bincount(fb.action[train], minlength=fb.n_actions) if warm else None
    clicks = np.bincount(fb.action[train], weights=fb.reward[train], minlength=fb.n_actions) if warm else None
    popular = _most_clicked(fb, train if warm else np.arange(fb.n_rounds))

    def bandit(policy: str) -> Learner:
        c = cfg.model_copy(update={"policy": policy})
        return BanditLearner(train_bandit(fb, affinity, train, c) if warm else LinearBandit(fb.n_actions + 1, c))

    return {"linucb": lambda: bandit("linucb"), "lints": lambda: bandit("lints"),
            "epsilon_greedy": lambda: EpsilonGreedy(fb.n_actions, 0.1, clicks=clicks, shows=shows),
            "most_clicked": lambda: FixedRanking(popular)}


def _simulator(fb: LoggedFeedback, affinity: np.ndarray, cfg: BanditConfig, ope_cfg: OPEConfig, steps: int,
               seeds: int) -> dict[str, Any]:
    q = fit_reward_model(fb, ope_cfg).mean(axis=2)  # (n, K): click probability at a random position

    def contexts(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        i = int(rng.integers(len(q)))
        return candidate_features(affinity[i]), q[i]

    out: dict[str, Any] = {"steps": steps, "seeds": seeds, "best_item_click_rate": float(q.max(axis=1).mean()),
                           "mean_item_click_rate": float(q.mean()), "policies": {}}
    every = np.arange(fb.n_rounds)
    for name, make in _learners(fb, affinity, every, cfg, warm=False).items():
        runs = [simulate(make(), contexts, steps, seed=s) for s in range(seeds)]
        clicks = np.array([r.total_reward for r in runs])
        regret = np.array([r.regret[-1] for r in runs if r.regret is not None])
        marks = [steps // 4, steps // 2, 3 * steps // 4, steps]
        out["policies"][name] = {"clicks_mean": float(clicks.mean()), "clicks_sd": float(clicks.std(ddof=1)) if seeds > 1 else 0.0,
                                 "click_rate": float(clicks.mean() / steps), "regret_mean": float(regret.mean()),
                                 "cumulative_clicks_at": {str(m): float(np.mean([r.cumulative[m - 1] for r in runs])) for m in marks}}
    return out


def run_bandit_bench(root: str | Path, campaign: Campaign, config: BanditConfig | None = None,
                     ope_config: OPEConfig | None = None, train_share: float = 0.5, sim_steps: int = 50_000,
                     sim_seeds: int = 3, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """OPE, replay and simulator figures of the linear bandit on one Open Bandit campaign (module docstring)."""
    cfg = config or BanditConfig()
    ope_cfg = ope_config or OPEConfig()
    start = time.perf_counter()
    names: tuple[Policy, ...] = ("random", "bts")
    logs = {p: load_open_bandit(root, p, campaign) for p in names}
    aff = {p: load_affinity(root, p, campaign, logs[p].n_actions) for p in logs}
    split = {p: int(train_share * logs[p].n_rounds) for p in logs}
    rnd, k, npos = logs["random"], logs["random"].n_actions, logs["random"].n_positions
    train = np.arange(split["random"])
    log(f"{campaign}: training the bandit on {len(train)} random rows")
    policies = {p: train_bandit(rnd, aff["random"], train, cfg.model_copy(update={"policy": p})) for p in ("linucb", "lints")}
    popular = _most_clicked(rnd, train)
    ope: dict[str, Any] = {}
    for p, fb in logs.items():
        held = np.arange(split[p], fb.n_rounds)
        log(f"{campaign}: OPE on {len(held)} held-out {p} rows")
        dists = {name: bandit_action_distribution(b, aff[p][held], npos, ope_cfg.seed) for name, b in policies.items()}
        dists["most_clicked"] = _ranking_distribution(popular, k, npos, cfg.epsilon)
        ope[f"from_{p}"] = _ope(_subset(fb, held), dists, ope_cfg)
    truth = {p: _truth(logs[p].reward[split[p]:], ope_cfg.confidence) for p in logs}
    log(f"{campaign}: replay on the held-out random rows")
    held = np.arange(split["random"], rnd.n_rounds)
    replayed = {}
    for name, make in _learners(rnd, aff["random"], train, cfg, warm=True).items():
        r = replay(make(), _replay_rows(rnd, aff["random"], held), seed=ope_cfg.seed)
        replayed[name] = {"accepted": r.steps, "clicks": r.total_reward, "click_rate": r.mean_reward}
    log(f"{campaign}: simulator, {sim_seeds} x {sim_steps} steps per policy")
    sim = _simulator(rnd, aff["random"], cfg, ope_cfg, sim_steps, sim_seeds)
    return {"benchmark": "bandit-open-bandit", "campaign": campaign, "data": str(root), "config": cfg.model_dump(),
            "ope_config": ope_cfg.model_dump(), "train_share": train_share,
            "rows": {p: {"train": split[p], "held_out": logs[p].n_rounds - split[p]} for p in logs},
            "on_policy": truth, "ope": ope, "replay": replayed, "simulator": sim,
            "seconds": round(time.perf_counter() - start, 1)}


def _pct(value: float) -> str:
    return f"{100 * value:.3f}%"


def markdown_report(report: dict[str, Any]) -> str:
    """Tables: OPE estimates with intervals beside the logged policies' on-policy rates, replay, simulator."""
    c = report["campaign"]
    lines = [f"### Bandit on Open Bandit, campaign `{c}` (click rate per shown item)", "",
             "On-policy, held-out rows: " + "; ".join(
                 f"{p} {_pct(t['click_rate'])} [{_pct(t['ci_low'])}, {_pct(t['ci_high'])}] ({t['rows']:,} rows)"
                 for p, t in report["on_policy"].items()), "",
             "| logs | policy | ips | snips | dr | dr_os | snips 95% CI | dr 95% CI | ESS (snips) |",
             "|---|---|---:|---:|---:|---:|---|---|---:|"]
    for logs, policies in report["ope"].items():
        for name, est in policies.items():
            cells = [_pct(est[e]["estimate"]) if e in est else "-" for e in ("ips", "snips", "dr", "dr_os")]
            ci = [f"[{_pct(est[e]['ci_low'])}, {_pct(est[e]['ci_high'])}]" if e in est else "-" for e in ("snips", "dr")]
            lines.append(f"| {logs} | {name} | {' | '.join(cells)} | {' | '.join(ci)} | {est.get('snips', {}).get('ess', 0):,.0f} |")
    lines += ["", "Replay (Li et al. 2011) on the held-out random rows, policies warm-started on the training rows:", "",
              "| policy | accepted rows | clicks | click rate |", "|---|---:|---:|---:|"]
    lines += [f"| {n} | {r['accepted']:,} | {r['clicks']:.0f} | {_pct(r['click_rate'])} |" for n, r in report["replay"].items()]
    sim = report["simulator"]
    lines += ["", f"Simulator ({sim['seeds']} seeds x {sim['steps']:,} steps, cold start; the click model's best item "
                  f"{_pct(sim['best_item_click_rate'])}, mean item {_pct(sim['mean_item_click_rate'])}):", "",
              "| policy | clicks (mean +- sd) | click rate | regret | clicks at 1/4, 1/2, 3/4 |", "|---|---:|---:|---:|---|"]
    for n, r in sim["policies"].items():
        marks = ", ".join(f"{v:.0f}" for v in list(r["cumulative_clicks_at"].values())[:3])
        lines.append(f"| {n} | {r['clicks_mean']:.1f} +- {r['clicks_sd']:.1f} | {_pct(r['click_rate'])} | "
                     f"{r['regret_mean']:.1f} | {marks} |")
    return "\n".join(lines) + "\n"


def write_bandit_report(report: dict[str, Any], json_path: str | Path, command: str = "") -> Path:
    """The JSON report and a Markdown table beside it (``.md``); returns the Markdown path."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    if command:
        report = {**report, "command": command}
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md = json_path.with_suffix(".md")
    md.write_text(markdown_report(report), encoding="utf-8")
    return md
