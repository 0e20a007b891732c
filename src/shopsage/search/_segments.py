"""Immutable posting segments of the lexical index (private).

A segment holds postings sorted by term id: ``tids`` (unique term ids, ascending), ``ptr``
(``len(tids) + 1`` offsets), ``docs`` (item slot per posting) and ``tfs`` (``(nnz, F)`` term
frequency per field). A slot's current content lives in exactly one segment, named by
``owner[slot] == segment.gen``; postings of a slot updated or deleted later are skipped at query
time and dropped at the next merge, so updates never rewrite old segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Segment", "build_segment", "merge_segments"]


@dataclass
class Segment:
    gen: int
    tids: np.ndarray  # (T,) int32 ascending
    ptr: np.ndarray  # (T + 1,) int64
    docs: np.ndarray  # (nnz,) int32
    tfs: np.ndarray  # (nnz, F) float32

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        i = int(np.searchsorted(self.tids, tid))
        if i >= len(self.tids) or self.tids[i] != tid:
            return self.docs[:0], self.tfs[:0]
        lo, hi = self.ptr[i], self.ptr[i + 1]
        return self.docs[lo:hi], self.tfs[lo:hi]

    @property
    def nnz(self) -> int:
        return int(len(self.docs))


def build_segment(gen: int, tids: np.ndarray, docs: np.ndarray, tfs: np.ndarray) -> Segment:
    """A segment from unsorted postings ``(tid, doc, tf[F])``."""
    order = np.lexsort((docs, tids))
    tids, docs, tfs = tids[order], docs[order], tfs[order]
    uniq, start = np.unique(tids, return_index=True)
    ptr = np.append(start, len(tids)).astype(np.int64)
    return Segment(gen, uniq.astype(np.int32), ptr, docs.astype(np.int32), np.ascontiguousarray(tfs, dtype=np.float32))


def merge_segments(gen: int, segments: list[Segment], owner: np.ndarray) -> Segment:
    """One segment holding the live postings of ``segments``; ``owner`` is rewritten to ``gen``."""
    all_t, all_d, all_f = [], [], []
    for seg in segments:
        counts = np.diff(seg.ptr)
        t = np.repeat(seg.tids, counts)
        keep = owner[seg.docs] == seg.gen
        all_t.append(t[keep])
        all_d.append(seg.docs[keep])
        all_f.append(seg.tfs[keep])
    n_fields = segments[0].tfs.shape[1] if segments else 0
    tids = np.concatenate(all_t) if all_t else np.zeros(0, np.int32)
    docs = np.concatenate(all_d) if all_d else np.zeros(0, np.int32)
    tfs = np.concatenate(all_f) if all_f else np.zeros((0, n_fields), np.float32)
    live_owner = owner >= 0
    for seg in segments:
        owner[(owner == seg.gen) & live_owner] = gen
    return build_segment(gen, tids, docs, tfs)
