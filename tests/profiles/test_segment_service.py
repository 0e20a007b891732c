"""Segments in the service: fitted on start, updated by ingested events, shown in the profile with
their evidence, and merchant rules that name a segment apply to its shoppers only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from shopsage.data.schema import Event
from shopsage.policy import Rule, apply_rules
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop


@pytest.fixture()
def svc(tmp_path: Path) -> Iterator[Service]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    s = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0)).start()
    yield s
    s.close()


def test_the_profile_shows_segments_with_evidence(svc: Service) -> None:
    p = svc.profile("u0")  # a pipette buyer in an order-only shop: value and interest, no lifecycle
    kinds = {s["kind"]: s for s in p["segments"]}
    assert set(kinds) == {"value", "interest"}
    assert "Lab" in kinds["interest"]["text"] or "Pipettes" in kinds["interest"]["text"]
    assert kinds["interest"]["evidence"]["shares"]
    assert svc.segment_of("nobody") is None


def test_ingested_events_update_segments_at_once(svc: Service) -> None:
    before = svc.segment_of("u1")
    assert before is not None
    occasions = before.of("value")["evidence"]["occasions"]  # type: ignore[index]
    svc.ingest([Event(user="u1", item="saw1", type="purchase", ordinal=99)])
    after = svc.segment_of("u1")
    assert after is not None and after.of("value")["evidence"]["occasions"] == occasions + 1  # type: ignore[index]
    svc.ingest([Event(user="newbie", item="drl2", type="purchase", timestamp=1.7e9),
                Event(user="newbie", item="drl3", type="add_to_cart", timestamp=1.7e9 + 5)])
    fresh = svc.segment_of("newbie")
    assert fresh is not None and fresh.of("interest") is not None


def test_a_segment_rule_changes_only_its_shoppers_lists(svc: Service) -> None:
    mine = svc.segment_of("u0")
    other = svc.segment_of("u2")  # a saw buyer: another interest group than u0 (pipettes)
    assert mine is not None and other is not None
    seg = mine.of("interest")["segment"]  # type: ignore[index]
    assert other.of("interest")["segment"] != seg  # type: ignore[index]
    rule = Rule(name="tools for lab people", action="boost", factor=50.0, categories=["Tools"], segments=[seg])
    svc.pipelines = svc.pipelines.model_copy(update={"rules": [rule]})

    def touched(user: str) -> bool:
        out = svc.recommend("trending", user=user, n=10)
        return any(r["source"] == "rule:tools for lab people" for it in out["items"] for r in it["reasons"])

    assert touched("u0") and not touched("u2")


def test_a_segment_rule_applies_in_search_to_its_shoppers_only(svc: Service) -> None:
    from shopsage.serving.search import SearchRequest

    mine, other = svc.segment_of("u0"), svc.segment_of("u2")
    assert mine is not None and other is not None
    seg = mine.of("interest")["segment"]  # type: ignore[index]
    rule = Rule(name="saws for lab people", action="boost", factor=50.0, categories=["Tools"], segments=[seg],
                scenarios=["search"])
    svc.pipelines = svc.pipelines.model_copy(update={"rules": [rule]})

    def touched(user: str | None) -> bool:
        out = svc.search(SearchRequest("saw", user=user, per_page=20))
        return any(r["source"] == "rule:saws for lab people" for it in out["items"] for r in it["reasons"])

    assert touched("u0") and not touched("u2") and not touched(None)


class _Facts:
    def ext(self, slot: int) -> str:
        return f"i{slot}"

    def category_path(self, slot: int) -> tuple[str, ...]:
        return ("A",) if slot < 2 else ("B",)

    def brand(self, slot: int) -> str | None:
        return None


@pytest.mark.parametrize(("segments", "boosted"), [(None, False), (frozenset(), False),
                                                    (frozenset({"active"}), False), (frozenset({"lapsed"}), True)])
def test_apply_rules_checks_the_shoppers_segments(segments: frozenset[str] | None, boosted: bool) -> None:
    rule = Rule(name="b", action="boost", factor=10, categories=["B"], segments=["lapsed", "at_risk"])
    out = apply_rules(np.arange(4), np.array([4, 3, 2, 1], np.float32), [rule], "for_you", _Facts(), segments=segments)
    assert bool(out.slots[0] >= 2) is boosted and bool(out.touched) is boosted


def test_new_arrivals_rule_matches_items_created_recently() -> None:
    import time

    class Rows(_Facts):
        def row(self, slot: int) -> object:
            from shopsage.data.rows import ItemRow

            return ItemRow(f"i{slot}", created_at=time.time() - (1 if slot == 3 else 90) * 86400.0)

    rule = Rule(name="new", action="boost", factor=10, new_within_days=30, segments=["lapsed"])
    out = apply_rules(np.arange(4), np.array([4, 3, 2, 1], np.float32), [rule], "for_you", Rows(),
                      segments={"lapsed"})
    assert out.slots[0] == 3 and list(out.touched) == [3]
    with pytest.raises(ValueError, match="matches nothing"):
        Rule(name="x", action="boost", segments=["lapsed"])


def test_segments_can_be_switched_off(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    s: Callable[[], Service] = lambda: Service(ServiceOptions(store_url=url, home=tmp_path / "h", reload_interval_s=0,  # noqa: E731
                                                              segments=False)).start()
    svc = s()
    try:
        assert svc.profile("u0")["segments"] == [] and svc.segment_names("u0") is None
    finally:
        svc.close()


def test_the_profile_endpoint_shows_segments(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from shopsage.api.app import create_app
    from shopsage.api.security import Keys

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0))
    with TestClient(create_app(svc, Keys())) as c:
        c.post("/v1/events", json={"events": [{"user": "fresh", "item": "drl1", "type": "purchase", "timestamp": 1.7e9},
                                              {"user": "fresh", "item": "drl2", "type": "purchase",
                                               "timestamp": 1.7e9 + 60}]})
        body = c.get("/v1/users/fresh/profile").json()
    kinds = {s["kind"]: s for s in body["segments"]}
    assert kinds["interest"]["segment"].startswith("interest_") and kinds["interest"]["evidence"]["shares"]
    assert kinds["value"]["evidence"]["occasions"] == 1  # two purchases a minute apart: one checkout
