"""One fine-tuning job from a shop's event store to a registered encoder version.

``run_job`` is what ``shopsage models finetune`` runs: it reads the pairs the store holds (search
events, judgments, co-interaction sequences), holds out a seeded share of the anchors as the dev
set (never trained on), mines hard negatives from BM25 and the base encoder's nearest items,
fine-tunes with early stopping (or WiSE-FT) on dev nDCG@10 over the catalogue, and registers the
result with its manifest. Promotion stays a separate, deliberate step (``shopsage models promote``),
so a shop looks at the dev figures before its search changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.data.rows import ItemRow
from shopsage.data.stores.base import StoreReader
from shopsage.errors import ValidationError
from shopsage.finetune.pairs import (
    PairSet,
    cap_per_positive,
    interleave,
    item_text,
    keep_near,
    mine_hard_negatives,
    pairs_from_judgments,
    pairs_from_search_events,
    pairs_from_sequences,
)
from shopsage.finetune.publish import register_encoder
from shopsage.finetune.trainer import FineTuneConfig, FineTuneResult, fine_tune
from shopsage.ranking_metrics import ndcg_binary
from shopsage.registry import ModelRegistry, ModelVersion
from shopsage.types import PAD_ID, ScoredItems

__all__ = ["FineTuneJob", "JobReport", "run_job", "split_anchors", "dev_ndcg"]

Source = Literal["search", "judgments", "sequences"]


class FineTuneJob(BaseModel):
    """What to train on and how to judge it; ``training`` holds the optimiser's settings."""

    model_config = ConfigDict(extra="forbid")

    sources: list[Source] = Field(default_factory=lambda: ["search", "judgments"],
                                  description="search: query -> clicked / carted / bought item events; judgments: "
                                  "query -> item graded >= min_grade; sequences: item -> next item of a session or user.")
    min_grade: float = Field(2.0, description="Lowest judgment grade that makes a positive.")
    window: int = Field(1, ge=1, description="sequences: pair each item with each of the next `window` items.")
    near: int | None = Field(None, ge=1, description="sequences: keep only the pairs whose next item is among the "
                             "anchor's `near` nearest items by the base encoder (text-alike pairs).")
    max_per_positive: int | None = Field(None, ge=1, description="At most this many pairs per positive item.")
    hard_negatives: int = Field(1, ge=0, description="Mined negatives per pair (BM25 and base-encoder results).")
    skip_top: int = Field(10, ge=0, description="Mined negatives start below this rank (the top is often unlabelled "
                          "positives).")
    dev_fraction: float = Field(0.1, gt=0, lt=1, description="Share of anchors held out as the dev set.")
    max_dev: int = Field(2000, ge=1, description="At most this many dev anchors (a seeded sample).")
    dev_items: int = Field(5000, ge=100, description="tower=both: dev ranks among this many items (plus every dev "
                           "positive), re-embedded at each evaluation; tower=query ranks the whole catalogue.")
    seed: int = 0
    training: FineTuneConfig = Field(default_factory=lambda: FineTuneConfig(method="lora", tower="query"))


@dataclass
class DevSet:
    anchors: list[str]
    positives: list[set[str]]
    exclude: list[str | None]  # an item -> item anchor's own item, never a candidate


@dataclass
class JobReport:
    version: ModelVersion
    pairs: int
    sources: dict[str, int]
    dev_anchors: int
    zero_shot: float | None  # dev nDCG@10 of the base encoder
    tuned: float | None  # dev nDCG@10 of the saved model
    result: FineTuneResult

    @property
    def improved(self) -> bool:
        return self.zero_shot is not None and self.tuned is not None and self.tuned > self.zero_shot


def split_anchors(pairs: PairSet, fraction: float, seed: int) -> tuple[PairSet, PairSet]:
    """(training pairs, dev pairs): an anchor's pairs all land on one side, by the seeded hash of its
    text that splits the search benchmark's queries (``split_queries``)."""
    from shopsage.search.bench_data import split_queries

    _, dev = split_queries([p.anchor for p in pairs.pairs], fraction, seed)
    held_out = set(dev)
    fit = [p for p in pairs.pairs if p.anchor not in held_out]
    held = [p for p in pairs.pairs if p.anchor in held_out]
    return (PairSet(fit, pairs.texts, pairs.kind, dict(pairs.sources)),
            PairSet(held, pairs.texts, pairs.kind, dict(pairs.sources)))


def dev_ndcg(anchor_vecs: np.ndarray, item_vecs: np.ndarray, item_ids: list[str], dev: DevSet, k: int = 10) -> float:
    """Mean nDCG@k (binary gains) of exact cosine retrieval over ``item_vecs`` for the dev anchors."""
    pos = {e: i for i, e in enumerate(item_ids)}
    total = 0.0
    for start in range(0, len(dev.anchors), 512):
        own = [np.array([pos[e]] if e is not None and e in pos else [], dtype=np.int64)
               for e in dev.exclude[start:start + 512]]
        top = ScoredItems.from_scores(anchor_vecs[start:start + 512] @ item_vecs.T, k, own).ids
        wanted = dev.positives[start:start + 512]
        hits = np.array([[i != PAD_ID and item_ids[i] in w for i in row] for row, w in zip(top, wanted, strict=True)],
                        dtype=bool).reshape(top.shape)
        total += float(ndcg_binary(hits, np.array([len(w) for w in wanted])).sum())
    return total / max(1, len(dev.anchors))


def _dev_set(held: PairSet, limit: int, seed: int) -> DevSet:
    by_anchor: dict[str, set[str]] = defaultdict(set)
    own: dict[str, str | None] = {}
    for p in held.pairs:
        by_anchor[p.anchor].add(p.positive)
        own.setdefault(p.anchor, p.anchor_item)
    anchors = sorted(by_anchor)
    if len(anchors) > limit:
        rng = np.random.default_rng(seed)
        anchors = sorted(rng.choice(anchors, limit, replace=False).tolist())
    return DevSet(anchors, [by_anchor[a] for a in anchors], [own[a] for a in anchors])


def _gather(store: StoreReader, job: FineTuneJob) -> tuple[list[PairSet], dict[str, int]]:
    sets: list[PairSet] = []
    counts: dict[str, int] = {}
    for source in dict.fromkeys(job.sources):
        if source == "search":
            got = pairs_from_search_events(store)
        elif source == "judgments":
            got = pairs_from_judgments(store, min_grade=job.min_grade)
        else:
            got = pairs_from_sequences(store, window=job.window)
        counts[source] = len(got)
        sets.append(got)
    return sets, counts


def run_job(store: StoreReader, registry: ModelRegistry, name: str, job: FineTuneJob, base_model: str,
            cache_dir: str | None = None, log: Callable[[str], None] | None = None,
            progress: bool = False) -> JobReport:
    """Build pairs from ``store``, fine-tune ``base_model``, register the version under ``name``."""
    from shopsage.search import LexicalIndex, item_fields
    from shopsage.text import EncoderConfig, TextEncoder

    say = log or (lambda _m: None)
    rows: list[ItemRow] = [row for _, row in store.items()]  # type: ignore[attr-defined]
    if not rows:
        raise ValidationError("the store has no items: import a catalogue first (shopsage import)")
    ids = [r.ext_id for r in rows]
    catalog = {r.ext_id: item_text(r) for r in rows}  # the text the search engine embeds
    sets, counts = _gather(store, job)
    if sum(counts.values()) < 2:
        raise ValidationError(f"too few training pairs in the store ({counts}): fine-tuning needs search events "
                              "with the query that led to a click, cart or purchase, judgments, or sessions with "
                              "several items; import or log more, or choose other --sources")
    threads = job.training.threads
    zero = TextEncoder(EncoderConfig(model=base_model, cache_dir=cache_dir, threads=threads, progress=progress))
    say(f"embedding {len(ids)} items with the base encoder (cached by text)")
    item_mat = zero.encode([catalog[i] for i in ids])
    by_text = {t: i for i, t in enumerate(catalog[e] for e in ids)}
    lex = LexicalIndex()
    lex.add(np.arange(len(rows)), [item_fields(r) for r in rows])

    def dense(anchors: list[str], depth: int) -> list[list[str]]:  # the anchor's own item (same text) left out
        vecs = zero.encode(anchors, progress=False)
        out = []
        for start in range(0, len(anchors), 512):
            chunk = anchors[start:start + 512]
            own = [np.array([by_text[a]] if a in by_text else [], dtype=np.int64) for a in chunk]
            top = ScoredItems.from_scores(vecs[start:start + 512] @ item_mat.T, depth, own).ids
            out += [[ids[i] for i in row if i != PAD_ID] for row in top]
        return out

    def mixed(anchors: list[str]) -> list[list[str]]:  # BM25 and dense results, interleaved
        depth = job.skip_top + 20
        lexical = [[ids[i] for i in row if i >= 0] for row in lex.search(anchors, depth).ids]
        return [interleave(a, b) for a, b in zip(lexical, dense(anchors, depth), strict=True)]

    parts = []
    for got in sets:
        if got.kind == "item-item" and job.near:
            got = keep_near(got, lambda anchors: dense(anchors, job.near or 1), job.near)
            say(f"{len(got)} co-interaction pairs with the next item among the anchor's {job.near} nearest")
        parts.append(got)
    texts = dict(catalog)
    pairs = PairSet([p for s in parts for p in s.pairs], texts, "+".join(dict.fromkeys(s.kind for s in parts)),
                    {k: v for s in parts for k, v in s.sources.items()})
    if job.max_per_positive:
        pairs = cap_per_positive(pairs, job.max_per_positive, seed=job.seed)
    fit, held = split_anchors(pairs, job.dev_fraction, job.seed)
    if len(fit) < 2 or not held.pairs:
        raise ValidationError(f"{len(pairs)} pairs are too few to hold out a dev set ({len(fit)} to train, "
                              f"{len(held)} for dev): gather more logs, or raise --dev-fraction")
    if job.hard_negatives:
        fit = mine_hard_negatives(fit, mixed, catalog, per_pair=job.hard_negatives, skip_top=job.skip_top)
    dev = _dev_set(held, job.max_dev, job.seed)
    say(f"{len(fit)} training pairs, {len(dev.anchors)} dev anchors (held out), {len(ids)} items")

    cfg = job.training
    cand_ids = ids  # tower=query: the items keep the base vectors, dev ranks the whole catalogue
    if cfg.tower == "both":  # the items are re-embedded at each evaluation: a sample plus the dev positives
        rng = np.random.default_rng(job.seed)
        sample = set(rng.choice(ids, min(job.dev_items, len(ids)), replace=False).tolist())
        cand_ids = sorted(sample | {i for ps in dev.positives for i in ps})

    def evaluate(model: Any) -> float:
        anchor_vecs = model.encode(dev.anchors, batch_size=64, normalize_embeddings=True)
        if cfg.tower == "query":
            return dev_ndcg(anchor_vecs, item_mat, ids, dev)
        vecs = model.encode([catalog[i] for i in cand_ids], batch_size=64, normalize_embeddings=True)
        return dev_ndcg(anchor_vecs, vecs, cand_ids, dev)

    out = registry.new_version_dir(name)
    item_vectors = dict(zip(ids, item_mat, strict=True)) if cfg.tower == "query" else None
    result = fine_tune(base_model, fit, cfg, out, evaluate=evaluate, progress=progress,
                       item_vectors=item_vectors, log=say)
    metrics = {"dev_ndcg@10": float(result.best_metric or 0.0), "dev_ndcg@10_zero_shot": float(result.baseline_metric or 0.0),
               "dev_anchors": float(len(dev.anchors))}
    version = register_encoder(registry, name, out, base_model, fit, result, metrics)
    return JobReport(version, len(fit), {**counts, **{k: v for k, v in fit.sources.items() if k not in counts}},
                     len(dev.anchors), result.baseline_metric, result.best_metric, result)
