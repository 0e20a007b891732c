"""Evaluation protocols: which split, which candidates, which metrics, scored the same way for
every model.

- ``leave-one-out``: per user, last item = test, second-to-last = validation; every item of the
  catalogue is a candidate (full ranking), seen items filtered or not (``filter_seen``).
- ``sampled-N`` (an option of leave-one-out, only to compare with old papers): the target is
  ranked against ``N`` seeded random items the user never had; keys say so (``sampled-100/hr@10``).
  Ties count against the model.
- ``temporal``: one global time cut (needs timestamps), several targets per user.
- ``session-prefix``: each stored test session's prefix predicts its last item (the ``sessions``
  format stores every prefix of a test session as its own session already);
  ``session-prefix-expanded``: every prefix of each test session predicts the next item
  (``yoochoose``). Session papers' "P@20" is ``hr@20``; seen items are not filtered by default
  (shoppers click an item again).

A split is computed once (:func:`make_split`) and written to plain ``.npy`` files
(:func:`save_split`) that every model's process reads back (:func:`load_split`), so every model
sees the identical split. Validation cases serve tuning and early stopping; test cases are scored
once per model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from shopsage.artifacts import load_arrays, save_arrays
from shopsage.data.splits import (
    EvalCases,
    Sequences,
    SplitData,
    leave_one_out,
    session_prefix,
    subsample_cases,
    temporal,
)
from shopsage.data.stores.base import StoreReader
from shopsage.errors import ValidationError
from shopsage.evaluate.metrics import (
    RANKING_METRICS,
    coverage,
    intra_list_diversity,
    novelty,
    per_row_metrics,
    popularity_bias,
    rank_auc,
    target_rank_metrics,
)
from shopsage.evaluate.topk import top_k
from shopsage.recommend.base import Recommender
from shopsage.vocab import Vocabulary

__all__ = ["Protocol", "PROTOCOLS", "DEFAULT_PROTOCOL", "EvalOptions", "make_split", "save_split", "load_split",
           "default_filter_seen", "evaluate", "slice_cases", "subsample_cases"]

Protocol = Literal["leave-one-out", "temporal", "session-prefix", "session-prefix-expanded"]
PROTOCOLS: tuple[str, ...] = ("leave-one-out", "temporal", "session-prefix", "session-prefix-expanded")

#: The protocol of each import format's published benchmarks.
DEFAULT_PROTOCOL: dict[str, str] = {
    "amazon-seq": "leave-one-out", "s3rec": "leave-one-out", "recbole": "leave-one-out", "table": "leave-one-out",
    "sessions": "session-prefix", "yoochoose": "session-prefix-expanded",
}


def default_filter_seen(protocol: str) -> bool:
    """Seen items are filtered for user protocols, kept for session protocols (re-clicks are common)."""
    return not protocol.startswith("session-prefix")


def make_split(store: StoreReader, protocol: str, *, seed: int = 0, valid_fraction: float = 0.1) -> SplitData:
    """The split of ``protocol`` over the store's events (deterministic for a given ``seed``)."""
    if protocol == "leave-one-out":
        return leave_one_out(store)
    if protocol == "temporal":
        return temporal(store, valid_fraction=valid_fraction)
    if protocol in ("session-prefix", "session-prefix-expanded"):
        return session_prefix(store, expand=protocol.endswith("expanded"), valid_fraction=valid_fraction, seed=seed)
    raise ValidationError(f"unknown protocol {protocol!r}; use one of: {', '.join(PROTOCOLS)}")


# ---- identical splits for every model process ---------------------------------------------------
def _seq_arrays(prefix: str, seqs: Sequences) -> dict[str, np.ndarray]:
    return {f"{prefix}_indptr": seqs.indptr, f"{prefix}_items": seqs.items}


def save_split(split: SplitData, directory: str | Path, item_text: list[str] | None = None) -> Path:
    """Write ``split`` as ``.npy`` arrays plus ``split.json`` (vocabularies, protocol)."""
    directory = Path(directory)
    arrays: dict[str, np.ndarray] = _seq_arrays("train", split.train)
    for name, cases in (("valid", split.valid), ("test", split.test)):
        arrays[f"{name}_owner"] = cases.owner
        arrays.update(_seq_arrays(f"{name}_history", cases.history))
        arrays.update(_seq_arrays(f"{name}_targets", cases.targets))
    save_arrays(directory, **arrays)
    meta = {"protocol": split.protocol, "items": split.items.ids, "owners": split.owners.ids, "item_text": item_text}
    (directory / "split.json").write_text(json.dumps(meta), encoding="utf-8")
    return directory


def load_split(directory: str | Path) -> tuple[SplitData, list[str] | None]:
    """Read back what :func:`save_split` wrote: ``(split, item_text)``."""
    directory = Path(directory)
    meta = json.loads((directory / "split.json").read_text(encoding="utf-8"))
    names = ["train_indptr", "train_items"]
    for name in ("valid", "test"):
        names += [f"{name}_owner", f"{name}_history_indptr", f"{name}_history_items",
                  f"{name}_targets_indptr", f"{name}_targets_items"]
    a = load_arrays(directory, *names)

    def cases(name: str) -> EvalCases:
        return EvalCases(a[f"{name}_owner"], Sequences(a[f"{name}_history_indptr"], a[f"{name}_history_items"]),
                         Sequences(a[f"{name}_targets_indptr"], a[f"{name}_targets_items"]))

    split = SplitData(meta["protocol"], Vocabulary(meta["items"]), Vocabulary(meta["owners"]),
                      Sequences(a["train_indptr"], a["train_items"]), cases("valid"), cases("test"))
    return split, meta.get("item_text")


# ---- scoring --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalOptions:
    """How cases are scored. ``ks`` are the metric cut-offs; ``sampled_negatives`` > 0 adds the
    sampled-negative protocol (keys ``sampled-N/...``); ``beyond_k`` is the cut-off of coverage,
    novelty, diversity and popularity bias (``beyond``: compute them); ``auc``: the target's AUC
    against all other candidates; ``diversity_lists`` caps (seeded sample) the lists whose
    intra-list diversity is computed."""

    ks: tuple[int, ...] = (10, 20)
    filter_seen: bool = True
    metrics: tuple[str, ...] = RANKING_METRICS
    sampled_negatives: int = 0
    beyond_k: int = 10
    beyond: bool = True
    auc: bool = True
    diversity_lists: int = 5000
    batch_size: int = 1024
    seed: int = 0


def _slice(seqs: Sequences, lo: int, hi: int) -> Sequences:
    ptr = seqs.indptr[lo:hi + 1]
    return Sequences(ptr - ptr[0], seqs.items[ptr[0]:ptr[-1]])


def slice_cases(cases: EvalCases, lo: int, hi: int) -> EvalCases:
    """Cases ``lo..hi-1`` as their own :class:`EvalCases`."""
    return EvalCases(cases.owner[lo:hi], _slice(cases.history, lo, hi), _slice(cases.targets, lo, hi))


def _sampled_ranks(scores: np.ndarray, hist: Sequences, target: np.ndarray, n_neg: int,
                   n_items: int, rng: np.random.Generator) -> np.ndarray:
    """0-based rank of each target among ``n_neg`` random items the user never had (ties count against)."""
    ranks = np.empty(len(target), dtype=np.int64)
    for b in range(len(target)):
        seen = np.union1d(hist[b], target[b:b + 1])
        if n_items - len(seen) < n_neg:
            raise ValidationError(f"a case has only {n_items - len(seen)} unseen items for {n_neg} sampled negatives: "
                                  "sample fewer negatives")
        neg = np.zeros(0, dtype=np.int64)
        while len(neg) < n_neg:
            draw = rng.integers(0, n_items, size=2 * n_neg)
            draw = draw[~np.isin(draw, seen)]
            neg = np.unique(np.r_[neg, draw])
        neg = rng.permutation(neg)[:n_neg]
        ranks[b] = int((scores[b, neg] >= scores[b, target[b]]).sum())
    return ranks


def _sampled_metrics(ranks: np.ndarray, ks: tuple[int, ...], n_neg: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in ks:
        for name, values in target_rank_metrics(ranks, k).items():
            out[f"sampled-{n_neg}/{name}@{k}"] = float(values.mean())
    return out


def _top_ids(scores: np.ndarray, hist: Sequences, k: int, filter_seen: bool) -> np.ndarray:
    """Top ``k`` ids per row, each history's items excluded when ``filter_seen`` (set to -inf in
    place, then restored: no copy of the wide matrix)."""
    if not filter_seen:
        return top_k(scores, k).ids
    if not scores.flags.writeable:
        scores = scores.copy()
    rows = np.repeat(np.arange(len(hist)), hist.lengths)
    saved = scores[rows, hist.items]
    scores[rows, hist.items] = -np.inf
    ids = top_k(scores, k).ids
    scores[rows, hist.items] = saved
    return ids


def evaluate(model: Recommender, cases: EvalCases, n_items: int, opts: EvalOptions | None = None, *,
             train: Sequences | None = None, on_progress: Callable[[int], None] | None = None) -> dict[str, float]:
    """Score every case with ``model`` over ALL items and return mean metrics keyed ``"ndcg@10"``...

    ``train`` (the training sequences) enables the beyond-accuracy metrics: ``coverage@k``,
    ``novelty@k``, ``popularity_bias@k`` and ``ild@k`` (diversity over the items' training
    co-occurrence vectors). Single-target protocols also get ``auc`` (the target against every
    other candidate item).
    """
    opts = opts or EvalOptions()
    if not len(cases):
        raise ValidationError("no evaluation cases: the split left none (too few events per user or session?)")
    single = bool(np.all(cases.targets.lengths == 1))
    if opts.sampled_negatives and not single:
        raise ValidationError("sampled-negative ranking needs one target per case (leave-one-out)")
    max_k = max(opts.ks)
    ranked = np.empty((len(cases), max_k), dtype=np.int32)
    aucs = np.empty(len(cases)) if single and opts.auc else None
    sampled = np.empty(len(cases), dtype=np.int64) if opts.sampled_negatives else None
    rng = np.random.default_rng(opts.seed)
    for lo in range(0, len(cases), opts.batch_size):
        hi = min(lo + opts.batch_size, len(cases))
        part = slice_cases(cases, lo, hi)
        hist = part.history
        scores = np.asarray(model.score(hist), dtype=np.float32)
        if scores.shape != (len(part), n_items):
            raise ValidationError(f"{type(model).__name__}.score returned shape {scores.shape}; "
                                  f"expected ({len(part)}, {n_items})")
        exclude = [hist[b] for b in range(len(part))] if opts.filter_seen else None
        ranked[lo:hi] = _top_ids(scores, hist, max_k, opts.filter_seen)
        if aucs is not None:
            aucs[lo:hi] = rank_auc(scores, part.targets.items, exclude)
        if sampled is not None:
            sampled[lo:hi] = _sampled_ranks(scores, hist, part.targets.items, opts.sampled_negatives, n_items, rng)
        if on_progress is not None:
            on_progress(hi - lo)
    out: dict[str, float] = {}
    for k in opts.ks:
        for name, values in per_row_metrics(ranked, cases.targets, k, opts.metrics).items():
            out[f"{name}@{k}"] = float(values.mean())
    if aucs is not None:
        out["auc"] = float(aucs.mean())
    if sampled is not None:
        out.update(_sampled_metrics(sampled, opts.ks, opts.sampled_negatives))
    if train is not None and opts.beyond:
        out.update(_beyond_accuracy(ranked, train, n_items, opts))
    return out


def _beyond_accuracy(ranked: np.ndarray, train: Sequences, n_items: int, opts: EvalOptions) -> dict[str, float]:
    k = min(opts.beyond_k, ranked.shape[1])
    ui = train.to_csr(n_items, binary=True)
    counts = np.asarray(ui.sum(axis=0)).ravel()
    n_users = max(len(train), 1)
    sample = ranked
    if len(ranked) > opts.diversity_lists:
        rng = np.random.default_rng(opts.seed)
        sample = ranked[np.sort(rng.choice(len(ranked), size=opts.diversity_lists, replace=False))]
    return {f"coverage@{k}": coverage(ranked, n_items, k), f"novelty@{k}": novelty(ranked, counts, n_users, k),
            f"popularity_bias@{k}": popularity_bias(ranked, counts, n_users, k),
            f"ild@{k}": intra_list_diversity(sample, ui.T.tocsr(), k)}
