"""The models a service uses: loaded from the registry, mapped onto catalogue slots, hot-reloaded.

Each registry version of a recommender keeps the model in ``<version>/model/`` and its item
vocabulary in ``<version>/items.txt`` (one external id per line, the model's int ids in order).
:class:`ModelSet` maps model ids to the serving catalogue's slots both ways, and
:meth:`ModelSet.refresh` swaps in a newly promoted version (loaded off the request path, then one
reference assignment: no request sees half a model, none is dropped).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shopsage.artifacts import read_manifest
from shopsage.errors import ArtifactError, ModelError, ShopSageError
from shopsage.recommend.base import Recommender
from shopsage.registry import ModelRegistry
from shopsage.training.recommenders import ITEMS_FILE, MODEL_DIR
from shopsage.vocab import Vocabulary

__all__ = ["LoadedModel", "ModelSet", "recommender_class", "model_kind", "manifest_event_types", "MODEL_DIR", "ITEMS_FILE"]

log = logging.getLogger("shopsage.models")



def recommender_class(name: str) -> type[Recommender] | None:
    """The recommender class of model kind ``name``, or None when that model is not installed."""
    from shopsage.recommend import model_class

    try:
        return model_class(name)
    except (ShopSageError, ImportError):
        return None


def model_kind(manifest: dict[str, Any], name: str) -> str:
    """The model class name a registry version holds (``recommender/sasrec`` -> ``sasrec``); a blend
    registered as ``blend-session`` holds a ``hybrid``."""
    kind = str(manifest.get("kind", ""))
    return kind.split("/", 1)[1] if kind.startswith("recommender/") else name


@dataclass(frozen=True)
class LoadedModel:
    """A fitted model and the map between its item ids and catalogue slots."""

    name: str
    version: str
    model: Recommender
    to_slot: np.ndarray  # (n_model_items,) int64: catalogue slot of each model id, -1 when absent
    from_slot: np.ndarray  # (catalogue capacity at load,) int64: model id of each slot, -1 when absent
    event_types: dict[str, int] | None = None
    """Training interactions per event type, from the version's manifest; None when it does not say
    (reasons then name no event type)."""

    def model_ids(self, slots: list[int]) -> np.ndarray:
        s = np.asarray(slots, dtype=np.int64)
        s = s[(s >= 0) & (s < len(self.from_slot))]
        ids = self.from_slot[s]
        return ids[ids >= 0]

    def slots_of(self, ids: np.ndarray) -> np.ndarray:
        return self.to_slot[np.asarray(ids, dtype=np.int64)]

    @property
    def explains(self) -> bool:
        return callable(getattr(self.model, "explain", None))

    @property
    def trained_on(self) -> tuple[str, ...] | None:
        """The event types the model learned from (sorted), or None when the manifest does not say."""
        if self.event_types is None:
            return None
        return tuple(sorted(t for t, c in self.event_types.items() if c > 0))


def manifest_event_types(manifest: dict[str, Any]) -> dict[str, int] | None:
    """A manifest's ``event_types`` (event type -> training interactions), or None when it has none
    or an unreadable one."""
    raw = manifest.get("event_types")
    if not isinstance(raw, dict):
        return None
    try:
        return {str(t): int(c) for t, c in raw.items()}
    except (TypeError, ValueError):
        return None


def load_version(name: str, path: Path, version: str, slot_of: Callable[[str], int | None], capacity: int,
                 store_items: Callable[[], list[str]] | None = None,
                 event_types: dict[str, int] | None = None) -> LoadedModel:
    """Load a registry version; without ``items.txt`` the model's ids are taken to be the store's
    items in row order (the vocabulary of :mod:`shopsage.data.splits`) when the counts agree.
    ``event_types`` is what the version's manifest says it was trained on."""
    kind = model_kind(read_manifest(path), name)
    cls = recommender_class(kind)
    if cls is None:
        raise ModelError(f"model {name!r} ({kind}) is in the registry but not installed in this ShopSage")
    model_dir = path / MODEL_DIR if (path / MODEL_DIR).is_dir() else path
    model = cls.load(model_dir)
    items_file = path / ITEMS_FILE
    if items_file.is_file():
        vocab = Vocabulary.load(str(items_file))
    else:
        ids = store_items() if store_items is not None else []
        if len(ids) != model.n_items:
            raise ArtifactError(f"{path} has no {ITEMS_FILE} and its {model.n_items} items are not the store's "
                                f"{len(ids)}: register it with shopsage.serving.build.register_recommender")
        vocab = Vocabulary(ids)
    to_slot = np.array([s if (s := slot_of(e)) is not None else -1 for e in vocab.ids], dtype=np.int64)
    from_slot = np.full(max(capacity, int(to_slot.max(initial=-1)) + 1), -1, dtype=np.int64)
    ok = to_slot >= 0
    from_slot[to_slot[ok]] = np.flatnonzero(ok)
    return LoadedModel(name, version, model, to_slot, from_slot, event_types)


class ModelSet:
    """The current version of every registry model the pipelines name."""

    def __init__(self, registry: ModelRegistry, names: list[str], slot_of: Callable[[str], int | None],
                 capacity: Callable[[], int], store_items: Callable[[], list[str]] | None = None) -> None:
        self.registry = registry
        self.names = sorted(set(names))
        self._slot_of = slot_of
        self._capacity = capacity
        self._store_items = store_items
        self.models: dict[str, LoadedModel] = {}
        self.errors: dict[str, str] = {}
        self._reloading = threading.Lock()

    def get(self, name: str | None) -> LoadedModel | None:
        return self.models.get(name) if name else None

    def _current(self, name: str) -> Any:
        try:
            return self.registry.current(name)
        except (ShopSageError, OSError, ValueError) as exc:
            self.errors[name] = str(exc)
            return None

    def refresh(self) -> list[str]:
        """Load every model whose current version changed; returns the names (re)loaded."""
        if not self._reloading.acquire(blocking=False):
            return []
        try:
            changed = []
            for name in self.names:
                cur = self._current(name)
                have = self.models.get(name)
                if cur is None or (have is not None and have.version == cur.version):
                    continue
                try:
                    loaded = load_version(name, cur.path, cur.version, self._slot_of, self._capacity(), self._store_items,
                                          manifest_event_types(cur.manifest))
                except Exception as exc:  # noqa: BLE001 - a broken version is reported; the loaded one keeps serving
                    self.errors[name] = f"{cur.version}: {exc}"
                    log.warning("model %s %s not loaded: %s", name, cur.version, exc)
                    continue
                self.models = {**self.models, name: loaded}  # one assignment: readers see old or new
                self.errors.pop(name, None)
                changed.append(name)
            return changed
        finally:
            self._reloading.release()

    def describe(self) -> dict[str, Any]:
        return {"loaded": {n: m.version for n, m in self.models.items()}, "errors": dict(self.errors)}

    def pin(self, name: str, version: str) -> str:
        """Load registry version ``version`` of ``name`` beside the live one, under ``name@version`` (an
        experiment's variant serves it; :meth:`refresh` never replaces it); returns that key."""
        key = f"{name}@{version}"
        if key not in self.models:
            v = self.registry.get(name, version)
            loaded = load_version(name, v.path, v.version, self._slot_of, self._capacity(), self._store_items,
                                  manifest_event_types(v.manifest))
            self.models = {**self.models, key: loaded}
        return key
