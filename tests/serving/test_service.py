"""Pipelines end to end on the synthetic shop: exclusions, rules from the config, item updates,
model promotion, the configuration file."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shopsage.data.schema import Event
from shopsage.errors import ConfigError, NotFoundError, ValidationError
from shopsage.serving.build import register_recommender, training_data
from shopsage.serving.config import load_pipelines
from shopsage.serving.models import recommender_class
from shopsage.serving.search import SearchRequest
from shopsage.serving.service import Service

ROOT = Path(__file__).resolve().parents[2]


def test_config_file_equals_the_defaults() -> None:
    assert load_pipelines(ROOT / "config" / "pipelines.toml") == load_pipelines(None)


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text('[scenarios.for_you]\ncandidates = [{ kind = "magic" }]\n')
    with pytest.raises(ConfigError, match="scenarios.for_you.candidates.0.kind"):
        load_pipelines(bad)


def test_exclusions_hold_in_every_scenario(svc: Service) -> None:
    svc.ingest([Event(type="purchase", item="pip2", user="u0", timestamp=time.time())])
    bought = set(svc.profile("u0")["recent_items"])
    for scenario, kw in [("for_you", {"user": "u0"}), ("trending", {}), ("similar_items", {"item": "pip0"}),
                         ("also_viewed", {"item": "pip1"}), ("frequently_bought_together", {"item": "pip0"})]:
        ids = [it["id"] for it in svc.recommend(scenario, n=40, **kw)["items"]]
        assert "pip9" not in ids and "bk9" not in ids, scenario  # out of stock, hidden
        assert len(ids) == len(set(ids))
        if scenario == "for_you":
            assert not bought & set(ids)
        if "item" in kw:
            assert kw["item"] not in ids


def test_stock_and_price_changes_apply_to_the_next_request(svc: Service) -> None:
    first = svc.recommend("similar_items", item="saw3", n=3)["items"][0]["id"]
    svc.patch_item(first, {"stock": 0})
    assert first not in [it["id"] for it in svc.recommend("similar_items", item="saw3", n=10)["items"]]
    svc.patch_item("saw5", {"price": 999.0})
    top = svc.search(SearchRequest("saw", sort="price_desc", per_page=1))["items"][0]
    assert (top["id"], top["price"]) == ("saw5", 999.0)
    svc.delete_item("saw5")
    assert "saw5" not in [it["id"] for it in svc.search(SearchRequest("saw", per_page=50))["items"]]
    with pytest.raises(NotFoundError):
        svc.get_item("saw5")


def test_merchant_rules_from_the_config(make_service: Callable[..., Service], tmp_path: Path) -> None:
    text = (ROOT / "config" / "pipelines.toml").read_text().replace("rules = []", """
[[rules]]
name = "drills first"
action = "pin"
items = ["drl4"]
position = 0
scenarios = ["trending"]

[[rules]]
name = "no glass"
action = "bury"
brands = ["Glassco"]
""")
    path = tmp_path / "rules.toml"
    path.write_text(text)
    svc = make_service(pipelines=path)
    items = svc.recommend("trending", n=10)["items"]
    assert items[0]["id"] == "drl4"
    assert {"stage": "rules", "source": "rule:drills first"}.items() <= items[0]["reasons"][-1].items()
    res = svc.search(SearchRequest("model", per_page=40))  # every visible item: the 9 beakers go last
    assert res["total"] == 39
    assert [it["brand"] for it in res["items"]][-9:] == ["Glassco"] * 9
    assert "Glassco" not in [it["brand"] for it in res["items"]][:-9]
    assert res["items"][-1]["reasons"][-1]["evidence"] == {"rule": "no glass", "action": "bury", "factor": None}


def test_missing_parameters_are_validation_errors(svc: Service) -> None:
    with pytest.raises(ValidationError, match=r"\?item="):
        svc.recommend("similar_items")
    with pytest.raises(ValidationError, match=r"\?session="):
        svc.recommend("next_in_session")
    with pytest.raises(NotFoundError, match="not in the catalogue"):
        svc.recommend("also_viewed", item="nope")
    with pytest.raises(NotFoundError, match="no interactions"):
        svc.profile("nobody")


def test_a_promoted_model_is_loaded_without_a_restart(svc: Service) -> None:
    cls = recommender_class("itemknn")
    assert cls is not None
    before = svc.models.get("itemknn")
    assert before is not None
    vocab, data = training_data(svc.store)
    register_recommender(svc.registry, cls(neighbors=2).fit(data), vocab, promote=True)
    assert svc.recommend("for_you", user="u1", n=3)["items"]  # old version still answers
    assert svc.models.refresh() == ["itemknn"]
    after = svc.models.get("itemknn")
    assert after is not None and after.version != before.version
    assert after.model.config.neighbors == 2  # type: ignore[attr-defined]
    sources = {r["source"] for it in svc.recommend("for_you", user="u1", n=3)["items"] for r in it["reasons"]}
    assert f"itemknn:{after.version}" in sources


def test_dense_item_item_weights_are_served_in_c_order(svc: Service) -> None:
    import numpy as np

    cls = recommender_class("ease")
    if cls is None:
        pytest.skip("the ease recommender is not installed")
    vocab, data = training_data(svc.store)
    model = cls().fit(data)
    model.weights = np.asfortranarray(model.weights)  # type: ignore[attr-defined]
    register_recommender(svc.registry, model, vocab, promote=True)
    svc.models.names = sorted({*svc.models.names, "ease"})
    svc.models.refresh()
    loaded = svc.models.get("ease")
    assert loaded is not None and loaded.model.weights.flags.c_contiguous  # type: ignore[attr-defined]


def test_a_failed_write_applies_nothing_and_can_be_retried(svc: Service) -> None:
    import sqlite3

    from shopsage.data.stores import open_store

    ev = [Event(id="retry-1", type="view", item="pip2", user="retry-user", timestamp=time.time())]
    url = svc.store.url
    svc.store.close()  # a real failure: the store is gone when the events are written
    with pytest.raises(sqlite3.ProgrammingError):
        svc.ingest(ev, idempotency_key="k-retry")
    svc.store = open_store(url)
    with pytest.raises(NotFoundError):
        svc.profile("retry-user")
    assert svc.ingest(ev, idempotency_key="k-retry") == {"accepted": 1, "duplicates": 0, "quarantined": 0, "replayed": False}
    assert svc.profile("retry-user")["recent_items"] == ["pip2"]


def test_mmr_diversity_from_the_config(make_service: Callable[..., Service], tmp_path: Path) -> None:
    text = (ROOT / "config" / "pipelines.toml").read_text().replace(
        '[scenarios.trending]\ncandidates = [{ kind = "trending", n = 200 }]',
        '[scenarios.trending]\ncandidates = [{ kind = "trending", n = 200 }]\ndiversity = { method = "mmr", mmr_lambda = 0.3 }')
    path = tmp_path / "mmr.toml"
    path.write_text(text)
    plain = [it["category_path"][-1] for it in make_service().recommend("trending", n=4)["items"]]
    diverse = [it["category_path"][-1] for it in make_service(pipelines=path).recommend("trending", n=4)["items"]]
    assert len(set(diverse)) == 4  # one item of each leaf category first
    assert len(set(diverse)) >= len(set(plain))


def test_items_known_only_from_events_are_never_shown(make_service: Callable[..., Service]) -> None:
    svc = make_service(unknown_items="accept")  # a shop that sends events before its catalogue
    svc.ingest([Event(type="purchase", item="ghost", user=f"g{k}", timestamp=time.time()) for k in range(30)])
    fresh = make_service()  # the store now holds a stub item "ghost" (no title, no price)
    assert fresh.catalog.slot("ghost") is not None
    svc._live.at = 0.0
    for s in (svc, fresh):
        assert "ghost" not in [it["id"] for it in s.recommend("trending", n=40)["items"]]


def test_a_model_registered_without_its_item_list_maps_by_store_order(svc: Service) -> None:
    import shutil

    from shopsage.serving.models import ITEMS_FILE, MODEL_DIR

    cls = recommender_class("itemknn")
    assert cls is not None
    vocab, data = training_data(svc.store)  # the store's items in row order, as splits number them
    path = svc.registry.new_version_dir("itemknn")
    cls(neighbors=5).fit(data).save(path / MODEL_DIR)
    svc.registry.register("itemknn", path, "recommender/itemknn", {})
    svc.registry.promote("itemknn", path.name)
    assert not (path / ITEMS_FILE).exists()
    assert svc.models.refresh() == ["itemknn"]
    m = svc.models.get("itemknn")
    assert m is not None and [svc.catalog.ext(int(s)) for s in m.to_slot] == vocab.ids
    shutil.rmtree(path / MODEL_DIR)  # a broken version is reported, the loaded one keeps serving
    path2 = svc.registry.new_version_dir("itemknn")
    (path2 / "junk").write_text("x")
    svc.registry.register("itemknn", path2, "recommender/itemknn", {})
    svc.registry.promote("itemknn", path2.name)
    assert svc.models.refresh() == []
    assert "itemknn" in svc.models.describe()["errors"] and svc.models.get("itemknn") is m


def test_models_score_on_the_configured_torch_threads(make_service: Callable[..., Service]) -> None:
    """A worker answers one request at a time: torch runs its models on ``inference_threads`` threads
    (torch's default, one per core, made SASRec 100x slower on a busy machine)."""
    import torch

    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(3 - threads)  # something else set another count
            make_service(inference_threads=threads)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="inference_threads of 0 must be at least 1"):
        make_service(inference_threads=0)


def test_a_model_explains_only_the_items_shown_in_one_call(make_service: Callable[..., Service], tmp_path: Path) -> None:
    text = (ROOT / "config" / "pipelines.toml").read_text().replace(
        '{ kind = "model", model = "ease", n = 100 }', '{ kind = "model", model = "itemknn", n = 100 }')
    path = tmp_path / "model.toml"
    path.write_text(text)
    svc = make_service(pipelines=path)
    loaded = svc.models.get("itemknn")
    assert loaded is not None
    calls: list[list[int]] = []
    explain = loaded.model.explain  # type: ignore[attr-defined]

    def counted(history: list[int], items: list[int]) -> list[tuple[int, float]]:
        calls.append([int(i) for i in items])
        return explain(history, items)  # type: ignore[no-any-return]

    loaded.model.explain = counted  # type: ignore[attr-defined]
    shown = [it["id"] for it in svc.recommend("for_you", user="u1", n=6)["items"]]
    assert len(calls) == 1, calls
    explained = {svc.catalog.ext(int(loaded.to_slot[i])) for i in calls[0]}
    assert explained and explained <= set(shown)
