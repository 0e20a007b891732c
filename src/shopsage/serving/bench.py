"""``shopsage bench serve``: score the served pipelines through the service object that answers HTTP.

The data set is imported into ``<home>/source.db``; the protocol's split is made once, and the shop
the service runs on (``<home>/shop.db``) holds the catalogue and every training interaction but
none of the held-out tail. The models the scenario's pipeline names are trained on that shop
(``shopsage models train ... --no-holdout``, i.e. exactly the split's training data) unless the
registry already holds a live version trained on it (same data fingerprint, e.g. trained on a
GPU with the same command). Then each test case is one request to :meth:`Service.recommend`
(config, rules, diversity, fallbacks and all): ``for_you`` asks for the case's user, whose stored
history is the case's history; ``next_in_session`` sends the case's prefix as the request's
history. The answers are scored with the metric names of ``shopsage bench rec``, beside every
model of the pipeline alone on the same cases (:func:`shopsage.evaluate.protocols.evaluate`), and
each request is timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.data.importers import get_importer, run_import
from shopsage.data.stores import open_store
from shopsage.errors import ConfigError
from shopsage.evaluate.metrics import per_row_metrics
from shopsage.evaluate.protocols import DEFAULT_PROTOCOL, EvalOptions, evaluate, make_split, subsample_cases
from shopsage.registry import ModelRegistry
from shopsage.serving.config import load_pipelines
from shopsage.serving.service import Service, ServiceOptions
from shopsage.training import BLENDS, prepare, train_blend, train_recommender
from shopsage.training.data import tail_free_shop
from shopsage.training.recommenders import ITEMS_FILE, METRIC_KS, METRICS
from shopsage.vocab import Vocabulary

__all__ = ["ServeBenchConfig", "run_serve_bench", "SERVE_SCENARIOS"]

SERVE_SCENARIOS = ("for_you", "next_in_session", "search")
Say = Callable[[str], None]


class ServeBenchConfig(BaseModel):
    """Options of ``shopsage bench serve`` (the CLI's flags)."""

    model_config = ConfigDict(extra="forbid")

    scenario: Literal["for_you", "next_in_session", "search"]
    """The served scenario to score (``search``: the data set's judgments, held-out queries)."""
    data: str
    """File or folder of the data set (read in place)."""
    format: str
    """Import format (amazon-seq, recbole, sessions, ...)."""
    home: Path
    """Folder of the bench's stores and registry (reused across runs: models trained once)."""
    pipelines: Path | None = None
    """Pipelines TOML (default: the built-in pipelines the service serves)."""
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Hyperparameters per model trained here (e.g. ``{"sasrec": {"epochs": 30}}``)."""
    max_cases: int | None = Field(None, ge=1)
    """Score a seeded sample of this many test cases (all when None)."""
    seed: int = 0
    latency_requests: int = Field(1000, ge=0)
    """Requests timed separately for the latency figures (the first ones of the scored cases)."""
    semantic: bool = True
    """``search``: serve with the text encoder (hybrid candidates; the ranker trained on its features)."""
    encoder: str | None = None
    """``search``: the text encoder's model directory (default: the packaged all-MiniLM-L6-v2)."""


def _shop(cfg: ServeBenchConfig, say: Say) -> tuple[str, Any]:
    """``(url of the tail-free shop, split)``; the import and the shop are made once per home."""
    cfg.home.mkdir(parents=True, exist_ok=True)
    protocol = DEFAULT_PROTOCOL.get(cfg.format)
    if protocol is None:
        raise ConfigError(f"format {cfg.format!r} has no published protocol for bench serve")
    source = open_store(f"sqlite:///{cfg.home / 'source.db'}")
    try:
        summary = run_import(source, get_importer(cfg.format, cfg.data))
        say(f"imported {cfg.data}: {summary.accepted:,} new rows, {summary.already_present:,} already present")
        split = make_split(source, protocol, seed=cfg.seed)
        fingerprint = f"v2 {protocol} {len(split.train)} {len(split.test)} {int(split.train.items.sum())}"
        n = tail_free_shop(source, split, cfg.home / "shop.db", fingerprint)
        if n is not None:
            say(f"the served shop: {n:,} training interactions, none of the {len(split.test):,} held-out cases")
    finally:
        source.close()
    return f"sqlite:///{cfg.home / 'shop.db'}", split


def _pipeline_models(cfg: ServeBenchConfig) -> list[str]:
    sc = load_pipelines(cfg.pipelines).scenario(cfg.scenario)
    return list(dict.fromkeys(g.model for g in (*sc.candidates, *sc.fallbacks) if g.model))


def ensure_models(store_url: str, registry: ModelRegistry, names: list[str], params: dict[str, dict[str, Any]],
                  say: Say) -> dict[str, str]:
    """Train (on every stored interaction) and promote each named model whose live version was not
    trained on this shop's data; returns ``{name: live version}``."""
    store = open_store(store_url)
    try:
        ts = prepare(store, holdout=False)
        live: dict[str, str] = {}
        # a blend's parts first, as registry models of their own: the blend reuses them, fallbacks name them
        parts = [p for n in names if n in BLENDS for p in params.get(n, {}).get("parts", BLENDS[n])]
        names = [n for n in dict.fromkeys([*parts, *names]) if n not in BLENDS or n in names]
        names = [n for n in names if n not in BLENDS] + [n for n in names if n in BLENDS]
        for name in names:
            cur = registry.current(name)
            if cur is None or cur.manifest.get("data_fingerprint") != ts.fingerprint:
                say(f"training {name} on the served shop")
                if name in BLENDS:
                    p = dict(params.get(name, {}))
                    v = train_blend(store, registry, name, parts=p.pop("parts", None), params=params, holdout=False,
                                    say=say, ts=ts)
                else:
                    v = train_recommender(store, registry, name, params=params.get(name), holdout=False, say=say, ts=ts)
                cur = registry.promote(name, v.version)
            live[name] = cur.version
        return live
    finally:
        store.close()


def ensure_stage_ranker(store_url: str, registry: ModelRegistry, cfg: ServeBenchConfig, say: Say) -> str | None:
    """Train and promote the scenario's learned ranker (``ranking = { kind = "learned", ... }``) unless its live
    version was trained on this shop; returns its live version (None: the scenario ranks by fusion)."""
    ranking = load_pipelines(cfg.pipelines).scenario(cfg.scenario).ranking
    if isinstance(ranking, str) or ranking.kind != "learned" or ranking.model is None:
        return None
    params = dict(cfg.params.get(ranking.model, {}))
    params.setdefault("models", {k: v for k, v in cfg.params.items() if not k.startswith("ranker-")})
    return live_stage_ranker(store_url, registry, cfg.scenario, ranking.model, params, cfg.pipelines, say)


def live_stage_ranker(store_url: str, registry: ModelRegistry, scenario: str, name: str, params: dict[str, Any],
                      pipelines: Path | None, say: Say) -> str:
    """The live version of ``scenario``'s learned ranker ``name``: the current one when it was trained on this
    shop's data, else one trained now (``params``: :class:`~shopsage.serving.ranker_training.StageTrainConfig`)
    and promoted."""
    from shopsage.serving.ranker_training import train_stage_ranker
    from shopsage.training import prepare

    store = open_store(store_url)
    try:
        fingerprint = prepare(store, holdout=False).fingerprint
    finally:
        store.close()
    cur = registry.current(name)
    if cur is None or cur.manifest.get("data_fingerprint") != fingerprint:
        say(f"training {name} on the served shop (simulated clicks)")
        v = train_stage_ranker(store_url, registry, scenario, params, pipelines, say)
        cur = registry.promote(name, v.version)
    else:
        say(f"{name} {cur.version} reused (trained on this shop's data)")
    return str(cur.version)


def _ranked(items: list[str], index: dict[str, int], n: int) -> np.ndarray:
    row = np.full(n, -1, dtype=np.int64)
    ids = [index.get(e, -1) for e in items[:n]]
    row[: len(ids)] = ids
    return row


def _latency(seconds: np.ndarray, most: int) -> dict[str, Any]:
    lat = (seconds[:most] if most else seconds) * 1000
    return {"p50": round(float(np.percentile(lat, 50)), 3), "p99": round(float(np.percentile(lat, 99)), 3),
            "mean": round(float(lat.mean()), 3), "requests": int(len(lat)),
            "note": "in-process Service call, one request at a time"}


def run_search_bench(cfg: ServeBenchConfig, say: Say = lambda _m: None) -> dict[str, Any]:
    """``search``: train the ranker on the store's judgments (held-out queries, ``models train ranker``),
    promote it, start the service and ask :meth:`Service.search` each held-out query (100 results)."""
    from shopsage.search._eval import judgment_table, quality
    from shopsage.search.bench_data import split_queries
    from shopsage.search.training import RankerTrainConfig, train_ranker_version
    from shopsage.serving.search import SearchRequest

    cfg.home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{cfg.home / 'shop.db'}"
    store = open_store(url)
    try:
        summary = run_import(store, get_importer(cfg.format, cfg.data))
        say(f"imported {cfg.data}: {summary.accepted:,} new rows, {summary.already_present:,} already present")
        judgments = store.judgments()
        registry = ModelRegistry(cfg.home / "models")
        params = {"semantic": cfg.semantic, **({"encoder": cfg.encoder} if cfg.encoder else {}),
                  **cfg.params.get("ranker", {})}
        train_cfg = RankerTrainConfig.from_params(params)
        version = train_ranker_version(store, registry, params, say)
        registry.promote("ranker", version.version)
    finally:
        store.close()
    _, eval_q = split_queries(sorted({q for q, _, _ in judgments}), train_cfg.holdout, train_cfg.seed)
    eval_q = eval_q[: cfg.max_cases] if cfg.max_cases else eval_q
    held = set(eval_q)
    opts = ServiceOptions(store_url=url, home=cfg.home, pipelines=cfg.pipelines, build_on_start=False,
                          reload_interval_s=0, semantic=cfg.semantic, base_encoder=cfg.encoder)
    svc = Service(opts, say=say).start()
    try:
        ids = np.full((len(eval_q), 100), -1, np.int64)
        seconds = np.zeros(len(eval_q))
        modes: dict[str, int] = {}
        say(f"asking {len(eval_q):,} held-out queries")
        for b, q in enumerate(eval_q):
            started = time.perf_counter()
            out = svc.search(SearchRequest(q, per_page=100))
            seconds[b] = time.perf_counter() - started
            slots = [svc.catalog.slot(it["id"]) for it in out["items"]]
            ids[b, : len(slots)] = [s if s is not None else -1 for s in slots]
            modes[out["mode"]] = modes.get(out["mode"], 0) + 1
        served = quality(ids, judgment_table(eval_q, [j for j in judgments if j[0] in held], svc.catalog.slot))
        return {"scenario": "search", "data": cfg.data, "format": cfg.format, "protocol": "held-out judged queries",
                "n_eval_queries": len(eval_q), "served": {k: round(v, 6) for k, v in served.items()},
                "modes_served": modes, "ranker": {"version": version.version, **version.manifest.get("metrics", {}),
                                                  "popularity": version.manifest.get("popularity")},
                "semantic": cfg.semantic, "encoder": svc.encoder_label,
                "latency_ms": _latency(seconds, cfg.latency_requests)}
    finally:
        svc.close()


def run_serve_bench(cfg: ServeBenchConfig, say: Say = lambda _m: None) -> dict[str, Any]:
    if cfg.scenario == "search":
        return run_search_bench(cfg, say)
    url, split = _shop(cfg, say)
    registry = ModelRegistry(cfg.home / "models")
    names = _pipeline_models(cfg)
    live = ensure_models(url, registry, names, cfg.params, say)
    stage_ranker = ensure_stage_ranker(url, registry, cfg, say)
    cases = subsample_cases(split.test, cfg.max_cases, cfg.seed)
    n = max(METRIC_KS)
    index = {e: i for i, e in enumerate(split.items.ids)}
    opts = ServiceOptions(store_url=url, home=cfg.home, pipelines=cfg.pipelines, build_on_start=False,
                          reload_interval_s=0)
    svc = Service(opts, say=say).start()
    try:
        ranked = np.full((len(cases), n), -1, dtype=np.int64)
        seconds = np.zeros(len(cases))
        ranking_used: dict[str, int] = {}
        item_ids = split.items.ids
        say(f"scoring {len(cases):,} requests to {cfg.scenario}")
        for c in range(len(cases)):
            started = time.perf_counter()
            if cfg.scenario == "for_you":
                out = svc.recommend("for_you", user=split.owners.ids[int(cases.owner[c])], n=n)
            else:
                hist = [item_ids[i] for i in cases.history[c].tolist()]
                out = svc.recommend("next_in_session", history=hist, n=n)
            seconds[c] = time.perf_counter() - started
            ranked[c] = _ranked([it["id"] for it in out["items"]], index, n)
            method = str(out["stages"].get("ranking", {}).get("method", "rank_fusion"))
            ranking_used[method] = ranking_used.get(method, 0) + 1
            if (c + 1) % 5000 == 0:
                say(f"  {c + 1:,} / {len(cases):,}")
        served: dict[str, float] = {}
        for k in METRIC_KS:
            for name, values in per_row_metrics(ranked, cases.targets, k, METRICS).items():
                served[f"{name}@{k}"] = round(float(values.mean()), 6)
        singles: dict[str, dict[str, float]] = {}
        filter_seen = cfg.scenario == "for_you"
        eval_opts = EvalOptions(ks=METRIC_KS, filter_seen=filter_seen, metrics=METRICS, beyond=False, auc=False)
        for name in names:
            loaded = svc.models.get(name)
            if loaded is None:
                continue
            vocab = Vocabulary.load(str(registry.get(name, loaded.version).path / ITEMS_FILE))
            if vocab.ids != split.items.ids:
                continue
            say(f"scoring {name} alone on the same cases")
            singles[name] = {k: round(v, 6) for k, v in evaluate(loaded.model, cases, split.n_items, eval_opts).items()}
        return {"scenario": cfg.scenario, "data": cfg.data, "format": cfg.format, "protocol": split.protocol,
                "n_test_cases": len(split.test), "n_scored": len(cases), "filter_seen_in_singles": filter_seen,
                "served": served, "models_alone": singles, "live_models": live,
                "ranking": {"stage_ranker": stage_ranker, "requests_by_method": ranking_used},
                "pipeline": load_pipelines(cfg.pipelines).scenario(cfg.scenario).model_dump(mode="json"),
                "latency_ms": _latency(seconds, cfg.latency_requests),
                "models_in_service": svc.models.describe()}
    finally:
        svc.close()
