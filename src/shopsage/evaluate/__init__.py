"""Offline evaluation: metrics, protocols, the recommender benchmark and hyperparameter search."""

from __future__ import annotations

from shopsage.evaluate.metrics import (
                                       RANKING_METRICS,
                                       auc,
                                       coverage,
                                       hit_matrix,
                                       intra_list_diversity,
                                       log_loss,
                                       novelty,
                                       per_row_metrics,
                                       popularity_bias,
                                       rank_auc,
                                       ranking_metrics,
)
from shopsage.evaluate.protocols import (
                                       DEFAULT_PROTOCOL,
                                       PROTOCOLS,
                                       EvalOptions,
                                       evaluate,
                                       load_split,
                                       make_split,
                                       save_split,
)

__all__ = ["RANKING_METRICS", "auc", "coverage", "hit_matrix", "intra_list_diversity", "log_loss", "novelty",
           "per_row_metrics", "popularity_bias", "rank_auc", "ranking_metrics", "DEFAULT_PROTOCOL", "PROTOCOLS",
           "EvalOptions", "evaluate", "load_split", "make_split", "save_split"]
