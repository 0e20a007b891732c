"""SASRec: self-attentive sequential recommendation (Kang & McAuley, ICDM 2018).

Item vectors plus learned positions go through ``n_blocks`` causal self-attention blocks; the
hidden state at position ``t`` scores every item (dot product with the same item table) as the
item at ``t + 1``. Trained with full or sampled softmax cross-entropy over every position at once
(the "cross-entropy SASRec" of Klenitskiy & Vasilev, RecSys 2023) instead of the paper's one
sampled negative per position.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from shopsage.recommend.sequential.base import SequentialConfig, SequentialRecommender
from shopsage.recommend.sequential.items import ItemTable

__all__ = ["SASRecConfig", "SASRecNet", "SASRec"]


class SASRecConfig(SequentialConfig):
    """SASRec's hyperparameters (the shared ones are in :class:`SequentialConfig`)."""

    n_blocks: int = Field(2, ge=1)
    """Self-attention blocks."""
    n_heads: int = Field(2, ge=1)
    """Attention heads per block (must divide ``embedding_dim``)."""
    ffn_mult: int = Field(1, ge=1)
    """Width of the feed-forward layer as a multiple of ``embedding_dim`` (the paper: 1)."""


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape  # (B, T, D)
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # 3 x (B, H, T, Dh)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, Dh)
        return self.out(y.transpose(1, 2).reshape(b, t, d))  # (B, T, D)


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, dim: int, heads: int, ffn_mult: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, dropout)
        self.ln2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, dim * ffn_mult), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(dim * ffn_mult, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x)))  # (B, T, D)
        return x + self.drop(self.ffn(self.ln2(x)))  # (B, T, D)


class SASRecNet(nn.Module):
    def __init__(self, config: SASRecConfig, n_items: int, text: np.ndarray | None = None,
                 warm: np.ndarray | None = None) -> None:
        super().__init__()
        d = config.embedding_dim
        self.scale = math.sqrt(d)
        self.items = ItemTable(n_items, d, config.item_repr, text, warm, id_dropout=config.id_dropout)
        self.pos = nn.Embedding(config.max_len, d)
        nn.init.normal_(self.pos.weight, std=0.02)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(d, config.n_heads, config.ffn_mult, config.dropout)
                                    for _ in range(config.n_blocks))
        self.ln = nn.LayerNorm(d)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Hidden state after each position of the right-padded ids ``seq`` (B, T) -> (B, T, D)."""
        t = seq.shape[1]
        x = self.items(seq) * self.scale + self.pos.weight[:t]  # (B, T, D)
        x = self.drop(x) * (seq > 0).unsqueeze(-1)  # padding stays zero
        for block in self.blocks:
            x = block(x)
        return self.ln(x)  # (B, T, D)

    def predict(self, seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Hidden state after the last real item of each row (B, D)."""
        h = self.forward(seq)  # (B, T, D)
        return h[torch.arange(seq.shape[0]), lengths - 1]  # (B, D)


class SASRec(SequentialRecommender):
    """SASRec as a ShopSage recommender (``shopsage.recommend.create("sasrec")``)."""

    name = "sasrec"
    Config = SASRecConfig
    config: SASRecConfig

    def _build_net(self, n_items: int, text: np.ndarray | None, warm: np.ndarray | None) -> nn.Module:
        if self.config.embedding_dim % self.config.n_heads:
            from shopsage.errors import ConfigError

            raise ConfigError(f"embedding_dim {self.config.embedding_dim} is not divisible by n_heads "
                              f"{self.config.n_heads}: pick n_heads among its divisors")
        return SASRecNet(self.config, n_items, text, warm)
