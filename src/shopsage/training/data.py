"""What a training run learns from and is judged on: the store's interactions, with or without a
held-out tail.

``prepare(store, holdout=True)`` makes the split of the protocol that fits the data (see
:func:`choose_protocol`) and trains on everything but its test tail, which scores the model;
``holdout=False`` trains on every stored interaction (no figures: the store keeps no tail).
Either way the model's ids are the store's items in row order (:class:`Vocabulary` of SKUs), so
a version maps onto any catalogue by SKU.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shopsage.data.splits import EvalCases, SplitData, sequences_from_interactions
from shopsage.data.stores.base import SPLIT_CODES, TYPE_CODES, Interactions, StoreReader
from shopsage.errors import ValidationError
from shopsage.evaluate.protocols import PROTOCOLS, default_filter_seen, make_split
from shopsage.recommend.base import TrainData
from shopsage.vocab import Vocabulary

__all__ = ["SKIP_TYPES", "TrainingSet", "choose_protocol", "owner_groups", "prepare", "store_interactions",
           "write_tail_free_store"]

SKIP_TYPES = ("impression", "search")
"""Event types that are not interactions with an item (they never enter histories or training)."""

_TYPE_NAMES = {c: t for t, c in TYPE_CODES.items()}


def owner_groups(inter: Interactions) -> np.ndarray:
    """One group per user; events without a user are grouped by session after the users."""
    top = int(inter.user.max(initial=-1)) + 1
    return np.where(inter.user >= 0, inter.user, np.where(inter.session >= 0, top + inter.session, -1))


def store_interactions(store: StoreReader) -> Interactions:
    """The store's interactions with an item (impressions and searches left out)."""
    inter = store.interactions()
    keep = inter.item >= 0
    for t in SKIP_TYPES:
        keep &= inter.type != TYPE_CODES[t]
    return inter.select(keep)


def choose_protocol(inter: Interactions) -> str:
    """The protocol that fits the data: ``session-prefix`` when sessions are stored as a test split
    (session data sets), ``leave-one-out`` when most interactions have a user, else refused."""
    if not len(inter):
        raise ValidationError("the store holds no interactions with items: import events first "
                              "(shopsage import ...) or send them with POST /v1/events")
    if (inter.split == SPLIT_CODES["test"]).any() and (inter.session >= 0).any():
        return "session-prefix"
    if float((inter.user >= 0).mean()) >= 0.5:
        return "leave-one-out"
    raise ValidationError("the interactions are anonymous sessions with no stored test split, so no tail can be "
                          "held out by user: pass --protocol temporal (needs timestamps) or --no-holdout")


@dataclass(frozen=True)
class TrainingSet:
    """Training data, the item vocabulary its ids index, and (with a holdout) the test cases."""

    items: Vocabulary
    data: TrainData
    protocol: str | None
    test: EvalCases | None
    event_types: dict[str, int]
    """Training interactions per event type (reasons say "bought" only for purchase-trained models)."""
    split: SplitData | None = None
    """The split behind a holdout (its validation cases serve tuning)."""
    sessions: bool = False
    """The histories are anonymous sessions (seen items stay candidates: shoppers click them again)."""
    through_event: int | None = None
    """The last stored event (store event id, the arrival order) the data was read through: events
    stored later are unseen by a model trained on it (continuous retraining's fresh tail)."""

    @property
    def fingerprint(self) -> str:
        """A hash of the training sequences: versions trained on the same data share it."""
        seqs = self.data.sequences
        h = hashlib.sha256(np.asarray(seqs.indptr, np.int64).tobytes())
        h.update(np.asarray(seqs.items, np.int64).tobytes())
        h.update(str(self.data.n_items).encode())
        return h.hexdigest()[:12]

    @property
    def test_fingerprint(self) -> str | None:
        """A hash of the held-out cases: figures compare only across versions with the same one."""
        if self.test is None:
            return None
        h = hashlib.sha256(np.asarray(self.test.history.items, np.int64).tobytes())
        h.update(np.asarray(self.test.targets.items, np.int64).tobytes())
        return h.hexdigest()[:12]

    @property
    def filter_seen(self) -> bool:
        return default_filter_seen(self.protocol or ("session-prefix" if self.sessions else "leave-one-out"))

    def describe(self) -> dict[str, object]:
        return {"protocol": self.protocol or "none (trained on every stored interaction)",
                "n_items": self.data.n_items, "n_sequences": len(self.data.sequences),
                "n_interactions": int(len(self.data.sequences.items)),
                "n_test_cases": len(self.test) if self.test is not None else 0, "event_types": self.event_types,
                "fingerprint": self.fingerprint, "test_fingerprint": self.test_fingerprint,
                "through_event": self.through_event}


def _item_text(store: StoreReader, items: Vocabulary) -> list[str] | None:
    titles = {row.ext_id: row.title or "" for _, row in store.items()}
    if not any(titles.values()):
        return None
    return [titles.get(ext, "") for ext in items.ids]


def _type_counts(inter: Interactions) -> dict[str, int]:
    counts = Counter(_TYPE_NAMES.get(int(c), str(int(c))) for c in inter.type.tolist())
    return dict(sorted(counts.items()))


def prepare(store: StoreReader, *, holdout: bool = True, protocol: str | None = None, seed: int = 0,
            with_text: bool = False) -> TrainingSet:
    """The training set of a store; ``holdout`` keeps the protocol's test tail out of training."""
    inter = store_interactions(store)
    types = _type_counts(inter)
    through = int(inter.event_id.max()) if len(inter) else None
    if not holdout:
        ids = store.item_ids()
        items = Vocabulary(ids.keys())
        lut = np.full(max(ids.values(), default=0) + 1, -1, dtype=np.int64)
        lut[list(ids.values())] = np.arange(len(ids))
        if not len(inter):
            raise ValidationError("the store holds no interactions with items: import events first")
        _, seqs = sequences_from_interactions(inter, owner_groups(inter), lut[inter.item])
        text = _item_text(store, items) if with_text else None
        sessions = float((inter.user >= 0).mean()) < 0.5
        return TrainingSet(items, TrainData(len(items), seqs, item_text=text), None, None, types, sessions=sessions,
                           through_event=through)
    protocol = protocol or choose_protocol(inter)
    if protocol not in PROTOCOLS:
        raise ValidationError(f"unknown protocol {protocol!r}; use one of: {', '.join(PROTOCOLS)}")
    split = make_split(store, protocol, seed=seed)
    if protocol == "leave-one-out":  # what the split reads: users' interactions (sessions without a user are left out)
        types = _type_counts(inter.select(inter.user >= 0))
    elif protocol.startswith("session-prefix"):
        types = _type_counts(inter.select(inter.session >= 0))
    if not len(split.test):
        raise ValidationError(f"the {protocol} split left no test cases (each user needs 3 or more interactions): "
                              "train with --no-holdout, or import more events")
    text = _item_text(store, split.items) if with_text else None
    data = TrainData.from_split(split, with_valid_targets=True, item_text=text)
    return TrainingSet(split.items, data, protocol, split.test, types, split,
                       sessions=protocol.startswith("session-prefix"), through_event=through)



def tail_free_shop(source: StoreReader, split: SplitData, path: Path, fingerprint: str) -> int | None:
    """The SQLite shop at ``path`` holding ``split``'s training interactions and none of its held-out
    tail (:func:`write_tail_free_store`), rebuilt only when the marker beside it does not carry
    ``fingerprint`` (another split, protocol or data). Returns the interactions written, None when
    the shop on disk was reused."""
    from shopsage.data.stores import open_store

    marker = path.with_suffix(".split")
    if path.exists() and marker.exists() and marker.read_text() == fingerprint:
        return None
    path.unlink(missing_ok=True)
    dest = open_store(f"sqlite:///{path}")
    try:
        n = write_tail_free_store(source, dest, split)
    finally:
        dest.close()
    marker.write_text(fingerprint)
    return n


def write_tail_free_store(source: StoreReader, dest: Any, split: SplitData, event_type: str | None = None) -> int:
    """Write into ``dest`` (an empty store) the source's items and every training interaction of
    ``split`` (train + validation targets, in order), leaving out the held-out tail: the shop a
    served pipeline is scored on knows nothing of the test cases. User protocols write user
    events, session protocols session events; the type is the one most of the source's
    interactions have (the split keeps no per-event type). Items of a data set without a catalogue
    (ids only) are titled ``item <id>``. Returns the events written."""
    from shopsage.data.rows import EventBlock, EventRow, RowKey

    rows = [row for _, row in source.items()]
    # a data set that names only ids (Diginetica, yoochoose) has no catalogue: its items would be stubs,
    # which the service never shows; they are titled with their id, the one thing known of them
    dest.write_items([r if (r.title or r.description or r.category_path or r.brand or r.price is not None)
                      else r._replace(title=f"item {r.ext_id}") for r in rows])
    inter = store_interactions(source)
    event_type = event_type or max(_type_counts(inter).items(), key=lambda kv: kv[1])[0]
    by_user = split.protocol in ("leave-one-out", "temporal")
    seqs = split.train_with_valid()
    block = EventBlock()
    items = split.items.ids
    for s in range(len(seqs)):
        owner = split.owners.ids[s]
        for pos, i in enumerate(seqs[s].tolist()):
            block.append(EventRow(RowKey("tail-free", s + 1, pos), event_type, items[i], owner if by_user else None,
                                  None if by_user else owner, None, None, None, pos))
    dest.write_events(block)
    return len(block)
