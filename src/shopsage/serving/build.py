"""Build what the service needs when the registry lacks it: the models the pipelines name that are
installed and cheap to train on start (popularity, item-kNN), registered and promoted.

The lexical (BM25) index is always rebuilt from the store on start (the store is the truth for the
catalogue; a few seconds for tens of thousands of items).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from shopsage.data.splits import sequences_from_interactions
from shopsage.data.stores.base import TYPE_CODES, StoreReader
from shopsage.errors import ModelError
from shopsage.serving.history import SKIP_TYPES, owner_groups
from shopsage.serving.models import ITEMS_FILE, MODEL_DIR, recommender_class
from shopsage.recommend.base import Recommender, TrainData
from shopsage.registry import ModelRegistry, ModelVersion
from shopsage.vocab import Vocabulary

__all__ = ["training_data", "register_recommender", "build_missing", "BUILD_ON_START"]

BUILD_ON_START = ("pop", "itemknn")
"""Models trained on start when the registry has no version of them (fast on any catalogue)."""


def training_data(store: StoreReader) -> tuple[Vocabulary, TrainData]:
    """Every stored user's (else session's) interactions, in order, over every item of the store."""
    ids = store.item_ids()
    vocab = Vocabulary(ids.keys())
    inter = store.interactions()
    keep = inter.item >= 0
    for t in SKIP_TYPES:
        keep &= inter.type != TYPE_CODES[t]
    inter = inter.select(keep)
    lut = np.full(max(ids.values(), default=0) + 1, -1, dtype=np.int64)
    lut[list(ids.values())] = np.arange(len(ids))
    _, seqs = sequences_from_interactions(inter, owner_groups(inter), lut[inter.item])
    return vocab, TrainData(len(vocab), seqs)


def register_recommender(registry: ModelRegistry, model: Recommender, items: Vocabulary,
                         promote: bool = True, **extra: object) -> ModelVersion:
    """Save a fitted model as the next version of ``model.name`` (with its item vocabulary)."""
    path = registry.new_version_dir(model.name)
    model.save(path / MODEL_DIR)
    items.save(str(path / ITEMS_FILE))
    version = registry.register(model.name, path, f"recommender/{model.name}", model.config.model_dump(mode="json"),
                                n_items=len(items), **extra)
    return registry.promote(model.name, version.version) if promote else version


def build_missing(store: StoreReader, registry: ModelRegistry, names: Sequence[str] = BUILD_ON_START,
                  say: Callable[[str], None] = lambda _m: None) -> list[str]:
    """Train and promote each of ``names`` that is installed and has no current version."""
    todo = [n for n in names if registry.current(n) is None and recommender_class(n) is not None]
    if not todo:
        return []
    say("reading interactions from the store")
    vocab, data = training_data(store)
    if len(data.sequences.items) == 0:
        say("the store holds no interactions yet: no model trained (restart serve once events exist, or train and promote models)")
        return []
    built = []
    for name in todo:
        cls = recommender_class(name)
        assert cls is not None
        say(f"training {name} on {len(data.sequences):,} histories, {len(data.sequences.items):,} interactions, "
            f"{len(vocab):,} items")
        try:
            model = cls().fit(data)
        except ModelError as exc:
            say(f"{name} not trained: {exc}")
            continue
        v = register_recommender(registry, model, vocab, trained_on="store, on serve start")
        say(f"{name} {v.version} registered and promoted")
        built.append(name)
    return built
