"""Off-policy evaluation: estimators against hand-computed values, against a known truth, the BTS Monte
Carlo against numerical integration, the Open Bandit loader on the real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats
from typer.testing import CliRunner

from shopsage.data.logged_feedback import LoggedFeedback
from shopsage.data.open_bandit import (
                                       bts_action_distribution,
                                       load_bts_prior,
                                       load_open_bandit,
                                       uniform_action_distribution,
)
from shopsage.errors import ValidationError
from shopsage.evaluate.ope import (
                                   EvaluationPolicy,
                                   OPEConfig,
                                   bootstrap_interval,
                                   effective_sample_size,
                                   estimate_policy_value,
)
from shopsage.evaluate.ope_bench import on_policy_truth
from shopsage.evaluate.reward_model import fit_reward_model

# --- a tiny log, every value worked out by hand ---------------------------------------------------
# 2 items, 2 positions. Rows (item a, position k, reward r, logging propensity p):
#   0: a=0 k=0 r=1 p=0.50      1: a=1 k=0 r=0 p=0.50      2: a=1 k=1 r=1 p=0.25      3: a=0 k=1 r=0 p=0.75
# Evaluated policy (context-free): position 0 shows item 0 w.p. 0.8, item 1 w.p. 0.2; position 1: 0.5 / 0.5.
# Weights w = pi_e / p: 0.8/0.5 = 1.6, 0.2/0.5 = 0.4, 0.5/0.25 = 2.0, 0.5/0.75 = 2/3 (sum 14/3).
# Reward model q(a, k) (same for every row): q(0,0)=0.6 q(1,0)=0.3 q(0,1)=0.4 q(1,1)=0.2.
TINY_DIST = np.array([[0.8, 0.5],
                      [0.2, 0.5]])  # (n_actions, n_positions)
TINY_Q = np.array([[0.6, 0.4],
                   [0.3, 0.2]])     # (n_actions, n_positions)
# ips   = (1.6*1 + 0.4*0 + 2.0*1 + 2/3*0) / 4 = 3.6 / 4 = 0.9
# snips = 3.6 / (14/3) = 10.8 / 14 = 0.771428571...
# dm    = rows at k=0: 0.8*0.6 + 0.2*0.3 = 0.54; rows at k=1: 0.5*0.4 + 0.5*0.2 = 0.30; (2*0.54 + 2*0.30)/4 = 0.42
# dr    = dm + (1.6*(1-0.6) + 0.4*(0-0.3) + 2.0*(1-0.2) + 2/3*(0-0.4)) / 4
#       = 0.42 + (0.64 - 0.12 + 1.6 - 0.2666667) / 4 = 0.42 + 0.4633333 = 0.8833333
# switch_dr, tau = 1.8: row 2 (w = 2.0) keeps the model only: 0.42 + (0.64 - 0.12 - 0.2666667) / 4 = 0.4833333
# dr_os, lambda = 4: shrunk w = 4w/(w^2+4): 6.4/6.56 = 0.9756098, 1.6/4.16 = 0.3846154, 8/8 = 1.0, (8/3)/(40/9) = 0.6
#       = 0.42 + (0.9756098*0.4 - 0.3846154*0.3 + 1.0*0.8 - 0.6*0.4) / 4 = 0.42 + 0.8348593/4 = 0.6287148
# ESS of w = (14/3)^2 / (2.56 + 0.16 + 4 + 4/9) = 196 / 64.48 = 3.0397022
HAND = {"ips": 0.9, "snips": 10.8 / 14, "dm": 0.42, "dr": 0.42 + 1.8533333333 / 4,
        "switch_dr": 0.42 + 0.2533333333 / 4, "dr_os": 0.42 + (6.4 / 6.56 * 0.4 - 1.6 / 4.16 * 0.3 + 0.8 - 0.24) / 4}


def _tiny() -> tuple[LoggedFeedback, np.ndarray]:
    fb = LoggedFeedback(action=np.array([0, 1, 1, 0]), position=np.array([0, 0, 1, 1]),
                        reward=np.array([1.0, 0.0, 1.0, 0.0]), pscore=np.array([0.5, 0.5, 0.25, 0.75]),
                        n_actions=2, n_positions=2)
    return fb, np.broadcast_to(TINY_Q, (4, 2, 2)).copy()


def test_estimators_match_hand_computed_values() -> None:
    fb, q_hat = _tiny()
    cfg = OPEConfig(switch_tau=1.8, shrinkage_lambda=4.0, n_bootstrap=200)
    got = estimate_policy_value(fb, EvaluationPolicy(action_dist=TINY_DIST), q_hat, cfg)
    for name, value in HAND.items():
        assert got[name].estimate == pytest.approx(value, abs=1e-7), name
    assert HAND["dr"] == pytest.approx(0.8833333, abs=1e-6) and HAND["dr_os"] == pytest.approx(0.6287148, abs=1e-6)
    assert got["ips"].ess == pytest.approx(196 / 64.48) and got["snips"].ess == got["ips"].ess
    assert got["dm"].ess == pytest.approx(4.0) and got["ips"].max_weight == pytest.approx(2.0)
    assert got["switch_dr"].max_weight == pytest.approx(1.6)  # the 2.0 weight is switched off
    # the same evaluated policy given as per-row distributions or as pi_e of the logged rows only
    per_row = EvaluationPolicy(action_dist=np.broadcast_to(TINY_DIST, (4, 2, 2)).copy())
    assert estimate_policy_value(fb, per_row, q_hat, cfg)["dr"].estimate == pytest.approx(HAND["dr"])
    logged_only = EvaluationPolicy(pi_logged=np.array([0.8, 0.2, 0.5, 0.5]))
    only_ips = estimate_policy_value(fb, logged_only, config=OPEConfig(estimators=["ips", "snips"], n_bootstrap=50))
    assert only_ips["snips"].estimate == pytest.approx(HAND["snips"])
    with pytest.raises(ValidationError, match="full action_dist"):
        estimate_policy_value(fb, logged_only, q_hat, cfg)


def test_inputs_are_validated_with_a_way_out() -> None:
    with pytest.raises(ValidationError, match=r"pscore .* \(0, 1\]"):
        LoggedFeedback(action=np.array([0]), position=np.array([0]), reward=np.array([1.0]),
                       pscore=np.array([0.0]), n_actions=1, n_positions=1)
    with pytest.raises(ValidationError, match="vocabulary"):
        LoggedFeedback(action=np.array([3]), position=np.array([0]), reward=np.array([1.0]),
                       pscore=np.array([0.5]), n_actions=2, n_positions=1)
    with pytest.raises(ValidationError, match="summing to 1"):
        EvaluationPolicy(action_dist=np.array([[0.5], [0.4]]))
    fb, _ = _tiny()
    with pytest.raises(ValidationError, match="fit_reward_model"):
        estimate_policy_value(fb, EvaluationPolicy(action_dist=TINY_DIST))


def test_bootstrap_matches_normal_theory_for_a_mean_and_is_seeded() -> None:
    values = np.random.default_rng(3).exponential(size=4000)
    low, high = bootstrap_interval(values[None, :], np.ones((1, 4000)), n_bootstrap=2000, seed=1)
    half = 1.959964 * values.std(ddof=1) / np.sqrt(len(values))
    assert low[0] == pytest.approx(values.mean() - half, rel=0.01)
    assert high[0] == pytest.approx(values.mean() + half, rel=0.01)
    again = bootstrap_interval(values[None, :], np.ones((1, 4000)), n_bootstrap=2000, seed=1)
    other = bootstrap_interval(values[None, :], np.ones((1, 4000)), n_bootstrap=2000, seed=2)
    assert again[0][0] == low[0] and other[0][0] != low[0]
    assert effective_sample_size(np.ones(10)) == pytest.approx(10) and effective_sample_size(np.zeros(3)) == 0


# --- a synthetic log whose true policy value is known exactly --------------------------------------
# 5 items, 2 positions, one binary context x (P(x=1) = 0.3). Click probability
# sigmoid(b_a + c_k + d x): a logistic model in [x, one-hot(a)] per position, so the reward model is
# well specified. Logging and evaluated policies depend on x; the truth is the exact expectation
# sum_x P(x) 1/2 sum_k sum_a pi_e(a | x, k) q(x, a, k), one row per position as in the log.
B = np.array([-2.0, -1.5, -1.0, -2.5, -0.5])
C = np.array([0.0, -0.7])
D = 0.8
P_X1 = 0.3


def _click_prob(x: np.ndarray) -> np.ndarray:
    """(len(x), 5 items, 2 positions)."""
    return 1 / (1 + np.exp(-(B[None, :, None] + C[None, None, :] + D * x[:, None, None])))


def _policy(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """(len(x), 5, 2): softmax over items of logits[x], the same at both positions."""
    p = np.exp(logits[x])
    p /= p.sum(axis=1, keepdims=True)
    return np.repeat(p[:, :, None], 2, axis=2)


LOGGING = np.array([[1.0, 0.5, 0.0, 0.2, -0.5], [0.0, 0.3, 0.6, -0.2, 0.4]])
TARGET = np.array([[-0.5, 0.0, 0.5, -1.0, 1.5], [0.5, -0.5, 1.0, -1.0, 1.2]])


def test_estimators_recover_a_known_policy_value() -> None:
    rng = np.random.default_rng(0)
    n_impressions = 15_000
    x = (rng.random(n_impressions) < P_X1).astype(np.int64)
    x_rows = np.repeat(x, 2)                                        # one row per (impression, position)
    position = np.tile([0, 1], n_impressions)
    pi_0 = _policy(x_rows, LOGGING)
    rows = np.arange(len(x_rows))
    cdf = np.cumsum(pi_0[rows, :, position], axis=1)
    action = np.minimum((rng.random(len(rows))[:, None] > cdf).sum(axis=1), 4)
    q = _click_prob(x_rows)
    reward = (rng.random(len(rows)) < q[rows, action, position]).astype(np.float64)
    fb = LoggedFeedback(action=action, position=position, reward=reward, pscore=pi_0[rows, action, position],
                        n_actions=5, n_positions=2, context=x_rows[:, None].astype(np.float64))
    xs = np.array([0, 1])
    per_x = (_policy(xs, TARGET) * _click_prob(xs)).sum(axis=1).mean(axis=1)  # (2,) value given x
    truth = (1 - P_X1) * per_x[0] + P_X1 * per_x[1]

    # tau and lambda small enough that switch_dr and dr_os differ from dr here (weights reach 6.6)
    cfg = OPEConfig(n_bootstrap=1000, seed=7, reg=1e-4, switch_tau=3.0, shrinkage_lambda=10.0)
    q_hat = fit_reward_model(fb, cfg)
    got = estimate_policy_value(fb, EvaluationPolicy(action_dist=_policy(x_rows, TARGET)), q_hat, cfg)
    for name in ("ips", "snips", "dr"):  # unbiased (snips: consistent): the interval covers the truth
        assert got[name].ci_low <= truth <= got[name].ci_high, (name, got[name], truth)
        assert got[name].ci_high - got[name].ci_low < 0.2 * truth, name
    for name in ("dm", "switch_dr", "dr_os"):  # biased only through the (well-specified) model: close
        assert got[name].estimate == pytest.approx(truth, rel=0.05), (name, got[name], truth)
    # logged (on-policy) click rate is a different number: the evaluation is not trivially the log's mean
    assert abs(reward.mean() - truth) > 5 * (got["dr"].ci_high - got["dr"].ci_low) / 4


# --- Bernoulli TS by Monte Carlo ---------------------------------------------------------------------
def _exact_rank_probability(alpha: np.ndarray, beta: np.ndarray, item: int) -> float:
    """P(item has the highest theta) = integral of f_item(t) prod_{j != item} F_j(t) dt."""
    others = [j for j in range(len(alpha)) if j != item]

    def density(t: float) -> float:
        return stats.beta.pdf(t, alpha[item], beta[item]) * np.prod([stats.beta.cdf(t, alpha[j], beta[j])
                                                                      for j in others])
    return integrate.quad(density, 0, 1, limit=200)[0]


def test_bts_monte_carlo_is_a_valid_distribution_close_to_the_exact_one() -> None:
    alpha = np.array([3.0, 8.0, 2.0, 5.0, 1.0])
    beta = np.array([30.0, 40.0, 10.0, 60.0, 9.0])
    n_sim = 40_000
    dist = bts_action_distribution(alpha, beta, n_positions=3, n_sim=n_sim, seed=11)
    assert dist.shape == (5, 3)
    np.testing.assert_allclose(dist.sum(axis=0), 1.0)          # each position shows exactly one item
    assert np.all(dist.sum(axis=1) <= 1.0 + 1e-12)              # an item fills at most one position per list
    for item in range(5):
        exact = _exact_rank_probability(alpha, beta, item)
        se = np.sqrt(exact * (1 - exact) / n_sim)
        assert abs(dist[item, 0] - exact) < 4 * se + 1e-9, (item, dist[item, 0], exact)
    assert np.array_equal(dist, bts_action_distribution(alpha, beta, 3, n_sim=n_sim, seed=11))
    assert not np.array_equal(dist, bts_action_distribution(alpha, beta, 3, n_sim=n_sim, seed=12))
    with pytest.raises(ValidationError, match="n_positions"):
        bts_action_distribution(alpha, beta, n_positions=6)


def test_on_policy_truth_uses_a_wilson_interval() -> None:
    mean, low, high = on_policy_truth(np.r_[np.ones(4), np.zeros(996)])
    assert mean == 0.004
    # Wilson 95% for 4/1000: centre (4 + 1.92)/(1000 + 3.84), half-width 1.96/1003.84 * sqrt(4*996/1000 + 0.96)
    z = 1.959964
    centre = (4 + z * z / 2) / (1000 + z * z)
    half = z / (1000 + z * z) * np.sqrt(4 * 996 / 1000 + z * z / 4)
    assert (low, high) == (pytest.approx(centre - half), pytest.approx(centre + half))


# --- the real Open Bandit files ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def open_bandit(data_dir: Path) -> Path:
    root = data_dir / "open-bandit"
    if not (root / "prior_bts.yaml").is_file():
        pytest.skip(f"{root} is absent (set SHOPSAGE_DATA_DIR to the folder holding open-bandit/)")
    return root


def test_loader_reads_the_real_files(open_bandit: Path) -> None:
    random_men = load_open_bandit(open_bandit, "random", "men")
    assert (random_men.n_rounds, random_men.n_actions, random_men.n_positions) == (10_000, 34, 3)
    assert random_men.reward.sum() == 46                      # README: on-policy click rate 0.00460
    np.testing.assert_allclose(random_men.pscore, 1 / 34)     # uniform: 1/34 at every position
    assert set(np.unique(random_men.position)) == {0, 1, 2}
    assert random_men.context is not None and set(np.unique(random_men.context)) == {0.0, 1.0}
    assert random_men.action_context is not None and random_men.action_context.shape == (34, 4)
    bts_all = load_open_bandit(open_bandit, "bts", "all")
    assert bts_all.n_actions == 80 and bts_all.reward.mean() == pytest.approx(0.0042)
    assert bts_all.pscore.min() == pytest.approx(4.5e-05)
    alpha, beta = load_bts_prior(open_bandit, "all")
    assert alpha.shape == beta.shape == (80,)
    dist = bts_action_distribution(alpha, beta, n_sim=5_000, seed=0)
    np.testing.assert_allclose(dist.sum(axis=0), 1.0)
    # The logged BTS updated its Beta parameters as clicks came in (its propensities vary over the week), so
    # the prior's distribution is not the logged one; but the prior's favourites are shown most in its logs
    # (rank correlation ~0.7; ~0 if the prior's order did not follow the item ids).
    shown = np.bincount(bts_all.action, minlength=80)
    assert stats.spearmanr(shown, dist.sum(axis=1)).statistic > 0.4
    with pytest.raises(ValidationError, match="campaign"):
        load_open_bandit(open_bandit, "random", "women")  # type: ignore[arg-type]


def test_bench_ope_command_writes_the_protocol_report(open_bandit: Path, tmp_path: Path) -> None:
    """`shopsage bench ope` end to end on a 2,000-row cut of the men campaign (same files, fewer rows)."""
    from shopsage.cli.main import app

    cut = tmp_path / "open-bandit"
    for policy in ("random", "bts"):
        folder = cut / policy / "men"
        folder.mkdir(parents=True)
        shutil.copy(open_bandit / policy / "men" / "item_context.csv", folder / "item_context.csv")
        lines = (open_bandit / policy / "men" / "men.csv").read_text(encoding="utf-8").splitlines(keepends=True)
        (folder / "men.csv").write_text("".join(lines[:2001]), encoding="utf-8")
    shutil.copy(open_bandit / "prior_bts.yaml", cut / "prior_bts.yaml")
    out = tmp_path / "ope.json"
    result = CliRunner().invoke(app, ["bench", "ope", "--data", str(cut), "--campaign", "men", "--json", str(out),
                                      "--bootstrap", "100", "--n-sim", "2000"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report["results"]) == {"bts_from_random", "random_from_bts"}
    keys = {"estimate", "ci_low", "ci_high", "truth", "truth_ci_low", "truth_ci_high", "relative_error", "ess"}
    for direction in report["results"].values():
        assert set(direction) == {"ips", "snips", "dm", "dr", "switch_dr", "dr_os"}
        for row in direction.values():
            assert keys <= set(row) and row["ci_low"] <= row["ci_high"]
    uniform = report["results"]["random_from_bts"]["ips"]
    assert uniform["truth"] == pytest.approx(np.mean(load_open_bandit(cut, "random", "men").reward))
    assert "| random_from_bts | dr |" in out.with_suffix(".md").read_text(encoding="utf-8")
    assert uniform_action_distribution(34).sum(axis=0) == pytest.approx(np.ones(3))
