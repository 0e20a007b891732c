"""The service stamps every answer with its id and positions and records what it showed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shopsage.data.schema import Event
from shopsage.data.stores import open_store
from shopsage.feedback.ids import answer_time
from shopsage.serving.search import SearchRequest
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop


@pytest.fixture()
def shop(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    made: list[Service] = []

    def make(**options: object) -> Service:
        svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0,
                                     **options)).start()  # type: ignore[arg-type]
        made.append(svc)
        return svc

    yield make
    for s in made:
        s.close()


def _stored(svc: Service) -> list:  # type: ignore[type-arg]
    """What another connection finds in the store (the writer committed it)."""
    other = open_store(svc.options.store_url)
    try:
        return list(other.read_exposures())
    finally:
        other.close()


def test_recommendations_carry_an_id_and_positions_and_are_recorded(shop: Callable[..., Service]) -> None:
    svc = shop()
    answer = svc.recommend("for_you", user="u1", session="s-new", n=5)
    rid = answer["recomm_id"]
    assert uuid.UUID(rid).version == 7 and answer_time(rid) is not None
    assert [it["position"] for it in answer["items"]] == [1, 2, 3, 4, 5]
    assert svc.recommend("for_you", user="u1", n=5)["recomm_id"] != rid
    assert svc.exposure_log.flush()
    rows = [r for r in _stored(svc) if r.exposure_id == rid]
    assert [(r.position, r.item) for r in rows] == [(it["position"], it["id"]) for it in answer["items"]]
    assert {(r.kind, r.scenario, r.user_id, r.session_id, r.propensity, r.experiment) for r in rows} == {
        ("recommendation", "for_you", "u1", "s-new", 1.0, None)}


def test_search_pages_number_positions_across_pages_and_keep_the_query_scrubbed(shop: Callable[..., Service]) -> None:
    svc = shop()
    first = svc.search(SearchRequest("model", per_page=3, session="s9"))
    second = svc.search(SearchRequest("model me@example.com", per_page=3, page=2, session="s9"))
    assert [it["position"] for it in first["items"]] == [1, 2, 3]
    assert [it["position"] for it in second["items"]] == [4, 5, 6]
    assert first["query_id"] != second["query_id"]
    svc.exposure_log.flush()
    rows = {(r.exposure_id, r.position): r for r in _stored(svc)}
    r = rows[(second["query_id"], 4)]
    assert (r.kind, r.scenario, r.session_id, r.item) == ("search", "search", "s9", second["items"][0]["id"])
    assert r.query == "model [email]"  # stored as events' queries are: no e-mail address


def test_an_event_naming_an_answer_is_stored_only_after_its_exposures(shop: Callable[..., Service]) -> None:
    svc = shop(exposure_flush_s=3600.0)  # the writer would wait an hour: only the event forces it
    answer = svc.recommend("similar_items", item="pip1", user="shopper", n=3)
    clicked = answer["items"][1]
    assert _stored(svc) == []
    out = svc.ingest([Event(type="click", item=clicked["id"], user="shopper", timestamp=1.0e9,
                            context={"recomm_id": answer["recomm_id"], "position": clicked["position"]})])
    assert out["accepted"] == 1
    assert len(_stored(svc)) == 3
    (a,) = svc.store.read_attributed()
    assert (a.exposure_id, a.position, a.type, a.item, a.explicit) == (answer["recomm_id"], 2, "click",
                                                                       clicked["id"], True)


def test_close_writes_what_is_queued_and_recording_can_be_off(shop: Callable[..., Service]) -> None:
    svc = shop(exposure_flush_s=3600.0)
    svc.recommend("trending", n=4)
    svc.close()
    assert len(_stored(svc)) == 4
    quiet = shop(exposures=False)
    answer = quiet.recommend("trending", n=4)
    assert answer["recomm_id"] and [it["position"] for it in answer["items"]] == [1, 2, 3, 4]
    quiet.exposure_log.flush()
    assert len(_stored(quiet)) == 4  # only the first service's


def test_erasing_a_user_erases_exposures_still_queued(shop: Callable[..., Service]) -> None:
    svc = shop(exposure_flush_s=3600.0)
    svc.recommend("for_you", user="u5", n=3)
    svc.recommend("for_you", user="u6", n=3)
    counts = svc.erase_user("u5")
    assert counts["exposures"] == 3
    assert {r.user_id for r in _stored(svc)} == {"u6"}


def test_answers_no_shopper_sees_are_not_recorded(shop: Callable[..., Service]) -> None:
    """Previews and the dashboard's inspector: stamped like any answer, but no exposure, so a later click
    of that shopper is never attributed to a list only a merchant saw."""
    svc = shop()
    hidden = svc.recommend("for_you", user="u1", session="s-new", n=5, shown=False)
    page = svc.search(SearchRequest("drill", user="u1", per_page=5), shown=False)
    shown = svc.recommend("for_you", user="u1", session="s-new", n=5)
    assert hidden["recomm_id"] and page["query_id"] and [it["position"] for it in hidden["items"]] == [1, 2, 3, 4, 5]
    assert svc.exposure_log.flush()
    ids = {r.exposure_id for r in _stored(svc)}
    assert shown["recomm_id"] in ids
    assert hidden["recomm_id"] not in ids and page["query_id"] not in ids
