"""SASRec and GRU4Rec pass the recommender contract that every model passes."""

from __future__ import annotations

from shopsage.recommend.base import Recommender
from shopsage.recommend.sequential import GRU4Rec, SASRec
from shopsage.testing.recommender_contract import RecommenderContract

SMALL = {"embedding_dim": 16, "epochs": 40, "batch_size": 32, "learning_rate": 0.01, "dropout": 0.0,
         "patience": 40, "max_len": 6, "threads": 1, "seed": 0}


class TestSASRec(RecommenderContract):
    def make_model(self) -> Recommender:
        return SASRec(**SMALL)


class TestGRU4Rec(RecommenderContract):
    def make_model(self) -> Recommender:
        return GRU4Rec(**SMALL)
