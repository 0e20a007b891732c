"""Every classic recommender passes the shared contract suite (shopsage.testing.recommender_contract)."""

from __future__ import annotations

import numpy as np

from shopsage.recommend import (
    ALS,
    BPR,
    EASE,
    FBT,
    SKNN,
    ContentScorer,
    Hybrid,
    ItemKNN,
    Popularity,
    RecentItems,
)
from shopsage.recommend.base import Recommender
from shopsage.testing.recommender_contract import GROUP_SIZE, N_ITEMS, RecommenderContract


class TestPopularity(RecommenderContract):
    learns_cooccurrence = False
    bad_config = {"half_life_days": -1.0}

    def make_model(self) -> Recommender:
        return Popularity()


class TestItemKNN(RecommenderContract):
    bad_config = {"neighbors": 0}

    def make_model(self) -> Recommender:
        return ItemKNN(neighbors=10, shrink=1.0)


class TestEASE(RecommenderContract):
    bad_config = {"reg": 0.0}

    def make_model(self) -> Recommender:
        return EASE(reg=10.0)


class TestALS(RecommenderContract):
    bad_config = {"embedding_dim": 0}

    def make_model(self) -> Recommender:
        return ALS(embedding_dim=5, reg=0.1, alpha=10.0, epochs=15, seed=0, num_threads=1)  # rank 5 = the 5 groups


class TestBPR(RecommenderContract):
    bad_config = {"learning_rate": 0.0}

    def make_model(self) -> Recommender:
        return BPR(embedding_dim=8, learning_rate=0.05, reg=0.001, epochs=200, seed=0, num_threads=1)


class TestFBT(RecommenderContract):
    bad_config = {"measure": "support"}

    def make_model(self) -> Recommender:
        return FBT(measure="confidence", min_support=1)


class TestFBTLiftWindow(RecommenderContract):
    bad_config = {"window": 0}

    def make_model(self) -> Recommender:
        return FBT(measure="lift", window=2, min_support=1)


class TestSKNN(RecommenderContract):
    bad_config = {"similarity": "euclid"}

    def make_model(self) -> Recommender:
        return SKNN(neighbors=20, sample_size=50, batch_size=2)


class TestVSKNNJaccardIdf(RecommenderContract):
    bad_config = {"weighting": "exp"}

    def make_model(self) -> Recommender:
        return SKNN(neighbors=20, sample_size=50, similarity="jaccard", weighting="linear", idf=True)


def _group_embeddings() -> np.ndarray:
    """One-hot group embeddings: a content scorer that knows the groups exactly."""
    emb = np.zeros((N_ITEMS, N_ITEMS // GROUP_SIZE + 2), np.float32)
    for i in range(N_ITEMS):
        emb[i, i // GROUP_SIZE] = 1.0
    emb[:, -1] = 0.01 * np.arange(N_ITEMS)  # breaks ties inside a group
    return emb


class TestContentScorer(RecommenderContract):
    bad_config = {"alpha": 0.5}

    def make_model(self) -> Recommender:
        return ContentScorer(_group_embeddings())


class TestHybrid(RecommenderContract):
    bad_config = {"alpha": 1.5}

    def make_model(self) -> Recommender:
        return Hybrid(ItemKNN(neighbors=10), ContentScorer(_group_embeddings()), alpha=0.7)


class TestRecentItemsInAHybrid(RecommenderContract):
    """The repeat boost as used: SKNN blended with the history's own items."""

    bad_config = {"alpha": -0.1}

    def make_model(self) -> Recommender:
        return Hybrid(SKNN(neighbors=20, sample_size=50), RecentItems(decay=0.5), alpha=0.8)


def test_recent_items_scores_the_history_by_recency() -> None:
    from shopsage.data.splits import Sequences
    from shopsage.recommend.base import TrainData

    model = RecentItems(decay=0.5).fit(TrainData(6, Sequences.from_lists([[0, 1]])))
    scores = model.score(Sequences.from_lists([[3, 1, 3, 2], [], [5]]))
    np.testing.assert_allclose(scores[0], [0, 0.25, 1.0, 0.125 + 0.5, 0, 0])  # 3 twice: 0.5 + 0.125
    assert not scores[1].any() and scores[2, 5] == 1.0
    top = model.recommend(Sequences.from_lists([[3, 1, 3, 2]]), n=3, filter_seen=False)
    assert top.ids[0].tolist() == [2, 3, 1]
    capped = RecentItems(decay=0.5, max_len=2).fit(TrainData(6, Sequences.from_lists([[0]])))
    np.testing.assert_allclose(capped.score(Sequences.from_lists([[3, 1, 3, 2]]))[0], [0, 0, 1.0, 0.5, 0, 0])
