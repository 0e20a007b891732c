"""A running experiment in the service: each request gets its variant, is served that variant's pipeline,
and is recorded with it; the report reads the recorded exposures and attributed events back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shopsage.data.schema import Event
from shopsage.errors import NotFoundError, ValidationError
from shopsage.evaluate.abtest_report import experiment_report, write_experiment_report
from shopsage.experiments import ExperimentConfig, assign
from shopsage.experiments.book import create_experiment, stop_experiment
from shopsage.serving.search import SearchRequest
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop

TRENDING_ONLY = {"candidates": [{"kind": "trending", "n": 50}], "fallbacks": []}


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


def _experiment(svc: Service, **kw: object) -> ExperimentConfig:
    exp = ExperimentConfig.model_validate({"name": "fy-trend", "scope": "for_you", "salt": "x", "baseline": 0.1,
                                           "variants": [{"name": "control"},
                                                        {"name": "trend", "pipeline": TRENDING_ONLY}], **kw})
    made = create_experiment(svc.store, exp, check=lambda e: svc.variants.check(svc.pipelines, e))
    svc.experiments.invalidate()
    return made


def _sources(answer: dict) -> set[str]:  # type: ignore[type-arg]
    return {r["source"].split(":")[0] for it in answer["items"] for r in it["reasons"]}


def test_each_shopper_is_served_and_recorded_in_their_own_variant(shop: Callable[..., Service]) -> None:
    svc = shop()
    assert svc.recommend("for_you", user="u1", n=4)["experiment"] is None
    exp = _experiment(svc)
    seen = {}
    for u in range(16):
        user = f"u{u}"
        answer = svc.recommend("for_you", user=user, n=4)
        assert answer["experiment"] == "fy-trend"
        assert answer["variant"] == assign(exp, user, None) == svc.recommend("for_you", user=user, n=4)["variant"]
        seen[user] = answer
    variants = {a["variant"] for a in seen.values()}
    assert variants == {"control", "trend"}
    for a in seen.values():  # the treatment's pipeline has trending as its only candidate source
        assert (_sources(a) == {"trending"}) == (a["variant"] == "trend"), (a["variant"], _sources(a))
    # another scenario is not in scope, and the forced variant is served
    assert svc.recommend("trending", user="u1", n=3)["experiment"] is None
    forced = svc.recommend("for_you", user="u1", n=4, variant="trend")
    assert forced["variant"] == "trend"
    assert svc.exposure_log.flush()
    rows = list(svc.store.read_exposures("fy-trend"))
    by_answer = {r.exposure_id: r.variant for r in rows}
    for a in seen.values():
        assert by_answer[a["recomm_id"]] == a["variant"]
    assert forced["recomm_id"] not in by_answer  # a preview is no part of the experiment's sample
    stop_experiment(svc.store, "fy-trend")
    svc.experiments.invalidate()
    assert svc.recommend("for_you", user="u1", n=4)["experiment"] is None


def test_a_variant_that_cannot_be_served_is_refused_at_creation(shop: Callable[..., Service]) -> None:
    svc = shop()
    with pytest.raises(ValidationError, match="not a valid scenario"):
        _experiment(svc, variants=[{"name": "a"}, {"name": "b", "pipeline": {"rrf_k": -1}}])
    with pytest.raises(NotFoundError, match="has no version 'v999'"):
        _experiment(svc, variants=[{"name": "a"}, {"name": "b", "models": {"itemknn": "v999"}}])


def test_a_variant_serves_a_pinned_model_version(shop: Callable[..., Service]) -> None:
    svc = shop()
    live = svc.registry.current("itemknn")
    assert live is not None
    _experiment(svc, variants=[{"name": "a"}, {"name": "b", "models": {"itemknn": live.version}}])
    answer = svc.recommend("for_you", user="u2", n=4, variant="b")
    assert answer["variant"] == "b" and answer["items"]
    assert f"itemknn@{live.version}" in svc.models.models


def test_search_variants_serve_their_mode(shop: Callable[..., Service]) -> None:
    svc = shop()
    create_experiment(svc.store, ExperimentConfig.model_validate(
        {"name": "s", "scope": "search", "variants": [{"name": "auto"}, {"name": "lex", "search_mode": "lexical"}]}))
    svc.experiments.invalidate()
    page = svc.search(SearchRequest("saw", session="s1"), variant="lex")
    assert (page["experiment"], page["variant"], page["mode"]) == ("s", "lex", "lexical")
    assert svc.search(SearchRequest("saw"))["experiment"] is None  # no shopper: no experiment


def test_report_reads_exposures_and_attributed_events_back(shop: Callable[..., Service], tmp_path: Path) -> None:
    svc = shop()
    _experiment(svc)
    clicks = 0
    for u in range(40):
        answer = svc.recommend("for_you", user=f"u{u}", session=f"visit{u}", n=4)
        if u % 3 == 0 and answer["items"]:
            it = answer["items"][0]
            svc.ingest([Event(type="click", item=it["id"], user=f"u{u}", session=f"visit{u}", timestamp=1.0e9 + u,
                              context={"recomm_id": answer["recomm_id"], "position": it["position"]})])
            clicks += 1
    svc.exposure_log.flush()
    r = experiment_report(svc.store, "fy-trend", peek_every=10)
    assert r["sessions"] == 40
    assert sum(v["units"] for v in r["variants"].values()) == 40
    assert sum(v["clicks"] for v in r["variants"].values()) == clicks
    assert sum(v["impressions"] for v in r["variants"].values()) == len(list(svc.store.read_exposures("fy-trend")))
    assert r["comparisons"]["trend"]["sequential"]["looks"] == 4
    by = experiment_report(svc.store, "fy-trend", 10, lambda user: frozenset({"even" if int(user[1:]) % 2 == 0
                                                                               else "odd"}))["by_segment"]
    assert sorted(by) == ["even", "odd"]
    assert [sum(v["units"] for v in by[s]["variants"].values()) for s in ("even", "odd")] == [20, 20]
    assert sum(v["clicks"] for s in by for v in by[s]["variants"].values()) == clicks
    paths = write_experiment_report(r, tmp_path / "out")
    assert paths["plot"].stat().st_size > 1000 and "## trend against control" in paths["markdown"].read_text()
