"""Sequential and session recommenders: SASRec and GRU4Rec (torch; imported only when asked for)."""

from __future__ import annotations

from shopsage.recommend.sequential.base import SequentialConfig, SequentialRecommender
from shopsage.recommend.sequential.gru4rec import GRU4Rec, GRU4RecConfig
from shopsage.recommend.sequential.sasrec import SASRec, SASRecConfig

__all__ = ["SequentialConfig", "SequentialRecommender", "SASRec", "SASRecConfig", "GRU4Rec", "GRU4RecConfig"]
