"""Training for serving: fit models on a store, score them on its held-out tail, register them.

Layer: above ``evaluate`` (it scores with the one evaluation path), below ``serving`` and the CLI.
"""

from __future__ import annotations

from shopsage.training.blends import BLENDS, train_blend
from shopsage.training.data import SKIP_TYPES, TrainingSet, choose_protocol, owner_groups, prepare
from shopsage.training.recommenders import (
    ITEMS_FILE,
    MODEL_DIR,
    register_recommender,
    score_on_tail,
    train_recommender,
)

__all__ = ["BLENDS", "ITEMS_FILE", "MODEL_DIR", "SKIP_TYPES", "TrainingSet", "choose_protocol", "owner_groups",
           "prepare", "register_recommender", "score_on_tail", "train_blend", "train_recommender"]
