"""The explore stage in a running service: positions filled by the bandit, exact propensities, true
reasons, exposures recording them, rewards from events, the bandit saved and read back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopsage.data.rows import ItemRow
from shopsage.data.schema import Event, EventContext
from shopsage.serving.config import ExploreConfig
from shopsage.serving.explore import FEATURES
from shopsage.serving.scenario import Ranked, run_scenario
from shopsage.serving.service import Service

NEW = [ItemRow(f"new{i}", f"Toolo saw model new{i}", "A saw", ("Tools", "Saws"), "Toolo", 9.0 + i, "EUR", None, True, 5)
       for i in range(6)]


def _explore(svc: Service, scenario: str = "for_you", **cfg: object) -> ExploreConfig:
    explore = ExploreConfig.model_validate({"seed": 1, **cfg})
    svc.pipelines.scenarios[scenario].explore = explore
    return explore


def _run(svc: Service, user: str, n: int = 10, explore: bool = True) -> Ranked:
    sh = svc.shopper(user, None)
    sc = svc.pipelines.scenario("for_you")
    return run_scenario("for_you", svc.pipelines, svc.gens, sh, svc.masks.allowed(sc.exclude, sh), n,
                        explorer=svc.explorer if explore else None)


def _touched(svc: Service) -> set[str]:
    """Items with at least one stored interaction, from the store itself."""
    rows = set(svc.store.interactions().item.tolist())
    return {ext for ext, rid in svc.store.item_ids().items() if rid in rows}


@pytest.fixture()
def shop(svc: Service) -> Service:
    svc.upsert_items(NEW)
    return svc


def test_explore_fills_its_positions_and_leaves_the_others_deterministic(shop: Service) -> None:
    _explore(shop, slots=[3, 7])
    plain = _run(shop, "u2", explore=False)
    ranked = _run(shop, "u2")
    assert ranked.propensities is not None and sorted(ranked.explored) == [2, 6]
    rest = [s for at, s in enumerate(ranked.slots) if at not in (2, 6)]
    assert rest == plain.slots[:8]  # the deterministic items, in order, moved down past the explored ones
    assert len(set(ranked.slots)) == len(ranked.slots) == 10
    assert [p for at, p in enumerate(ranked.propensities) if at not in (2, 6)] == [1.0] * 8
    for at in (2, 6):
        assert 0 < ranked.propensities[at] < 1
        assert ranked.slots[at] not in plain.slots
    assert ranked.stages["explore"]["positions"] == [3, 7]


@given(slots=st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True), eps=st.floats(0, 1),
       policy=st.sampled_from(["linucb", "lints"]), user=st.sampled_from(["u0", "u1", "u2", "u3", "nobody"]),
       n=st.integers(1, 10), source=st.sampled_from(["new_items", "trending"]))
def test_explore_reasons_are_true(shop: Service, slots: list[int], eps: float, policy: str, user: str, n: int,
                                  source: str) -> None:
    src: object = source if source == "new_items" else {"kind": "trending", "n": 50}
    _explore(shop, slots=slots, epsilon=eps, policy=policy, n_samples=5, source=src)
    touched = _touched(shop)
    ranked = _run(shop, user, n)
    assert ranked.propensities is not None and len(ranked.propensities) == len(ranked.slots) <= n
    for at, (s, p) in enumerate(zip(ranked.slots, ranked.propensities, strict=True)):
        ext = shop.catalog.ext(s)
        explore = [r for r in ranked.reasons[at] if r.stage == "explore"]
        if at not in ranked.explored:
            assert p == 1.0 and not explore
            continue
        assert at + 1 in slots and len(explore) == 1
        r = explore[0]
        assert r.evidence["probability"] == p and r.evidence["position"] == at + 1
        assert f"shown with probability {p:.2g}" in r.text
        assert p >= eps / r.evidence["candidates"] - 1e-12
        assert r.evidence["new_item"] == (ext not in touched)
        assert ("a new item" in r.text) == (ext not in touched)
        if source == "new_items":
            assert ext not in touched  # the source offers only items nobody interacted with
        else:  # a second source: its own reason for the item comes first, and it is true (trending counts)
            assert ranked.reasons[at][0].source == "trending" and ext in touched


def test_stage_propensities_match_empirical_frequencies(shop: Service) -> None:
    _explore(shop, slots=[3], epsilon=0.5, alpha=0.2)
    counts: dict[int, int] = {}
    recorded: dict[int, float] = {}
    runs = 1500
    for _ in range(runs):
        r = _run(shop, "u2")
        s = r.slots[2]
        counts[s] = counts.get(s, 0) + 1
        assert r.propensities is not None
        recorded.setdefault(s, r.propensities[2])
        assert recorded[s] == r.propensities[2]  # nothing learned in between: the same distribution
    k = _run(shop, "u2").stages["explore"]["candidates"]
    assert sum(recorded.values()) <= 1 + 1e-9 and len(counts) <= k
    for s, c in counts.items():
        p = recorded[s]
        assert abs(c / runs - p) <= 4 * np.sqrt(p * (1 - p) / runs) + 1e-9


def test_exposures_record_the_propensities_and_clicks_teach_the_bandit(make_service: Callable[..., Service],
                                                                          tmp_path: Path) -> None:
    svc = make_service()
    svc.upsert_items(NEW)
    _explore(svc, slots=[3], epsilon=0.2)
    answer = svc.recommend("for_you", user="u2", n=10)
    rid = answer["recomm_id"]
    explored = answer["items"][2]
    assert any(r["stage"] == "explore" for r in explored["reasons"])
    bandit = svc.explorer._bandits["for_you"]
    assert bandit.n_updates == 1 and not bandit.b.any()  # shown, no reward yet
    assert svc.exposure_log.flush()
    rows = {r.position: r for r in svc.store.read_exposures() if r.exposure_id == rid}
    p = next(r for r in explored["reasons"] if r["stage"] == "explore")["evidence"]["probability"]
    assert rows[3].propensity == pytest.approx(p) and rows[3].item == explored["id"]
    assert rows[1].propensity == 1.0
    click = Event(type="click", item=explored["id"], user="u2", timestamp=time.time(),
                  context=EventContext(recomm_id=rid, position=3))
    svc.ingest([click])
    svc.ingest([click.model_copy(update={"type": "purchase"})])  # one reward per exposure
    np.testing.assert_allclose(bandit.b, bandit.A[0] - bandit.config.reg * np.eye(len(FEATURES))[0])  # b = x once
    svc.close()
    saved = Path(svc.options.home) / "bandits" / "for_you"
    assert (saved / "manifest.json").is_file()
    again = make_service()
    _explore(again, slots=[3], epsilon=0.2)
    np.testing.assert_allclose(again.explorer.bandit("for_you", again.pipelines.scenarios["for_you"].explore).b,  # type: ignore[arg-type]
                               bandit.b)


@pytest.mark.parametrize("clicked", ["Drills", "Saws"])
def test_the_bandit_learns_which_new_items_shoppers_click(svc: Service, clicked: str) -> None:
    """u2 buys saws; new saws and new drills wait. Whichever the shoppers click three times as often
    is what the stage ends up showing, and the weight of the category match takes the matching sign.
    (Rewards go to ``Explorer.reward`` directly: a click event would make the item old; the ingest path
    is tested above.)"""
    _explore(svc, slots=[3], epsilon=0.1, alpha=0.5)
    svc.upsert_items([ItemRow(f"newdrl{i}", f"Toolo drill new{i}", "A drill", ("Tools", "Drills"), "Toolo", 5.0,
                              "EUR", None, True, 5) for i in range(6)])
    svc.upsert_items(NEW)
    rng = np.random.default_rng(0)
    hits = []
    for _ in range(400):
        answer = svc.recommend("for_you", user="u2", n=10)
        hits.append(answer["items"][2]["category_path"][-1] == clicked)
        if rng.random() < (0.3 if hits[-1] else 0.1):
            assert svc.explorer.reward(answer["recomm_id"], 3, 1.0)
    weight = svc.explorer._bandits["for_you"].theta[FEATURES.index("category_match")]
    assert (weight > 0) == (clicked == "Saws")
    assert np.mean(hits[-100:]) > 0.75
