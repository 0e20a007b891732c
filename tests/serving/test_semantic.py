"""The service with a text encoder (`shopsage serve --semantic`): the search fallback for queries that
match no word, the `semantic` generator for items nobody has interacted with, and a promoted encoder
going live without a restart. Uses the packaged all-MiniLM-L6-v2 (offline)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopsage.data.rows import ItemRow
from shopsage.data.schema import Event
from shopsage.data.stores import open_store
from shopsage.registry import ModelRegistry
from shopsage.serving.search import SearchRequest
from shopsage.serving.service import Service, ServiceOptions
from shopsage.text import default_model_path

ITEMS = [
    ItemRow("meter", "Digital multimeter with test probes", category_path=("Instruments",), price=40.0),
    ItemRow("beaker", "Borosilicate glass beaker set 250 ml", category_path=("Labware",), price=20.0),
    ItemRow("latex", "Latex examination gloves, box of 100", category_path=("Safety",), price=9.0),
    ItemRow("filament", "PLA 3D printer filament 1.75 mm", category_path=("Printing",), price=25.0),
    ItemRow("sandpaper", "Sandpaper sheets, assorted grit", category_path=("Abrasives",), price=7.0),
    ItemRow("nitrile", "Nitrile disposable hand protection, blue", category_path=("Safety",), price=11.0),
]


@pytest.fixture()
def shop(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    store = open_store(url)
    store.write_items(ITEMS)
    store.close()
    yield url, tmp_path / "home"


def _service(url: str, home: Path, semantic: bool = True) -> Service:
    return Service(ServiceOptions(store_url=url, home=home, reload_interval_s=0, build_on_start=False,
                                  semantic=semantic)).start()


def test_a_query_matching_no_word_gets_the_items_nearest_in_meaning(shop: tuple[str, Path]) -> None:
    svc = _service(*shop)
    try:
        out = svc.search(SearchRequest("electrical voltage tester"))
        assert out["total"] > 0 and out["items"][0]["id"] == "meter"
        reason = out["items"][0]["reasons"][0]
        assert reason["source"] == "semantic" and 0 < reason["evidence"]["similarity"] <= 1
        assert svc.search(SearchRequest("gloves"))["mode"] == "lexical"  # auto without a ranker, encoder or not
        words = svc.search(SearchRequest("gloves", mode="hybrid"))  # a word match is explained by its words
        assert words["mode"] == "hybrid" and words["fallback"] is None
        assert [it["id"] for it in words["items"]] == ["latex"] and words["items"][0]["reasons"][0]["source"] == "hybrid"
        assert words["items"][0]["reasons"][0]["evidence"]["matched_terms"] == ["gloves"]
        assert svc.ready()["text_encoder"] == "base"
        assert svc.search(SearchRequest("zorbly quaxing"))["total"] == 0  # nothing is close to gibberish
        shards = sorted((shop[1] / "cache" / "embeddings").rglob("keys-*.npy"))
        svc.upsert_items([ItemRow("scope", "Handheld oscilloscope")])
        assert sorted((shop[1] / "cache" / "embeddings").rglob("keys-*.npy")) == shards  # no shard per update
        near = svc.recommend("similar_items", item="scope", n=2)["items"]
        assert near[0]["id"] == "meter" and near[0]["reasons"][0]["source"] == "semantic"  # embedded at once
    finally:
        svc.close()
    plain = _service(*shop, semantic=False)
    try:
        assert plain.search(SearchRequest("electrical voltage tester"))["total"] == 0
        assert plain.refresh_encoder() is False and plain.ready()["text_encoder"] is None
    finally:
        plain.close()


def test_an_item_without_interactions_gets_neighbours_by_meaning(shop: tuple[str, Path]) -> None:
    svc = _service(*shop)
    try:
        items = svc.recommend("similar_items", item="nitrile", n=3)["items"]
        assert items[0]["id"] == "latex"  # no shared word with "Latex examination gloves": meaning only
        sources = {r["source"] for r in items[0]["reasons"]}
        assert "semantic" in sources
        semantic = next(r for r in items[0]["reasons"] if r["source"] == "semantic")
        assert semantic["evidence"]["items"] == ["nitrile"] and "Nitrile" in semantic["text"]
        # a shopper who has only viewed that item: no model knows it, the semantic fallback does
        svc.ingest([Event(type="view", item="nitrile", user="u1", timestamp=time.time())])
        mine = svc.recommend("for_you", user="u1", n=3)["items"]
        assert mine[0]["id"] == "latex" and "nitrile" not in [it["id"] for it in mine]
        assert any(r["source"] == "semantic" for r in mine[0]["reasons"])
    finally:
        svc.close()


def _version(reg: ModelRegistry, tower: str) -> str:
    """A registry version holding the base weights (hard links), as a fine-tuning run would register it."""
    base = default_model_path()
    path = reg.new_version_dir("encoder")
    for src in Path(base).rglob("*"):
        if src.is_file():
            dst = path / src.relative_to(base)
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
    extra = {"item_encoder": base} if tower == "query" else {}
    return reg.register("encoder", path, "text-encoder", {"tower": tower}, tower=tower, **extra).version


def test_a_promoted_encoder_goes_live_without_a_restart(shop: tuple[str, Path]) -> None:
    url, home = shop
    svc = _service(url, home)
    try:
        engine = svc.catalog.engine
        vectors, items_encoder = engine.vector, engine.encoder
        assert svc.refresh_encoder() is False  # nothing promoted yet
        reg = ModelRegistry(home / "models")
        reg.promote("encoder", _version(reg, "query"))
        assert svc.refresh_encoder() is True and svc.encoder_label == "encoder v0001"
        assert engine.vector is vectors and engine.encoder is items_encoder  # query tower: item vectors stay
        assert engine.query_encoder is not items_encoder
        assert svc.search(SearchRequest("electrical voltage tester"))["items"][0]["id"] == "meter"
        reg.promote("encoder", _version(reg, "both"))
        assert svc.refresh_encoder() is True and svc.encoder_label == "encoder v0002"
        assert engine.vector is not vectors and len(engine.vector) == len(ITEMS)  # type: ignore[arg-type]
        # one model for both sides: the queries run it through onnxruntime (the service's default query backend)
        assert engine.query_encoder.config.model == engine.encoder.config.model  # type: ignore[union-attr]
        assert engine.query_encoder.config.backend == "onnx"  # type: ignore[union-attr]
        assert svc.search(SearchRequest("electrical voltage tester"))["items"][0]["id"] == "meter"
        assert svc.refresh_encoder() is False
        reg.rollback("encoder")
        assert svc.refresh_encoder() is True and svc.encoder_label == "encoder v0001"
        assert engine.query_encoder is not engine.encoder  # back to the query-tower version
    finally:
        svc.close()
