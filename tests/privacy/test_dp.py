"""Differentially private counts: the ledger and its budget, contribution bounds, the noise's scale."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from shopsage.config import PrivacyBudget
from shopsage.errors import PrivacyBudgetError
from shopsage.privacy.dp import PrivacyLedger, clamped_counts, dp_counts, ledger_path

DAY = 86_400.0


def _budget(**kw: float) -> PrivacyBudget:
    return PrivacyBudget.model_validate({"epsilon_per_release": 1.0, "epsilon_per_period": 3.0, "period_days": 7,
                                         "max_contributions": 2, **kw})


def test_ledger_records_every_release_durably_and_refuses_past_the_period_budget(tmp_path: Path) -> None:
    ledger = PrivacyLedger.of_home(tmp_path, _budget())
    t0 = 1_700_000_000.0
    for i in range(3):
        ledger.spend("trending counts", 1.0, now=t0 + i * DAY, scale=2.0)
    # a second ledger object on the same file (another worker, a restart) sees the same releases
    again = PrivacyLedger(ledger_path(tmp_path), _budget())
    assert [(r.what, r.epsilon, r.at, r.details["scale"]) for r in again.releases()] == \
        [("trending counts", 1.0, t0 + i * DAY, 2.0) for i in range(3)]
    assert again.spent(now=t0 + 2 * DAY) == 3.0
    with pytest.raises(PrivacyBudgetError, match=r"exhausted.*3 of 3.*last 7 days.*frees up at 2023-11-21"):
        again.spend("activity report", 1.0, now=t0 + 3 * DAY)
    assert len(again.releases()) == 3  # a refused release is not recorded
    # the first release ages out of the rolling period: budget for one more
    again.spend("activity report", 1.0, now=t0 + 7 * DAY + 1)
    assert again.spent(now=t0 + 7 * DAY + 1) == 3.0
    with pytest.raises(PrivacyBudgetError, match="epsilon_per_release"):
        again.spend("greedy", 1.5, now=t0 + 30 * DAY)


def test_contributions_are_clamped_per_shopper() -> None:
    # shopper 0 touches items 0,1,2,1 (latest distinct: 1 then 2), shopper 1 item 0 five times, shopper 2 item 3
    owners = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 2])
    items = np.array([0, 1, 2, 1, 0, 0, 0, 0, 0, 3])
    assert clamped_counts(owners, items, 2).tolist() == [1, 1, 1, 1]
    assert clamped_counts(owners, items, 1).tolist() == [1, 1, 0, 1]  # shopper 0: only their latest, item 1
    assert clamped_counts(owners, items, 5, n_keys=6).tolist() == [2, 1, 1, 1, 0, 0]
    # the L1 change of removing any one shopper never exceeds the bound
    rng = np.random.default_rng(0)
    owners, items = rng.integers(0, 50, 2000), rng.integers(0, 30, 2000)
    full = clamped_counts(owners, items, 3, 30)
    for who in range(50):
        keep = owners != who
        assert np.abs(full - clamped_counts(owners[keep], items[keep], 3, 30)).sum() <= 3


def test_noise_has_the_scale_of_the_contribution_bound_over_epsilon() -> None:
    # discrete Laplace with scale b = k / epsilon: P(Z = z) ~ alpha^|z|, alpha = exp(-1/b)
    k, eps, n = 4, 0.5, 100_000
    b = k / eps
    z = dp_counts(np.zeros(n), eps, k).astype(np.float64)
    alpha = math.exp(-1 / b)
    var = 2 * alpha / (1 - alpha) ** 2
    # sampling error of the variance: sd = var * sqrt((kurtosis - 1) / n), about 0.7% here; 5% is 7 sd away
    assert abs(z.var() / var - 1) < 0.05, (z.var(), var)
    assert abs(z.mean()) < 10 * math.sqrt(var / n)
    # the tail: P(|Z| >= t) = 2 alpha^t / (1 + alpha)
    for t in (int(b), int(3 * b)):
        expected = 2 * alpha ** t / (1 + alpha)
        assert abs((np.abs(z) >= t).mean() - expected) < 10 * math.sqrt(expected / n), t
    # twice the epsilon: half the scale (a wrong sensitivity would fail the first check)
    z2 = dp_counts(np.zeros(n), 2 * eps, k).astype(np.float64)
    alpha2 = math.exp(-2 * eps / k)
    assert abs(z2.var() / (2 * alpha2 / (1 - alpha2) ** 2) - 1) < 0.05


def test_counts_of_public_keys_keep_every_key() -> None:
    out = dp_counts({"view": 5000, "click": 0, "purchase": 30}, 1.0, 1)
    assert set(out) == {"view", "click", "purchase"}
    assert abs(out["view"] - 5000) < 50  # scale 1: 50 is a 1e-21 event


def test_private_keys_seen_by_one_shopper_are_not_released() -> None:
    # 2000 queries typed by one shopper each, one typed by 5000 shoppers
    counts = {f"rare query {i}": 1 for i in range(2000)} | {"drill": 5000}
    released = dp_counts(counts, 1.0, 3, delta=1e-6)
    assert "drill" in released and abs(released["drill"] - 5000) < 100
    assert not any(k.startswith("rare") for k in released)
    # a key well above the threshold (about 1 + 3 ln(3e6) = 46) is released
    assert "mid" in dp_counts({"mid": 200}, 1.0, 3, delta=1e-6)
