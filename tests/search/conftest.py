"""A deterministic stand-in for the sentence encoder: texts sharing words are close, others orthogonal."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest


class HashEncoder:
    """Unit vectors of hashed words: texts sharing words are close. Stands in for MiniLM."""

    dim = 64
    id = "hash-words-64"

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        for w in text.casefold().replace("|", " ").split():
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode(self, texts: Sequence[str], progress: object = None) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if len(texts) else np.zeros((0, self.dim), np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self._vec(text)


@pytest.fixture
def hash_encoder() -> HashEncoder:
    return HashEncoder()
