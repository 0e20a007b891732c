"""Training pairs for the text encoder, built from a shop's own data.

- ``query -> product`` from search behaviour: click, add-to-cart and purchase events that carry
  the query that led to them;
- ``query -> product`` from relevance judgments with a grade at or above a threshold;
- ``item -> item`` from co-interactions: consecutive items of a session or a user's sequence;
- ``history -> item``: the texts of the last few items of a session or user, then the next item.

Hard negatives come from any retriever (BM25, the vector index, both): its top results for the
anchor that are not known positives of that anchor.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from shopsage.data.schema import EVENT_TYPES
from shopsage.data.stores.base import StoreReader
from shopsage.errors import ValidationError
from shopsage.privacy.cipher import FieldCipher, reveal_query_events
from shopsage.search.engine import embedding_text

__all__ = ["Pair", "PairSet", "pairs_from_judgments", "pairs_from_search_events", "pairs_from_sequences",
           "pairs_from_histories", "history_text", "mine_hard_negatives", "cap_per_positive", "keep_near", "interleave",
           "item_text"]

POSITIVE_EVENTS = ("click", "add_to_cart", "purchase")


item_text = embedding_text  # the text the search engine embeds for an item: title, brand, category path


@dataclass(frozen=True)
class Pair:
    """An anchor text and a positive item; ``negatives`` are item ids known not to match."""

    anchor: str
    positive: str  # external item id
    negatives: tuple[str, ...] = ()
    anchor_item: str | None = None  # for item -> item pairs: the anchor's own id
    weight: float = 1.0  # how much the pair counts when training is weighted (say, a judgment's gain)


@dataclass
class PairSet:
    """Pairs plus the item texts they refer to."""

    pairs: list[Pair]
    texts: dict[str, str]  # external item id -> text
    kind: str
    sources: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pairs)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for p in self.pairs:
            w = "" if p.weight == 1.0 else f"\x1f{p.weight:g}"
            h.update(f"{p.anchor}\x1f{p.positive}\x1f{','.join(p.negatives)}{w}\n".encode())
        return h.hexdigest()[:16]

    def positives_of(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for p in self.pairs:
            out[p.anchor].add(p.positive)
        return out


def _texts(store: StoreReader, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    return {row.ext_id: item_text(row) for _, row in store.items(wanted)} if wanted else {}


def pairs_from_judgments(store: StoreReader, min_grade: float = 2.0, queries: Sequence[str] | None = None) -> PairSet:
    """``(query, item)`` for every judgment with ``grade >= min_grade`` (optionally only some queries)."""
    keep = set(queries) if queries is not None else None
    pairs = [Pair(q, item) for q, item, grade in store.judgments()
             if grade >= min_grade and (keep is None or q in keep)]
    texts = _texts(store, (p.positive for p in pairs))
    pairs = [p for p in pairs if texts.get(p.positive)]
    return PairSet(pairs, texts, "query-item", {"judgments": len(pairs)})


def pairs_from_search_events(store: StoreReader, types: Sequence[str] = POSITIVE_EVENTS) -> PairSet:
    """``(query, item)`` for every click / cart / purchase event carrying the query that led to it."""
    unknown = set(types) - set(EVENT_TYPES)
    if unknown:
        raise ValidationError(f"unknown event types {sorted(unknown)}; use some of {', '.join(EVENT_TYPES)}")
    rows = reveal_query_events(store.query_events(types), FieldCipher.from_env())  # encrypted at rest when keyed
    pairs = [Pair(q, item) for q, item in rows]
    texts = _texts(store, (p.positive for p in pairs))
    pairs = [p for p in pairs if texts.get(p.positive)]
    return PairSet(pairs, texts, "query-item", {"search events": len(pairs)})


def _ext_sequences(store: StoreReader, types: Sequence[str] | None, split: str | None) -> list[list[str | None]]:
    """Each session's or user's items (external ids, oldest first) from the event store."""
    from shopsage.data.splits import sequences_from_interactions

    inter = store.interactions(types=types, split=split)
    ids = store.item_ids()
    row_to_ext = {rid: ext for ext, rid in ids.items()}
    group = inter.session.copy()
    group[group < 0] = -1
    by_user = inter.user >= 0
    group[by_user] = inter.user[by_user] + (int(group.max(initial=0)) + 1)
    _, seqs = sequences_from_interactions(inter, group, inter.item)
    return [[row_to_ext.get(int(r)) for r in seqs[s]] for s in range(len(seqs))]


def pairs_from_sequences(store: StoreReader, window: int = 1, types: Sequence[str] | None = None,
                         exclude_items: set[str] | None = None, max_pairs: int | None = None,
                         split: str | None = None) -> PairSet:
    """``(item, item)`` for items that follow each other within ``window`` steps in a session or a
    user's sequence. Items in ``exclude_items`` (say, held-out cold-start items) never appear;
    ``split`` keeps only the events of one split (say ``train`` of an imported benchmark)."""
    excluded = exclude_items or set()
    pairs: list[Pair] = []
    for seq in _ext_sequences(store, types, split):
        for i, a in enumerate(seq):
            for b in seq[i + 1:i + 1 + window]:
                if a is None or b is None or a == b or a in excluded or b in excluded:
                    continue
                pairs.append(Pair("", b, anchor_item=a))
        if max_pairs is not None and len(pairs) >= max_pairs:
            break
    texts = _texts(store, [p.positive for p in pairs] + [p.anchor_item for p in pairs if p.anchor_item])
    pairs = [Pair(texts[p.anchor_item], p.positive, anchor_item=p.anchor_item) for p in pairs
             if p.anchor_item and texts.get(p.anchor_item) and texts.get(p.positive)]
    return PairSet(pairs[:max_pairs] if max_pairs else pairs, texts, "item-item", {"co-interactions": len(pairs)})


HISTORY_SEPARATOR = " ; "


def history_text(texts: Sequence[str], most: int) -> str:
    """The anchor text of a history: its last ``most`` item texts, newest first, joined by `` ; ``
    (newest first, so truncation to the encoder's length drops the oldest)."""
    return HISTORY_SEPARATOR.join(reversed([t for t in texts if t][-most:]))


def pairs_from_histories(store: StoreReader, history: int = 5, types: Sequence[str] | None = None,
                         exclude_items: set[str] | None = None, split: str | None = None) -> PairSet:
    """``(history, next item)``: the texts of the last ``history`` items before each item of a
    session or user sequence (see :func:`history_text`) -> that item. Items in ``exclude_items``
    are never a positive and are left out of histories."""
    excluded = exclude_items or set()
    seqs = [[e for e in seq if e is not None and e not in excluded] for seq in _ext_sequences(store, types, split)]
    texts = _texts(store, {e for seq in seqs for e in seq})
    pairs: list[Pair] = []
    for seq in seqs:
        for i in range(1, len(seq)):
            if seq[i] == seq[i - 1] or not texts.get(seq[i]):
                continue
            anchor = history_text([texts.get(e, "") for e in seq[max(0, i - history):i]], history)
            if anchor:
                pairs.append(Pair(anchor, seq[i]))
    return PairSet(pairs, texts, "history-item", {"histories": len(pairs)})


def cap_per_positive(pairs: PairSet, most: int, seed: int = 0) -> PairSet:
    """At most ``most`` pairs per positive item (a seeded sample; order kept otherwise).

    In behaviour logs a few best-sellers are the positive of a large share of the pairs; capped,
    each item teaches the encoder about as much as any other, instead of pulling every anchor
    towards the best-sellers.
    """
    if most < 1:
        raise ValidationError(f"cap_per_positive needs most >= 1, got {most}")
    by_positive: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs.pairs):
        by_positive[p.positive].append(i)
    rng = random.Random(seed)
    keep = sorted(i for rows in by_positive.values() for i in (rows if len(rows) <= most else rng.sample(rows, most)))
    return PairSet([pairs.pairs[i] for i in keep], pairs.texts, pairs.kind,
                   {**pairs.sources, "cap per positive": most})


def mine_hard_negatives(pairs: PairSet, retrieve: Callable[[list[str]], list[list[str]]], catalog: dict[str, str],
                        per_pair: int = 1, skip_top: int = 0) -> PairSet:
    """Attach ``per_pair`` hard negatives to each pair: the retriever's best results for the
    anchor that are not known positives of it (nor the anchor item itself).

    ``retrieve(anchors)`` returns, per anchor, external item ids best first; ``catalog`` gives
    every item's text. ``skip_top`` passes over the very first results, which are often
    unlabelled positives.
    """
    positives = pairs.positives_of()
    anchors = sorted({p.anchor for p in pairs.pairs})
    ranked = dict(zip(anchors, retrieve(anchors), strict=True))
    out = []
    for p in pairs.pairs:
        known = positives[p.anchor] | ({p.anchor_item} if p.anchor_item else set())
        negs = [i for i in ranked[p.anchor][skip_top:] if i not in known and catalog.get(i)][:per_pair]
        out.append(Pair(p.anchor, p.positive, tuple(negs), p.anchor_item, p.weight))
    texts = dict(pairs.texts)
    texts.update({i: catalog[i] for p in out for i in p.negatives})
    return PairSet(out, texts, pairs.kind, {**pairs.sources, "hard negatives": per_pair})


def interleave(*ranked: Sequence[str]) -> list[str]:
    """Several retrievers' results merged by turns (first of each, then second of each...), each item
    once: hard negatives from BM25 and the vector index alike."""
    out: list[str] = []
    seen: set[str] = set()
    for group in zip(*ranked, strict=False):
        for x in group:
            if x not in seen:
                seen.add(x)
                out.append(x)
    return out


def keep_near(pairs: PairSet, retrieve: Callable[[list[str]], list[list[str]]], k: int) -> PairSet:
    """Only the pairs whose positive is among the ``k`` best results of ``retrieve`` for the anchor.

    For item -> item pairs from behaviour logs, ``retrieve`` being the base encoder's nearest items:
    about half the next items of a catalogue like Amazon Scientific are no closer in text to the
    anchor than a random item (a filament, then a sanding roll), and fitting those pairs moves the
    encoder away from the similarity that ranks items it has never seen in a pair; the text-alike
    pairs teach it which of the similar items go together (docs/benchmarks.md, Scientific).
    """
    if k < 1:
        raise ValidationError(f"keep_near needs k >= 1, got {k}")
    anchors = sorted({p.anchor for p in pairs.pairs})
    near = {a: set(ranked[:k]) for a, ranked in zip(anchors, retrieve(anchors), strict=True)}
    kept = [p for p in pairs.pairs if p.positive in near[p.anchor]]
    return PairSet(kept, pairs.texts, pairs.kind, {**pairs.sources, "near": k})
