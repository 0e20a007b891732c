"""The service behind the HTTP API: catalogue, state, models and pipelines, one per process.

:class:`Service` starts from a store (the truth for items and past events), a state URL (live
sessions and profiles, shared between workers with Redis) and the model registry. Each event
updates the state before the request returns, so the next request reflects it; item changes are
applied to the catalogue at once and announced through the state to the other workers; models
reload in the background when a new version is promoted.

The service keeps the lifecycle, catalogue writes and the answers; its parts live beside it:
:mod:`~shopsage.serving.encoders` (the search engine, text encoders and search ranker),
:mod:`~shopsage.serving.ingest` (events), :mod:`~shopsage.serving.masks` (what a scenario may show)
and :mod:`~shopsage.serving.shoppers` (who a request is for).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from shopsage.config import PrivacyConfig
from shopsage.data.rows import ItemRow
from shopsage.data.schema import Event
from shopsage.data.stores import open_store
from shopsage.data.stores.base import UNKNOWN_ITEMS, UnknownItems
from shopsage.errors import ConfigError, NotFoundError, ValidationError
from shopsage.privacy.trending import PrivateTrending
from shopsage.progress import LineProgress, Progress
from shopsage.registry import ModelRegistry
from shopsage.serving.build import build_missing
from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.config import SCENARIOS, load_pipelines
from shopsage.serving.encoders import SearchSide
from shopsage.serving.generators import Generators, Popularity, Shopper
from shopsage.serving.history import StoredHistory, load_history
from shopsage.serving.ingest import EventIngest
from shopsage.serving.masks import Masks
from shopsage.serving.models import ModelSet
from shopsage.serving.scenario import run_scenario
from shopsage.serving.search import SearchRequest, page_json
from shopsage.serving.shoppers import assemble_shopper, history_profile
from shopsage.state import StateStore, open_state

__all__ = ["Service", "ServiceOptions", "ITEM_SCENARIOS"]

log = logging.getLogger("shopsage.service")

ITEM_SCENARIOS = ("similar_items", "frequently_bought_together", "also_viewed")
_INDEX_CHUNK = 5000


@dataclass
class ServiceOptions:
    store_url: str = "sqlite:///var/shop.db"
    state_url: str = "memory://"
    home: Path = Path("var")
    pipelines: Path | None = None
    build_on_start: bool = True
    """Train the cheap models (popularity, item-kNN) when the registry has none."""
    reload_interval_s: float = 2.0
    """How often the registry is checked for promoted versions (0 = never)."""
    trending_cache_s: float = 0.2
    """Live popularity is re-read at most this often."""
    semantic: bool = False
    """Embed the catalogue with a text encoder: the ``semantic`` generator and the search fallback
    for queries that match no word. The encoder is the live version of ``encoder`` in the registry
    (``shopsage models finetune`` / ``promote``), else ``base_encoder``."""
    encoder: str = "encoder"
    """Registry name of the text encoder; a newly promoted version goes live without a restart."""
    base_encoder: str | None = None
    """A sentence-transformers directory used while no version is live (None: the packaged MiniLM)."""
    query_backend: Literal["torch", "onnx"] = "onnx"
    """How search queries are encoded (``semantic``): ``onnx`` runs the query encoder's float32 model
    through onnxruntime (the same vectors as ``torch`` within 1e-6, 2-3x faster for one query; exported
    once per model into ``~/.cache/shopsage/onnx``); ``torch`` skips the export. Catalogue items are
    always encoded by torch in batches."""
    inference_threads: int = 1
    """Threads torch uses for one request's model (SASRec, GRU4Rec...), set once the models are loaded. A
    worker answers one request at a time and ``shopsage serve`` runs a worker per core, so more threads
    only wait for each other: on a busy 2-core machine SASRec's scores took 57 ms with torch's default
    of 2 threads and 0.3 ms with 1."""
    privacy: PrivacyConfig | None = None
    """The ``[privacy]`` section (None: its defaults); ``dp_trending`` makes trending rank by
    differentially private counts released at most every ``trending_release_s``."""
    unknown_items: UnknownItems = "quarantine"
    """A live event naming an item the store does not know: ``quarantine`` (the default) keeps the event
    in the quarantine with its reason, stores the rest of the request and counts it in the answer's
    ``quarantined``: no placeholder item, nothing in popularity, nothing lost (an item published a
    moment after its first events is there to inspect). ``reject`` refuses the whole request (422,
    naming the items); ``accept`` stores it and creates a placeholder item, never shown (shops that
    send events before their catalogue). Bulk imports always create the items they name."""


@dataclass
class _Live:
    at: float = 0.0
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    since: float | None = None  # when the live counts begin (the state's window), read with them


class Service:
    def __init__(self, options: ServiceOptions, say: Callable[[str], None] = lambda _m: None) -> None:
        if options.inference_threads < 1:
            raise ConfigError(f"inference_threads of {options.inference_threads} must be at least 1 (1 suits a "
                              "worker per core)")
        if options.unknown_items not in UNKNOWN_ITEMS:
            raise ConfigError(f"unknown_items of {options.unknown_items!r} is not one of {', '.join(UNKNOWN_ITEMS)}")
        self.options = options
        self.say = say
        self.pipelines = load_pipelines(options.pipelines)
        self.store = open_store(options.store_url)
        self.state: StateStore = open_state(options.state_url)
        self.registry = ModelRegistry(Path(options.home) / "models")
        self._write = threading.Lock()  # catalogue writes against an encoder swap
        self.searching = SearchSide(options, self.registry, self.pipelines, say)
        self.catalog = ServingCatalog(self.searching.build_engine(self.store))
        self.history = StoredHistory()
        self.masks = Masks(self.catalog)
        self._stored = np.zeros(0, np.float32)
        self._live = _Live()
        self._cat_seen = 0
        self._erased_seen = 0  # the last audit record of an erasure applied to self.history
        self.events = EventIngest(lambda: self.store, self.state, self._live_changed, options.unknown_items)
        self._stop = threading.Event()
        self._reloader: threading.Thread | None = None
        names = [g.model for sc in self.pipelines.scenarios.values() for g in (*sc.candidates, *sc.fallbacks) if g.model]
        self.models = ModelSet(self.registry, names, self.catalog.slot, lambda: self.catalog.capacity,
                               lambda: list(self.store.item_ids()))
        privacy = options.privacy or PrivacyConfig()
        private = PrivateTrending(lambda: self.store, Path(options.home), privacy) if privacy.dp_trending else None
        self.gens = Generators(self.catalog, self.models, self._trending, private)
        self.started = False

    # ------------------------------------------------------------------ search side (encoders.py)
    @property
    def encoder_label(self) -> str | None:
        """The text encoder serving ("base" or a registry version; None without ``semantic``)."""
        return self.searching.encoder_label

    @property
    def ranker_label(self) -> str | None:
        """The search ranker version serving (None: none live)."""
        return self.searching.ranker_label

    @property
    def search_language(self) -> str:
        """The catalogue language the search analyzer serves."""
        return self.searching.search_language

    def refresh_ranker(self) -> bool:
        """Serve the registry's live search ranker if one was promoted (or rolled back) since."""
        return self.searching.refresh_ranker(self.catalog.engine)

    def refresh_encoder(self) -> bool:
        """Serve the registry's live text encoder if it changed (:meth:`SearchSide.refresh_encoder`)."""
        return self.searching.refresh_encoder(self.catalog, self._write)

    # ------------------------------------------------------------------ lifecycle
    def start(self, progress: Progress | None = None) -> Service:
        """Read the store: index every item (BM25, and item vectors with ``semantic``), load histories,
        build and load the models. ``progress`` hears the long steps (embedding item texts, indexing);
        without it they are said through ``say``, a line every 10 s."""
        report = progress or LineProgress(self.say)
        # the change-log position first: a change announced while we read the store is re-read
        self._cat_seen = self.state.catalog_changes(0)[0]
        rows = [r for _, r in self.store.items()]
        encoder = self.catalog.engine.encoder if self.options.semantic else None
        if encoder is not None and encoder.cache is not None and rows:
            from shopsage.search import embedding_text

            # one pass over the whole catalogue fills the embedding cache (one bar with a true total);
            # indexing below then reads every vector from it
            self.say(f"item vectors: {len(rows):,} items, {self.encoder_label} encoder (cache: {encoder.cache.dir})")
            encoder.encode([embedding_text(r) for r in rows], progress=report)
        what = "indexing items (BM25" + (" + vectors)" if encoder is not None else ")")
        for i in range(0, len(rows), _INDEX_CHUNK):
            self.catalog.upsert(rows[i:i + _INDEX_CHUNK])
            report(min(i + _INDEX_CHUNK, len(rows)), len(rows), what)
        self.catalog.engine.lexical.merge()
        self.say(f"catalogue: {len(rows):,} items indexed")
        seen = self.store.erasures(0)
        self._erased_seen = seen[-1][0] if seen else 0  # erased before the history was read: not in it
        self.history = load_history(self.store, self.catalog.slot)
        self.say(f"history: {len(self.history.users):,} users, {len(self.history.sessions):,} sessions, "
                 f"{self.history.events:,} interactions")
        self._refresh_stored_counts()
        if self.options.build_on_start:
            build_missing(self.store, self.registry, say=self.say, progress=report)
        loaded = self.models.refresh()
        self._limit_threads()
        self.say("models: " + (", ".join(f"{n} {self.models.models[n].version}" for n in loaded) or "none in the registry"))
        if self.options.reload_interval_s > 0:
            self._reloader = threading.Thread(target=self._reload_loop, name="shopsage-model-reload", daemon=True)
            self._reloader.start()
        self.started = True
        return self

    def close(self) -> None:
        self._stop.set()
        if self._reloader is not None:
            self._reloader.join(timeout=5)
        self.state.close()
        self.store.close()

    def _reload_loop(self) -> None:
        while not self._stop.wait(self.options.reload_interval_s):
            try:
                self.forget_erased()
                changed = self.models.refresh()
                if changed:
                    log.info("models reloaded: %s", ", ".join(changed))
                if self.refresh_encoder():
                    log.info("text encoder reloaded: %s", self.encoder_label)
                if self.refresh_ranker():
                    log.info("search ranker reloaded: %s", self.ranker_label)
                self._limit_threads()
            except Exception:  # noqa: BLE001 - keep serving the loaded versions
                log.exception("model reload failed; the loaded versions stay live")

    def _limit_threads(self) -> None:
        """Torch's intra-op threads to ``inference_threads`` when a model or encoder loaded torch (a model
        load or an encoder may have set their own; torch is never imported for this)."""
        torch = sys.modules.get("torch")
        if torch is not None and torch.get_num_threads() != self.options.inference_threads:
            torch.set_num_threads(self.options.inference_threads)

    def ready(self) -> dict[str, Any]:
        state_ok = self.state.ping()
        return {"ready": self.started and state_ok, "state": state_ok, "items": len(self.catalog),
                "models": self.models.describe(), "text_encoder": self.encoder_label}

    # ------------------------------------------------------------------ catalogue
    def _refresh_stored_counts(self) -> None:
        counts = np.zeros(self.catalog.capacity, np.float32)
        for ext, c in self.history.counts.items():
            s = self.catalog.slot(ext)
            if s is not None:
                counts[s] = c
        self._stored = counts

    @property
    def version(self) -> int:
        """The catalogue's version, bumped by every change (:class:`~shopsage.serving.masks.Masks`)."""
        return self.masks.version

    def _changed(self) -> None:
        self.masks.changed()
        if len(self._stored) < self.catalog.capacity:
            self._stored = np.concatenate([self._stored, np.zeros(self.catalog.capacity - len(self._stored), np.float32)])

    def sync(self) -> None:
        """Apply item changes other workers announced through the state."""
        version, changed = self.state.catalog_changes(self._cat_seen)
        if version == self._cat_seen:
            return
        self._cat_seen = version
        ids = list(dict.fromkeys(changed))
        rows = [r for _, r in self.store.items(ids)]
        if rows:
            with self._write:
                self.catalog.upsert(rows)
            gone = [r.ext_id for r in rows if not r.available]
            if gone:
                self.catalog.visible[self.catalog.slots(gone)] = False
        self._changed()

    def get_item(self, ext_id: str) -> dict[str, Any]:
        s = self.catalog.slot(ext_id)
        if s is None or self.catalog.row(s) is None:
            raise NotFoundError(f"item {ext_id!r} is not in the catalogue; upsert it with PUT /v1/items/{{id}}")
        return self.catalog.view(s)

    def upsert_items(self, rows: Sequence[ItemRow]) -> dict[str, int]:
        res = self.store.write_items(rows)
        with self._write:
            self.catalog.upsert(rows)
        self._announce([r.ext_id for r in rows])
        return {"inserted": res.inserted, "updated": res.updated, "unchanged": res.already_present}

    def patch_item(self, ext_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        s = self.catalog.slot(ext_id)
        row = self.catalog.row(s) if s is not None else None
        if row is None:
            raise NotFoundError(f"item {ext_id!r} is not in the catalogue; create it with PUT /v1/items/{{id}} first")
        new = row._replace(**changes, updated_at=time.time())
        self.upsert_items([new])
        return self.get_item(ext_id)

    def delete_item(self, ext_id: str) -> None:
        """Hide the item everywhere (the store keeps it, hidden, because past events refer to it)."""
        s = self.catalog.slot(ext_id)
        row = self.catalog.row(s) if s is not None else None
        if row is None:
            raise NotFoundError(f"item {ext_id!r} is not in the catalogue: nothing to delete")
        self.store.write_items([row._replace(available=False, updated_at=time.time())])
        with self._write:
            self.catalog.delete([ext_id])
        self._announce([ext_id])

    def _announce(self, ids: list[str]) -> None:
        self._changed()
        v = self.state.publish_catalog(ids)
        if v == self._cat_seen + len(ids):
            self._cat_seen = v  # nobody else changed anything meanwhile: nothing to re-read

    # ------------------------------------------------------------------ events
    def ingest(self, events: Sequence[Event], idempotency_key: str | None = None,
               stamped: Collection[int] = ()) -> dict[str, Any]:
        """Store validated events exactly once, then apply them (:class:`~shopsage.serving.ingest.EventIngest`).
        Blocking (a database transaction): async callers run it in a thread pool; safe from several
        threads at once. ``stamped``: positions of events whose timestamp the server gave."""
        return self.events.ingest(events, idempotency_key, stamped)

    def forget_erased(self) -> int:
        """Drop from the history this process loaded the users and sessions erased since (through any
        worker: the store's audit log names them by hash). The reload thread calls it every
        ``reload_interval_s``; returns how many histories went."""
        new = self.store.erasures(self._erased_seen)
        if not new:
            return 0
        self._erased_seen = new[-1][0]
        return self.history.forget_hashed({u for _, u, _ in new}, {s for _, _, ss in new for s in ss})

    def erase_user(self, user: str) -> dict[str, int]:
        """Erase a user: their events and their sessions' events from the store (with an audit record),
        their sessions, interactions and bought set from the state, their history from this process.
        Returns the store's counts and ``state`` (1 when the state forgot them)."""
        sessions = self.store.user_sessions(user)
        counts = dict(self.store.erase_user(user))
        forget = getattr(self.state, "forget", None)  # StateStore.forget (the state may predate it)
        if forget is not None:
            forget(user, sessions)
        else:
            log.warning("the state %s cannot forget a user: its live interactions expire with their TTL", type(self.state).__name__)
        counts["state"] = int(forget is not None)
        self.history.forget(user, sessions)
        return counts

    # ------------------------------------------------------------------ shoppers
    def shopper(self, user: str | None, session: str | None, item: str | None = None,
                history: Sequence[str] | None = None) -> Shopper:
        """Who a request is for (:func:`~shopsage.serving.shoppers.assemble_shopper`)."""
        return assemble_shopper(self.catalog, self.history, self.state, user, session, item, history)

    def _trending(self) -> Popularity:
        """Stored counts (all time, read at start) plus live ones: every item's, not only the top ones.
        Live counts cover the state's sliding window (``pop_window``), which the state dates."""
        now = time.monotonic()
        cap = self.catalog.capacity
        if now - self._live.at > self.options.trending_cache_s or len(self._live.counts) != cap:
            live = np.zeros(cap, np.float32)
            for ext, c in self.state.popularity(max(cap, 1)):
                s = self.catalog.slot(ext)
                if s is not None:
                    live[s] = c
            # the live window's start, as the state counts it: read with the counts, not on every call
            self._live = _Live(now, live, self.state.popularity_since())
        stored = self._stored[:cap]
        return Popularity(stored + self._live.counts, stored, self._live.counts, self._live.since)

    def _live_changed(self) -> None:
        self._live.at = 0.0  # live popularity changed: re-read it at the next request

    # ------------------------------------------------------------------ answers
    def recommend(self, scenario: str, user: str | None = None, session: str | None = None, item: str | None = None,
                  n: int = 10, history: Sequence[str] | None = None) -> dict[str, Any]:
        if scenario not in SCENARIOS:
            raise NotFoundError(f"unknown scenario {scenario!r}; use one of {', '.join(SCENARIOS)}")
        if scenario in ITEM_SCENARIOS and item is None:
            raise ValidationError(f"{scenario} needs ?item=ID (the item on the page)")
        if scenario == "next_in_session" and session is None and not history:
            raise ValidationError("next_in_session needs ?session=ID (the shopper's session) or ?history=ID,ID (the "
                                  "items viewed in this visit)")
        sh = self.shopper(user, session, item, history)
        sc = self.pipelines.scenario(scenario)
        ranked = run_scenario(scenario, self.pipelines, self.gens, sh, self.masks.allowed(sc.exclude, sh), n)
        items = []
        for s, score, reasons in zip(ranked.slots, ranked.scores, ranked.reasons, strict=True):
            items.append({**self.catalog.view(s), "score": float(score), "reasons": [r.as_dict() for r in reasons]})
        return {"scenario": scenario, "items": items, "stages": ranked.stages}

    def search(self, req: SearchRequest) -> dict[str, Any]:
        """One page of search results through the search front door (``SearchEngine.query``): the
        shopper's profile from their history, live popularity, the scenario's exclusions and rules."""
        sh = self.shopper(req.user, req.session) if (req.user or req.session) else Shopper()
        profile = None
        if sh.user_history or sh.session_history:
            profile = history_profile(self.catalog, sh.user_history + sh.session_history)
        allowed = self.masks.allowed(self.pipelines.scenario("search").exclude, sh)
        page = self.catalog.engine.query(replace(req, profile=profile, popularity=self._trending()[0]),
                                         self.pipelines.rules, allowed)
        return page_json(page, self.catalog)

    def profile(self, user: str) -> dict[str, Any]:
        sh = self.shopper(user, None)
        if not sh.user_history:
            raise NotFoundError(f"user {user!r} has no interactions yet: send events with POST /v1/events")
        return {"user": user, **history_profile(self.catalog, sh.user_history).as_dict()}
