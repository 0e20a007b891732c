"""Stock and margin facts: the sell-out day and every number of the rule's reason, recomputed."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from shopsage.data.rows import ItemRow
from shopsage.forecast.stock import margin_of, restock_in_days, stock_fact
from shopsage.policy import Rule, apply_rules

NOW = 1_800_000_000.0


@given(st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=30), st.integers(0, 400),
       st.one_of(st.none(), st.floats(0, 40, allow_nan=False)), st.one_of(st.none(), st.floats(0, 200, allow_nan=False)))
def test_the_sell_out_day_and_the_reason_are_recomputed(demand: list[float], stock: int, restock: float | None,
                                                       cost: float | None) -> None:
    attrs = {k: v for k, v in (("restock_days", restock), ("cost", cost)) if v is not None}
    fact = stock_fact(ItemRow("x", price=100.0, stock=stock, attributes=attrs), demand, NOW)
    total, day = 0.0, None
    for i, d in enumerate(demand, start=1):  # the first day whose cumulative demand reaches the stock
        total += d
        if total >= stock:
            day = i
            break
    assert fact.sells_out_in_days == (0 if stock == 0 else day)
    runs_out = fact.sells_out_in_days is not None and (restock is None or fact.sells_out_in_days < restock)
    assert fact.runs_out_before_restock == runs_out
    ev, text = fact.evidence(), fact.describe()
    if runs_out:
        numbers = {float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)}
        assert numbers <= {float(fact.sells_out_in_days or 0), float(stock), float(ev["forecast_demand_per_day"]),
                           float(ev["restock_in_days"] or 0)}
        assert ev["forecast_demand_per_day"] == round(float(np.mean(demand)), 3)
    elif cost is not None:
        assert text == f"margin {(100.0 - cost) / 100.0:.0%}"


def test_restock_dates_and_margins_from_attributes() -> None:
    row = ItemRow("x", price=80.0, attributes={"restock_at": "2027-01-16T00:00:00+00:00", "cost": 60})
    assert restock_in_days(row, NOW) is not None and margin_of(row) == 0.25
    assert restock_in_days(ItemRow("y", attributes={"restock_at": NOW + 3 * 86_400}), NOW) == 3.0
    assert margin_of(ItemRow("z", price=None, attributes={"cost": 1})) is None


class _Facts:
    """Three items: a sells out in 2 days, b never, c has a 50% margin."""

    facts = {0: stock_fact(ItemRow("a", price=10.0, stock=4, attributes={"cost": 9.0}), [2.0] * 5, NOW),
             1: stock_fact(ItemRow("b", price=10.0, stock=100, attributes={"cost": 9.0}), [2.0] * 5, NOW),
             2: stock_fact(ItemRow("c", price=10.0, stock=100, attributes={"cost": 5.0}), [2.0] * 5, NOW)}

    def ext(self, slot: int) -> str:
        return "abc"[slot]

    def category_path(self, slot: int) -> tuple[str, ...]:
        return ()

    def brand(self, slot: int) -> str | None:
        return None

    def stock_fact(self, slot: int) -> object:
        return self.facts[slot]


def test_rules_bury_the_stockout_and_boost_the_margin() -> None:
    rules = [Rule(name="low", action="bury", stockout_risk=True), Rule(name="m", action="boost", min_margin=0.4, factor=3)]
    out = apply_rules(np.array([0, 1, 2]), np.array([3.0, 2.0, 1.0], np.float32), rules, "trending", _Facts())
    assert out.slots.tolist() == [2, 1, 0]
    assert [r.name for r in out.touched[0]] == ["low"] and [r.name for r in out.touched[2]] == ["m"]
    assert rules[0].forecast_evidence(0, _Facts()).sells_out_in_days == 2
