"""What every sequential recommender shares: config, fit, batched scoring, ``next_items``, save/load.

A sequential model reads the last ``max_len`` items of a history (a user's purchases or an
anonymous session's clicks, oldest first) and scores every item as the next one. ``score`` is the
batched form (offline evaluation), ``next_items(sequence, n)`` the single-sequence form of
``recommend`` (serving: a few milliseconds on one core). Weights are saved as safetensors.
"""

from __future__ import annotations

import json
import time
from abc import abstractmethod
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from shopsage.data.splits import EvalCases, Sequences, seeded_indices
from shopsage.errors import ArtifactError, ValidationError
from shopsage.recommend._top import exact_top
from shopsage.recommend.base import ModelConfig, Recommender, TrainData
from shopsage.recommend.sequential.items import ItemMode, encode_item_text
from shopsage.types import ScoredItems

__all__ = ["SequentialConfig", "SequentialRecommender", "pad_right"]

WEIGHTS = "weights.safetensors"


class SequentialConfig(ModelConfig):
    """Hyperparameters shared by the sequential models (names from docs/conventions.md)."""

    embedding_dim: int = Field(64, ge=2)
    """Width of item vectors and hidden states."""
    max_len: int = Field(50, ge=1)
    """Only the last ``max_len`` items of a history are read."""
    dropout: float = Field(0.3, ge=0.0, lt=1.0)
    """Dropout on embeddings and inside the blocks."""
    epochs: int = Field(200, ge=1)
    """Most passes over the training data (early stopping usually ends sooner)."""
    batch_size: int = Field(256, ge=1)
    """Training sequences per optimiser step."""
    learning_rate: float = Field(1e-3, gt=0.0)
    """Adam step size."""
    reg: float = Field(0.0, ge=0.0)
    """Decoupled weight decay (AdamW)."""
    loss: Literal["softmax", "sampled-softmax"] = "softmax"
    """``softmax``: cross-entropy over the whole catalogue; ``sampled-softmax``: against
    ``n_negatives`` items drawn per step (shared by the batch), for large catalogues."""
    n_negatives: int = Field(1024, ge=1)
    """Negatives per step for ``sampled-softmax``."""
    cosine_scale: float | None = Field(None, gt=0)
    """``None``: scores are dot products of hidden state and item vector. A number ``s``: scores
    are ``s * cos(hidden, item)`` in training and inference (unit-length item vectors and hidden
    states, as NISER does for session recommendation: popular items no longer win by vector norm);
    ``s`` of 10-20 is usual."""
    patience: int = Field(10, ge=1)
    """Stop after this many evaluations without a better validation NDCG@10."""
    eval_every: int = Field(1, ge=1)
    """Evaluate on the validation cases every this many epochs."""
    max_valid_cases: int = Field(20000, ge=1)
    """Validation NDCG@10 is measured on at most this many (seeded) cases."""
    time_budget_s: float | None = Field(None, gt=0)
    """Stop training after this many seconds (the best epoch so far is kept)."""
    item_repr: ItemMode = "id"
    """``id``, ``text-init`` or ``text-fuse`` (text modes need ``TrainData.item_text``)."""
    id_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    """``text-fuse`` only: share of items whose id vector is dropped in each training step."""
    text_cache_dir: str | None = None
    """Embedding cache of the item-text encoder (e.g. ``var/cache/embeddings``); ``None``: no cache."""
    filter_seen: bool = True
    """Exclude the history's items when measuring validation NDCG@10 (as the evaluation does)."""
    precision: Literal["float32", "bfloat16"] = "float32"
    """Training arithmetic: ``bfloat16`` autocasts the matrix products (2-3x faster on CPUs with
    AVX512-BF16 or AMX; the loss and the weights stay float32). Inference is always float32."""
    threads: int = Field(2, ge=1)
    """torch intra-op threads for training and batched scoring."""
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    """Where training runs: ``cuda`` (a GPU), ``auto`` (a GPU when torch sees one) or ``cpu``. The
    fitted model always serves and saves from the CPU."""
    seed: int = 0
    """The one random seed (initialisation, batching, dropout, negatives)."""
    checkpoint_dir: str | None = None
    """When set, the best weights so far are written there (safetensors + manifest.json)."""
    verbose: bool = False
    """Print one line per evaluation."""


def training_device(choice: str) -> torch.device:
    """The torch device of ``SequentialConfig.device``; asking for a GPU torch cannot see is an error."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValidationError("device='cuda' but torch sees no GPU here: use device='auto' or 'cpu'")
    return torch.device(choice)


def pad_right(seqs: list[np.ndarray], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Last ``max_len`` items of each sequence, ids shifted by +1, right-padded with 0:
    ``(B, T)`` int64 and lengths ``(B,)`` (an empty sequence gets length 1 of padding)."""
    lengths = np.array([min(len(s), max_len) for s in seqs], dtype=np.int64)
    t = max(int(lengths.max(initial=0)), 1)
    out = np.zeros((len(seqs), t), dtype=np.int64)
    for b, s in enumerate(seqs):
        if lengths[b]:
            out[b, :lengths[b]] = np.asarray(s[-lengths[b]:], dtype=np.int64) + 1
    return out, np.maximum(lengths, 1)


def holdout_valid(data: TrainData, most: int, seed: int) -> TrainData:
    """Without validation cases (a refit on train + validation), early stopping needs some: the
    last item of a seeded 10% of the sequences (at most ``most``, of length >= 3) becomes a
    validation case and leaves training."""
    lengths = data.sequences.lengths
    eligible = np.flatnonzero(lengths >= 3)
    size = min(most, max(1, len(lengths) // 10), len(eligible))
    if size == 0:
        return data
    pick = eligible[seeded_indices(len(eligible), size, seed)]
    held = np.zeros(len(lengths), dtype=bool)
    held[pick] = True
    seqs = data.sequences
    train = Sequences.from_lists([seqs[s][:-1] if held[s] else seqs[s] for s in range(len(seqs))])
    valid = EvalCases(pick.astype(np.int32), Sequences.from_lists([seqs[int(s)][:-1] for s in pick]),
                      Sequences.from_lists([seqs[int(s)][-1:] for s in pick]))
    return replace(data, sequences=train, valid=valid)


class SequentialRecommender(Recommender):
    """Base of SASRec, GRU4Rec: subclasses give ``_build_net`` (an ``nn.Module`` with
    ``forward(seq) -> (B, T, D)``, ``predict(seq, lengths) -> (B, D)`` and ``items.weight()``)."""

    Config = SequentialConfig
    config: SequentialConfig

    def __init__(self, config: ModelConfig | None = None, **overrides: object) -> None:
        super().__init__(config, **overrides)
        self.net: nn.Module | None = None
        self.report: dict[str, object] = {}
        self._table: torch.Tensor | None = None  # (N, D) cached item vectors for inference

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Hyperparameters worth tuning on validation (optuna trial -> overrides)."""
        return {"dropout": trial.suggest_float("dropout", 0.1, 0.6),
                "learning_rate": trial.suggest_float("learning_rate", 3e-4, 3e-3, log=True),
                "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128])}

    @abstractmethod
    def _build_net(self, n_items: int, text: np.ndarray | None, warm: np.ndarray | None) -> nn.Module: ...

    # ---- training -------------------------------------------------------------------------------
    def _fit(self, data: TrainData) -> None:
        from shopsage.recommend.sequential.train import train_net

        cfg = self.config
        torch.manual_seed(cfg.seed)
        torch.set_num_threads(cfg.threads)
        text = warm = None
        if cfg.item_repr != "id":
            if data.item_text is None or len(data.item_text) != data.n_items:
                raise ValidationError(f"item_repr={cfg.item_repr!r} needs one text per item in TrainData.item_text; "
                                      "import items with titles or use item_repr='id'")
            text = encode_item_text(data.item_text, cfg.threads, cfg.text_cache_dir)
            warm = (np.bincount(data.sequences.items, minlength=data.n_items) > 0)
        self.net = self._build_net(data.n_items, text, warm)
        if data.valid is None or not len(data.valid):
            data = holdout_valid(data, cfg.max_valid_cases, cfg.seed)
        device = training_device(cfg.device)
        self.net.to(device)
        try:
            self.report = {**train_net(self, data, warm).as_dict(), "device": str(device)}
        finally:
            self.net.cpu()
        self._refresh()

    @property
    def _device(self) -> torch.device:
        assert self.net is not None
        return next(self.net.parameters()).device

    def _refresh(self) -> None:
        assert self.net is not None
        self.net.eval()
        with torch.inference_mode():
            table = self.net.items.weight()[1:].detach()  # (N, D)
            scale = self.config.cosine_scale
            self._table = (F.normalize(table, dim=-1) * scale if scale else table).clone()

    def _output(self, hidden: torch.Tensor) -> torch.Tensor:
        """The hidden states as they meet the item table (unit length under ``cosine_scale``)."""
        return F.normalize(hidden, dim=-1) if self.config.cosine_scale else hidden

    # ---- inference ------------------------------------------------------------------------------
    def _hidden(self, seqs: list[np.ndarray]) -> torch.Tensor:
        """Last hidden state of each history ``(B, D)``."""
        assert self.net is not None
        inp, lengths = pad_right(seqs, self.config.max_len)
        dev = self._device
        return self._output(self.net.predict(torch.from_numpy(inp).to(dev), torch.from_numpy(lengths).to(dev)))

    def score_tensor(self, seqs: list[np.ndarray], batch: int = 1024) -> torch.Tensor:
        """``(B, n_items)`` float32 scores as a tensor (evaluation uses it without copies; also
        during training, so it does not require ``fitted``)."""
        assert self._table is not None
        out = torch.empty((len(seqs), self.n_items), dtype=torch.float32)
        with torch.inference_mode():
            for lo in range(0, len(seqs), batch):
                out[lo:lo + batch] = (self._hidden(seqs[lo:lo + batch]) @ self._table.T).float().cpu()
        return out

    def score(self, histories: Sequences) -> np.ndarray:
        self._check_fitted()
        seqs = [histories[b] for b in range(len(histories))]
        for s in seqs:
            self._check_items(s)
        return self.score_tensor(seqs).numpy()

    def recommend(self, histories: Sequences | list[np.ndarray], n: int = 10, *,
                  exclude: list[np.ndarray] | None = None, filter_seen: bool = True) -> ScoredItems:
        """:meth:`Recommender.recommend`; one history without ``exclude`` (a served request) is scored and its
        best ``n + 1`` found in torch, without the batch's copies: the same answer (a tie among them is
        ranked by the base method, see :mod:`shopsage.recommend._top`)."""
        if exclude is not None or len(histories) != 1 or n < 1:
            return super().recommend(histories, n, exclude=exclude, filter_seen=filter_seen)
        self._check_fitted()
        assert self._table is not None
        seq = np.asarray(histories[0], dtype=np.int64)
        self._check_items(seq)
        with torch.inference_mode():
            scores = (self._hidden([seq]) @ self._table.T)[0].float().cpu()  # (N,) as score() computes them
            if filter_seen and len(seq):
                scores[torch.from_numpy(seq)] = -torch.inf
            best = torch.topk(scores, min(n + 1, self.n_items))
        top = exact_top(best.indices.numpy(), best.values.numpy(), n, self.n_items)
        if top is None:
            return ScoredItems.from_scores(scores.numpy()[None, :], n)
        return ScoredItems(top[0][None, :], top[1][None, :])

    def next_items(self, sequence: list[int] | np.ndarray, n: int = 10, *, exclude: list[int] | np.ndarray | None = None,
                   filter_seen: bool = True) -> ScoredItems:
        """Top ``n`` next items after ``sequence`` (oldest first): ``recommend`` for one live sequence.

        Items of ``exclude`` (and of the sequence itself unless ``filter_seen=False``) are left out.
        """
        self._check_fitted()
        assert self._table is not None
        seq = np.asarray(sequence, dtype=np.int64)
        self._check_items(seq)
        if n < 1:
            raise ValidationError(f"n of {n} must be at least 1")
        with torch.inference_mode():
            scores = (self._hidden([seq]) @ self._table.T)[0]  # (N,)
            if exclude is not None and len(exclude):
                ex = np.asarray(exclude, dtype=np.int64)
                self._check_items(ex)
                scores[torch.from_numpy(ex)] = -torch.inf
            if filter_seen and len(seq):
                scores[torch.from_numpy(seq)] = -torch.inf
            k = min(n, self.n_items)
            top = torch.topk(scores, k)
        ids = top.indices.numpy().astype(np.int32)[None, :]
        sc = top.values.numpy().astype(np.float32)[None, :]
        ids[~np.isfinite(sc)] = -1
        return ScoredItems._pad(ids, sc, n)

    # ---- artifacts ------------------------------------------------------------------------------
    def _save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        assert self.net is not None
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        save_file(state, str(directory / WEIGHTS))
        (directory / "training.json").write_text(json.dumps(self.report, indent=2, default=float), encoding="utf-8")

    def _load(self, directory: Path) -> None:
        from safetensors.torch import load_file

        path = directory / WEIGHTS
        if not path.is_file():
            raise ArtifactError(f"{path} is missing: the model in {directory} is incomplete; save it again.")
        state = load_file(str(path))
        text = state.get("items.text")
        warm = state.get("items.warm")
        self.net = self._build_net(self.n_items, None if text is None else text[1:].numpy(),
                                   None if warm is None else warm[1:, 0].numpy())
        self.net.load_state_dict(state)
        report = directory / "training.json"
        self.report = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {}
        self._refresh()

    def save_checkpoint(self, directory: Path, metrics: dict[str, float]) -> None:
        """Write the current weights as a loadable model directory (used for the best epoch)."""
        was, self.fitted = self.fitted, True
        try:
            self.save(directory)
        finally:
            self.fitted = was
        (directory / "checkpoint.json").write_text(json.dumps({"time": time.time(), **metrics}), encoding="utf-8")
