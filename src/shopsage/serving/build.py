"""Build what the service needs when the registry lacks it: the models the pipelines name that are
installed and cheap to train on start (popularity, item-kNN), registered and promoted.

They train on every stored interaction (no held-out tail, so no figures in their manifests); train
with ``shopsage models train NAME`` for a version scored on the store's held-out tail. The lexical
(BM25) index is always rebuilt from the store on start (the store is the truth for the catalogue).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shopsage.data.stores.base import StoreReader
from shopsage.errors import ModelError, ValidationError
from shopsage.progress import Progress, silent
from shopsage.recommend.base import TrainData
from shopsage.registry import ModelRegistry
from shopsage.serving.models import recommender_class
from shopsage.training import prepare, register_recommender
from shopsage.vocab import Vocabulary

__all__ = ["training_data", "build_missing", "register_recommender", "BUILD_ON_START"]

BUILD_ON_START = ("pop", "itemknn")
"""Models trained on start when the registry has no version of them (fast on any catalogue)."""


def training_data(store: StoreReader) -> tuple[Vocabulary, TrainData]:
    """Every stored user's (else session's) interactions, in order, over every item of the store."""
    ts = prepare(store, holdout=False)
    return ts.items, ts.data


def build_missing(store: StoreReader, registry: ModelRegistry, names: Sequence[str] = BUILD_ON_START,
                  say: Callable[[str], None] = lambda _m: None, progress: Progress | None = None) -> list[str]:
    """Train and promote each of ``names`` that is installed and has no current version.

    ``say`` hears a line per model; ``progress`` the models done out of those to train. A model with a
    ``verbose`` setting (the sequential ones) trains with it on: a line per epoch."""
    todo = [n for n in names if registry.current(n) is None and recommender_class(n) is not None]
    if not todo:
        return []
    say("reading interactions from the store")
    try:
        ts = prepare(store, holdout=False)
    except ValidationError:
        say("the store holds no interactions yet: no model trained (restart serve once events exist, or train and "
            "promote models with shopsage models train)")
        return []
    built = []
    report = progress or silent
    for done, name in enumerate(todo, start=1):
        cls = recommender_class(name)
        assert cls is not None
        say(f"training {name} on {len(ts.data.sequences):,} histories, {len(ts.data.sequences.items):,} interactions, "
            f"{len(ts.items):,} items")
        try:
            model = cls(**({"verbose": True} if "verbose" in cls.Config.model_fields else {})).fit(ts.data)
        except ModelError as exc:
            say(f"{name} not trained: {exc}")
            continue
        finally:
            report(done, len(todo), "training models")
        v = register_recommender(registry, model, ts.items, promote=True, trained_on="store, on serve start",
                                 holdout=False, metrics={}, data=ts.describe(), data_fingerprint=ts.fingerprint,
                                 event_types=ts.event_types)
        say(f"{name} {v.version} registered and promoted")
        built.append(name)
    return built
