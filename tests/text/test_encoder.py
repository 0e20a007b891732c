"""The packaged MiniLM, loaded offline (about 2 s)."""

from __future__ import annotations

import numpy as np
import pytest

from shopsage.errors import ConfigError
from shopsage.text import EncoderConfig, TextEncoder


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> TextEncoder:
    return TextEncoder(EncoderConfig(cache_dir=str(tmp_path_factory.mktemp("emb")), progress=False))


def test_unit_vectors_and_meaningful_similarity(encoder: TextEncoder) -> None:
    v = encoder.encode(["cordless power drill", "battery powered drill driver", "chocolate cake recipe"])
    assert v.shape == (3, encoder.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_cache_avoids_encoding_again(encoder: TextEncoder, monkeypatch) -> None:
    first = encoder.encode(["garden hose 50 ft", "garden hose 50 ft", "shower head"])
    np.testing.assert_array_equal(first[0], first[1])

    def boom(*args, **kwargs):
        raise AssertionError("cached texts must not be encoded again")

    monkeypatch.setattr(encoder, "_forward", boom)
    again = encoder.encode(["shower head", "garden hose 50 ft"])
    np.testing.assert_array_equal(again, first[[2, 0]])


def test_batched_equals_single_query(encoder: TextEncoder) -> None:
    texts = ["a", "longer product title with several words", "mid length"]
    batch = encoder._forward(texts)
    single = np.stack([encoder.encode_query(t) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-4)


def test_int8_backend_stays_close_to_float32(encoder: TextEncoder) -> None:
    enc8 = TextEncoder(EncoderConfig(backend="torch-int8", progress=False))
    texts = ["stainless steel kitchen sink", "led light bulb 60 watt", "outdoor patio chair"]
    cos = np.sum(enc8.encode(texts) * encoder._forward(texts), axis=1)
    assert (cos > 0.9).all(), cos
    assert enc8.id != encoder.id


def test_onnx_backend_gives_the_float32_vectors(encoder: TextEncoder, tmp_path) -> None:
    """Exported once to ONNX, run by onnxruntime: the same vectors, batched or one by one, and the
    same cache entries as the torch backend; a second encoder reuses the exported file."""
    cfg = EncoderConfig(backend="onnx", onnx_dir=str(tmp_path / "onnx"), progress=False)
    enc = TextEncoder(cfg)
    texts = ["Cordless Drill 18V", "a", "kitchen faucet with pull-down sprayer and soap dispenser"]
    ref = encoder._forward(texts)
    np.testing.assert_allclose(enc._forward(texts), ref, atol=1e-4)
    np.testing.assert_allclose(np.stack([enc.encode_query(t) for t in texts]), ref, atol=1e-4)
    assert enc.id == encoder.id
    exported = list((tmp_path / "onnx").rglob("model.onnx"))
    assert len(exported) == 1
    mtime = exported[0].stat().st_mtime_ns
    enc.set_threads(1)
    np.testing.assert_allclose(TextEncoder(cfg).encode_query(texts[0]), ref[0], atol=1e-4)
    assert exported[0].stat().st_mtime_ns == mtime


def test_onnx_backend_refuses_other_layouts(tmp_path) -> None:
    from shopsage.text._backbone import load_backbone
    from shopsage.text.encoder import default_model_path

    with pytest.raises(ConfigError, match="use backend='torch'"):
        load_backbone(default_model_path(), 128, int8=False, force_sentence_transformers=True,
                      onnx_path=tmp_path / "m.onnx")


def test_missing_model_directory_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        TextEncoder(EncoderConfig(model=str(tmp_path / "nope")))


@pytest.mark.slow
def test_plain_backbone_equals_sentence_transformers() -> None:
    """The direct transformers path gives sentence-transformers' vectors (imports it: slow)."""
    from shopsage.text._backbone import load_backbone
    from shopsage.text.encoder import default_model_path

    texts = ["  Cordless drill 18V ", "a", "kitchen faucet with pull-down sprayer and soap dispenser"]
    plain = load_backbone(default_model_path(), 128, int8=False)
    ref = load_backbone(default_model_path(), 128, int8=False, force_sentence_transformers=True)
    assert type(plain).__name__ == "_PlainBackbone" and type(ref).__name__ == "_SentenceTransformerBackbone"
    np.testing.assert_allclose(plain.encode(texts), ref.encode(texts), atol=1e-5)


def test_progress_hears_each_batch_of_the_texts_to_encode(tmp_path) -> None:
    """Only texts the cache lacks are counted, each distinct text once; False silences, a callable overrides."""
    heard: list[tuple[int, int | None, str]] = []
    enc = TextEncoder(EncoderConfig(cache_dir=str(tmp_path), batch_size=2), progress=lambda *a: heard.append(a))
    texts = ["drill", "saw", "drill", "hammer", "sanding roll", "wood glue"]
    enc.encode(texts)
    assert [(d, t) for d, t, _ in heard] == [(2, 5), (4, 5), (5, 5)]
    assert heard[0][2] == "embedding texts"
    heard.clear()
    enc.encode(texts + ["tape", "caulk", "file"])  # three new texts: two batches
    assert [(d, t) for d, t, _ in heard] == [(2, 3), (3, 3)]
    heard.clear()
    enc.encode(["a", "b", "c"], progress=False)
    other: list[tuple[int, int | None, str]] = []
    enc.encode(["d", "e", "f"], progress=lambda *a: other.append(a))
    assert heard == [] and [(d, t) for d, t, _ in other] == [(2, 3), (3, 3)]
    enc.encode(["g", "h"])  # one batch: nothing to report
    assert heard == []
