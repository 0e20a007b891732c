"""Recommenders behind one contract (:class:`Recommender`), by CLI name.

``create("ease", reg=500)`` builds a model from its name and config overrides; ``MODELS`` maps
every name to its class, importing a model's module only when it is first asked for (torch-based
sequential models never load unless used). To add a model, add one line to ``_MODEL_PATHS``:
``"name": "module.path:ClassName"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from shopsage.errors import ConfigError, describe_problems
from shopsage.recommend.base import ModelConfig, Recommender, TrainData, as_histories

__all__ = ["Recommender", "ModelConfig", "TrainData", "as_histories", "MODELS", "create", "model_class",
           "Popularity", "ItemKNN", "EASE", "ALS", "BPR", "FBT", "SKNN", "Hybrid", "ContentScorer",
           "RecentItems", "normalize_scores"]

_MODEL_PATHS: dict[str, str] = {
    "pop": "shopsage.recommend.popularity:Popularity",
    "itemknn": "shopsage.recommend.itemknn:ItemKNN",
    "ease": "shopsage.recommend.ease:EASE",
    "als": "shopsage.recommend.als:ALS",
    "bpr": "shopsage.recommend.bpr:BPR",
    "fbt": "shopsage.recommend.fbt:FBT",
    "sknn": "shopsage.recommend.sknn:SKNN",
    "sasrec": "shopsage.recommend.sequential.sasrec:SASRec",
    "gru4rec": "shopsage.recommend.sequential.gru4rec:GRU4Rec",
    "recent": "shopsage.recommend.recent:RecentItems",
}

# Components that are recommenders but not stand-alone CLI models (they need other parts to build).
_COMPONENT_PATHS: dict[str, str] = {
    "hybrid": "shopsage.recommend.hybrid:Hybrid",
    "content": "shopsage.recommend.content:ContentScorer",
}


def _resolve(path: str) -> type[Recommender]:
    module, cls = path.split(":")
    found: type[Recommender] = getattr(importlib.import_module(module), cls)
    return found


class _LazyModels(Mapping[str, type[Recommender]]):
    """Name -> model class; a class's module is imported on first access."""

    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = paths

    def __getitem__(self, name: str) -> type[Recommender]:
        return _resolve(self._paths[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


MODELS: Mapping[str, type[Recommender]] = _LazyModels(_MODEL_PATHS)


def model_class(name: str) -> type[Recommender]:
    """The class of model or component ``name``; a clear error listing the known names otherwise."""
    path = _MODEL_PATHS.get(name) or _COMPONENT_PATHS.get(name)
    if path is None:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(_MODEL_PATHS))}")
    return _resolve(path)


def create(name: str, **config: Any) -> Recommender:
    """A new, unfitted model ``name`` with config overrides, e.g. ``create("itemknn", neighbors=50)``."""
    if name not in _MODEL_PATHS:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(sorted(_MODEL_PATHS))}")
    cls = MODELS[name]
    try:
        return cls(**config)
    except PydanticValidationError as exc:
        problems = describe_problems(exc, whole="(config)")
        raise ConfigError(f"bad config for model {name!r}: {problems}. "
                          f"The fields are those of {cls.Config.__name__}.") from None


_LAZY_EXPORTS = {"Popularity": "popularity", "ItemKNN": "itemknn", "EASE": "ease", "ALS": "als", "BPR": "bpr",
                 "FBT": "fbt", "SKNN": "sknn", "Hybrid": "hybrid", "ContentScorer": "content",
                 "RecentItems": "recent", "normalize_scores": "hybrid"}


def __getattr__(attr: str) -> Any:  # lazy model classes: ``from shopsage.recommend import EASE``
    if attr in _LAZY_EXPORTS:
        return getattr(importlib.import_module(f"shopsage.recommend.{_LAZY_EXPORTS[attr]}"), attr)
    raise AttributeError(f"module 'shopsage.recommend' has no attribute {attr!r}")
