"""The one model contract every recommender follows.

``fit(data)`` learns from :class:`TrainData`; ``recommend(histories, n)`` ranks items for a batch
of histories (a known user's purchases, an anonymous session's clicks, the live state of a
shopper: all the same thing to a model, so one method serves users and sessions and reacts to the
newest event); ``similar_items(items, n)`` ranks neighbours of items; ``save(dir)`` / ``load(dir)``
write and read plain files (``manifest.json`` + ``.npy``, never pickles). A sequential model's
``next_items(sequence, n)`` is its form of ``recommend`` for one sequence, not a second API.

Subclasses implement ``_fit``, ``score`` (dense ``(B, n_items)`` scores; higher is better) and
``_save`` / ``_load``; the base class does top-n selection and exclusion of seen or filtered items.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict

from shopsage.artifacts import read_manifest, write_manifest
from shopsage.data.splits import EvalCases, Sequences, SplitData
from shopsage.errors import NotFittedError, ValidationError
from shopsage.recommend._top import dense_top
from shopsage.types import ScoredItems

__all__ = ["ModelConfig", "TrainData", "Recommender", "as_histories"]


class ModelConfig(BaseModel):
    """Base of every model's typed config: unknown keys are errors, never ignored."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class TrainData:
    """What a recommender learns from: ordered item sequences (one per user or session).

    ``ts`` (optional) holds one Unix timestamp per entry of ``sequences.items`` (NaN where the data
    has only an order); ``item_text`` (optional) one text per item for text-aware models;
    ``valid`` (optional) validation cases for early stopping and tuning, never test cases.
    """

    n_items: int
    sequences: Sequences
    ts: np.ndarray | None = None
    item_text: list[str] | None = None
    valid: EvalCases | None = None

    @classmethod
    def from_split(cls, split: SplitData, *, with_valid_targets: bool = False,
                   item_text: list[str] | None = None) -> TrainData:
        """Training data of a split; ``with_valid_targets`` appends validation targets (refit before test)."""
        seqs = split.train_with_valid() if with_valid_targets else split.train
        return cls(split.n_items, seqs, item_text=item_text, valid=None if with_valid_targets else split.valid)

    def user_item(self, binary: bool = True) -> sp.csr_matrix:
        """The ``(n_sequences, n_items)`` interaction matrix."""
        return self.sequences.to_csr(self.n_items, binary=binary)


def as_histories(histories: Sequences | list[np.ndarray] | list[list[int]]) -> Sequences:
    """Accept a :class:`Sequences` or a list of item-id arrays."""
    return histories if isinstance(histories, Sequences) else Sequences.from_lists(list(histories))


class Recommender(ABC):
    """Base class of every recommender. ``name`` is the short name used by the CLI (``ease``)."""

    name: ClassVar[str]
    Config: ClassVar[type[ModelConfig]]

    def __init__(self, config: ModelConfig | None = None, **overrides: Any) -> None:
        base = config.model_dump() if config is not None else {}
        self.config = self.Config.model_validate({**base, **overrides})
        self.n_items: int = 0
        self.fitted = False

    # ---- the contract -------------------------------------------------------------------------
    def fit(self, data: TrainData) -> Self:
        if data.n_items <= 0:
            raise ValidationError("cannot fit on a catalogue of 0 items: import items and events first")
        self.n_items = int(data.n_items)
        self._fit(data)
        self.fitted = True
        return self

    def recommend(self, histories: Sequences | list[np.ndarray], n: int = 10, *,
                  exclude: list[np.ndarray] | None = None, filter_seen: bool = True) -> ScoredItems:
        """Top ``n`` items for each history; seen items are excluded unless ``filter_seen=False``."""
        self._check_fitted()
        hist = as_histories(histories)
        if n < 1:
            raise ValidationError(f"n of {n} must be at least 1")
        ex: list[np.ndarray] = [np.zeros(0, np.int64)] * len(hist) if exclude is None else list(exclude)
        if len(ex) != len(hist):
            raise ValidationError(f"exclude has {len(ex)} rows for {len(hist)} histories: give one per history")
        if filter_seen:
            ex = [np.concatenate([np.asarray(e, dtype=np.int64), hist[b].astype(np.int64)]) for b, e in enumerate(ex)]
        scores = self.score(hist)
        if len(hist) == 1:  # a served request: its top without ranking the whole row (same answer)
            row = np.array(scores[0], dtype=np.float32, copy=True)
            if len(ex[0]):
                row[np.asarray(ex[0], dtype=np.int64)] = -np.inf
            top = dense_top(row, n)
            if top is not None:
                return ScoredItems(top[0][None, :], top[1][None, :])
        return ScoredItems.from_scores(scores, n, exclude=ex)

    @abstractmethod
    def score(self, histories: Sequences) -> np.ndarray:
        """Dense ``(B, n_items)`` float32 scores of every item for each history (higher = better)."""

    def similar_items(self, items: np.ndarray | list[int], n: int = 10) -> ScoredItems:
        """Items most similar to each given item (the item itself excluded). Default: score the
        one-item history; models with an item-item structure override this."""
        self._check_fitted()
        items = np.asarray(items, dtype=np.int32)
        hist = Sequences.from_lists([[int(i)] for i in items])
        return ScoredItems.from_scores(self.score(hist), n, exclude=[np.array([int(i)]) for i in items])

    def save(self, directory: str | Path) -> Path:
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save(directory)
        write_manifest(directory, f"recommender/{self.name}", self.config.model_dump(mode="json"), n_items=self.n_items)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Self:
        directory = Path(directory)
        manifest = read_manifest(directory, f"recommender/{cls.name}")
        model = cls(cls.Config.model_validate(manifest["config"]))
        model.n_items = int(manifest["n_items"])
        model._load(directory)
        model.fitted = True
        return model

    # ---- for subclasses -----------------------------------------------------------------------
    @abstractmethod
    def _fit(self, data: TrainData) -> None: ...

    @abstractmethod
    def _save(self, directory: Path) -> None: ...

    @abstractmethod
    def _load(self, directory: Path) -> None: ...

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call .fit(data) or {type(self).__name__}.load(dir) first")

    def _check_items(self, items: np.ndarray) -> None:
        if len(items) and (items.min() < 0 or items.max() >= self.n_items):
            raise ValidationError(f"item ids must be in 0..{self.n_items - 1}; got {int(items.min())}..{int(items.max())}")
