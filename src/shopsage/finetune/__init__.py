"""Fine-tuning the text encoder on a shop's own logs and judgments (full or LoRA)."""

from shopsage.finetune.pairs import (
    Pair,
    PairSet,
    cap_per_positive,
    history_text,
    interleave,
    item_text,
    keep_near,
    mine_hard_negatives,
    pairs_from_histories,
    pairs_from_judgments,
    pairs_from_search_events,
    pairs_from_sequences,
)
from shopsage.finetune.trainer import FineTuneConfig, FineTuneResult, fine_tune, load_finetuned

__all__ = ["Pair", "PairSet", "cap_per_positive", "history_text", "interleave", "item_text", "keep_near", "mine_hard_negatives",
           "pairs_from_histories", "pairs_from_judgments", "pairs_from_search_events", "pairs_from_sequences",
           "FineTuneConfig", "FineTuneResult", "fine_tune", "load_finetuned"]
