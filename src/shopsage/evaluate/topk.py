"""Fast top-k of wide score matrices, for scoring every item of a large catalogue.

``np.argpartition`` over ``(B, 43,000)`` rows is slow (an indirect select per row). Here each row is
cut into chunks of ``chunk`` items; the k-th largest chunk maximum ``tau`` bounds the k-th largest
score from below, so only chunks whose maximum reaches ``tau`` can hold a top-k item. Those few
chunks are gathered and ranked exactly. Ties rank the lower item id first; ``-inf`` (excluded)
items are never returned (``PAD_ID`` instead), as in :meth:`ScoredItems.from_scores`.
"""

from __future__ import annotations

import numpy as np

from shopsage.types import PAD_ID, ScoredItems

__all__ = ["top_k"]


def top_k(scores: np.ndarray, k: int, chunk: int = 64) -> ScoredItems:
    """The ``k`` best items of each row of a dense ``(B, n_items)`` matrix, best first."""
    scores = np.asarray(scores, dtype=np.float32)
    n_rows, n = scores.shape
    k_eff = min(k, n)
    full = n // chunk  # whole chunks are views of the matrix (no copy); the tail is its own chunk
    head = scores[:, :full * chunk].reshape(n_rows, full, chunk)
    maxima = [head.max(axis=2)] if full else []
    if n % chunk:
        maxima.append(scores[:, full * chunk:].max(axis=1, keepdims=True))
    chunk_max = np.concatenate(maxima, axis=1) if len(maxima) > 1 else maxima[0]  # (B, G)
    groups = chunk_max.shape[1]
    kk = min(k_eff, groups)
    tau = -np.partition(-chunk_max, kk - 1, axis=1)[:, kk - 1]  # k-th largest chunk maximum per row
    selected = chunk_max >= tau[:, None]
    counts = selected.sum(axis=1)
    width = int(counts.max())
    order = np.argsort(~selected, axis=1, kind="stable")[:, :width]  # selected chunks first, by chunk index
    cand_ids = order[:, :, None] * chunk + np.arange(chunk)[None, None, :]  # (B, width, chunk)
    unused = (np.arange(width)[None, :] >= counts[:, None])[:, :, None] | (cand_ids >= n)
    cand_ids = np.where(unused, 0, cand_ids).reshape(n_rows, width * chunk)
    cand = np.take_along_axis(scores, cand_ids, axis=1)
    cand[unused.reshape(n_rows, width * chunk)] = -np.inf
    best = np.argsort(-cand, axis=1, kind="stable")[:, :k_eff]  # candidates are few: a full sort is cheap
    ids = np.take_along_axis(cand_ids, best, axis=1).astype(np.int32)
    vals = np.take_along_axis(cand, best, axis=1)
    ids[~np.isfinite(vals) & (vals < 0)] = PAD_ID
    if k_eff < k:
        ids = np.pad(ids, ((0, 0), (0, k - k_eff)), constant_values=PAD_ID)
        vals = np.pad(vals, ((0, 0), (0, k - k_eff)), constant_values=-np.inf)
    return ScoredItems(ids, vals.astype(np.float32))
