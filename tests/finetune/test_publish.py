"""Promotion re-embeds the catalogue through the text-hash cache and swaps the live engine atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from shopsage.data.rows import ItemRow
from shopsage.errors import NotFoundError, ValidationError
from shopsage.finetune import FineTuneConfig, Pair, PairSet, fine_tune
from shopsage.finetune.publish import (
    live_engine_dir,
    load_live_engine,
    promote_encoder,
    publish_engine,
    register_encoder,
    rollback_encoder,
)
from shopsage.registry import ModelRegistry
from shopsage.search import SearchConfig, SearchEngine
from shopsage.text import EncoderConfig, TextEncoder

TITLES = ["bolt", "cask", "dune", "fern", "gust", "hive", "isle", "jolt", "kite", "lava", "moss", "nook"]
QUERIES = ["zorb", "plim", "quax", "vrel", "snib", "trop", "glen", "frum", "wask", "drib", "kelp", "mirn"]


def _rows() -> list[ItemRow]:
    return [ItemRow(f"p{i}", t) for i, t in enumerate(TITLES)]


def _train(reg: ModelRegistry, base: str, tower: str, item_vectors: dict[str, np.ndarray] | None = None) -> str:
    pairs = PairSet([Pair(q, f"p{i}") for i, q in enumerate(QUERIES)], {f"p{i}": t for i, t in enumerate(TITLES)}, "query-item")
    out = reg.new_version_dir("enc")
    cfg = FineTuneConfig(method="full", tower=tower, epochs=15, batch_size=12, learning_rate=5e-3, max_length=16,  # type: ignore[arg-type]
                         threads=1)
    res = fine_tune(base, pairs, cfg, out, progress=False, item_vectors=item_vectors)
    return register_encoder(reg, "enc", out, base, pairs, res, {"mrr": 0.5}).version


def test_promote_reembeds_through_cache_and_swaps(tiny_model: str, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    base_enc = TextEncoder(EncoderConfig(model=tiny_model, cache_dir=cache, progress=False))
    engine = SearchEngine(SearchConfig(mode="vector"), base_enc)
    engine.index(_rows())
    root = tmp_path / "search"
    first = publish_engine(root, engine, "initial", {"item_encoder_path": tiny_model})
    base_vecs = engine.vector.vectors[:12].copy()  # type: ignore[union-attr]

    reg = ModelRegistry(tmp_path / "models")
    v1 = _train(reg, tiny_model, "both")
    v2 = _train(reg, tiny_model, "query", dict(zip([f"p{i}" for i in range(12)], base_vecs, strict=True)))
    manifest = reg.get("enc", v1).manifest
    assert manifest["base_model"] == tiny_model and manifest["method"] == "full" and manifest["data_fingerprint"]
    assert manifest["config"]["learning_rate"] == 5e-3 and manifest["metrics"] == {"mrr": 0.5}
    assert reg.get("enc", v2).manifest["item_encoder"] == tiny_model

    with pytest.raises(ValidationError, match="not among the rows"):
        promote_encoder(reg, "enc", v1, root, _rows()[:5], cache, log=lambda m: None)
    assert live_engine_dir(root) == first and reg.current("enc") is None  # a failed promotion changes nothing

    r1 = promote_encoder(reg, "enc", v1, root, _rows(), cache, log=lambda m: None)
    assert r1.items == 12 and r1.encoded == 12  # a new encoder: every text embedded anew
    assert live_engine_dir(root) == r1.engine_dir != first and reg.current("enc").version == v1  # type: ignore[union-attr]
    live = load_live_engine(root, cache)
    tuned = TextEncoder(EncoderConfig(model=str(reg.get("enc", v1).path), progress=False))
    np.testing.assert_allclose(live.vector.vectors[:12], tuned.encode(TITLES), atol=1e-5)  # type: ignore[union-attr]
    assert live.search(["zorb"], 3).ids.shape == (1, 3)

    r2 = promote_encoder(reg, "enc", v2, root, _rows(), cache, log=lambda m: None)
    assert r2.encoded == 0  # a query-tower model keeps the item encoder: all vectors from the cache
    live = load_live_engine(root, cache)
    np.testing.assert_allclose(live.vector.vectors[:12], base_vecs, atol=1e-6)
    assert live.query_encoder is not None and live.query_encoder.path == str(reg.get("enc", v2).path)

    back = rollback_encoder(reg, "enc", root, _rows(), cache, log=lambda m: None)
    assert back.version == v1 and back.encoded == 0 and reg.current("enc").version == v1  # type: ignore[union-attr]
    np.testing.assert_allclose(load_live_engine(root, cache).vector.vectors[:12], tuned.encode(TITLES), atol=1e-5)  # type: ignore[union-attr]
    assert len(list(root.glob("engine-*"))) == 3  # older engine directories are pruned
    with pytest.raises(NotFoundError):
        rollback_encoder(reg, "enc", root, _rows(), cache, log=lambda m: None)


def test_cli_promote_with_engine(tiny_model: str, tmp_path: Path) -> None:
    from shopsage.cli.main import app
    from shopsage.data.stores import open_store

    store_url = f"sqlite:///{tmp_path / 'shop.db'}"
    store = open_store(store_url)
    store.write_items(_rows())
    cache = tmp_path / "cache"
    engine = SearchEngine(SearchConfig(mode="vector"), TextEncoder(EncoderConfig(model=tiny_model, cache_dir=str(cache),
                                                                                 progress=False)))
    engine.index(_rows())
    root = tmp_path / "search"
    publish_engine(root, engine, "initial", {"item_encoder_path": tiny_model})
    reg = ModelRegistry(tmp_path / "models")
    v1 = _train(reg, tiny_model, "both")
    args = ["--root", str(tmp_path / "models"), "--engine", str(root), "--store", store_url, "--cache", str(cache)]
    res = CliRunner().invoke(app, ["models", "promote", "enc", v1, *args])
    assert res.exit_code == 0, res.output
    assert "12 embedded anew" in res.output and live_engine_dir(root).name.startswith(f"engine-enc-{v1}")
    shutil.rmtree(root)
    res = CliRunner().invoke(app, ["models", "promote", "enc", v1, *args])
    assert res.exit_code == 2 and "no live search engine" in res.output
