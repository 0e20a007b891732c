"""The ranking stage learned from feedback: features of (shopper, candidate) pairs, a position-based
click model for data without exposures, and the LambdaMART model (the search ranker's, reused).

The stage itself (loading the live version, reordering a scenario's fused candidates, reasons) and
its training from a store live in :mod:`shopsage.serving.learned` and
:mod:`shopsage.serving.ranker_training`: they read the serving pipeline, which sits above this layer.
"""

from __future__ import annotations

from shopsage.rank.clicks import ClickModelConfig, PositionBasedClicks
from shopsage.rank.features import RANK_MISSING, StageFeatures, StageInput
from shopsage.rank.model import StageRanker, ranker_name, stage_ranker_config

__all__ = ["ClickModelConfig", "PositionBasedClicks", "RANK_MISSING", "StageFeatures", "StageInput", "StageRanker",
           "ranker_name", "stage_ranker_config"]
