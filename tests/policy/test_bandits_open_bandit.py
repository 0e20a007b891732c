"""The bandit on the Open Bandit sample (../shared/data/open-bandit): features aligned with the logs,
action distributions that OPE accepts, and (slow) the whole ``shopsage bench bandit`` report."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from shopsage.data.open_bandit import load_open_bandit
from shopsage.evaluate.bandit_bench import (
    bandit_action_distribution,
    candidate_features,
    load_affinity,
    run_bandit_bench,
    train_bandit,
)
from shopsage.evaluate.ope import EvaluationPolicy, OPEConfig
from shopsage.policy.bandits import BanditConfig


@pytest.fixture(scope="module")
def obd(data_dir: Path) -> Path:
    root = data_dir / "open-bandit"
    if not (root / "random" / "men" / "men.csv").is_file():
        pytest.skip(f"{root} is not there")
    return root


def test_affinity_rows_follow_the_logged_rows(obd: Path) -> None:
    fb = load_open_bandit(obd, "random", "men")
    aff = load_affinity(obd, "random", "men", fb.n_actions)
    assert aff.shape == (fb.n_rounds, fb.n_actions)
    with (obd / "random" / "men" / "men.csv").open(newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["timestamp"])  # the loader's order: by time, stable
    for i in (0, 1234, fb.n_rounds - 1):
        assert int(rows[i]["item_id"]) == fb.action[i]
        assert [float(rows[i][f"user-item_affinity_{a}"]) for a in range(fb.n_actions)] == aff[i].tolist()


@pytest.mark.parametrize("policy", ["linucb", "lints"])
def test_the_trained_bandit_gives_a_distribution_ope_accepts(obd: Path, policy: str) -> None:
    fb = load_open_bandit(obd, "random", "men")
    aff = load_affinity(obd, "random", "men", fb.n_actions)
    cfg = BanditConfig(policy=policy, alpha=0.05, epsilon=0.1, n_samples=20)  # type: ignore[arg-type]
    bandit = train_bandit(fb, aff, np.arange(2000), cfg)
    assert bandit.n_updates == 2000
    clicked = fb.action[:2000][fb.reward[:2000] > 0]
    # the item weights are the click rates shrunk by reg: a clicked item scores above a never-clicked one
    never = np.setdiff1d(np.arange(fb.n_actions), fb.action[:2000][fb.reward[:2000] > 0])
    assert bandit.theta[clicked].min() > bandit.theta[never].max()
    dist = bandit_action_distribution(bandit, aff[2000:2050], fb.n_positions, seed=0)
    assert dist.shape == (50, fb.n_actions, fb.n_positions)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    assert dist.min() >= 0.1 / fb.n_actions - 1e-12
    EvaluationPolicy(action_dist=dist)  # validated as OPE's input
    assert candidate_features(aff[0]).shape == (fb.n_actions, fb.n_actions + 1)


@pytest.mark.slow
def test_bench_bandit_reports_every_part(obd: Path) -> None:
    report = run_bandit_bench(obd, "men", BanditConfig(alpha=0.05), OPEConfig(n_bootstrap=50), sim_steps=500, sim_seeds=2)
    assert set(report["ope"]) == {"from_random", "from_bts"}
    for est in report["ope"]["from_random"].values():
        assert est["snips"]["ci_low"] <= est["snips"]["estimate"] <= est["snips"]["ci_high"]
    assert report["on_policy"]["random"]["rows"] == 5000
    assert set(report["replay"]) == set(report["simulator"]["policies"]) == {"linucb", "lints", "epsilon_greedy",
                                                                            "most_clicked"}
