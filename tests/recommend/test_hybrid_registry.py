"""Hybrid blending, score normalisation, the model registry."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from shopsage.errors import ConfigError
from shopsage.recommend import MODELS, ContentScorer, Hybrid, ItemKNN, Popularity, create, normalize_scores
from shopsage.testing.recommender_contract import N_ITEMS, group_data


def test_normalizations_by_hand() -> None:
    s = np.array([[1.0, 3.0, 2.0, 2.0], [5.0, 5.0, 5.0, 5.0]], np.float32)
    np.testing.assert_allclose(normalize_scores(s, "minmax"), [[0, 1, 0.5, 0.5], [0, 0, 0, 0]])
    z = normalize_scores(s, "zscore")
    np.testing.assert_allclose(z[0], (s[0] - 2) / np.std(s[0]), rtol=1e-6)
    assert np.all(z[1] == 0)
    np.testing.assert_allclose(normalize_scores(s, "rank"), [[0.25, 1.0, 0.75, 0.75], [1, 1, 1, 1]])
    np.testing.assert_array_equal(normalize_scores(s, "none"), s)


def test_alpha_extremes_reproduce_each_side() -> None:
    d = group_data()
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(N_ITEMS, 4)).astype(np.float32)
    hist = [np.array([0]), np.array([9, 10])]
    only_collab = Hybrid(ItemKNN(), ContentScorer(emb), alpha=1.0).fit(d).recommend(hist, n=3)
    only_content = Hybrid(ItemKNN(), ContentScorer(emb), alpha=0.0).fit(d).recommend(hist, n=5)
    np.testing.assert_array_equal(only_content.ids, ContentScorer(emb).fit(d).recommend(hist, n=5).ids)
    for b in range(2):
        assert set(only_collab.ids[b].tolist()) == set(ItemKNN().fit(d).recommend(hist, n=3).ids[b].tolist())


def test_blend_is_the_weighted_sum_of_normalised_scores() -> None:
    d = group_data()
    a, b = ItemKNN().fit(d), Popularity().fit(d)
    h = Hybrid(a, b, alpha=0.3, normalization="minmax").fit(d)
    from shopsage.data.splits import Sequences

    hist = Sequences.from_lists([[0], [5, 6]])
    want = 0.3 * normalize_scores(a.score(hist), "minmax") + 0.7 * normalize_scores(b.score(hist), "minmax")
    np.testing.assert_allclose(h.score(hist), want, rtol=1e-6)


def test_content_scorer_needs_matching_embeddings() -> None:
    from shopsage.errors import ModelError

    with pytest.raises(ModelError, match="one row per item"):
        ContentScorer(np.zeros((3, 2))).fit(group_data())
    with pytest.raises(ModelError, match="no item embeddings"):
        ContentScorer().fit(group_data())


def test_registry_names_and_errors() -> None:
    assert {"pop", "itemknn", "ease", "als", "bpr", "fbt", "sknn"} <= set(MODELS)
    for name in ("pop", "itemknn", "ease", "als", "bpr", "fbt", "sknn"):
        assert MODELS[name].name == name
    assert create("itemknn", neighbors=7).config.neighbors == 7
    with pytest.raises(ConfigError, match="known models: .*itemknn"):
        create("knn")
    with pytest.raises(ConfigError, match="neighbors"):
        create("itemknn", neighbors=0)


def test_importing_the_package_loads_no_model_backend() -> None:
    code = "import sys, shopsage.recommend; print('implicit' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
