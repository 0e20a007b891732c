"""How a sentence-transformers directory is run (private).

Most sentence-transformers models are a Transformer, a Pooling and optionally a Normalize module.
Those run here directly on ``transformers`` (importing sentence-transformers costs 10-25 s of
start-up on the 2-core machine, more than encoding a query batch); any other layout falls back to
``sentence_transformers.SentenceTransformer``. Both give the same vectors (a slow test checks it).

The ``onnx`` backend exports that same Transformer once to an ONNX file (cached by model id) and
runs it with onnxruntime: the same vectors (max difference ~1e-6) at 2-3x the speed of torch for
one short query on one core (``docs/benchmarks.md``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shopsage.errors import ConfigError, ModelError

__all__ = ["load_backbone", "export_onnx"]

_SIMPLE = ("Transformer", "Pooling", "Normalize")  # module class names (their package moved across versions)


def _plain_layout(root: Path) -> dict[str, Any] | None:
    """The pooling config when ``root`` is Transformer + Pooling (+ Normalize), else ``None``."""
    modules = root / "modules.json"
    if not modules.is_file():
        return None
    mods = json.loads(modules.read_text(encoding="utf-8"))
    types = [m.get("type", "").rsplit(".", 1)[-1] for m in mods]
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
        self.model = _adapted(root) if (root / "adapter_config.json").is_file() else AutoModel.from_pretrained(str(root))
        self.model.eval()
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


class _TransformerInputs:
    """Wraps a Hugging Face encoder so ONNX export sees plain positional tensors."""

    @staticmethod
    def module(model: Any) -> Any:
        import torch

        class _Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state

        return _Wrapped().eval()


_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(root: Path, target: Path) -> Path:
    """Export the Transformer of a plain sentence-transformers directory to ``target`` (atomic)."""
    import os
    import tempfile
    import warnings

    import torch
    from transformers import AutoModel, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(root))
    model = AutoModel.from_pretrained(str(root), attn_implementation="eager").eval()
    wrapped = _TransformerInputs.module(model)  # eval mode: export restores it, never trains dropout
    sample = tokenizer(["a sample query", "two"], padding=True, return_tensors="pt")
    if "token_type_ids" not in sample:
        sample["token_type_ids"] = torch.zeros_like(sample["input_ids"])
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx")
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapped, tuple(sample[k] for k in _ONNX_INPUTS), tmp, input_names=list(_ONNX_INPUTS),
                              output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                              dynamic_axes={k: {0: "batch", 1: "tokens"} for k in (*_ONNX_INPUTS, "last_hidden_state")})
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


class _OnnxBackbone(_PlainBackbone):
    """The plain backbone's Transformer run by onnxruntime; pooling and normalisation in numpy."""

    def __init__(self, root: Path, layout: dict[str, Any], max_length: int, onnx_path: Path, threads: int) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a runtime dependency
            raise ModelError("the onnx encoder backend needs onnxruntime: pip install onnxruntime") from exc
        from transformers import AutoTokenizer

        if not onnx_path.is_file():
            export_onnx(root, onnx_path)
        self._ort = ort
        self.onnx_path = onnx_path
        self.reopen(threads)
        self.tokenizer = AutoTokenizer.from_pretrained(str(root))
        self.model = None
        self.layout = layout
        self.max_length = max_length
        self.dim = layout["dim"]

    def reopen(self, threads: int) -> None:
        """(Re)create the onnxruntime session with ``threads`` intra-op threads."""
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = self._ort.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"])
        self.threads = threads

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t.strip() for t in texts]
        if self.layout["lower"]:
            texts = [t.lower() for t in texts]
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        feeds = {k: np.asarray(batch[k], dtype=np.int64) for k in _ONNX_INPUTS if k in batch}
        feeds.setdefault("token_type_ids", np.zeros_like(feeds["input_ids"]))
        hidden = self.session.run(None, feeds)[0]  # (B, T, D)
        mask = feeds["attention_mask"][..., None].astype(np.float32)  # (B, T, 1)
        mode = self.layout["mode"]
        if mode == "pooling_mode_mean_tokens":
            emb = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        elif mode == "pooling_mode_cls_token":
            emb = hidden[:, 0]
        else:
            emb = np.where(mask > 0, hidden, -1e9).max(1)
        emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        return emb.astype(np.float32)


def _adapted(root: Path) -> Any:
    """The base model with the LoRA adapter saved in ``root`` merged into its weights (no run-time cost)."""
    from transformers import AutoModel

    try:
        from peft import PeftModel
    except ImportError as exc:  # pragma: no cover - peft is a runtime dependency
        raise ImportError(f"{root} holds a LoRA adapter; loading it needs peft: pip install peft") from exc
    base_path = json.loads((root / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base_path or not Path(base_path).is_dir():
        raise FileNotFoundError(f"the LoRA adapter in {root} names base model {base_path!r}, which is not a folder here: "
                                "put the base model there, or merge the adapter where it was trained.")
    return PeftModel.from_pretrained(AutoModel.from_pretrained(base_path), str(root)).merge_and_unload()


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


def load_backbone(path: str, max_length: int, int8: bool, force_sentence_transformers: bool = False,
                  onnx_path: Path | None = None, threads: int = 1) -> Any:
    """A model with ``dim`` and ``encode(texts) -> (n, dim)`` unit vectors, optionally int8-quantized,
    or run by onnxruntime from ``onnx_path`` (exported there first when missing)."""
    import warnings

    import torch

    root = Path(path)
    layout = None if force_sentence_transformers else _plain_layout(root)
    if onnx_path is not None:
        if layout is None:
            raise ConfigError(f"the onnx backend runs Transformer + Pooling (+ Normalize) models; {path} has "
                              "another module layout: use backend='torch'.")
        return _OnnxBackbone(root, layout, max_length, onnx_path, threads)
    backbone: Any = _PlainBackbone(root, layout, max_length) if layout else _SentenceTransformerBackbone(root, max_length)
    if int8:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import quantize_dynamic

            backbone.model = quantize_dynamic(backbone.model, {torch.nn.Linear}, dtype=torch.qint8)
    backbone.model.eval()
    return backbone
