"""An on-disk embedding cache keyed by encoder id and text hash.

Re-indexing a catalogue whose titles did not change costs one hash per text and no model call.
Layout (plain files, no pickles): ``<root>/<encoder id digest>/`` holds ``meta.json`` (the
encoder id and dimension) and append-only shards ``keys-NNNNNN.npy`` ``(n, 2) uint64`` (a
128-bit BLAKE2b digest of the UTF-8 text) with ``vecs-NNNNNN.npy`` ``(n, D) float32``. Each
``put`` writes one new shard, so concurrent readers never see a half-written array: a shard's
keys file is written last, after its vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shopsage.artifacts import atomic_write_text
from shopsage.errors import ArtifactError

__all__ = ["EmbeddingCache", "text_keys"]


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """``(n, 2) uint64`` 128-bit digests of ``texts``."""
    out = np.empty((len(texts), 2), dtype=np.uint64)
    for i, t in enumerate(texts):
        d = hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        out[i] = np.frombuffer(d, dtype=np.uint64)
    return out


class EmbeddingCache:
    """Vectors of texts already encoded by one encoder, stored under ``root``."""

    def __init__(self, root: str | os.PathLike[str], encoder_id: str, dim: int) -> None:
        digest = hashlib.sha256(encoder_id.encode()).hexdigest()[:16]
        self.dir = Path(root) / digest
        self.encoder_id = encoder_id
        self.dim = dim
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "meta.json"
        if meta.is_file():
            info = json.loads(meta.read_text(encoding="utf-8"))
            if info.get("encoder_id") != encoder_id or info.get("dim") != dim:
                raise ArtifactError(f"embedding cache {self.dir} belongs to {info}, not {encoder_id!r}; "
                                    "delete that folder or use another cache root.")
        else:
            atomic_write_text(meta, json.dumps({"encoder_id": encoder_id, "dim": dim}))
        self._index: dict[bytes, tuple[int, int]] = {}
        self._shards: dict[int, np.ndarray] = {}
        self._next = 0
        self.persist_min = 1
        """``put`` writes a shard only for at least this many new vectors; fewer stay in this process's
        memory. A service embedding one updated item at a time sets it higher, so its cache folder
        does not grow by a shard per request."""
        self._memory: dict[bytes, np.ndarray] = {}
        self._scan()

    def _scan(self) -> None:
        for kpath in sorted(self.dir.glob("keys-*.npy")):
            shard = int(kpath.stem.split("-")[1])
            keys = np.load(kpath, allow_pickle=False)
            for row, k in enumerate(keys):
                self._index[k.tobytes()] = (shard, row)
            self._next = max(self._next, shard + 1)

    def __len__(self) -> int:
        return len(self._index)

    def _vectors(self, shard: int) -> np.ndarray:
        if shard not in self._shards:
            self._shards[shard] = np.load(self.dir / f"vecs-{shard:06d}.npy", mmap_mode="r", allow_pickle=False)
        return self._shards[shard]

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(vectors (n, D), found (n,) bool)``; rows not found are zero."""
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        found = np.zeros(len(keys), dtype=bool)
        for i, k in enumerate(keys):
            hit = self._index.get(k.tobytes())
            if hit is not None:
                out[i] = self._vectors(hit[0])[hit[1]]
                found[i] = True
            elif self._memory:
                kept = self._memory.get(k.tobytes())
                if kept is not None:
                    out[i] = kept
                    found[i] = True
        return out, found

    def put(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Store new ``(keys, vectors)`` as one shard (keys already cached are skipped)."""
        assert vectors.shape == (len(keys), self.dim), vectors.shape
        fresh = [i for i, k in enumerate(keys) if k.tobytes() not in self._index]
        if not fresh:
            return
        if len(fresh) < self.persist_min:
            for i in fresh:
                self._memory[keys[i].tobytes()] = np.array(vectors[i], dtype=np.float32)
            return
        keys = np.ascontiguousarray(keys[fresh])
        vectors = np.ascontiguousarray(vectors[fresh], dtype=np.float32)
        shard = self._next
        while (self.dir / f"keys-{shard:06d}.npy").exists():  # another process wrote meanwhile
            shard += 1
        np.save(self.dir / f"vecs-{shard:06d}.npy", vectors, allow_pickle=False)
        tmp = self.dir / f".keys-{shard:06d}.tmp.npy"
        np.save(tmp, keys, allow_pickle=False)
        os.replace(tmp, self.dir / f"keys-{shard:06d}.npy")
        self._next = shard + 1
        for row, k in enumerate(keys):
            self._index[k.tobytes()] = (shard, row)
