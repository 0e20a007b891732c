"""How many units an experiment needs: a power calculation for the test the analysis runs.

The analysis (:mod:`shopsage.evaluate.abtest`) decides by a normal-mixture mSPRT, which may be read
after every look without inflating false positives but needs more units than a single
fixed-horizon look. At size n it rejects exactly where a two-sided z-test at level
``2 * sf(boundary(n))`` would, so statsmodels' power calculation at that level, solved for n, plans
for it (:func:`plan_sample_size`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from scipy.optimize import brentq
from scipy.stats import norm

from shopsage.errors import ValidationError

__all__ = ["Plan", "plan_sample_size", "msprt_boundary_z", "MAX_PLANNED_UNITS"]

MAX_PLANNED_UNITS = 10 ** 10
"""A plan beyond this many units per variant is refused (no shop has the traffic)."""


def msprt_boundary_z(var: float, tau2: float, alpha: float) -> float:
    """The |z| = |diff| / sqrt(var) at which the mSPRT rejects when the difference has variance ``var``."""
    return math.sqrt((var + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((var + tau2) / var)))


@dataclass(frozen=True)
class Plan:
    """Units per variant: for the fixed-horizon z-test (one look) and for the mSPRT (any number of looks)."""

    fixed_units: int
    sequential_units: int
    effect_size: float
    unit_sd: float
    tau: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def plan_sample_size(baseline: float, min_lift: float, unit_sd: float | None = None, alpha: float = 0.05,
                     power: float = 0.8, ratio: float = 1.0) -> Plan:
    """Units per (baseline) variant to detect a relative lift ``min_lift`` on a metric at ``baseline``
    whose per-unit (linearised) standard deviation is ``unit_sd`` (None: ``sqrt(p (1 - p))``, one
    trial per unit). ``ratio``: units of the other variant per baseline unit. The lifted variant's sd
    is ``unit_sd * (1 + min_lift)`` (binomial: that of the lifted rate); ``Plan.unit_sd`` is the one
    sd with the same two-group variance.

    ``fixed_units`` is statsmodels' ``NormalIndPower`` answer for one two-sided look at ``alpha``.
    ``sequential_units`` is the size at which the mSPRT, looking only at the end, reaches ``power``:
    at size n it rejects exactly where a z-test at level ``2 * sf(boundary(n))`` would, so the same
    power calculation at that level, solved for n (scipy's brentq), plans for it; looking earlier
    too only adds chances to stop early."""
    from statsmodels.stats.power import NormalIndPower

    if unit_sd is None:
        treated = baseline * (1 + min_lift)
        if not 0 < baseline < 1 or treated >= 1:
            raise ValidationError(f"baseline {baseline} (and {treated:.3g} with the lift) is not a rate in (0, 1): give "
                                  "unit_sd, the metric's standard deviation per unit")
        unit_sd, sd_b = math.sqrt(baseline * (1 - baseline)), math.sqrt(treated * (1 - treated))
    else:
        sd_b = unit_sd * (1 + min_lift)  # a lifted metric spreads in proportion (constant coefficient of variation)
    # one sd whose two-group variance equals the baseline's plus the lifted variant's: sd^2 (1/n + 1/(r n))
    sd = math.sqrt((unit_sd ** 2 + sd_b ** 2 / ratio) / (1 + 1 / ratio))
    delta = baseline * min_lift
    d = delta / sd
    calc = NormalIndPower()
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    rough = (1 + 1 / ratio) * (z / d) ** 2 if d > 0 else float("inf")  # the normal formula
    if not math.isfinite(rough) or rough > MAX_PLANNED_UNITS:
        fixed = float("inf")
    elif rough < 2:
        fixed = 2.0  # an effect this large shows at once; statsmodels' root finder needs n >= 2
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a failed root search answers nan, refused below
            fixed = float(calc.solve_power(effect_size=d, alpha=alpha, power=power, ratio=ratio,
                                           alternative="two-sided"))
    if not math.isfinite(fixed) or fixed > MAX_PLANNED_UNITS:
        raise ValidationError(f"a lift of {min_lift:g} on a metric at {baseline:g} with a per-unit sd of {unit_sd:g} "
                              f"needs more than {MAX_PLANNED_UNITS:,} units per variant: plan for a larger min_lift")
    tau2 = delta * delta

    def short(n: float) -> float:
        var = sd ** 2 * (1 / n + 1 / (ratio * n))
        level = float(2 * norm.sf(msprt_boundary_z(var, tau2, alpha)))
        return float(calc.power(effect_size=d, nobs1=n, alpha=level, ratio=ratio)) - power

    if short(fixed) >= 0:
        seq = fixed  # the effect is so large that the mSPRT's boundary costs nothing
    else:
        hi = fixed * 2
        while short(hi) < 0 and hi < 100 * MAX_PLANNED_UNITS:
            hi *= 2
        seq = brentq(short, fixed, hi, xtol=0.5)
    return Plan(math.ceil(fixed), math.ceil(seq), d, sd, math.sqrt(tau2))
