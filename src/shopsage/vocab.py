"""External ids (SKUs, user strings) <-> contiguous int32 indexes.

External ids exist only at the edges of ShopSage; models, indexes and metrics work on the
indexes a :class:`Vocabulary` hands out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from shopsage.errors import NotFoundError

__all__ = ["Vocabulary"]


class Vocabulary:
    """An ordered, immutable mapping between external string ids and ``0..n-1``."""

    def __init__(self, ids: Iterable[str]) -> None:
        self._ids: list[str] = [str(i) for i in ids]
        self._index: dict[str, int] = {}
        for i, ext in enumerate(self._ids):
            if ext in self._index:
                raise ValueError(f"duplicate id {ext!r} in vocabulary: ids must be unique")
            self._index[ext] = i

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, ext: object) -> bool:
        return ext in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._ids == other._ids

    @property
    def ids(self) -> list[str]:
        """External ids in index order."""
        return list(self._ids)

    def index(self, ext: str) -> int:
        """The index of one external id; raises :class:`NotFoundError` when unknown."""
        try:
            return self._index[ext]
        except KeyError:
            raise NotFoundError(f"unknown id {ext!r}: it is not in this vocabulary of {len(self)} ids") from None

    def indexes(self, exts: Sequence[str], missing: int | None = None) -> np.ndarray:
        """Indexes of many external ids; unknown ones map to ``missing`` or raise."""
        if missing is None:
            return np.fromiter((self.index(e) for e in exts), dtype=np.int32, count=len(exts))
        return np.fromiter((self._index.get(e, missing) for e in exts), dtype=np.int32, count=len(exts))

    def external(self, idx: int) -> str:
        return self._ids[int(idx)]

    def externals(self, idxs: Iterable[int]) -> list[str]:
        return [self._ids[int(i)] for i in idxs]

    def save(self, path: str) -> None:
        """Write one id per line (UTF-8). Ids must not contain newlines."""
        with open(path, "w", encoding="utf-8") as fh:
            for ext in self._ids:
                if "\n" in ext:
                    raise ValueError(f"id {ext!r} contains a newline and cannot be saved")
                fh.write(ext + "\n")

    @classmethod
    def load(cls, path: str) -> Vocabulary:
        with open(path, encoding="utf-8") as fh:
            return cls(line.rstrip("\n") for line in fh)
