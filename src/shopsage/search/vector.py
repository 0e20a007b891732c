"""Vector search: exact inner product for small catalogues, faiss HNSW above a size threshold.

Vectors are stored by item slot (``(capacity, D) float32``), so exact search, filtered search and
rebuilding never need the faiss index. The HNSW graph holds one entry per *write*: ``seq_slot[s]``
is the slot that entry ``s`` belongs to and ``slot_seq[slot]`` the entry that is current, so an
update adds a new entry and a delete clears ``slot_seq``; stale entries are skipped at query time
(the search asks for a few more neighbours to make up for them) and dropped by :meth:`rebuild`
once they exceed ``rebuild_stale_ratio``.

Persistence: ``manifest.json``, ``vectors.npy``, ``live.npy`` and the faiss index serialized to
``faiss.npy`` (a uint8 array in faiss' own format, not a pickle).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.artifacts import load_arrays, read_manifest, save_arrays, write_manifest
from shopsage.errors import ModelError, ValidationError
from shopsage.types import PAD_ID, ScoredItems

__all__ = ["VectorConfig", "VectorIndex"]


def _faiss():  # type: ignore[no-untyped-def]
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - a runtime dependency
        raise ModelError("approximate vector search needs faiss: pip install faiss-cpu "
                         "(or set VectorConfig(kind='exact')).") from exc
    return faiss


class VectorConfig(BaseModel):
    """How a :class:`VectorIndex` searches."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["auto", "exact", "hnsw"] = "auto"
    """``auto``: exact below ``exact_below`` items, HNSW above."""
    exact_below: int = Field(20_000, ge=0)
    """Catalogue size under which ``auto`` searches exactly."""
    hnsw_m: int = Field(32, ge=4)
    """HNSW neighbours per node."""
    ef_construction: int = Field(80, ge=8)
    """HNSW build-time beam width."""
    ef_search: int = Field(128, ge=8)
    """HNSW query-time beam width (recall against speed)."""
    rebuild_stale_ratio: float = Field(0.2, gt=0, le=1)
    """Rebuild the graph when this share of its entries are stale."""
    exact_filter_ratio: float = Field(0.05, gt=0, le=1)
    """A filter keeping less than this share of items is searched exactly (HNSW with a sparse filter loses recall)."""


class VectorIndex:
    """Inner-product nearest neighbours over int item slots (use unit vectors for cosine)."""

    KIND = "vector-index"

    def __init__(self, dim: int, config: VectorConfig | None = None) -> None:
        self.dim = dim
        self.config = config or VectorConfig()
        self._vecs = np.zeros((0, dim), dtype=np.float32)
        self._live = np.zeros(0, dtype=bool)
        self._hnsw = None
        self._seq_slot = np.zeros(0, dtype=np.int64)
        self._slot_seq = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._live.sum())

    @property
    def capacity(self) -> int:
        return len(self._live)

    @property
    def vectors(self) -> np.ndarray:
        """``(capacity, D)``; rows of absent slots are zero."""
        return self._vecs

    @property
    def live(self) -> np.ndarray:
        return self._live

    def _grow(self, cap: int) -> None:
        if cap <= len(self._live):
            return
        new = max(cap, 2 * len(self._live), 1024)
        vecs = np.zeros((new, self.dim), dtype=np.float32)
        vecs[:len(self._vecs)] = self._vecs
        live = np.zeros(new, dtype=bool)
        live[:len(self._live)] = self._live
        slot_seq = np.full(new, -1, dtype=np.int64)
        slot_seq[:len(self._slot_seq)] = self._slot_seq
        self._vecs, self._live, self._slot_seq = vecs, live, slot_seq

    def use_hnsw(self) -> bool:
        if self.config.kind == "auto":
            return len(self) >= self.config.exact_below
        return self.config.kind == "hnsw"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Store ``vectors[i]`` under slot ``ids[i]`` (replacing what the slot held)."""
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape != (len(ids), self.dim):
            raise ValidationError(f"vectors of shape {vectors.shape} do not match {len(ids)} ids of dimension {self.dim}.")
        if len(ids) == 0:
            return
        if ids.min() < 0:
            raise ValidationError("item ids must be >= 0 (they are vocabulary indexes).")
        self._grow(int(ids.max()) + 1)
        self._vecs[ids] = vectors
        self._live[ids] = True
        if self._hnsw is not None:
            self._hnsw_add(ids)
        elif self.use_hnsw():
            self.rebuild()

    def delete(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[(ids >= 0) & (ids < self.capacity)]
        self._live[ids] = False
        self._vecs[ids] = 0
        self._slot_seq[ids] = -1
        if self._hnsw is not None and self._stale_ratio() > self.config.rebuild_stale_ratio:
            self.rebuild()

    def _stale_ratio(self) -> float:
        total = len(self._seq_slot)
        return 0.0 if total == 0 else 1.0 - len(self) / total

    def _hnsw_add(self, ids: np.ndarray) -> None:
        assert self._hnsw is not None
        start = len(self._seq_slot)
        self._hnsw.add(self._vecs[ids])
        self._seq_slot = np.concatenate([self._seq_slot, ids])
        self._slot_seq[ids] = np.arange(start, start + len(ids))
        if self._stale_ratio() > self.config.rebuild_stale_ratio:
            self.rebuild()

    def rebuild(self) -> None:
        """Rebuild the HNSW graph from the live vectors (or drop it when exact search is due)."""
        if not self.use_hnsw():
            self._hnsw = None
            self._seq_slot = np.zeros(0, dtype=np.int64)
            self._slot_seq[:] = -1
            return
        faiss = _faiss()
        index = faiss.IndexHNSWFlat(self.dim, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.config.ef_construction
        slots = np.flatnonzero(self._live)
        index.add(self._vecs[slots])
        self._hnsw = index
        self._seq_slot = slots.astype(np.int64)
        self._slot_seq[:] = -1
        self._slot_seq[slots] = np.arange(len(slots))

    def search(self, queries: np.ndarray, n: int = 10, mask: np.ndarray | None = None,
               exact: bool = False) -> ScoredItems:
        """Top ``n`` slots by inner product per query row ``(B, D)``; ``mask`` keeps only some slots."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.dim:
            raise ValidationError(f"queries have dimension {q.shape[1]}, the index {self.dim}: encode them with the same model.")
        if n < 1:
            raise ValidationError(f"n of {n} is not a result count: ask for n >= 1.")
        keep = self._live if mask is None else self._live & _fit(mask, self.capacity)
        sparse = mask is not None and keep.sum() < self.config.exact_filter_ratio * max(len(self), 1)
        if exact or self._hnsw is None or sparse:
            return self._exact(q, n, keep)
        return self._approx(q, n, keep)

    def _exact(self, q: np.ndarray, n: int, keep: np.ndarray) -> ScoredItems:
        slots = np.flatnonzero(keep)
        if len(slots) == 0:  # a filter nothing meets: every row is padding (no slot to map ids through)
            return ScoredItems(np.full((len(q), n), PAD_ID, np.int32), np.full((len(q), n), -np.inf, np.float32))
        if len(slots) == len(keep):
            scores = q @ self._vecs.T
            return ScoredItems.from_scores(scores, n)
        scores = q @ self._vecs[slots].T  # (B, n_keep)
        top = ScoredItems.from_scores(scores, n)
        ids = np.where(top.ids >= 0, slots[np.maximum(top.ids, 0)], -1).astype(np.int32)
        return ScoredItems(ids, top.scores)

    def _approx(self, q: np.ndarray, n: int, keep: np.ndarray) -> ScoredItems:
        faiss = _faiss()
        assert self._hnsw is not None
        valid = np.zeros(len(self._seq_slot), dtype=bool)
        current = self._slot_seq[self._seq_slot] == np.arange(len(self._seq_slot))
        valid[current] = keep[self._seq_slot[current]]
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.config.ef_search, n)
        bitmap = np.packbits(valid, bitorder="little")
        sel = faiss.IDSelectorBitmap(len(valid), faiss.swig_ptr(bitmap))
        params.sel = sel
        dist, seq = self._hnsw.search(q, n, params=params)
        ids = np.where(seq >= 0, self._seq_slot[np.maximum(seq, 0)], -1).astype(np.int32)
        scores = np.where(seq >= 0, dist, -np.inf).astype(np.float32)
        return ScoredItems(ids, scores)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        arrays = {"vectors": self._vecs[:self.capacity], "live": self._live}
        if self._hnsw is not None:
            arrays["faiss"] = _faiss().serialize_index(self._hnsw)
            arrays["seq_slot"] = self._seq_slot
            arrays["slot_seq"] = self._slot_seq
        save_arrays(directory, **arrays)
        write_manifest(directory, self.KIND, json.loads(self.config.model_dump_json()), dim=self.dim,
                       n_items=len(self), hnsw=self._hnsw is not None)

    @classmethod
    def load(cls, directory: str | Path) -> VectorIndex:
        directory = Path(directory)
        manifest = read_manifest(directory, cls.KIND)
        index = cls(int(manifest["dim"]), VectorConfig(**manifest["config"]))
        arr = load_arrays(directory, "vectors", "live")
        index._vecs = np.array(arr["vectors"], dtype=np.float32)
        index._live = np.array(arr["live"], dtype=bool)
        index._slot_seq = np.full(len(index._live), -1, dtype=np.int64)
        if manifest.get("hnsw"):
            extra = load_arrays(directory, "faiss", "seq_slot", "slot_seq")
            index._hnsw = _faiss().deserialize_index(extra["faiss"])
            index._seq_slot = extra["seq_slot"].astype(np.int64)
            index._slot_seq = extra["slot_seq"].astype(np.int64)
        return index


def _fit(mask: np.ndarray, cap: int) -> np.ndarray:
    m = np.zeros(cap, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    m[:min(cap, len(mask))] = mask[:cap]
    return m
