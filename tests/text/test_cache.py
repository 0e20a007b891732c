from __future__ import annotations

import numpy as np
import pytest

from shopsage.errors import ArtifactError
from shopsage.text import EmbeddingCache, text_keys


def test_keys_are_stable_and_distinct() -> None:
    k = text_keys(["a", "b", "a"])
    assert k.shape == (3, 2) and k.dtype == np.uint64
    assert (k[0] == k[2]).all() and not (k[0] == k[1]).all()


def test_put_get_and_reopen(tmp_path) -> None:
    rng = np.random.default_rng(0)
    cache = EmbeddingCache(tmp_path, "model-x", 4)
    keys = text_keys(["red shoe", "blue hat"])
    vecs = rng.normal(size=(2, 4)).astype(np.float32)
    cache.put(keys, vecs)
    again = EmbeddingCache(tmp_path, "model-x", 4)
    got, found = again.get(text_keys(["blue hat", "green sock", "red shoe"]))
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(got[0], vecs[1])
    np.testing.assert_array_equal(got[2], vecs[0])
    assert (got[1] == 0).all()
    assert len(again) == 2


def test_encoders_do_not_share_entries(tmp_path) -> None:
    EmbeddingCache(tmp_path, "model-a", 4).put(text_keys(["x"]), np.ones((1, 4), np.float32))
    _, found = EmbeddingCache(tmp_path, "model-b", 4).get(text_keys(["x"]))
    assert not found.any()


def test_put_skips_known_keys(tmp_path) -> None:
    cache = EmbeddingCache(tmp_path, "m", 2)
    cache.put(text_keys(["x"]), np.ones((1, 2), np.float32))
    cache.put(text_keys(["x"]), np.zeros((1, 2), np.float32))
    assert len(list(cache.dir.glob("keys-*.npy"))) == 1
    got, _ = cache.get(text_keys(["x"]))
    assert (got == 1).all()


def test_dimension_mismatch_is_refused(tmp_path) -> None:
    cache = EmbeddingCache(tmp_path, "m", 2)
    meta = cache.dir / "meta.json"
    meta.write_text('{"encoder_id": "m", "dim": 3}')
    with pytest.raises(ArtifactError, match="delete that folder"):
        EmbeddingCache(tmp_path, "m", 2)


def test_model_id_tells_same_size_weights_apart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from shopsage.text.encoder import _model_id

    for name, byte in (("a", b"\x01"), ("b", b"\x02")):
        d = tmp_path / name / "model"
        d.mkdir(parents=True)
        (d / "config.json").write_text("{}")
        (d / "adapter_model.safetensors").write_bytes(byte * 1000)
    assert _model_id(str(tmp_path / "a" / "model"), "torch", 128) != _model_id(str(tmp_path / "b" / "model"), "torch", 128)


def test_small_puts_stay_in_memory_when_persist_min_is_set(tmp_path) -> None:
    cache = EmbeddingCache(tmp_path, "m", 2)
    cache.persist_min = 3
    cache.put(text_keys(["one"]), np.ones((1, 2), np.float32))  # one updated item: no shard written
    assert cache.get(text_keys(["one"]))[1].tolist() == [True]
    assert not list(cache.dir.glob("keys-*.npy"))
    assert EmbeddingCache(tmp_path, "m", 2).get(text_keys(["one"]))[1].tolist() == [False]
    cache.put(text_keys(["a", "b", "c"]), np.full((3, 2), 2.0, np.float32))  # a bulk encoding persists
    assert len(list(cache.dir.glob("keys-*.npy"))) == 1
    assert EmbeddingCache(tmp_path, "m", 2).get(text_keys(["a", "b", "c"]))[1].all()
