from __future__ import annotations

import numpy as np
import pytest

from shopsage.artifacts import load_arrays, read_manifest, save_arrays, write_manifest
from shopsage.errors import ArtifactError, NotFoundError
from shopsage.settings import get_settings
from shopsage.types import PAD_ID, ScoredItems
from shopsage.vocab import Vocabulary


def test_scored_items_top_n_with_exclusion() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [1.0, 0.0, 0.2, 0.3]])
    top = ScoredItems.from_scores(scores, n=3, exclude=[np.array([1]), np.array([])])
    assert top.ids.tolist() == [[3, 2, 0], [0, 3, 2]]
    assert np.allclose(top.scores[0], [0.7, 0.5, 0.1])


def test_scored_items_pads_short_rows() -> None:
    top = ScoredItems.from_scores(np.array([[0.2, 0.1]]), n=4, exclude=[np.array([0])])
    assert top.ids.tolist() == [[1, PAD_ID, PAD_ID, PAD_ID]]
    ids, scores = top.row(0)
    assert ids.tolist() == [1] and np.isneginf(top.scores[0, 1:]).all()
    stacked = ScoredItems.from_rows([(np.array([5, 6]), np.array([2.0, 1.0])), (np.array([], int), np.array([]))], n=3)
    assert stacked.ids.tolist() == [[5, 6, -1], [-1, -1, -1]]


def test_vocabulary_roundtrip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    v = Vocabulary(["b", "a", "c"])
    assert v.index("a") == 1 and v.externals([2, 0]) == ["c", "b"]
    assert v.indexes(["c", "zz"], missing=-1).tolist() == [2, -1]
    with pytest.raises(NotFoundError, match="unknown id 'zz'"):
        v.index("zz")
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary(["a", "a"])
    v.save(str(tmp_path / "v.txt"))
    assert Vocabulary.load(str(tmp_path / "v.txt")) == v


def test_artifacts_are_plain_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    write_manifest(tmp_path, "thing", {"n": 3})
    save_arrays(tmp_path, w=np.arange(4))
    assert read_manifest(tmp_path, "thing")["config"] == {"n": 3}
    assert load_arrays(tmp_path, "w")["w"].tolist() == [0, 1, 2, 3]
    with pytest.raises(ArtifactError, match="not a 'other'"):
        read_manifest(tmp_path, "other")
    with pytest.raises(ArtifactError, match="missing"):
        load_arrays(tmp_path, "nope")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        load_arrays(tmp_path, "obj")  # object arrays would need pickle: refused


def test_settings_from_env() -> None:
    s = get_settings({"SHOPSAGE_STORE": "sqlite:///x.db", "SHOPSAGE_API_KEYS": "k1, k2,"})
    assert s.store == "sqlite:///x.db" and s.api_keys == ("k1", "k2")
    assert get_settings({}).store is None  # the store is then <home>/shop.db (ShopSageConfig.store_url)
