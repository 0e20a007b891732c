"""GRU4Rec: session-based recommendation with recurrent networks (Hidasi et al., ICLR 2016).

Item vectors go through a GRU; the hidden state after each click scores every item (dot product
with the same item table) as the next click. Trained like SASRec, on every position of a
sequence at once, with full or sampled softmax cross-entropy (Hidasi & Czapp, RecSys 2023, find
cross-entropy the best GRU4Rec loss).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field
from torch import nn

from shopsage.recommend.sequential.base import SequentialConfig, SequentialRecommender
from shopsage.recommend.sequential.items import ItemTable

__all__ = ["GRU4RecConfig", "GRU4RecNet", "GRU4Rec"]


class GRU4RecConfig(SequentialConfig):
    """GRU4Rec's hyperparameters (the shared ones are in :class:`SequentialConfig`)."""

    n_layers: int = Field(1, ge=1)
    """Stacked GRU layers."""


class GRU4RecNet(nn.Module):
    def __init__(self, config: GRU4RecConfig, n_items: int, text: np.ndarray | None = None,
                 warm: np.ndarray | None = None) -> None:
        super().__init__()
        d = config.embedding_dim
        self.items = ItemTable(n_items, d, config.item_repr, text, warm, id_dropout=config.id_dropout)
        self.drop = nn.Dropout(config.dropout)
        self.gru = nn.GRU(d, d, num_layers=config.n_layers, batch_first=True,
                          dropout=config.dropout if config.n_layers > 1 else 0.0)
        self.out = nn.Linear(d, d)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Hidden state after each position of the right-padded ids ``seq`` (B, T) -> (B, T, D);
        padding follows the real items, so it never changes a real position's state."""
        x = self.drop(self.items(seq))  # (B, T, D)
        h, _ = self.gru(x)  # (B, T, D)
        return self.out(self.drop(h))  # (B, T, D)

    def predict(self, seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Hidden state after the last real item of each row (B, D)."""
        h = self.forward(seq)  # (B, T, D)
        return h[torch.arange(seq.shape[0]), lengths - 1]  # (B, D)


class GRU4Rec(SequentialRecommender):
    """GRU4Rec as a ShopSage recommender (``shopsage.recommend.create("gru4rec")``)."""

    name = "gru4rec"
    Config = GRU4RecConfig
    config: GRU4RecConfig

    def _build_net(self, n_items: int, text: np.ndarray | None, warm: np.ndarray | None) -> nn.Module:
        return GRU4RecNet(self.config, n_items, text, warm)
