from __future__ import annotations

import numpy as np
import pytest

from shopsage.errors import ValidationError
from shopsage.search import VectorConfig, VectorIndex


def _data(n: int = 3000, d: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(30, d))
    x = centers[rng.integers(0, 30, n)] + 0.5 * rng.normal(size=(n, d))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    q = x[rng.choice(n, 100, replace=False)] + 0.2 * rng.normal(size=(100, d)).astype(np.float32)
    return x, q.astype(np.float32)


def _recall(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(x, y)) / a.shape[1] for x, y in zip(a, b, strict=True)]))


def test_exact_search_is_brute_force() -> None:
    x, q = _data(500)
    ix = VectorIndex(x.shape[1], VectorConfig(kind="exact"))
    ix.add(np.arange(len(x)), x)
    res = ix.search(q, 5)
    expect = np.argsort(-(q @ x.T), axis=1)[:, :5]
    assert (res.ids == expect).all()


def test_hnsw_recall_against_exact_is_at_least_095() -> None:
    x, q = _data()
    exact = VectorIndex(x.shape[1], VectorConfig(kind="exact"))
    ann = VectorIndex(x.shape[1], VectorConfig(kind="hnsw"))
    for ix in (exact, ann):
        ix.add(np.arange(len(x)), x)
    assert ann._hnsw is not None
    assert _recall(exact.search(q, 10).ids, ann.search(q, 10).ids) >= 0.95


def test_auto_switches_to_hnsw_above_threshold() -> None:
    x, _ = _data(300)
    ix = VectorIndex(x.shape[1], VectorConfig(exact_below=200))
    ix.add(np.arange(100), x[:100])
    assert ix._hnsw is None
    ix.add(np.arange(100, 300), x[100:])
    assert ix._hnsw is not None


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_delete_and_update(kind: str) -> None:
    x, _ = _data(400)
    ix = VectorIndex(x.shape[1], VectorConfig(kind=kind, rebuild_stale_ratio=0.9))
    ix.add(np.arange(400), x)
    ix.delete([0, 1])
    ids, _ = ix.search(x[:2], 3).row(0)
    assert 0 not in ids and 1 not in ids
    ix.add([2], x[[10]])  # slot 2 now holds item 10's vector
    ids, scores = ix.search(x[[10]], 2).row(0)
    assert set(ids.tolist()) == {2, 10}
    np.testing.assert_allclose(scores, 1.0, atol=1e-5)
    ids, _ = ix.search(x[[2]], 1).row(0)
    assert ids[0] != 2
    assert len(ix) == 398


def test_mask_restricts_results_even_when_sparse() -> None:
    x, q = _data(1000)
    ix = VectorIndex(x.shape[1], VectorConfig(kind="hnsw"))
    ix.add(np.arange(1000), x)
    mask = np.zeros(1000, bool)
    mask[::3] = True
    assert np.isin(ix.search(q, 10, mask=mask).ids, np.flatnonzero(mask)).all()
    few = np.zeros(1000, bool)
    few[[5, 7]] = True
    res = ix.search(q[:1], 10, mask=few)
    assert sorted(res.row(0)[0].tolist()) == [5, 7]


def test_save_and_load(tmp_path) -> None:
    x, q = _data(800)
    ix = VectorIndex(x.shape[1], VectorConfig(kind="hnsw"))
    ix.add(np.arange(800), x)
    ix.delete([3])
    ix.save(tmp_path / "vec")
    back = VectorIndex.load(tmp_path / "vec")
    assert (back.search(q, 10).ids == ix.search(q, 10).ids).all()
    assert len(back) == 799


def test_dimension_mismatch_is_a_validation_error() -> None:
    ix = VectorIndex(4)
    with pytest.raises(ValidationError, match="dimension"):
        ix.add([0], np.ones((1, 5), np.float32))


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_a_filter_nothing_meets_gives_padding(kind: str) -> None:
    x, q = _data(300)
    ix = VectorIndex(x.shape[1], VectorConfig(kind=kind))  # type: ignore[arg-type]
    ix.add(np.arange(len(x)), x)
    res = ix.search(q[:3], 5, mask=np.zeros(len(x), bool))
    assert res.ids.shape == (3, 5) and (res.ids == -1).all() and np.isneginf(res.scores).all()
    assert ix.search(q[:1], 5, mask=np.zeros(0, bool)).row(0)[0].tolist() == []  # an empty mask too
