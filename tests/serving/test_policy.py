"""Rules, diversity and profiles on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from shopsage.policy import Rule, apply_rules, category_cap, mmr, place_pins
from shopsage.profiles import ItemInfo, build_profile


class Facts:
    """Items 0..5: ids i0..i5, categories A A B B C C, brand X for even items."""

    cats = ["A", "A", "B", "B", "C", "C"]

    def ext(self, slot: int) -> str:
        return f"i{slot}"

    def slot(self, ext: str) -> int | None:
        return int(ext[1:]) if ext.startswith("i") and ext[1:].isdigit() and int(ext[1:]) < 6 else None

    def category_path(self, slot: int) -> tuple[str, ...]:
        return ("Root", self.cats[slot])

    def brand(self, slot: int) -> str | None:
        return "X" if slot % 2 == 0 else None


def _run(rules: list[Rule], slots: list[int], pinnable: np.ndarray | None = None) -> list[int]:
    scores = np.linspace(1.0, 0.5, len(slots)).astype(np.float32)
    return apply_rules(np.array(slots), scores, rules, "for_you", Facts(), pinnable).slots.tolist()


def test_boost_multiplies_and_bury_moves_last() -> None:
    assert _run([Rule(name="b", action="boost", categories=["c"], factor=3.0)], [0, 1, 2, 3, 4]) == [4, 0, 1, 2, 3]
    assert _run([Rule(name="y", action="bury", brands=["x"])], [0, 1, 2, 3, 4]) == [1, 3, 0, 2, 4]


def test_pin_places_items_and_inserts_missing_allowed_ones() -> None:
    assert _run([Rule(name="p", action="pin", items=["i3"], position=0)], [0, 1, 2, 3]) == [3, 0, 1, 2]
    allowed = np.array([True, True, True, True, True, False])
    assert _run([Rule(name="p", action="pin", items=["i4", "i5"], position=1)], [0, 1], allowed) == [0, 4, 1]


def test_rules_touch_only_their_scenarios() -> None:
    r = Rule(name="s", action="bury", items=["i0"], scenarios=["search"])
    assert _run([r], [0, 1]) == [0, 1]


def test_rule_validation_says_what_is_missing() -> None:
    with pytest.raises(ValidationError, match="matches nothing"):
        Rule(name="x", action="boost")
    with pytest.raises(ValidationError, match="needs items"):
        Rule(name="x", action="pin", categories=["A"])


def test_category_cap_keeps_order_and_fills_when_short() -> None:
    kept, skipped = category_cap(["A", "A", "A", "B", None, None], 4, 2)
    assert kept == [0, 1, 3, 4] and skipped == [2]
    kept, _ = category_cap(["A", "A", "A"], 3, 1)
    assert kept == [0, 1, 2]


def test_mmr_trades_relevance_for_novelty() -> None:
    cats = ["A", "A", "B"]

    def sim(i: int, j: int) -> float:
        return 1.0 if cats[i] == cats[j] else 0.0

    scores = np.array([1.0, 0.9, 0.5])
    assert mmr(scores, sim, 3, lam=1.0) == [0, 1, 2]
    assert mmr(scores, sim, 3, lam=0.5) == [0, 2, 1]


def test_profile_weights_types_and_bands_prices() -> None:
    info = {"a": ItemInfo(("Lab", "Pipettes"), "Acme", 10.0), "b": ItemInfo(("Lab", "Beakers"), "Glassco", 20.0),
            "c": ItemInfo(("Tools",), None, 100.0)}
    p = build_profile([("a", "purchase"), ("b", "view"), ("a", "view"), ("c", "impression")], info.get)
    assert p.recent_items == ["a", "b", "c"]
    assert p.top_categories[0] == ("Lab", 5.0) and ("Pipettes", 4.0) in p.top_categories
    assert p.top_brands == [("Acme", 4.0), ("Glassco", 1.0)]
    assert p.price_band is not None and p.price_band["median"] == 10.0 and p.price_band["max"] == 20.0


def test_boost_factor_must_promote() -> None:
    with pytest.raises(ValidationError, match="use a factor > 1"):
        Rule(name="x", action="boost", items=["i0"], factor=0.5)


def test_a_pin_overrides_boost_and_bury_and_keeps_its_first_position() -> None:
    rules = [Rule(name="p", action="pin", items=["i4"], position=0), Rule(name="q", action="pin", items=["i2", "i4"], position=0),
             Rule(name="y", action="bury", categories=["C"])]
    out = apply_rules(np.array([0, 1, 2, 3, 4, 5]), np.linspace(1.0, 0.5, 6).astype(np.float32), rules, "for_you", Facts())
    assert out.slots.tolist() == [4, 2, 0, 1, 3, 5]  # i4 keeps rule p's position 0; i2 moves to the next free one
    assert [(p.slot, p.position, p.rule.name) for p in out.pins] == [(4, 0, "p"), (2, 1, "q")]
    assert [r.name for r in out.touched[4]] == ["p"]  # the bury on C does not touch a pinned item
    assert [r.name for r in out.touched[5]] == ["y"] and out.ranked.tolist() == [0, 1, 3, 5]
    assert out.buried.tolist() == [False, False, False, True]


def test_place_pins_past_the_end_follow_the_other_items() -> None:
    from shopsage.policy import Pin

    r = Rule(name="p", action="pin", items=["i9"])
    assert place_pins([1, 2, 3], [Pin(9, 1, r)]) == [1, 9, 2, 3]
    assert place_pins([1, 2], [Pin(9, 5, r), Pin(8, 0, r)]) == [8, 1, 2, 9]
    assert place_pins([1, 2, 3], [Pin(9, 1, r)], n=2) == [1, 9]


def test_diversity_never_lifts_a_buried_item_over_an_unburied_one() -> None:
    cats = ["A", "A", "A", "B"]

    def sim(i: int, j: int) -> float:
        return 1.0 if cats[i] == cats[j] else 0.0

    tiers = [0, 0, 0, 1]  # item 3 (the only B) is buried
    assert mmr(np.array([1.0, 0.9, 0.8, 0.95]), sim, 4, lam=0.3) == [0, 3, 1, 2]  # without tiers B comes second
    assert mmr(np.array([1.0, 0.9, 0.8, 0.95]), sim, 4, lam=0.3, tiers=tiers) == [0, 1, 2, 3]
    kept, skipped = category_cap(cats, 3, 1, tiers)
    assert kept == [0, 1, 2] and skipped == []  # capped A items of tier 0 fill before the buried B
    kept, skipped = category_cap(["A", "A", "B", "B", "C"], 5, 1, [0, 0, 0, 1, 1])
    assert kept == [0, 2, 1, 4, 3] and skipped == []
    with pytest.raises(ValueError, match="one tier per candidate"):
        category_cap(cats, 3, 1, [0])


def test_no_active_rule_gives_what_a_rule_that_touches_nothing_gives() -> None:
    """The no-rule path (most requests) against the rules' path with an active rule that matches no item."""
    nothing = Rule(name="none", action="bury", brands=["nobody"])
    for slots, scores in (([3, 0, 5, 1], [0.2, 0.9, 0.2, 0.5]), ([2, 4], [np.nan, 0.1]), ([], [])):
        s, sc = np.array(slots, np.int64), np.array(scores, np.float32)
        fast, ref = apply_rules(s, sc, [], "for_you", Facts()), apply_rules(s, sc, [nothing], "for_you", Facts())
        for field in ("slots", "scores", "ranked", "ranked_scores", "buried"):
            np.testing.assert_array_equal(getattr(fast, field), getattr(ref, field))
            assert getattr(fast, field).dtype == getattr(ref, field).dtype
        assert fast.touched == ref.touched == {} and fast.pins == ref.pins == []
    assert apply_rules(np.array([3, 0, 5]), np.array([0.2, 0.9, 0.2], np.float32), [], "for_you",
                       Facts()).slots.tolist() == [0, 3, 5]  # by score, ties by position
