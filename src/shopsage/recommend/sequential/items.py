"""Item representations shared by the sequential models: learned ids, optionally from item text.

Item ``i`` (0-based) is row ``i + 1`` of every table here; row 0 is padding. Three modes:

- ``id``: one learned vector per item (the papers' models);
- ``text-init``: the id vectors start from a projection of the sentence encoder's embedding of
  the item text (all-MiniLM-L6-v2), then train freely;
- ``text-fuse``: ``vector(i) = Linear(text(i)) + warm(i) * id(i)``: items never seen in training
  (``warm = 0``) are represented by their text alone, so a new item can be recommended; with
  ``id_dropout`` a random share of items lose their id part in each training step, so the text
  part learns to carry an item alone (what a new item has).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

__all__ = ["ItemMode", "ItemTable", "encode_item_text", "pca_projection"]

ItemMode = Literal["id", "text-init", "text-fuse"]


def encode_item_text(texts: list[str], threads: int = 2, cache_dir: str | None = None) -> np.ndarray:
    """``(n_items, 384)`` unit vectors of the item texts (empty text -> the encoder's empty string)."""
    from shopsage.text.encoder import EncoderConfig, TextEncoder

    enc = TextEncoder(EncoderConfig(threads=threads, progress=False, cache_dir=cache_dir))
    return enc.encode(["" if t is None else str(t) for t in texts], progress=False).astype(np.float32)


def pca_projection(x: np.ndarray, dim: int, std: float) -> np.ndarray:
    """The first ``dim`` principal components of ``x`` (rows), scaled to standard deviation ``std``."""
    xc = x - x.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    k = min(dim, vt.shape[0])
    proj = xc @ vt[:k].T  # (n, k)
    out = np.zeros((x.shape[0], dim), dtype=np.float32)
    out[:, :k] = proj
    scale = proj.std() if proj.size else 1.0
    return (out * (std / max(float(scale), 1e-8))).astype(np.float32)


class ItemTable(nn.Module):
    """All item vectors ``(n_items + 1, D)``, row 0 = padding (always zero)."""

    def __init__(self, n_items: int, dim: int, mode: ItemMode = "id", text: np.ndarray | None = None,
                 warm: np.ndarray | None = None, init_std: float = 0.02, id_dropout: float = 0.0) -> None:
        super().__init__()
        self.mode = mode
        self.id_dropout = id_dropout
        self.n_items = n_items
        self.id = nn.Embedding(n_items + 1, dim, padding_idx=0)
        nn.init.normal_(self.id.weight, std=init_std)
        with torch.no_grad():
            self.id.weight[0].zero_()
        if mode != "id" and (text is None or text.shape[0] != n_items):
            raise ValueError("text modes need one text vector per item")  # internal: checked by the model
        if mode == "text-init":
            assert text is not None
            with torch.no_grad():
                self.id.weight[1:] = torch.from_numpy(pca_projection(text, dim, init_std))
        self.text_proj: nn.Linear | None = None
        if mode == "text-fuse":
            assert text is not None
            padded = np.zeros((n_items + 1, text.shape[1]), dtype=np.float32)
            padded[1:] = text
            self.register_buffer("text", torch.from_numpy(padded))  # (N + 1, E)
            self.text_proj = nn.Linear(text.shape[1], dim, bias=False)
            nn.init.normal_(self.text_proj.weight, std=init_std)
            w = np.zeros(n_items + 1, dtype=np.float32)
            w[1:] = 1.0 if warm is None else warm.astype(np.float32)
            self.register_buffer("warm", torch.from_numpy(w)[:, None])  # (N + 1, 1)

    def weight(self) -> torch.Tensor:
        """``(n_items + 1, D)`` item vectors, row 0 zero."""
        if self.text_proj is None:
            return self.id.weight
        gate = self.warm  # (N + 1, 1)
        if self.training and self.id_dropout > 0:
            # some items lose their id vector in each step, so the text part learns to stand alone
            gate = gate * (torch.rand_like(gate) >= self.id_dropout)
        return self.text_proj(self.text) + gate * self.id.weight  # (N + 1, D); text row 0 is zero

    def forward(self, seq: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """Vectors of the padded item ids ``seq`` (B, T) -> (B, T, D); ``table`` reuses a computed weight()."""
        if self.text_proj is None:
            return self.id(seq)
        return (self.weight() if table is None else table)[seq]
