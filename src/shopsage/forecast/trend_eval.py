"""The trending backtest behind ``shopsage bench trend``: does the trend model rank the next window's
most popular items better than the count ``trending`` served?

Events come from a store (what the service reads). Every window after the first day is scored:
the ranking by each method's score, made from the windows before it, against the window's actual
counts, by NDCG@k with the actual counts as graded gains (:func:`shopsage.ranking_metrics.ndcg`;
the ideal is the window's own top ``k`` counts). The trend model is refitted at the start of each
day on the windows before it, as a service refreshing it daily would, and reads what the service
reads: the last ``horizon_windows`` windows (:class:`~shopsage.forecast.trend.RollingCounts`). Compared: the served count
(all time plus the last 24 hours, :func:`~shopsage.forecast.trend.served_score`) and exponentially
decayed counts with a few half-lives, the strongest of which is reported as well.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shopsage.data.rows import EventRow
from shopsage.data.stores.base import Interactions, StoreReader
from shopsage.errors import ConfigError, ValidationError
from shopsage.forecast.trend import (
    TrendConfig,
    TrendModel,
    WindowCounts,
    decayed_score,
    served_score,
    window_ndcg,
)

__all__ = ["DpTrendingReport", "TrendReport", "dp_trending_backtest", "horizon_view", "refresh_timing",
           "release_counts_before", "store_window_counts", "window_ndcg", "trend_backtest", "write_dp_trending_report", "write_trend_report"]

HALF_LIVES = (1.0, 3.0, 6.0, 24.0)
"""Half-lives (in windows) of the decayed-count references."""


@dataclass
class TrendReport:
    data: str
    windows: int
    """Windows scored (those with at least one interaction)."""
    window_s: int
    k: int
    ndcg: dict[str, float]
    """Mean NDCG@k over the scored windows, per method."""
    per_day: dict[str, dict[str, float]] = field(default_factory=dict)
    """Day (UTC date) -> method -> mean NDCG@k that day."""
    wins: dict[str, float] = field(default_factory=dict)
    """Share of windows where the trend model's NDCG is at least the method's."""
    seconds: float = 0.0
    machine: dict[str, Any] = field(default_factory=dict)

    def lift(self, method: str = "served") -> float:
        return self.ndcg["trend_model"] / self.ndcg[method] - 1.0


def store_window_counts(store: StoreReader, window_s: float, types: Sequence[str] | None = None) -> tuple[WindowCounts, list[str]]:
    """The store's timestamped item events binned per window, and the external id of each column."""
    inter = store.interactions(types)
    ok = ~np.isnan(inter.ts) & (inter.item >= 0)
    if not ok.any():
        raise ValidationError("the store holds no timestamped item events: the trend model needs event times")
    row_ids, cols = np.unique(inter.item[ok], return_inverse=True)
    names = {r: e for e, r in store.item_ids().items()}
    return WindowCounts.from_events(inter.ts[ok], cols, len(row_ids), window_s), [names[int(r)] for r in row_ids]


def horizon_view(wc: WindowCounts, t: int, horizon: int) -> tuple[WindowCounts, int]:
    """``(counts, t')``: ``wc`` from ``horizon`` windows before ``t`` on (a view, not a copy) and ``t``'s index in it."""
    lo = max(t - horizon, 0)
    return WindowCounts(wc.counts[lo:], wc.window_start(lo), wc.window_s), t - lo


def trend_backtest(wc: WindowCounts, k: int = 20, config: TrendConfig | None = None, data: str = "",
                   others: Sequence[str] = ("glm", "lgbm"), log: Callable[[str], None] = lambda _m: None) -> TrendReport:
    """Score every window from the second day on (see the module docstring): ``trend_model`` is
    ``config``'s model (the one served); ``others`` are the other objectives, reported as ``trend_<objective>``."""
    config = config or TrendConfig(window_s=int(wc.window_s))
    day = max(int(round(86_400 / wc.window_s)), 1)
    if wc.n_windows <= day:
        raise ValidationError(f"{wc.n_windows} windows of {wc.window_s:g} s: the backtest needs more than a day of events")
    t0 = time.perf_counter()
    models = {"trend_model": TrendModel(config)}
    models.update({f"trend_{o}": TrendModel(config.model_copy(update={"objective": o}))
                   for o in others if o != config.objective})
    methods = [*models, "served", *[f"decayed_{h:g}" for h in HALF_LIVES]]
    scores: dict[str, list[float]] = {m: [] for m in methods}
    days: list[str] = []
    for t in range(day, wc.n_windows):
        seen = horizon_view(wc, t, config.horizon_windows)  # what the service reads at the start of window t
        if (t - day) % day == 0:
            for model in models.values():
                model.fit(*seen)
            log(f"trend models refitted on windows before {time.strftime('%Y-%m-%d %H:%M', time.gmtime(wc.window_start(t)))}"
                f" (served model's half-life: {models['trend_model'].half_life})")
        actual = wc.counts[t].astype(np.float64)
        if actual.sum() == 0:
            continue
        days.append(time.strftime("%Y-%m-%d", time.gmtime(wc.window_start(t))))
        for name, model in models.items():
            scores[name].append(window_ndcg(model.predict(*seen), actual, k))
        scores["served"].append(window_ndcg(served_score(wc, t), actual, k))
        for h in HALF_LIVES:
            scores[f"decayed_{h:g}"].append(window_ndcg(decayed_score(wc, t, h), actual, k))
    arr = {m: np.array(v) for m, v in scores.items()}
    per_day: dict[str, dict[str, float]] = {}
    for d in sorted(set(days)):
        sel = np.array([x == d for x in days])
        per_day[d] = {m: round(float(a[sel].mean()), 4) for m, a in arr.items()}
    report = TrendReport(data, len(days), int(wc.window_s), k, {m: round(float(a.mean()), 4) for m, a in arr.items()},
                         per_day, {m: round(float((arr["trend_model"] >= a).mean()), 4) for m, a in arr.items()
                                   if m != "trend_model"}, round(time.perf_counter() - t0, 1))
    return report


def refresh_timing(store: Any, rows: Sequence[EventRow], config: TrendConfig, min_windows: int = 48,
                   log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Replay ``rows`` into the empty ``store`` a window at a time, in time order (each window's events
    stored before the next window starts), and time at the start of each window: the live trend's read
    (:meth:`LiveTrend.read`: the events stored since the last refresh, into the counts it keeps), the
    same read by a fresh :class:`LiveTrend` (every stored event: what each refresh read before), and a
    whole refresh (:meth:`LiveTrend.current`: its read, a refit every ``refit_windows``, the scores).
    Seconds per window, and the events stored at each."""
    from shopsage.forecast.live import LiveTrend
    from shopsage.forecast.trend import window_of

    timed = sorted((r for r in rows if r.ts is not None and r.item is not None), key=lambda r: float(r.ts))  # type: ignore[arg-type]
    if not timed:
        raise ValidationError("no timestamped item events to replay: the live trend needs event times")
    w = window_of(np.array([float(r.ts) for r in timed]), config.window_s)  # type: ignore[arg-type]
    now = [float(w[0])]
    live = LiveTrend(lambda: store, config, min_windows=min_windows, clock=lambda: now[0] * config.window_s)
    reader = LiveTrend(lambda: store, config, min_windows=min_windows)
    out: dict[str, list[float]] = {"incremental_read_s": [], "full_read_s": [], "refresh_s": [], "events_stored": []}
    lo = 0
    for window in range(int(w[0]) + 1, int(w[-1]) + 2):
        hi = int(np.searchsorted(w, window))
        if hi > lo:
            store.write_events(timed[lo:hi])
        lo, now[0] = hi, float(window)
        t0 = time.perf_counter()
        LiveTrend(lambda: store, config, min_windows=min_windows).read(window)
        t1 = time.perf_counter()
        reader.read(window)
        t2 = time.perf_counter()
        live.current()
        t3 = time.perf_counter()
        for key, v in (("full_read_s", t1 - t0), ("incremental_read_s", t2 - t1), ("refresh_s", t3 - t2),
                       ("events_stored", float(hi))):
            out[key].append(v)
        if window % 24 == 0:
            log(f"window {window}: {hi:,} events stored; read {t2 - t1:.4f} s, full read {t1 - t0:.4f} s")
    summary = {k: {"total": round(float(np.sum(v)), 4), "mean": round(float(np.mean(v)), 5),
                   "p50": round(float(np.median(v)), 5), "max": round(float(np.max(v)), 5),
                   "mean_last_24": round(float(np.mean(v[-24:])), 5)}
               for k, v in out.items() if k.endswith("_s")}
    return {"events": len(timed), "windows": len(out["refresh_s"]), "window_s": config.window_s,
            "horizon_windows": config.horizon_windows, "summary": summary, "per_window": out}


def write_trend_report(report: TrendReport, json_path: Path, command: str) -> Path:
    """The JSON report and a Markdown table beside it (``.md``); returns the Markdown path."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({**asdict(report), "command": command}, indent=2), encoding="utf-8")
    best_decayed = max((m for m in report.ndcg if m.startswith("decayed_")), key=lambda m: report.ndcg[m])
    lines = [f"`{command}`", "",
             f"{report.windows} windows of {report.window_s} s scored, NDCG@{report.k} with the actual counts as gains.", "",
             f"| method | NDCG@{report.k} | trend model vs it | trend model at least as good in |", "|---|---|---|---|"]
    for m, v in report.ndcg.items():
        vs = "" if m == "trend_model" else f"{report.lift(m):+.1%}"
        wins = "" if m == "trend_model" else f"{report.wins[m]:.0%} of windows"
        lines.append(f"| {m} | {v:.4f} | {vs} | {wins} |")
    lines += ["", "| day | " + " | ".join(report.ndcg) + " |", "|---|" + "---|" * len(report.ndcg)]
    for d, row in report.per_day.items():
        lines.append(f"| {d} | " + " | ".join(f"{row[m]:.4f}" for m in report.ndcg) + " |")
    lines += ["", f"Best decayed count: {best_decayed} (half-life in windows)."]
    md = json_path.with_suffix(".md")
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md


@dataclass
class DpTrendingReport:
    data: str
    windows: int
    """Release points scored (windows with at least one interaction, from the second day on)."""
    window_s: int
    k: int
    max_contributions: int
    repeats: int
    """Independent noise draws per epsilon (OpenDP's generator cannot be seeded)."""
    ndcg: dict[str, dict[str, float]]
    """Method -> ``mean``, ``std``, ``min``, ``max`` over the draws of the mean NDCG@k over the windows."""
    top_same: dict[str, dict[str, float]]
    """``epsilon_<e>`` -> ``mean``, ``std`` over the draws of the share of the clamped top ``k`` the private top ``k`` keeps."""
    seconds: float = 0.0
    release_s: float = 0.0
    """Seconds between two releases (each served until the next)."""
    release_window_s: float = 0.0
    """Seconds of events a release counts (0: all before it; ``privacy.trending_window_s``)."""
    machine: dict[str, Any] = field(default_factory=dict)


def _listed(score: np.ndarray, k: int) -> np.ndarray:
    """The items a ranking by ``score`` lists in its top ``k`` (as :func:`window_ndcg` ranks them)."""
    top = np.argsort(-score, kind="stable")[:k]
    return top[score[top] > 0]


def _in_rows(values: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """``(size,)``: ``values`` of the window-count columns placed at their store row ids ``rows``."""
    out = np.zeros(size, np.float64)
    out[rows] = values
    return out


def _padded(values: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, np.float64)
    out[: len(values)] = values
    return out


def release_counts_before(inter: Interactions, start: float, max_contributions: int, window_s: float = 0.0) -> np.ndarray:
    """``(n_items,)`` by store row id: the exact counts a :class:`~shopsage.privacy.trending.PrivateTrending`
    release at ``start`` is made of, from ``inter`` (:func:`~shopsage.training.data.store_interactions`) cut
    to the events before ``start`` (events without a time are left out)."""
    from shopsage.privacy.trending import recent, shopper_counts

    if window_s > 0:  # the service's privacy.trending_window_s
        return shopper_counts(recent(inter, window_s, start), max_contributions)
    return shopper_counts(inter.select(inter.ts < start), max_contributions)


def dp_trending_backtest(store: StoreReader, window_s: float, epsilons: Sequence[float], k: int = 20,
                         max_contributions: int = 10, repeats: int = 5, release_s: float | None = None,
                         release_window_s: float = 0.0, config: TrendConfig | None = None, data: str = "",
                         log: Callable[[str], None] = lambda _m: None) -> DpTrendingReport:
    """What ``privacy.dp_trending`` costs: at the start of the windows the trend bench scores, every
    ``release_s`` seconds (default: every window), the release :class:`~shopsage.privacy.trending.PrivateTrending`
    would make from the store's events before it (:func:`release_counts_before`, then
    :func:`~shopsage.privacy.trending.noisy_release` at each epsilon, ``repeats`` draws), served until the next
    one, ranked by its noisy counts and scored like the trend bench (NDCG@k with the window's actual counts as
    gains), beside the same release without noise (``clamped``: epsilon infinite), the served non-private
    trending (``trend_model``, refitted daily) and the count it replaced (``served``)."""
    eps = [float(e) for e in epsilons]
    if not eps or not all(np.isfinite(e) and e > 0 for e in eps):
        raise ConfigError(f"epsilons {epsilons!r} must be positive and finite (the clamped counts, epsilon infinite, "
                          "are always reported)")
    if repeats < 1:
        raise ConfigError(f"repeats of {repeats} must be at least 1")
    from shopsage.training.data import store_interactions

    t0 = time.perf_counter()
    wc, names = store_window_counts(store, window_s)
    release_s = float(wc.window_s if release_s is None else release_s)
    ids = store.item_ids()
    rows = np.array([ids[n] for n in names], np.int64)  # (I,) store row id of each window-count column
    inter = store_interactions(store)  # what a release reads
    size = int(max(inter.item.max(initial=-1), rows.max(initial=-1))) + 1
    config = config or TrendConfig(window_s=int(wc.window_s))
    model = TrendModel(config)
    day = max(int(round(86_400 / wc.window_s)), 1)
    if wc.n_windows <= day:
        raise ValidationError(f"{wc.n_windows} windows of {wc.window_s:g} s: the backtest needs more than a day of events")
    keys = [f"epsilon_{e:g}" for e in eps]
    scores: dict[str, list[list[float]]] = {m: [[]] for m in ("trend_model", "served", "clamped")}
    scores.update({m: [[] for _ in range(repeats)] for m in keys})
    same: dict[str, list[list[float]]] = {m: [[] for _ in range(repeats)] for m in keys}
    cur: _Release | None = None
    for t in range(day, wc.n_windows):
        seen = horizon_view(wc, t, config.horizon_windows)
        if (t - day) % day == 0:
            model.fit(*seen)
        if wc.counts[t].sum() == 0:
            continue
        if cur is None or wc.window_start(t) - cur.at >= release_s:
            cur = _Release.at_start(inter, wc.window_start(t), eps, repeats, k, max_contributions, size, release_window_s)
            log(f"release at {time.strftime('%Y-%m-%d %H:%M', time.gmtime(cur.at))}: "
                f"{int((cur.clamped > 0).sum()):,} items counted")
        actual = _in_rows(wc.counts[t].astype(np.float64), rows, size)
        scores["trend_model"][0].append(window_ndcg(_in_rows(model.predict(*seen), rows, size), actual, k))
        scores["served"][0].append(window_ndcg(_in_rows(served_score(wc, t), rows, size), actual, k))
        scores["clamped"][0].append(window_ndcg(cur.clamped, actual, k))
        for m in keys:
            for r, noisy in enumerate(cur.noisy[m]):
                scores[m][r].append(window_ndcg(noisy, actual, k))
                same[m][r].append(cur.same[m][r])
    return DpTrendingReport(data, len(scores["clamped"][0]), int(wc.window_s), k, int(max_contributions), int(repeats),
                            {m: _spread(v) for m, v in scores.items()}, {m: _spread(v) for m, v in same.items()},
                            round(time.perf_counter() - t0, 1), release_s=release_s, release_window_s=release_window_s)


@dataclass
class _Release:
    """One release point of :func:`dp_trending_backtest`: the clamped counts, ``repeats`` noisy releases per
    epsilon key, and the share of the clamped top ``k`` each keeps (all ``(size,)`` by store row id)."""

    at: float
    clamped: np.ndarray
    noisy: dict[str, list[np.ndarray]]
    same: dict[str, list[float]]

    @classmethod
    def at_start(cls, inter: Interactions, start: float, eps: list[float], repeats: int, k: int,
                 max_contributions: int, size: int, window_s: float = 0.0) -> _Release:
        from shopsage.privacy.trending import noisy_release

        exact = release_counts_before(inter, start, max_contributions, window_s)
        top = set(_listed(_padded(exact, size), k).tolist())
        noisy = {f"epsilon_{e:g}": [_padded(noisy_release(exact, e, max_contributions), size) for _ in range(repeats)]
                 for e in eps}
        same = {m: [len(top & set(_listed(a, k).tolist())) / max(len(top), 1) for a in v] for m, v in noisy.items()}
        return cls(start, _padded(exact, size), noisy, same)


def _spread(draws: list[list[float]]) -> dict[str, float]:
    """Mean, sample standard deviation, min and max over the draws of each draw's mean over the windows."""
    means = np.array([float(np.mean(d)) if d else 0.0 for d in draws])
    std = float(means.std(ddof=1)) if len(means) > 1 else 0.0
    return {"mean": round(float(means.mean()), 4), "std": round(std, 4), "min": round(float(means.min()), 4),
            "max": round(float(means.max()), 4)}


def write_dp_trending_report(report: DpTrendingReport, json_path: Path, command: str) -> Path:
    """The JSON report and a Markdown table beside it (``.md``); returns the Markdown path."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({**asdict(report), "command": command}, indent=2), encoding="utf-8")
    base = report.ndcg["trend_model"]["mean"]
    lines = [f"`{command}`", "",
             f"{report.windows} windows of {report.window_s} s scored, a release every {report.release_s:g} s served until the "
             f"next, counting {'every earlier event' if report.release_window_s <= 0 else f'the last {report.release_window_s:g} s of events'}, NDCG@{report.k} against each window's actual counts; max_contributions {report.max_contributions}, "
             f"{report.repeats} noise draws "
             "per epsilon (mean +- standard deviation over the draws).", "",
             f"| ranking | NDCG@{report.k} | vs trend model | top {report.k} same as clamped |", "|---|---|---|---|"]
    for m, v in report.ndcg.items():
        spread = f" +- {v['std']:.4f}" if m in report.top_same else ""
        kept = f"{report.top_same[m]['mean']:.0%} +- {report.top_same[m]['std']:.1%}" if m in report.top_same else ""
        vs = f"{v['mean'] / base - 1:+.1%}" if base > 0 and m != "trend_model" else ""
        lines.append(f"| {m} | {v['mean']:.4f}{spread} | {vs} | {kept} |")
    md = json_path.with_suffix(".md")
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md
