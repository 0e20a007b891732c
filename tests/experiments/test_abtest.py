"""The A/B analysis against hand-computed values, statsmodels, brute force and a small simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats import proportion as sm_proportion
from statsmodels.stats.power import NormalIndPower

from shopsage.evaluate.abtest import (
    SRM_THRESHOLD,
    analyse,
    compare,
    msprt_boundary_z,
    msprt_log_lambda,
    plan_sample_size,
    ratio_estimate,
    sequential_path,
    srm_check,
)
from shopsage.evaluate.abtest_data import Contributions, contributions_from_rows
from shopsage.feedback.records import AttributedEvent, ExposureRow


def test_delta_method_interval_on_a_tiny_table_matches_the_hand_computation() -> None:
    # units: clicks y, impressions x. R = 4/8 = 0.5; mean x 2, mean y 1; var y = var x = cov = 0.5 (ddof 0)
    # Var(R) = (0.5 - 2 * 0.5 * 0.5 + 0.25 * 0.5) / (4 * 2^2) = 0.125 / 16 = 0.0078125
    est = ratio_estimate(np.array([1.0, 0.0, 2.0, 1.0]), np.array([2.0, 1.0, 3.0, 2.0]))
    assert est.value == pytest.approx(0.5)
    assert est.variance == pytest.approx(0.0078125)
    low, high = est.interval(0.05)
    assert (low, high) == pytest.approx((0.5 - 1.959964 * 0.0883883, 0.5 + 1.959964 * 0.0883883), abs=1e-6)


def test_with_one_trial_per_unit_the_comparison_is_statsmodels_wald_test_of_two_proportions() -> None:
    rng = np.random.default_rng(3)
    a, b = (rng.random(4000) < 0.10).astype(float), (rng.random(5000) < 0.115).astype(float)
    cmp = compare(ratio_estimate(a, np.ones_like(a)), ratio_estimate(b, np.ones_like(b)))
    low, high = sm_proportion.confint_proportions_2indep(b.sum(), len(b), a.sum(), len(a), method="wald", compare="diff")
    assert cmp.diff == pytest.approx(b.mean() - a.mean())
    assert cmp.diff_ci == pytest.approx((low, high), rel=1e-9)
    ref = sm_proportion.test_proportions_2indep(b.sum(), len(b), a.sum(), len(a), method="wald", compare="diff")
    assert cmp.p_value == pytest.approx(ref.pvalue, rel=1e-6)


def test_relative_lift_interval_covers_the_ratio_of_rates() -> None:
    a = ratio_estimate(np.array([10.0] * 50), np.array([100.0] * 50))
    b = ratio_estimate(np.array([11.0] * 50 + [9.0] * 50), np.array([100.0] * 100))
    cmp = compare(a, b)
    assert cmp.lift == pytest.approx(0.0)
    assert cmp.lift_ci[0] < 0 < cmp.lift_ci[1]


def test_sample_ratio_check_flags_a_broken_split_and_not_a_fair_one() -> None:
    assert srm_check([5000, 5400], [0.5, 0.5])[1] < SRM_THRESHOLD
    assert srm_check([5000, 5020], [0.5, 0.5])[1] > 0.5
    assert srm_check([2000, 8000], [0.2, 0.8])[1] == pytest.approx(1.0)
    assert srm_check([5000, 5000], [0.2, 0.8])[1] < SRM_THRESHOLD


def test_msprt_lambda_is_the_normal_mixture_formula_and_rejects_beyond_its_boundary() -> None:
    diff, var, tau2 = 0.01, 1e-5, 4e-5
    want = math.sqrt(var / (var + tau2)) * math.exp(tau2 * diff ** 2 / (2 * var * (var + tau2)))
    assert float(np.exp(msprt_log_lambda(diff, var, tau2))) == pytest.approx(want)
    b = msprt_boundary_z(var, tau2, 0.05)
    assert float(np.exp(-msprt_log_lambda(1.001 * b * math.sqrt(var), var, tau2))) < 0.05
    assert float(np.exp(-msprt_log_lambda(0.999 * b * math.sqrt(var), var, tau2))) > 0.05


def test_plan_agrees_with_statsmodels_for_one_look_and_costs_more_for_any_number_of_looks() -> None:
    p = plan_sample_size(0.1, 0.05, alpha=0.05, power=0.8)
    sd = math.sqrt((0.1 * 0.9 + 0.105 * 0.895) / 2)  # the two rates' binomial variances, averaged
    d = 0.005 / sd
    assert p.unit_sd == pytest.approx(sd)
    assert p.fixed_units == math.ceil(NormalIndPower().solve_power(d, alpha=0.05, power=0.8))
    assert p.fixed_units == pytest.approx(2 * (1.959964 + 0.841621) ** 2 / d ** 2, rel=1e-3)
    assert 1.3 * p.fixed_units < p.sequential_units < 3 * p.fixed_units
    # at the planned size, the last look alone rejects with the planned power
    var = 2 * sd ** 2 / p.sequential_units
    z = msprt_boundary_z(var, 0.005 ** 2, 0.05)
    from scipy.stats import norm
    assert float(norm.sf(z - 0.005 / math.sqrt(var))) == pytest.approx(0.8, abs=0.002)


def _brute(c: Contributions, upto: int, k: int) -> tuple[float, float, int]:
    rows = np.arange(upto + 1)
    sel = c.variant[rows] == k
    units = np.unique(c.unit[rows][sel])
    y = np.array([c.columns["clicks"][rows][sel & (c.unit[rows] == u)].sum() for u in units])
    x = np.array([c.columns["impressions"][rows][sel & (c.unit[rows] == u)].sum() for u in units])
    est = ratio_estimate(y, x)
    return est.value, est.variance, len(units)


def test_sequential_path_equals_recomputing_every_look_from_scratch() -> None:
    rng = np.random.default_rng(5)
    n = 600
    unit = rng.integers(0, 150, n)  # units come back, interleaved
    variant = (unit % 2).astype(np.int64)
    c = Contributions.from_arrays(unit, variant, ["a", "b"], impressions=rng.integers(1, 20, n),
                                  sessions=np.ones(n), clicks=rng.integers(0, 3, n))
    path = sequential_path(c, "ctr", 0, 1, tau=0.02, peek_every=100, min_units=10)
    looks = np.searchsorted(np.cumsum(c.columns["sessions"]), np.arange(100, n + 1, 100))
    assert len(path.sessions) == len(looks)
    for i, row in enumerate(looks):
        ra, va, na = _brute(c, int(row), 0)
        rb, vb, nb = _brute(c, int(row), 1)
        assert (path.units_a[i], path.units_b[i]) == (na, nb)
        assert path.diff[i] == pytest.approx(rb - ra)
        assert path.variance[i] == pytest.approx(va + vb)
    assert np.all(np.diff(path.p_always_valid) <= 0)  # a running minimum


def test_contributions_from_store_rows_count_answers_sessions_and_attributed_events() -> None:
    e = [ExposureRow("r1", 1, "recommendation", "for_you", "exp", "control", "u1", "s1", "a", 1.0, 10.0),
         ExposureRow("r1", 2, "recommendation", "for_you", "exp", "control", "u1", "s1", "b", 1.0, 10.0),
         ExposureRow("r2", 1, "recommendation", "for_you", "exp", "control", "u1", "s1", "c", 1.0, 20.0),
         ExposureRow("r3", 1, "recommendation", "for_you", "exp", "treatment", None, "s9", "a", 1.0, 15.0),
         ExposureRow("r4", 1, "recommendation", "for_you", "exp", "other", None, "s8", "a", 1.0, 16.0),
         ExposureRow("r5", 1, "recommendation", "for_you", "exp", "control", None, None, "a", 1.0, 17.0)]
    a = [AttributedEvent("r1", 2, "click", None, 11.0, "u1", "s1", "b"),
         AttributedEvent("r1", 2, "add_to_cart", 1.0, 12.0, "u1", "s1", "b"),
         AttributedEvent("r1", 2, "purchase", 25.5, 13.0, "u1", "s1", "b"),
         AttributedEvent("r3", 1, "click", None, 16.0, None, "s9", "a")]
    c, skipped = contributions_from_rows(e, a, ["control", "treatment"])
    assert skipped == 2
    assert c.unit.tolist() == [0, 1, 0] and c.variant.tolist() == [0, 1, 0]  # r1, r3, r2 by time
    assert c.columns["impressions"].tolist() == [2, 1, 1]
    assert c.columns["sessions"].tolist() == [1, 1, 0]  # r2 is the same session as r1
    assert c.columns["clicks"].tolist() == [1, 1, 0]
    assert c.columns["purchases"].tolist() == [1, 0, 0] and c.columns["revenue"].tolist() == [25.5, 0, 0]
    t = c.totals()
    assert t.column("impressions").tolist() == [3, 1] and t.variant.tolist() == [0, 1]


def test_analysis_reports_every_metric_and_decides_on_a_clear_difference() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    variant = rng.integers(0, 2, n)
    clicks = rng.binomial(20, np.where(variant == 1, 0.06, 0.04))
    c = Contributions.from_arrays(np.arange(n), variant, ["control", "treatment"], impressions=np.full(n, 20.0),
                                  sessions=np.ones(n), clicks=clicks)
    r = analyse(c, [0.5, 0.5], "ctr", baseline=0.04, min_lift=0.1)
    assert set(r["variants"]["control"]) >= {"units", "ctr", "add_to_cart_rate", "conversion_rate", "revenue_per_session"}
    s = r["comparisons"]["treatment"]["sequential"]
    assert s["decision"] == "better" and s["p_always_valid"] < 0.05
    ctr = r["comparisons"]["treatment"]["metrics"]["ctr"]
    assert ctr["lift_ci_low"] < 0.5 < ctr["lift_ci_high"]
    assert not r["srm"]["mismatch"]


def test_plans_beyond_any_traffic_are_refused_and_huge_effects_need_almost_nothing() -> None:
    from shopsage.errors import ValidationError

    with pytest.raises(ValidationError, match="plan for a larger min_lift"):
        plan_sample_size(1e-9, 0.001)
    tiny = plan_sample_size(5.0, 10.0, unit_sd=0.1)
    assert tiny.fixed_units == tiny.sequential_units == 2
