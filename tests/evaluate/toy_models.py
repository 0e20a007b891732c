"""A test-only recommender with a known ranking (a real implementation of the contract, not a mock).

``NextItem`` ranks item ``last + offset`` first, then ``last + offset + 1``, ... (modulo the
catalogue), where ``last`` is the newest item of the history. Its metrics can be computed by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shopsage.data.splits import Sequences
from shopsage.errors import CapacityError
from shopsage.recommend.base import ModelConfig, Recommender, TrainData


def write_amazon_seq(folder: Path, sequences: dict[str, list[int]], n_items: int) -> Path:
    """An ``amazon-seq`` folder whose items ``I0..I{n-1}`` get the indexes ``0..n-1``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "item_titles.txt").write_text("".join(f"I{i} item number {i}\n" for i in range(n_items)), encoding="utf-8")
    (folder / "user_sequence.txt").write_text(
        "".join(f"{u} " + " ".join(f"I{i}" for i in seq) + "\n" for u, seq in sequences.items()), encoding="utf-8")
    return folder


def offset_sequences(n_users: int = 8, n_items: int = 10) -> dict[str, list[int]]:
    """Per user ``j``: ``j, j+1, j+2, j+3, j+5`` (mod n): under leave-one-out the validation target
    is one after the history's last item, the test target two after."""
    return {f"u{j}": [(j + d) % n_items for d in (0, 1, 2, 3, 5)] for j in range(n_users)}


class NextItemConfig(ModelConfig):
    offset: int = 1
    """Distance from the newest history item to the item ranked first."""
    max_items: int = 1_000
    """Refuse catalogues larger than this (to exercise the 'refused' path)."""


class NextItem(Recommender):
    name = "next-item"
    Config = NextItemConfig

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"offset": trial.suggest_int("offset", 0, 3)}

    def _fit(self, data: TrainData) -> None:
        if data.n_items > self.config.max_items:
            raise CapacityError(f"NextItem refuses {data.n_items} items (max_items={self.config.max_items})")
        self.train_sequences = len(data.sequences)

    def score(self, histories: Sequences) -> np.ndarray:
        n = self.n_items
        last = np.array([h[-1] if len(h) else 0 for h in (histories[b] for b in range(len(histories)))])
        dist = (np.arange(n)[None, :] - last[:, None] - self.config.offset) % n  # (B, I): 0 = ranked first
        return (n - dist).astype(np.float32)

    def _save(self, directory: Path) -> None:
        pass

    def _load(self, directory: Path) -> None:
        pass
