"""How a sentence-transformers directory is run (private).

Most sentence-transformers models are a Transformer, a Pooling and optionally a Normalize module.
Those run here directly on ``transformers`` (importing sentence-transformers costs 10-25 s of
start-up on the 2-core machine, more than encoding a query batch); any other layout falls back to
``sentence_transformers.SentenceTransformer``. Both give the same vectors (a slow test checks it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_backbone"]

_SIMPLE = ("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
           "sentence_transformers.models.Normalize")


def _plain_layout(root: Path) -> dict[str, Any] | None:
    """The pooling config when ``root`` is Transformer + Pooling (+ Normalize), else ``None``."""
    modules = root / "modules.json"
    if not modules.is_file():
        return None
    mods = json.loads(modules.read_text(encoding="utf-8"))
    types = [m.get("type", "") for m in mods]
    if not (2 <= len(types) <= 3 and tuple(types) == _SIMPLE[:len(types)] and mods[0].get("path", "") == ""):
        return None
    pool_cfg = root / mods[1]["path"] / "config.json"
    if not pool_cfg.is_file():
        return None
    pool = json.loads(pool_cfg.read_text(encoding="utf-8"))
    modes = [k for k in ("pooling_mode_mean_tokens", "pooling_mode_cls_token", "pooling_mode_max_tokens") if pool.get(k)]
    others = [k for k, v in pool.items() if k.startswith("pooling_mode_") and v and k not in modes]
    if len(modes) != 1 or others:
        return None
    sbert = root / "sentence_bert_config.json"
    lower = json.loads(sbert.read_text(encoding="utf-8")).get("do_lower_case", False) if sbert.is_file() else False
    return {"mode": modes[0], "dim": int(pool["word_embedding_dimension"]), "lower": bool(lower),
            "normalize": len(types) == 3}


class _PlainBackbone:
    def __init__(self, root: Path, layout: dict[str, Any], max_length: int) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(root))
        self.model = AutoModel.from_pretrained(str(root)).eval()
        self.layout = layout
        self.max_length = max_length
        self.dim = layout["dim"]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        texts = [t.strip() for t in texts]
        if self.layout["lower"]:
            texts = [t.lower() for t in texts]
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state  # (B, T, D)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            mode = self.layout["mode"]
            if mode == "pooling_mode_mean_tokens":
                emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            elif mode == "pooling_mode_cls_token":
                emb = hidden[:, 0]
            else:
                emb = hidden.masked_fill(mask == 0, -1e9).max(1).values
            emb = torch.nn.functional.normalize(emb, dim=-1)  # ShopSage always compares unit vectors
            return emb.float().numpy()


class _SentenceTransformerBackbone:
    def __init__(self, root: Path, max_length: int) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(root), device="cpu")
        self.model.max_seq_length = max_length
        dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim_of() or 0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=max(len(texts), 1), convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False).astype(np.float32)


def load_backbone(path: str, max_length: int, int8: bool, force_sentence_transformers: bool = False) -> Any:
    """A model with ``dim`` and ``encode(texts) -> (n, dim)`` unit vectors, optionally int8-quantized."""
    import warnings

    import torch

    root = Path(path)
    layout = None if force_sentence_transformers else _plain_layout(root)
    backbone: Any = _PlainBackbone(root, layout, max_length) if layout else _SentenceTransformerBackbone(root, max_length)
    if int8:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import quantize_dynamic

            backbone.model = quantize_dynamic(backbone.model, {torch.nn.Linear}, dtype=torch.qint8)
    backbone.model.eval()
    return backbone
