"""The segment book: every shopper's :class:`ShopperStats`, fitted in batch and kept current per event.

:func:`fit_book` replays the shop's interactions (in each shopper's time order) through the same
:meth:`ShopperStats.observe` the live service calls, then learns the :class:`SegmentModel` from
what it saw: the quantiles of the gaps between occasions, the quintiles of frequency and money,
and the interest centres (scikit-learn's k-means; ``k`` by silhouette). A live event then costs a
dictionary update (:meth:`SegmentBook.observe`) and a shopper's segments a few comparisons and one
nearest-centre search (:meth:`SegmentBook.segment_of`); the thresholds move when the book is
refitted (``shopsage segments report``, or a service restart).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import numpy as np

from shopsage.data.stores.base import TYPE_CODES, StoreReader
from shopsage.profiles.profile import EVENT_WEIGHTS, ItemInfo
from shopsage.profiles.segments import (
    Assignment,
    SegmentConfig,
    SegmentModel,
    ShopperStats,
    assign,
    interest_vector,
)

__all__ = ["SegmentBook", "SegmentEvent", "SegmentReplay", "book_from_store", "choose_level", "fit_book", "fit_replay",
           "store_events", "stored_events"]

Info = Callable[[str], ItemInfo | None]


class SegmentEvent(NamedTuple):
    """One interaction as segments read it."""

    user: str
    item: str
    type: str
    ts: float | None
    value: float | None = None


def choose_level(paths: Iterable[Sequence[str]], least: int = 3) -> int:
    """The shallowest category level with at least ``least`` distinct labels (level 0 is often the
    shop's root, which says nothing about interests); 0 when none has."""
    by_level: dict[int, set[str]] = {}
    for p in paths:
        for i, c in enumerate(p):
            by_level.setdefault(i, set()).add(c)
    return next((lv for lv in sorted(by_level) if len(by_level[lv]) >= least), 0)


class SegmentBook:
    """Stats per shopper plus the fitted model; thread-safe for one writer and many readers."""

    def __init__(self, model: SegmentModel, info: Info, stats: dict[str, ShopperStats] | None = None) -> None:
        self.model = model
        self._info = info
        self.stats: dict[str, ShopperStats] = stats if stats is not None else {}
        self._lock = threading.Lock()
        self._cats: dict[str, str | None] = {}
        self._prices: dict[str, float | None] = {}

    def _item(self, item: str) -> tuple[str | None, float | None]:
        if item not in self._cats:
            it = self._info(item)
            path = it.category_path if it is not None else ()
            self._cats[item] = path[min(self.model.level, len(path) - 1)] if path else None
            self._prices[item] = it.price if it is not None else None
        return self._cats[item], self._prices[item]

    def observe(self, e: SegmentEvent) -> float | None:
        """Apply one live event; returns the inter-occasion gap it closed (seconds), if any."""
        if e.type not in EVENT_WEIGHTS:
            return None
        cat, price = self._item(e.item)
        money = e.value if e.value is not None and math.isfinite(e.value) else price
        with self._lock:
            st = self.stats.get(e.user)
            if st is None:
                st = self.stats[e.user] = ShopperStats()
            return st.observe(e.type, e.ts, cat, money, self.model.activity, self.model.occasion_gap_s)

    def forget_item_cache(self) -> None:
        """Item categories or prices changed: read them again."""
        self._cats.clear()
        self._prices.clear()

    def segment_of(self, user: str, now: float | None = None) -> Assignment | None:
        """The shopper's segments with their evidence; None for a shopper never seen."""
        st = self.stats.get(user)
        return None if st is None else assign(user, st, self.model, now)

    def forget(self, user: str) -> None:
        """Erasure: drop the shopper's stats."""
        with self._lock:
            self.stats.pop(user, None)

    def counts(self, now: float | None = None) -> dict[str, Counter[str]]:
        """Shoppers per segment, by kind (lifecycle, value, interest)."""
        out: dict[str, Counter[str]] = {"lifecycle": Counter(), "value": Counter(), "interest": Counter()}
        for user in list(self.stats):
            a = self.segment_of(user, now)
            for s in a.segments if a is not None else ():
                out[s["kind"]][s["segment"]] += 1
        return out


def store_events(store: StoreReader, users: set[str] | None = None) -> list[SegmentEvent]:
    """The store's user interactions with items, each user's in time order (then order, then arrival)."""
    return stored_events(store, users)[0]


def stored_events(store: StoreReader, users: set[str] | None = None, after: int = 0
                  ) -> tuple[list[SegmentEvent], list[tuple[float, int]], int]:
    """:func:`store_events` of the events stored after event id ``after``, each with its place in a user's
    order (time, ``-inf`` when it has none, then ordinal; arrival breaks ties), and the last event id read."""
    inter = store.interactions(after=after)
    last_id = int(inter.event_id.max()) if len(inter) else after
    inter = inter.select((inter.user >= 0) & (inter.item >= 0))
    user_of = {rid: ext for ext, rid in store.user_ids().items()}
    item_of = {rid: ext for ext, rid in store.item_ids().items()}
    names = {c: t for t, c in TYPE_CODES.items()}
    ts = np.where(np.isnan(inter.ts), -np.inf, inter.ts)
    order = np.lexsort((inter.event_id, inter.ordinal, ts, inter.user))
    out, keys = [], []
    for i in order.tolist():
        u = user_of[int(inter.user[i])]
        typ = names.get(int(inter.type[i]), "")
        if EVENT_WEIGHTS.get(typ, 0.0) == 0 or (users is not None and u not in users):
            continue  # impressions and searches are no interaction with the item
        t, v = float(inter.ts[i]), float(inter.value[i])
        out.append(SegmentEvent(u, item_of[int(inter.item[i])], typ,
                                None if math.isnan(t) else t, None if math.isnan(v) else v))
        keys.append((float(ts[i]), int(inter.ordinal[i])))
    return out, keys, last_id


def _quantiles(x: Sequence[float], qs: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in np.quantile(np.asarray(x, dtype=np.float64), qs))


class SegmentReplay:
    """What :func:`fit_book` learns from, kept so that more events can be added later (a snapshot,
    :mod:`.segments_snapshot`): per activity mode replayed (``purchase`` always: ``auto`` decides by it;
    ``visit`` when chosen), every shopper's stats and the gaps between occasions. Events added must come
    after each shopper's earlier ones in the shopper's order, as one replay of all would apply them."""

    def __init__(self, level: int, info: Info, config: SegmentConfig | None = None) -> None:
        self.level = level
        self.info = info
        self.config = config or SegmentConfig.model_validate({})
        self.books: dict[str, SegmentBook] = {}
        self.gaps: dict[str, list[float]] = {}

    def base(self, mode: str) -> SegmentModel:
        """The model a replay in ``mode`` observes with (no thresholds yet)."""
        cfg = self.config
        return SegmentModel(mode, cfg.occasion_gap_s, self.level, None, None, cfg.active_quantile, cfg.lapsed_quantile,
                            0, (), None, (), (), (), None, cfg.min_interest_weight, None)

    def add(self, events: Sequence[SegmentEvent], modes: Iterable[str] | None = None) -> None:
        """Replay ``events`` (each shopper's in order) in ``modes`` (default: those replayed so far)."""
        for mode in list(self.books) if modes is None else modes:
            book = self.books.get(mode) or self.books.setdefault(mode, SegmentBook(self.base(mode), self.info))
            gaps = self.gaps.setdefault(mode, [])
            gaps.extend(g for e in events if (g := book.observe(e)) is not None)

    def activity(self) -> str:
        """What an occasion is (:attr:`SegmentConfig.activity`; ``auto`` reads the purchase replay)."""
        activity = self.config.activity
        if activity == "auto":
            repeat = sum(1 for st in self.books["purchase"].stats.values() if st.occasions >= 2)
            activity = "purchase" if repeat >= self.config.min_repeat_buyers else "visit"
        return activity

    def order(self, rank: Callable[[str], int]) -> None:
        """Put the shoppers in the order one replay of all events meets them (``rank``: the store's user id)."""
        for book in self.books.values():
            ranks = [rank(u) for u in book.stats]
            if any(a > b for a, b in zip(ranks, ranks[1:], strict=False)):  # new shoppers usually come last already
                book.stats = dict(sorted(book.stats.items(), key=lambda kv: rank(kv[0])))

    def book(self) -> SegmentBook:
        """Learn the model from the chosen mode's replay; the book shares that replay's stats."""
        activity = self.activity()
        if activity not in self.books:
            raise ValueError(f"the {activity} mode was not replayed: add the events in that mode first")
        return _learn(self.books[activity].stats, self.gaps[activity], self.base(activity), self.config, self.info)


def fit_book(events: Sequence[SegmentEvent], info: Info, paths: Iterable[Sequence[str]],
             config: SegmentConfig | None = None) -> SegmentBook:
    """Replay ``events`` (each user's in time order) and learn the segment model from them."""
    return fit_replay(events, info, paths, config).book()


def fit_replay(events: Sequence[SegmentEvent], info: Info, paths: Iterable[Sequence[str]],
               config: SegmentConfig | None = None) -> SegmentReplay:
    """The replay :func:`fit_book` learns from (purchase mode, and visit mode when that is the activity)."""
    replay = SegmentReplay(choose_level(paths), info, config)
    replay.add(events, ["purchase"])
    if replay.activity() == "visit":
        replay.add(events, ["visit"])
    return replay


def _learn(stats: dict[str, ShopperStats], gaps: list[float], base: SegmentModel, cfg: SegmentConfig,
           info: Info) -> SegmentBook:
    """Thresholds, quintiles and interest centres from a replay's stats and gaps."""
    activity, level = base.activity, base.level
    qs = (0.2, 0.4, 0.6, 0.8)
    active = lapsed = None
    if len(gaps) >= 5:
        active, lapsed = _quantiles(gaps, (cfg.active_quantile, cfg.lapsed_quantile))
    f_cut = _quantiles([st.occasions for st in stats.values()], qs) if stats else ()
    money = [st.monetary for st in stats.values()]
    m_cut = _quantiles(money, qs) if any(m > 0 for m in money) else None
    lasts = [st.last_ts for st in stats.values() if not math.isnan(st.last_ts)]
    dims, centers, labels, sil = _interests(stats, cfg)
    model = SegmentModel(activity, cfg.occasion_gap_s, level, active, lapsed, cfg.active_quantile, cfg.lapsed_quantile,
                         len(gaps), f_cut, m_cut, dims, centers, labels, sil, cfg.min_interest_weight,
                         max(lasts) if lasts else None)
    return SegmentBook(model, info, stats)


def _interests(stats: dict[str, ShopperStats], cfg: SegmentConfig
               ) -> tuple[tuple[str, ...], tuple[tuple[float, ...], ...], tuple[str, ...], float | None]:
    """Interest dimensions, k-means centres (k by silhouette on a seeded sample) and their labels."""
    total: Counter[str] = Counter()
    for st in stats.values():
        total.update(st.interest)
    dims = tuple(c for c, _ in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[: cfg.max_dims])
    if len(dims) < 2:
        return dims, (), (), None
    vecs = [v for st in stats.values() if sum(st.interest.values()) >= cfg.min_interest_weight
            and (v := interest_vector(st, dims)) is not None]
    if len(vecs) < 10:
        return dims, (), (), None
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = np.asarray(vecs)
    rng = np.random.default_rng(cfg.seed)
    if len(x) > cfg.silhouette_sample:
        x = x[np.sort(rng.choice(len(x), cfg.silhouette_sample, replace=False))]
    distinct = len(np.unique(x.round(6), axis=0))
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, min(cfg.max_clusters, distinct - 1) + 1):
        km = KMeans(n_clusters=k, n_init=4, random_state=cfg.seed).fit(x)
        if len(set(km.labels_.tolist())) < 2:
            continue
        s = float(silhouette_score(x, km.labels_, random_state=cfg.seed))
        if best is None or s > best[0]:
            best = (s, km.cluster_centers_)
    if best is None:
        return dims, (), (), None
    centers = np.clip(best[1], 0.0, None)
    labels = _labels(centers, dims)
    return dims, tuple(tuple(round(float(v), 6) for v in c) for c in centers), labels, round(best[0], 4)


def _labels(centers: np.ndarray, dims: tuple[str, ...]) -> tuple[str, ...]:
    """A centre's name: its top category, with the second when that holds at least half as much."""
    out: list[str] = []
    for c in centers:
        top = np.argsort(-c, kind="stable")[:2]
        name = dims[int(top[0])]
        if len(top) > 1 and c[int(top[1])] >= 0.5 * c[int(top[0])]:
            name += f" & {dims[int(top[1])]}"
        while name in out:
            name += "'"
        out.append(name)
    return tuple(out)


def book_from_store(store: StoreReader, info: Info, config: SegmentConfig | None = None) -> SegmentBook:
    """Fit the book on every user interaction the store holds (the batch path of the service's start)."""
    paths = [row.category_path for _, row in store.items()]
    return fit_book(store_events(store), info, paths, config)
