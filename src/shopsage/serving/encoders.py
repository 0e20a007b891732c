"""The search side of the service: the engine it builds, the text encoders and search ranker it serves.

:class:`SearchSide` builds the search engine once at start (the search scenario's mode, the
catalogue's language, the text encoder with ``semantic``, the live search ranker) and swaps the
encoder or the ranker in place when the registry promotes (or rolls back) a version: the reload
loop calls :meth:`SearchSide.refresh_encoder` and :meth:`SearchSide.refresh_ranker`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shopsage.data.stores.base import StoreReader
from shopsage.errors import ShopSageError
from shopsage.registry import ModelRegistry
from shopsage.search import LexicalConfig, SearchConfig, SearchEngine
from shopsage.search.training import RANKER, load_ranker
from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.config import PipelinesConfig

if TYPE_CHECKING:
    from shopsage.serving.service import ServiceOptions

__all__ = ["SearchSide"]

log = logging.getLogger("shopsage.service")

_PERSIST_MIN = 64  # texts an encoding must add before the embedding cache writes a shard for them
_LANGUAGE_SAMPLE = 2000  # items whose text decides the catalogue's language (search language = "auto")


class SearchSide:
    """What the service's search serves: its analyzer language, text encoders and search ranker."""

    def __init__(self, options: ServiceOptions, registry: ModelRegistry, pipelines: PipelinesConfig,
                 say: Callable[[str], None]) -> None:
        self.options = options
        self.registry = registry
        self.pipelines = pipelines
        self.say = say
        self.encoder_label: str | None = None  # the text encoder serving ("base" or a registry version)
        self.search_language = "en"  # the catalogue language the search analyzer serves
        self.ranker_label: str | None = None  # the search ranker version serving (None: none live)
        self._encoders: tuple[str, str] | None = None  # (item encoder path, query encoder path)
        self._ranker_tried: str | None = None  # the last live version a load was tried for

    # ------------------------------------------------------------------ text encoder
    def _encoder_choice(self) -> tuple[str, str, str]:
        """(item encoder path, query encoder path, label) of the live registry version, or the base."""
        from shopsage.finetune.publish import item_encoder_path
        from shopsage.text import default_model_path

        live = self.registry.current(self.options.encoder)
        if live is None:
            base = self.options.base_encoder or default_model_path()
            return base, base, "base"
        return item_encoder_path(live), str(live.path), f"{self.options.encoder} {live.version}"

    def _text_encoders(self, items: str, queries: str) -> tuple[Any, Any]:
        from shopsage.text import EncoderConfig, TextEncoder

        cache = str(Path(self.options.home) / "cache" / "embeddings")
        item_enc = TextEncoder(EncoderConfig(model=items, cache_dir=cache, progress=False))
        backend = self.options.query_backend
        query_enc = item_enc if queries == items and backend == "torch" else \
            TextEncoder(EncoderConfig(model=queries, cache_dir=cache, progress=False, backend=backend, threads=1))
        for enc in (item_enc, query_enc):
            if enc.cache is not None:  # bulk embeddings persist; single updated or viewed items stay in memory
                enc.cache.persist_min = _PERSIST_MIN
        return item_enc, query_enc

    def build_engine(self, store: StoreReader) -> SearchEngine:
        """The search engine: the search scenario's mode and language (``auto``: detected from a sample of
        the stored catalogue), the text encoder with ``semantic``, the live search ranker if any."""
        from shopsage.text.analyzers import LANGUAGE_ANALYZERS, detect_language

        sc = self.pipelines.scenario("search")
        language = sc.language
        if language == "auto":
            sample = islice(store.items(), _LANGUAGE_SAMPLE)
            language = detect_language(" ".join(p for p in (r.title, r.description) if p) for _, r in sample)
        self.search_language = language
        cfg = SearchConfig(mode=sc.mode, lexical=LexicalConfig(analyzer=LANGUAGE_ANALYZERS[language]),  # type: ignore[arg-type]
                           min_similarity=sc.semantic_min_similarity, personalize_boost=sc.personalize_boost)
        item_enc = query_enc = None
        if self.options.semantic:
            items, queries, label = self._encoder_choice()
            item_enc, query_enc = self._text_encoders(items, queries)
            self._encoders, self.encoder_label = (items, queries), label
        engine = SearchEngine(cfg, item_enc, query_enc)
        self.say(f"search: {language} analyzer ({LANGUAGE_ANALYZERS[language]}), mode {sc.mode}")
        self.refresh_ranker(engine)
        return engine

    def refresh_encoder(self, catalog: ServingCatalog, write: threading.Lock) -> bool:
        """Serve the registry's live encoder if it changed: the item vectors are re-embedded (through the
        embedding cache) only when the item encoder changed, and the engine swaps encoders and index at
        once, under ``write`` (the service's lock against catalogue writes)."""
        if not self.options.semantic:
            return False
        items, queries, label = self._encoder_choice()
        if (items, queries) == self._encoders:
            return False
        engine = catalog.engine
        current_items = engine.encoder
        with write:
            current_vector = engine.vector
            if (self._encoders is not None and items == self._encoders[0] and current_items is not None
                    and current_vector is not None):  # a query-tower version: the item vectors stay
                item_enc, vector = current_items, current_vector
                query_enc = self._text_encoders(queries, queries)[1]
            else:
                item_enc, query_enc = self._text_encoders(items, queries)
                live = [r for s in np.flatnonzero(engine.live) if (r := catalog.row(int(s))) is not None]
                vector = engine.embed_catalogue(item_enc, live)
            engine.use_encoders(item_enc, query_enc, vector)
            self._encoders, self.encoder_label = (items, queries), label
        self.say(f"text encoder: {label}")
        return True

    # ------------------------------------------------------------------ search ranker
    def refresh_ranker(self, engine: SearchEngine) -> bool:
        """Serve the registry's live search ranker if it changed; a version that does not fit this
        engine is reported and skipped (the previous one stays). The ranker is the live version of
        ``RANKER`` (``shopsage models train ranker``); it makes ``learned`` the mode of ``auto``."""
        live = self.registry.current(RANKER)
        label = None if live is None else f"{RANKER} {live.version}"
        if label == self._ranker_tried:
            return False
        self._ranker_tried = label  # tried once: a version that fails is not reloaded every few seconds
        try:
            engine.use_ranker(None if live is None else load_ranker(live.path))
        except (ShopSageError, OSError) as exc:
            self.say(f"search ranker {label} not used: {exc}")
            log.warning("search ranker %s not used: %s", label, exc)
            return False
        self.ranker_label = label  # only once it serves
        self.say(f"search ranker: {label or 'none'} (mode auto serves {engine.resolve_mode('auto')})")
        return True
