"""The contract every recommender passes (popularity, item-kNN, EASE, ALS, BPR, FBT, SKNN, ...).

A model's test module subclasses :class:`RecommenderContract` and implements ``make_model()``
returning a fresh, unfitted model (configured small and seeded for the tiny data); every test
below then runs against it. The data (:func:`group_data`) has a known answer: items come in
groups of 4 and every sequence holds items of one group only, so a model that learns from
co-occurrence must recommend the rest of an item's group. Models that do not learn item
relations (popularity) set ``learns_cooccurrence = False`` and are checked on their own answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pytest

from shopsage.data.splits import Sequences
from shopsage.errors import ArtifactError, NotFittedError, ValidationError
from shopsage.recommend.base import Recommender, TrainData
from shopsage.types import PAD_ID

__all__ = ["RecommenderContract", "group_data", "N_GROUPS", "GROUP_SIZE", "N_ITEMS"]

N_GROUPS = 5
GROUP_SIZE = 4
N_COLD = 2  # items without any event: the catalogue is larger than what was seen
N_ITEMS = N_GROUPS * GROUP_SIZE + N_COLD


def group_data(n_sequences: int = 150, seed: int = 0) -> TrainData:
    """Sequences of 2 to 4 distinct items of one group each (group = sequence index mod 5), in
    random order; group ``g`` holds items ``4g .. 4g + 3``; items 20 and 21 never occur."""
    rng = np.random.default_rng(seed)
    seqs = []
    for s in range(n_sequences):
        g = s % N_GROUPS
        size = int(rng.integers(2, GROUP_SIZE + 1))
        seqs.append(g * GROUP_SIZE + rng.permutation(GROUP_SIZE)[:size])
    return TrainData(N_ITEMS, Sequences.from_lists(seqs))


def group_of(item: int) -> set[int]:
    g = item // GROUP_SIZE
    return set(range(g * GROUP_SIZE, (g + 1) * GROUP_SIZE))


class RecommenderContract:
    """Inherit and implement ``make_model``; set ``learns_cooccurrence = False`` for models that
    rank the same items for every history."""

    learns_cooccurrence: bool = True
    bad_config: dict[str, Any] = {"no_such_hyperparameter": 1}

    def make_model(self) -> Recommender:
        raise NotImplementedError("a RecommenderContract subclass must implement make_model()")

    # ---- fixtures -------------------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> TrainData:
        return group_data()

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, data: TrainData) -> Recommender:
        return cls().make_model().fit(data)

    # ---- the known answer -----------------------------------------------------------------------
    def test_items_that_occur_together_are_recommended_together(self, fitted: Recommender) -> None:
        if not self.learns_cooccurrence:
            pytest.skip(f"{fitted.name} does not learn which items occur together")
        for g in range(N_GROUPS):
            first = g * GROUP_SIZE
            for hist in ([first], [first, first + 1]):
                rest = group_of(first) - set(hist)
                got = fitted.recommend([np.array(hist)], n=len(rest)).ids[0]
                assert set(got.tolist()) == rest, (hist, got)

    def test_similar_items_are_the_group(self, fitted: Recommender) -> None:
        if not self.learns_cooccurrence:
            pytest.skip(f"{fitted.name} does not learn which items occur together")
        items = np.arange(0, N_GROUPS * GROUP_SIZE, GROUP_SIZE)
        res = fitted.similar_items(items, n=GROUP_SIZE - 1)
        for b, item in enumerate(items):
            assert set(res.ids[b].tolist()) == group_of(int(item)) - {int(item)}

    # ---- shapes, exclusions, padding ------------------------------------------------------------
    def test_scores_and_results_have_the_contract_shapes(self, fitted: Recommender) -> None:
        hists = [np.array([0, 1]), np.array([5]), np.array([9, 10, 11])]
        scores = fitted.score(Sequences.from_lists(hists))
        assert scores.shape == (3, N_ITEMS) and scores.dtype == np.float32
        assert np.isfinite(scores).all()
        res = fitted.recommend(hists, n=5)
        assert res.ids.shape == res.scores.shape == (3, 5)
        assert res.ids.dtype == np.int32 and res.scores.dtype == np.float32
        assert np.all(np.diff(res.scores, axis=1) <= 0), "results must be ranked best first"
        one = fitted.recommend(Sequences.from_lists(hists[1:2]), n=5)
        np.testing.assert_array_equal(one.ids[0], res.ids[1])  # a row does not depend on its batch

    def test_seen_items_are_excluded_unless_asked(self, fitted: Recommender) -> None:
        hist = np.array([0, 1, 2])
        ids = fitted.recommend([hist], n=N_ITEMS).ids[0]
        assert not set(ids.tolist()) & set(hist.tolist())
        assert (ids != PAD_ID).sum() == N_ITEMS - len(hist)
        kept = fitted.recommend([hist], n=N_ITEMS, filter_seen=False).ids[0]
        assert set(hist.tolist()) <= set(kept.tolist())

    def test_exclude_is_respected(self, fitted: Recommender) -> None:
        hist = [np.array([0]), np.array([4])]
        free = fitted.recommend(hist, n=3)
        banned = [free.ids[0][:2].astype(np.int64), np.array([], dtype=np.int64)]
        res = fitted.recommend(hist, n=3, exclude=banned)
        assert not set(res.ids[0].tolist()) & set(banned[0].tolist())
        np.testing.assert_array_equal(res.ids[1], free.ids[1])
        with pytest.raises(ValidationError):
            fitted.recommend(hist, n=3, exclude=banned[:1])

    def test_n_larger_than_the_catalogue_is_padded(self, fitted: Recommender) -> None:
        res = fitted.recommend([np.array([3])], n=N_ITEMS + 7)
        ids, scores = res.ids[0], res.scores[0]
        assert ids.shape == (N_ITEMS + 7,)
        assert np.all(ids[N_ITEMS - 1:] == PAD_ID) and np.all(np.isneginf(scores[N_ITEMS - 1:]))
        assert len(set(ids[ids != PAD_ID].tolist())) == N_ITEMS - 1

    def test_empty_history_and_bad_ids(self, fitted: Recommender) -> None:
        res = fitted.recommend([np.array([], dtype=np.int32)], n=3)
        assert res.ids.shape == (1, 3)
        with pytest.raises(ValidationError):
            fitted.recommend([np.array([N_ITEMS + 5])], n=3)
        with pytest.raises(ValidationError):
            fitted.recommend([np.array([0])], n=0)

    # ---- persistence ----------------------------------------------------------------------------
    def test_save_load_round_trip_gives_identical_scores(self, fitted: Recommender, tmp_path: Path) -> None:
        fitted.save(tmp_path / "model")
        for f in (tmp_path / "model").rglob("*.npy"):
            np.load(f, allow_pickle=False)  # plain arrays, no pickles
        loaded = type(fitted).load(tmp_path / "model")
        hists = Sequences.from_lists([[0], [4, 5], [8, 9, 10], [19]])
        np.testing.assert_array_equal(loaded.score(hists), fitted.score(hists))
        np.testing.assert_array_equal(loaded.similar_items([0, 7], n=4).ids, fitted.similar_items([0, 7], n=4).ids)
        assert loaded.config == fitted.config

    def test_load_of_another_kind_fails(self, fitted: Recommender, tmp_path: Path) -> None:
        with pytest.raises(ArtifactError):
            type(fitted).load(tmp_path / "nothing-here")

    # ---- misuse ---------------------------------------------------------------------------------
    def test_unfitted_model_raises(self) -> None:
        model = self.make_model()
        with pytest.raises(NotFittedError):
            model.recommend([np.array([0])], n=3)
        with pytest.raises(NotFittedError):
            model.similar_items([0], n=3)
        with pytest.raises(NotFittedError):
            model.save("/nonexistent/never-written")

    def test_bad_config_raises(self) -> None:
        model = self.make_model()
        with pytest.raises(pydantic.ValidationError):
            type(model)(**self.bad_config)

    def test_search_space_gives_valid_configs(self) -> None:
        optuna = pytest.importorskip("optuna")
        model = self.make_model()
        space = getattr(type(model), "search_space", None)
        if space is None:
            pytest.skip(f"{model.name} has no hyperparameters to search")
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(3):
            overrides = space(study.ask())
            assert overrides, "a search space must propose at least one hyperparameter"
            type(model)(model.config, **overrides)  # validates against the model's config
