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

import gc
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
from shopsage.data.stores.retention import DEFAULT_REQUEST_RETENTION_DAYS, PRUNE_EVERY_S, prune_store
from shopsage.errors import ConfigError, NotFoundError, ValidationError
from shopsage.experiments.book import Assigned, ExperimentBook
from shopsage.feedback.log import ExposureLog
from shopsage.forecast.live import LiveTrend
from shopsage.forecast.stock import StockFacts
from shopsage.policy.rule_store import RuleBook
from shopsage.privacy.trending import PrivateTrending
from shopsage.profiles.segments import Assignment
from shopsage.progress import LineProgress, Progress
from shopsage.registry import ModelRegistry
from shopsage.search.index_settings import SettingsPatch
from shopsage.serving.build import build_missing
from shopsage.serving.catalog import ServingCatalog
from shopsage.serving.config import SCENARIOS, PipelinesConfig, load_pipelines
from shopsage.serving.drift import DriftConfig, DriftMonitor, embedding_shift
from shopsage.serving.encoders import SearchSide
from shopsage.serving.explore import Explorer
from shopsage.serving.generators import Generators, Popularity, Shopper
from shopsage.serving.history import StoredHistory, load_history
from shopsage.serving.ingest import EventIngest
from shopsage.serving.learned import StageRankers
from shopsage.serving.masks import Masks
from shopsage.serving.models import ModelSet
from shopsage.serving.retraining import RetrainSchedule
from shopsage.serving.scenario import run_scenario
from shopsage.serving.search import SearchRequest, SearchSettings, page_json
from shopsage.serving.segments import LiveSegments
from shopsage.serving.shoppers import assemble_shopper, history_profile
from shopsage.serving.variants import VariantPipelines
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
    exposures: bool = True
    """Record each answer's shown items in the store (:mod:`shopsage.feedback.log`: in batches, off the
    request path). Off: answers still carry their ``query_id``/``recomm_id`` and positions; nothing is
    recorded."""
    freeze_heap: bool = False
    """Once serving starts, move everything loaded to the garbage collector's permanent generation
    (:meth:`Service.freeze_heap`): full collections then skip it. ``shopsage serve`` sets it."""
    exposure_flush_s: float = 0.25
    """How often the exposure writer commits what has queued: what a kill -9 can lose of the exposures
    that no acknowledged event names."""
    segments: bool = True
    """Fit shopper segments (lifecycle, value, interest) from the store on start and keep them current
    with every event: shown in profiles, usable in merchant rules (``segments = ["lapsed"]``)."""
    drift: DriftConfig | None = None
    """Windows and thresholds of the drift monitors on the event stream (None: their defaults); their
    values are in ``/metrics`` (``shopsage_drift``)."""
    retrain_every_events: int = 0
    """Run ``shopsage models retrain`` (a low-priority child process) after this many new events; 0: never."""
    retrain_every_s: float = 0.0
    """... or this often (seconds); 0: never."""
    retrain_on_drift: bool = False
    """... or when a drift monitor is over its threshold. All three off by default (cron may run it)."""
    request_retention_days: float = DEFAULT_REQUEST_RETENTION_DAYS
    """Days an Idempotency-Key's record answers retries exactly once; the reload thread prunes older ones
    hourly (:mod:`shopsage.data.stores.retention`: a retry after that is a new request)."""


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
        self.index_settings = SearchSettings(options.home, self.catalog.engine)  # GET/PATCH /v1/settings, autocomplete
        self.history = StoredHistory()
        self.masks = Masks(self.catalog)
        self._stored = np.zeros(0, np.float32)
        self._live = _Live()
        self._cat_seen = 0
        self._erased_seen = 0  # the last audit record of an erasure applied to self.history
        self.events = EventIngest(lambda: self.store, self.state, self._live_changed, options.unknown_items)
        self.events.listeners.append(self.index_settings.observe)  # search events feed autocomplete
        self.exposure_log = ExposureLog.for_store(options.store_url, lambda: self.store, enabled=options.exposures,
                                                  flush_s=options.exposure_flush_s)
        self.segments = LiveSegments()  # fitted in start() when options.segments
        self.events.listeners.append(self.segments.observe)
        self.drift = DriftMonitor(options.drift, self._exposures_between)
        self.retraining = RetrainSchedule(Path(options.home), options.store_url, every_events=options.retrain_every_events,
                                          every_s=options.retrain_every_s, on_drift=options.retrain_on_drift,
                                          drift=self.drift)
        self.events.listeners += [self.drift.observe, self.retraining.observe]
        self.explorer = Explorer(self._trending, Path(options.home))  # the explore stages' bandits (serving/explore.py)
        self.events.listeners.append(self.explorer.observe_events)  # clicks naming an explored position reward it
        self._stop = threading.Event()
        self._reloader: threading.Thread | None = None
        self._pruned_at: float | None = None  # monotonic time of the last prune (prune_when_due)
        self._heap_frozen = False
        names = [g.model for sc in self.pipelines.scenarios.values() for g in (*sc.candidates, *sc.fallbacks) if g.model]
        self.models = ModelSet(self.registry, names, self.catalog.slot, lambda: self.catalog.capacity,
                               lambda: list(self.store.item_ids()))
        privacy = options.privacy or PrivacyConfig()
        private = PrivateTrending(lambda: self.store, Path(options.home), privacy) if privacy.dp_trending else None
        # trend = "forecast" generators: the trend model's scores, read from the store once per hour
        self.gens = Generators(self.catalog, self.models, self._trending, private, trend=LiveTrend(lambda: self.store))
        self.catalog.stock = StockFacts(lambda: self.store).of  # stockout_risk / min_margin rules (forecast/stock.py)
        self.rankers = StageRankers(self.registry)  # scenarios' learned ranking stages (serving/learned.py)
        self.rulebook = RuleBook(Path(options.home))  # the dashboard's live rules
        self.experiments = ExperimentBook(lambda: self.store)  # running A/B tests, re-read every 2 s
        self.variants = VariantPipelines(self.models)  # what each variant serves (serving/variants.py)
        self._merch: tuple[object, PipelinesConfig] = (None, self.pipelines)
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
        self.index_settings.apply()
        self.say(f"autocomplete: {self.index_settings.load_past_queries(self.store):,} past searches")
        self.drift.embedding = self._new_item_shift(self.catalog.capacity)
        if self.options.segments:
            book = self.segments.fit(self.store, self.catalog, Path(self.options.home) / "segments")
            self.say(f"segments: {len(book.stats):,} shoppers, occasions = {book.model.activity}s, "
                     f"{len(book.model.centers)} interest groups; {self.segments.how}")
        if self.options.build_on_start:
            build_missing(self.store, self.registry, say=self.say, progress=report)
        loaded = self.models.refresh()
        self._limit_threads()
        self.say("models: " + (", ".join(f"{n} {self.models.models[n].version}" for n in loaded) or "none in the registry"))
        if self.options.reload_interval_s > 0:
            self._reloader = threading.Thread(target=self._reload_loop, name="shopsage-model-reload", daemon=True)
            self._reloader.start()
        self.exposure_log.start()  # the writer's connection opened now, not at the first answer
        self.started = True
        return self

    def close(self) -> None:
        self._stop.set()
        if self._reloader is not None:
            self._reloader.join(timeout=5)
        self.retraining.stop()
        self.exposure_log.close()  # writes every exposure still queued
        self.explorer.save()  # the explore stages' bandits, read back at the next start
        self.state.close()
        self.store.close()

    def _reload_loop(self) -> None:
        while not self._stop.wait(self.options.reload_interval_s):
            try:
                self.forget_erased()
                changed = self.models.refresh()
                if changed:
                    log.info("models reloaded: %s", ", ".join(changed))
                    if self._heap_frozen:  # the replaced versions' cycles become collectable, the new ones frozen
                        gc.unfreeze()
                        self.freeze_heap()
                if self.refresh_encoder():
                    log.info("text encoder reloaded: %s", self.encoder_label)
                if self.refresh_ranker():
                    log.info("search ranker reloaded: %s", self.ranker_label)
                self._limit_threads()
                self.retraining.tick()  # starts `shopsage models retrain` when due (off by default)
                self.prune_when_due()
            except Exception:  # noqa: BLE001 - keep serving the loaded versions
                log.exception("model reload failed; the loaded versions stay live")

    def freeze_heap(self) -> int:
        """Collect once, then move every object alive now (models, catalogue, histories: millions of
        objects on a real shop) to the collector's permanent generation (:func:`gc.freeze`), so that the
        full collections that serving's own garbage triggers no longer traverse them: each such pass is a
        pause of every request in flight, growing with the heap (``shopsage_gc_pause_seconds``). Frozen
        objects are still freed by reference counting; cycles among them wait for the next model reload,
        which unfreezes, collects and freezes again. ``shopsage serve`` calls it once the service has
        started; returns the objects frozen."""
        gc.collect()
        gc.freeze()
        self._heap_frozen = True
        return gc.get_freeze_count()

    def prune_when_due(self, now: float | None = None) -> dict[str, int] | None:
        """Prune the store's expired exactly-once records at most every ``PRUNE_EVERY_S`` (the reload thread
        calls it); returns the counts when it pruned."""
        now = time.monotonic() if now is None else now
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY_S:
            return None
        self._pruned_at = now
        counts = prune_store(self.store, self.options.request_retention_days)
        if counts["requests"]:
            log.info("pruned %d exactly-once request records older than %g days", counts["requests"],
                     self.options.request_retention_days)
        return counts

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
        if version == self._cat_seen and changed is not None:
            return
        if changed is None:  # too far behind the bounded change log (or the state was emptied): re-read it all
            log.warning("catalogue changes since version %d are no longer in the state's log: re-reading the "
                        "whole catalogue from the store", self._cat_seen)
        self._cat_seen = version
        ids = None if changed is None else list(dict.fromkeys(changed))
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
        threads at once. ``stamped``: positions of events whose timestamp the server gave. Events that name
        an answer (``context.query_id``/``recomm_id``) wait until its exposures are committed."""
        named = {r for e in events if e.context is not None for r in (e.context.query_id, e.context.recomm_id) if r}
        if named and not self.exposure_log.wait_for(named):
            log.warning("exposures named by events were not committed in time; the events are stored anyway")
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
        self.exposure_log.flush()  # exposures still queued are erased too
        sessions = self.store.user_sessions(user)
        counts = dict(self.store.erase_user(user))
        forget = getattr(self.state, "forget", None)  # StateStore.forget (the state may predate it)
        if forget is not None:
            forget(user, sessions)
        else:
            log.warning("the state %s cannot forget a user: its live interactions expire with their TTL", type(self.state).__name__)
        counts["state"] = int(forget is not None)
        self.history.forget(user, sessions)
        self.segments.forget(user)
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
                  n: int = 10, history: Sequence[str] | None = None, variant: str | None = None,
                  shown: bool = True) -> dict[str, Any]:
        """One scenario's answer. ``variant`` forces an experiment's variant (a preview); ``shown=False``, and
        any preview, is an answer no shopper sees (the dashboard's previews and shopper inspector): it is
        not recorded as exposures, so no click is attributed to it and no bandit learns from it."""
        shown = shown and variant is None
        if scenario not in SCENARIOS:
            raise NotFoundError(f"unknown scenario {scenario!r}; use one of {', '.join(SCENARIOS)}")
        if scenario in ITEM_SCENARIOS and item is None:
            raise ValidationError(f"{scenario} needs ?item=ID (the item on the page)")
        if scenario == "next_in_session" and session is None and not history:
            raise ValidationError("next_in_session needs ?session=ID (the shopper's session) or ?history=ID,ID (the "
                                  "items viewed in this visit)")
        sh = self.shopper(user, session, item, history)
        chosen = self.assign(scenario, user, session, variant)  # the experiment's variant, if one runs here
        sc = self.variants.scenario(self.pipelines, scenario, chosen)
        pipes, allowed = self.merchandised(scenario, self.masks.allowed(sc.exclude, sh))
        pipes = self.variants.apply(pipes, scenario, chosen)
        if user is not None and any(r.segments for r in pipes.rules):  # only rules read them (Rule.applies_to)
            sh.segments = self.segment_names(user)
        ranked = run_scenario(scenario, pipes, self.gens, sh, allowed, n, rankers=self.rankers, explorer=self.explorer)
        items = []
        for s, score, reasons in zip(ranked.slots, ranked.scores, ranked.reasons, strict=True):
            items.append({**self.catalog.view(s), "score": float(score), "reasons": [r.as_dict() for r in reasons]})
        answer = {"scenario": scenario, "items": items, "stages": ranked.stages}
        # recomm_id, positions, and the exposures queued for the store (propensities: a bandit's, else 1.0)
        exp, var = _labels(answer, chosen, forced=variant is not None)
        rid = self.exposure_log.answered(answer, "recommendation", scenario, user=user, session=session,
                                         propensities=getattr(ranked, "propensities", None), experiment=exp,
                                         variant=var, variant_propensity=_chance(chosen, exp), shown=shown)
        if shown:
            self.explorer.shown(rid, scenario, ranked.explored)  # explored items wait for their clicks
        return answer

    def assign(self, scope: str, user: str | None, session: str | None, variant: str | None = None) -> Assigned | None:
        """The running experiment covering ``scope`` (a scenario or ``search``), the request's variant by the
        salted hash of its user (else session) and that variant's overrides; None when no experiment runs
        there or the request names no shopper. ``variant`` forces one (previews; it must exist)."""
        return self.experiments.assign(scope, user, session, variant)

    def search(self, req: SearchRequest, variant: str | None = None, shown: bool = True) -> dict[str, Any]:
        """One page of search results through the search front door (``SearchEngine.query``): the
        shopper's profile from their history, live popularity, the scenario's exclusions and rules.
        ``variant`` and ``shown=False`` as in :meth:`recommend` (previews are not recorded)."""
        shown = shown and variant is None
        self.index_settings.apply()  # the index settings' current version (PATCH /v1/settings, any worker)
        sh = self.shopper(req.user, req.session) if (req.user or req.session) else Shopper()
        profile = None
        if sh.user_history or sh.session_history:
            profile = history_profile(self.catalog, sh.user_history + sh.session_history)
        pipes, allowed = self.merchandised("search", self.masks.allowed(self.pipelines.scenario("search").exclude, sh))
        chosen = self.assign("search", req.user, req.session, variant)
        if chosen is not None and chosen.overrides.search_mode is not None and req.mode is None:
            req = replace(req, mode=chosen.overrides.search_mode)  # the variant's mode (a request's own mode wins)
        segments = tuple(sorted(self.segment_names(req.user) or ())) if req.user is not None else ()
        page = self.catalog.engine.query(replace(req, profile=profile, popularity=self._trending()[0], segments=segments),
                                         pipes.rules, allowed)
        answer = page_json(page, self.catalog)
        # query_id, positions across pages, and the exposures queued for the store
        exp, var = _labels(answer, chosen, forced=variant is not None)
        self.exposure_log.answered(answer, "search", "search", user=req.user, session=req.session,
                                   first_position=(page.page - 1) * page.per_page + 1, query=req.q,
                                   experiment=exp, variant=var, variant_propensity=_chance(chosen, exp), shown=shown)
        return answer

    def autocomplete(self, prefix: str, n: int = 8) -> dict[str, Any]:
        """Completions of a typed prefix over k-anonymous past queries and catalogue terms."""
        return self.index_settings.suggest(prefix, n)

    def search_settings(self) -> dict[str, Any]:
        """The index settings (synonyms, stop words, typo tolerance, attributes, autocomplete's k)."""
        return self.index_settings.apply(strict=True).model_dump()

    def update_search_settings(self, patch: SettingsPatch) -> dict[str, Any]:
        """Change the index settings; the next search of every worker serves them."""
        return self.index_settings.update(patch)

    def merchandised(self, scenario: str, allowed: np.ndarray) -> tuple[PipelinesConfig, np.ndarray]:
        """The pipelines with the merchant's live rules after the configured ones, and ``allowed`` less the
        items a live hide rule removes (:class:`~shopsage.policy.rule_store.RuleBook`: re-read when the
        dashboard changed them, so the next request obeys)."""
        live = self.rulebook.current()
        if live.hides(scenario):
            allowed[live.hidden(scenario, self.catalog, self.catalog.capacity, self.version)] = False
        if not live.rules:
            return self.pipelines, allowed
        key = (id(self.pipelines), live.version, id(live))
        if self._merch[0] != key:
            self._merch = (key, self.pipelines.model_copy(update={"rules": [*self.pipelines.rules, *live.rules]}))
        return self._merch[1], allowed

    def profile(self, user: str) -> dict[str, Any]:
        sh = self.shopper(user, None)
        if not sh.user_history:
            raise NotFoundError(f"user {user!r} has no interactions yet: send events with POST /v1/events")
        found = self.segment_of(user)
        return {"user": user, **history_profile(self.catalog, sh.user_history).as_dict(),
                "segments": found.as_list() if found is not None else []}

    def _new_item_shift(self, known: int) -> Callable[[], float | None] | None:
        """The drift monitor's embedding check: items indexed after the first ``known`` slots against
        those (None without item vectors)."""
        index = self.catalog.engine.vector
        if index is None:
            return None

        def shift() -> float | None:
            vecs, live = index.vectors, index.live
            new = np.flatnonzero(live[known:]) + known
            if not len(new):
                return None
            return embedding_shift(vecs[:known][live[:known]], vecs[new])

        return shift

    def _exposures_between(self, since: float, until: float) -> int:
        """Items shown in ``[since, until)`` (the store's exposures; 0 when it keeps none): the drift
        monitor's click-through denominator, read once per closed window."""
        read = getattr(self.store, "read_exposures", None)
        return 0 if read is None else sum(1 for r in read(since=since) if r.ts < until)

    def segment_of(self, user: str) -> Assignment | None:
        """The user's segments (lifecycle, value, interest), each with its evidence; None when segments
        are off or the user is unknown. Experiment reports use it as a dimension."""
        return self.segments.of(user)

    def segment_names(self, user: str) -> frozenset[str] | None:
        """The names of the user's segments for merchant rules (None: segments are off)."""
        if self.segments.book is None:
            return None
        found = self.segments.of(user)
        return found.names if found is not None else frozenset()


def _chance(chosen: Assigned | None, recorded: str | None) -> float | None:
    """The probability a bandit had of choosing the recorded variant (None: a split, a preview or no experiment)."""
    return chosen.probability if chosen is not None and recorded is not None else None


def _labels(answer: dict[str, Any], chosen: Assigned | None, forced: bool) -> tuple[str | None, str | None]:
    """Stamp the answer with its experiment, variant (None, None outside experiments) and whether it is a
    preview; returns what its exposures record: nothing for a forced variant (a preview is no part of the
    experiment's sample: neither its report nor its bandit's refit reads it)."""
    exp, var = (chosen.experiment.name, chosen.variant) if chosen is not None else (None, None)
    answer["experiment"], answer["variant"], answer["preview"] = exp, var, forced
    return (None, None) if forced else (exp, var)
