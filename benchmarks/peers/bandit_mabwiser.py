"""Peer check (not part of `make test`): ShopSage's linear bandit against MABWiser 2.7.4's LinUCB.

Two measurements, the basis of the choice in docs/architecture.md ("Contextual bandits"):

1. Regret on a contextual problem with a known truth (three kinds of request, four items, the best
   item depends on the request; the problem of tests/policy/test_bandits_replay.py), ``--steps``
   decisions, ``--seeds`` runs each: MABWiser's LinUCB (one ridge regression per arm on the
   context) against ShopSage's LinUCB in its disjoint form (``disjoint_features``), the same alpha,
   epsilon 0 (the same algorithm: the regrets should agree), and with the epsilon 0.05 it serves.
2. Time of one decision and its update at the explore stage's size: 100 candidates, 6 features.
   ShopSage scores the candidates with shared weights; MABWiser needs one arm per candidate and the
   request's context (its LinUCB has no per-item features).

MABWiser is a peer, not a dependency: ``pip install --no-deps --target /tmp/mabw mabwiser==2.7.4``,
then ``PYTHONPATH=/tmp/mabw .venv/bin/python benchmarks/peers/bandit_mabwiser.py --json
benchmarks/results/bandit-mabwiser.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from mabwiser.mab import MAB, LearningPolicy

from shopsage.policy.bandits import BanditConfig, LinearBandit, disjoint_features

CONTEXTS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
CONTEXT_P = np.array([0.5, 0.3, 0.2])
TRUE = np.array([[0.10, 0.30, 0.05, 0.20], [0.40, 0.05, 0.10, 0.15], [0.20, 0.20, 0.60, 0.10]])
K = 4


def _regret_ours(steps: int, seed: int, alpha: float, epsilon: float) -> float:
    rng = np.random.default_rng(seed)
    bandit = LinearBandit(K * 3, BanditConfig(alpha=alpha, epsilon=epsilon, seed=seed))
    regret = 0.0
    for _ in range(steps):
        c = int(rng.choice(3, p=CONTEXT_P))
        X = disjoint_features(K, CONTEXTS[c])
        a = int(bandit.choose(X, 1, rng).shown[0])
        bandit.update(X[a], float(rng.random() < TRUE[c, a]))
        regret += TRUE[c].max() - TRUE[c, a]
    return regret


def _regret_mabwiser(steps: int, seed: int, alpha: float) -> float:
    """MABWiser's LinUCB on ``[1, context]``: the intercept that ``disjoint_features`` gives ours."""
    rng = np.random.default_rng(seed)
    contexts = np.column_stack([np.ones(len(CONTEXTS)), CONTEXTS])
    mab = MAB(arms=list(range(K)), learning_policy=LearningPolicy.LinUCB(alpha=alpha, l2_lambda=1.0), seed=seed)
    mab.fit([0], [0.0], contexts[:1])  # MABWiser needs a first fit; one row of reward 0
    regret = 0.0
    for _ in range(steps):
        c = int(rng.choice(3, p=CONTEXT_P))
        a = int(mab.predict(contexts[c][None, :]))
        mab.partial_fit([a], [float(rng.random() < TRUE[c, a])], contexts[c][None, :])
        regret += TRUE[c].max() - TRUE[c, a]
    return regret


def _timing(calls: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    n_cand, dim = 100, 6
    ours = LinearBandit(dim, BanditConfig(alpha=1.0))
    ours.update_many(rng.random((500, dim)), rng.integers(0, 2, 500).astype(float))
    X = rng.random((n_cand, dim))
    start = time.perf_counter()
    for _ in range(calls):
        c = ours.choose(X, 2, rng)
        ours.update(X[c.shown[0]], 0.0)
    ours_us = 1e6 * (time.perf_counter() - start) / calls
    mab = MAB(arms=list(range(n_cand)), learning_policy=LearningPolicy.LinUCB(alpha=1.0), seed=0)
    mab.fit(rng.integers(0, n_cand, 500).tolist(), rng.integers(0, 2, 500).tolist(), rng.random((500, dim - 1)))
    ctx = rng.random((1, dim - 1))
    start = time.perf_counter()
    for _ in range(calls):
        a = mab.predict(ctx)
        mab.partial_fit([a], [0.0], ctx)
    return {"shopsage_us_per_decision": ours_us, "mabwiser_us_per_decision": 1e6 * (time.perf_counter() - start) / calls}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--alpha", type=float, default=0.3)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    out: dict[str, Any] = {"benchmark": "bandit-peer-mabwiser", "steps": args.steps, "seeds": args.seeds,
                           "alpha": args.alpha, "regret": {}}
    runs = {"shopsage_linucb_eps0": lambda s: _regret_ours(args.steps, s, args.alpha, 0.0),
            "shopsage_linucb_eps0.05": lambda s: _regret_ours(args.steps, s, args.alpha, 0.05),
            "mabwiser_linucb": lambda s: _regret_mabwiser(args.steps, s, args.alpha)}
    for name, run in runs.items():
        regrets = [run(s) for s in range(args.seeds)]
        out["regret"][name] = {"mean": float(np.mean(regrets)), "sd": float(np.std(regrets, ddof=1)), "runs": regrets}
        print(name, out["regret"][name]["mean"], "+-", out["regret"][name]["sd"])
    out["timing"] = _timing(args.calls)
    print(out["timing"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
