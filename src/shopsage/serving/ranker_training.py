"""Training a scenario's learned ranking stage (``shopsage models train ranker --scenario for_you``).

The ranker must learn from lists the scenario really serves, with features computed by the serving
code, on shoppers whose next choice the candidate models have not seen. So:

1. The store's histories are split leave-one-out: each shopper's latest item is their *target*; the
   rest is written into a work shop (``<registry>/../ranker-work/<scenario>/shop.db``, rebuilt only
   when the store changes).
2. The scenario's candidate models are trained on the work shop (the ``bench serve`` helper; reused
   while the data is unchanged) and a :class:`~shopsage.serving.service.Service` is started on it.
3. For a seeded sample of shoppers, the service's own candidates stage
   (:func:`~shopsage.serving.scenario.fused_candidates`) and feature builder
   (:func:`~shopsage.serving.learned.stage_input`) give each fused candidate's features.
4. **Clicks are simulated** (the data sets here have no exposures): the fused list, in the rank-fusion
   order the shop served before the ranker, is shown to a position-based click model
   (:mod:`shopsage.rank.clicks`) whose relevance is the real target (``1`` for the item the shopper
   chose next, ``0`` for the rest). Each click becomes one LambdaMART group, its clicked row labelled
   1 and weighted by the inverse examination propensity of its position (clipped), so the ranker
   learns relevance, not position.
5. A held-out share of the shoppers scores the ranker against the real targets (NDCG@10 of the
   learned order and of rank fusion over the same pools) and the version is registered as
   ``ranker-<scenario>`` (not promoted unless asked).

**From logged exposures** (``source="exposures"``, or ``"auto"`` when the store holds at least
``min_clicks`` clicks, carts or purchases attributed to the scenario's answers): a service on the store
itself rebuilds each answered shopper's history *as of the answer* (stored events before its time),
runs the same candidates stage and features, and each attributed item that is in the pool becomes a
group weighted by ``min(1 / (exam(k) x propensity), max_weight)``: ``k`` its logged position (the
click model's examination curve, ``eta``, is an assumption here, not fitted to the logs) and the
propensity the policy logged (a bandit's, 1.0 for a deterministic list). Caveat: the candidate models
are the live ones, trained after the answers, so their scores may already know those clicks; logging
the features at serving time would remove that and is not done.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from shopsage.data.stores import open_store
from shopsage.errors import ConfigError, ValidationError, describe_problems
from shopsage.evaluate.protocols import make_split, subsample_cases
from shopsage.rank.clicks import ClickModelConfig, PositionBasedClicks
from shopsage.rank.features import FEATURES_VERSION, StageFeatures
from shopsage.rank.model import StageRanker, ranker_name, stage_ranker_config
from shopsage.ranking_metrics import ndcg_binary
from shopsage.registry import ModelRegistry, ModelVersion
from shopsage.serving.config import load_pipelines
from shopsage.serving.learned import generator_key, stage_input
from shopsage.serving.scenario import fused_candidates

__all__ = ["StageTrainConfig", "StageData", "train_stage_ranker", "collect_stage_data", "fit_stage_ranker"]

Say = Callable[[str], None]


SIMULATED_CLICKS: dict[str, Any] = {"epsilon": 0.0, "shown": 50, "impressions": 20, "max_weight": 50.0}
"""The click model of the served rankers of docs/benchmarks.md ("Learned ranking stage"; Beauty +2.5%, Scientific
+2.7% NDCG@10 over rank fusion): no click noise (one noise click, reweighted by its inverse propensity,
outweighs a real click at the top), 50 shown and 20 showings a shopper, so a shopper whose next item is in
the top 50 clicks it at least once in most cases."""


class StageTrainConfig(BaseModel):
    """``params`` of ``shopsage models train ranker --scenario NAME``."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["auto", "simulated", "exposures"] = "auto"
    """``exposures``: the store's logged answers and attributed events; ``simulated``: clicks simulated on
    leave-one-out targets; ``auto``: exposures when at least ``min_clicks`` are attributed, else simulated."""
    min_clicks: int = Field(200, ge=1)
    max_users: int = Field(25000, ge=10)
    """Shoppers sampled (seeded) for training and scoring; the rest are not read (training time: about 2.5 ms
    a shopper for the features, after the candidate models)."""
    holdout: float = Field(0.2, ge=0, lt=1)
    """Share of the sampled shoppers held out to score the ranker against their real next item."""
    clicks: ClickModelConfig = Field(default_factory=lambda: ClickModelConfig.model_validate(SIMULATED_CLICKS))
    """The simulated shopper (defaults: :data:`SIMULATED_CLICKS`, the measured recipe)."""
    ranker: dict[str, Any] = Field(default_factory=dict)
    """LambdaMART overrides (``epochs``, ``learning_rate``, ``num_leaves``, ``min_data_in_leaf``, ...)."""
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Hyperparameters of the candidate models trained on the work shop (as ``bench serve --params``)."""
    seed: int = 0

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> StageTrainConfig:
        try:
            return cls.model_validate(params)
        except PydanticValidationError as exc:
            raise ConfigError(f"ranker training parameters: {describe_problems(exc)}; keys: "
                              f"{sorted(cls.model_fields)}") from exc


class StageData:
    """Per shopper (or per logged click): the fused candidates' features (fused order), the index of the
    real target or clicked item (-1: not in the pool) and, for logged clicks, the click's weight."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.features: list[np.ndarray] = []
        self.target: list[int] = []
        self.weight: list[float] = []
        self.served_models: list[str] | None = None
        """The scenario's candidate models the service that built these rows had live (None: not known)."""

    def add(self, x: np.ndarray, target: int, weight: float = 1.0) -> None:
        self.features.append(x)
        self.target.append(target)
        self.weight.append(weight)

    def __len__(self) -> int:
        return len(self.target)


def simulated_groups(data: StageData, idx: np.ndarray, clicks: PositionBasedClicks) -> tuple[np.ndarray, ...]:
    """LambdaMART rows from simulated clicks on the fused lists of shoppers ``idx``: one group per clicked
    item, the clicked row labelled 1, every row of the group weighted by the click's clipped inverse
    propensity times its clicks. Returns ``(features, labels, groups, weights)``."""
    xs, ys, gs, ws = [], [], [], []
    for i in idx.tolist():
        x, t = data.features[i], data.target[i]
        rel = np.zeros(len(x))
        if t >= 0:
            rel[t] = clicks.config.max_relevance
        counts = clicks.simulate(rel)
        for j in np.flatnonzero(counts).tolist():
            y = np.zeros(len(x), np.float32)
            y[j] = 1.0
            xs.append(x)
            ys.append(y)
            gs.append(len(x))
            ws.append(np.full(len(x), counts[j] * clicks.weights(np.array([j + 1]))[0]))
    if len(gs) < 2:
        raise ValidationError(f"the simulated shoppers clicked in {len(gs)} list(s): too few to learn from. Train on "
                              "more shoppers (max_users) or show more items (clicks.shown).")
    return np.vstack(xs), np.concatenate(ys), np.array(gs), np.concatenate(ws)


def logged_groups(data: StageData, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    """LambdaMART rows from logged clicks: one group per click whose item is in the pool, weighted by its
    inverse propensity (``data.weight``). Returns ``(features, labels, groups, weights)``."""
    keep = [i for i in idx.tolist() if data.target[i] >= 0]
    if len(keep) < 2:
        raise ValidationError(f"{len(keep)} logged click(s) name an item of the rebuilt candidate pool: too few to "
                              "learn from. Collect more feedback, or train on simulated clicks (source 'simulated').")
    ys = []
    for i in keep:
        y = np.zeros(len(data.features[i]), np.float32)
        y[data.target[i]] = 1.0
        ys.append(y)
    return (np.vstack([data.features[i] for i in keep]), np.concatenate(ys),
            np.array([len(data.features[i]) for i in keep]),
            np.concatenate([np.full(len(data.features[i]), data.weight[i]) for i in keep]))


def _ndcg_of_orders(data: StageData, idx: np.ndarray, ranker: StageRanker | None) -> float:
    """Mean NDCG@10 over shoppers ``idx`` of the fused order (``ranker`` None) or the ranker's, one relevant item each."""
    hits = np.zeros((len(idx), 10), dtype=bool)
    for r, i in enumerate(idx.tolist()):
        t = data.target[i]
        if t < 0:
            continue
        if ranker is None:
            pos = t
        else:
            s = ranker.predict(data.features[i])
            pos = int((s > s[t]).sum()) + int((s[:t] == s[t]).sum())  # the stage's stable sort of the fused order
        if pos < 10:
            hits[r, pos] = True
    return float(ndcg_binary(hits, np.ones(len(idx))).mean()) if len(idx) else 0.0


def fit_stage_ranker(data: StageData, generators: list[str], cfg: StageTrainConfig, say: Say,
                     logged: bool = False) -> tuple[StageRanker, dict[str, float], str | None]:
    """Fit on simulated clicks of the training shoppers (``logged``: on their logged clicks); score both
    orders on the held-out ones (their real next item, or their logged click). Returns the ranker, its
    held-out figures and a fingerprint of the held-out cases (versions with the same one are comparable:
    ``promote --if-better``)."""
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(data))
    n_eval = int(round(len(data) * cfg.holdout))
    eval_idx, train_idx = np.sort(order[:n_eval]), np.sort(order[n_eval:])
    clicks = PositionBasedClicks(cfg.clicks)
    if logged:
        x, y, groups, w = logged_groups(data, train_idx)
        say(f"ranker: {len(groups):,} logged clicks with their item in the pool ({len(x):,} rows)")
    else:
        x, y, groups, w = simulated_groups(data, train_idx, clicks)
        say(f"ranker: {len(groups):,} clicked lists simulated from {len(train_idx):,} shoppers ({len(x):,} rows)")
    ranker = StageRanker(stage_ranker_config(**{"seed": cfg.seed, **cfg.ranker}))
    ranker.fit(x, y, groups, data.names, weights=w)
    ranker.generators = list(generators)
    ranker.features_version = FEATURES_VERSION
    metrics: dict[str, float] = {}
    if n_eval:
        metrics = {"ndcg@10": round(_ndcg_of_orders(data, eval_idx, ranker), 6),
                   "rank_fusion_ndcg@10": round(_ndcg_of_orders(data, eval_idx, None), 6),
                   "pool_recall": round(float(np.mean([data.target[i] >= 0 for i in eval_idx.tolist()])), 6)}
        say(f"held-out shoppers ({n_eval:,}): NDCG@10 learned {metrics['ndcg@10']:.4f}, rank fusion "
            f"{metrics['rank_fusion_ndcg@10']:.4f}; target in the pool for {metrics['pool_recall']:.1%}")
    held = hashlib.sha256()
    for i in eval_idx.tolist():
        held.update(f"{data.target[i]} {len(data.features[i])} {float(data.features[i].sum()):.4f};".encode())
    return ranker, metrics, held.hexdigest()[:16] if n_eval else None


def _work_shop(store_url: str, work: Path, say: Say) -> tuple[str, Any]:
    """The store less each shopper's latest item (rebuilt when the store changed), and the split."""
    from shopsage.training.data import tail_free_shop

    work.mkdir(parents=True, exist_ok=True)
    source = open_store(store_url)
    try:
        split = make_split(source, "leave-one-out")
        fingerprint = f"v1 {len(split.train)} {len(split.test)} {int(split.train.items.sum())} {int(split.test.history.items.sum())}"
        shop = work / "shop.db"
        n = tail_free_shop(source, split, shop, fingerprint)
        if n is not None:
            say(f"ranker work shop: {n:,} interactions, each shopper's latest item held out ({len(split.test):,} shoppers)")
    finally:
        source.close()
    return f"sqlite:///{shop}", split


def collect_stage_data(store_url: str, work: Path, scenario: str, pipelines: Path | None, cfg: StageTrainConfig,
                       say: Say, shop: ModelRegistry | None = None) -> tuple[StageData, list[str]]:
    """Features of the scenario's fused candidates for a seeded sample of shoppers, served by a service on the work shop.

    ``shop``: the registry the shop serves from. Only the candidate models live there are trained on the work
    shop, so the ranker learns from the lists the shop serves (a generator whose model is not live is
    skipped by the service, and its columns are missing in training as in serving). The models a service
    trains on start when they are missing (``BUILD_ON_START``) count as live."""
    from shopsage.serving.bench import ensure_models
    from shopsage.serving.build import BUILD_ON_START
    from shopsage.serving.service import Service, ServiceOptions

    pipes = load_pipelines(pipelines)
    sc = pipes.scenario(scenario)
    if not sc.candidates:
        raise ValidationError(f"scenario {scenario!r} has no candidate generators: nothing for a ranker to rank.")
    keys = [generator_key(g) for g in sc.candidates]
    url, split = _work_shop(store_url, work, say)
    names = all_names = list(dict.fromkeys(g.model for g in sc.candidates if g.model))
    if shop is not None:  # what the shop's service answers with: its live models and those it builds on start
        served = [n for n in names if shop.current(n) is not None or n in BUILD_ON_START]
        if names and not served:
            raise ValidationError(f"none of {scenario}'s candidate models ({', '.join(names)}) is live in {shop.root}: "
                                  "train and promote them first (shopsage models train NAME --promote)")
        if len(served) < len(names):
            say(f"not live in the shop, so not trained for the ranker either: {', '.join(n for n in names if n not in served)}")
        names = served
    work_models = ModelRegistry(work / "models")
    live = ensure_models(url, work_models, names, cfg.models, say)
    work_live = [n for n in all_names if work_models.current(n) is not None]  # what its service loads
    features = StageFeatures(keys)
    key = hashlib.sha256(json.dumps([(work / "shop.split").read_text(), live, features.names, FEATURES_VERSION,
                                     cfg.max_users, cfg.seed],
                                    sort_keys=True).encode()).hexdigest()[:12]
    cache = work / f"stage-data-{key}.npz"  # the features of these shoppers under these models: reused by a re-fit
    if cache.is_file():
        say(f"stage features of the sampled shoppers read from {cache}")
        cached = _load_data(cache, features.names)
        cached.served_models = work_live
        return cached, keys
    svc = Service(ServiceOptions(store_url=url, home=work, pipelines=pipelines, build_on_start=False,
                                 reload_interval_s=0), say=say).start()
    try:
        cases = subsample_cases(split.test, cfg.max_users, cfg.seed)
        data = StageData(features.names)
        items = split.items.ids
        history = sc.candidates[0].history
        started = time.monotonic()
        for c in range(len(cases)):
            user = split.owners.ids[int(cases.owner[c])]
            sh = svc.shopper(user, None)
            allowed = svc.masks.allowed(sc.exclude, sh)
            lists, slots, fused = fused_candidates(scenario, sc, svc.gens, sh, allowed, {"candidates": {}})
            x = features.compute(stage_input(svc.gens, sh, slots, fused, [cl for cl, _ in lists], history))
            target = svc.catalog.slot(items[int(cases.targets.items[cases.targets.indptr[c]])])
            hit = np.flatnonzero(slots == target) if target is not None else np.zeros(0, np.int64)
            data.add(x, int(hit[0]) if len(hit) else -1)
            if (c + 1) % 2000 == 0:
                say(f"  features of {c + 1:,} / {len(cases):,} shoppers ({time.monotonic() - started:.0f} s)")
    finally:
        svc.close()
    _save_data(cache, data)
    data.served_models = work_live
    return data, keys


def _save_data(path: Path, data: StageData) -> None:
    sizes = np.array([len(x) for x in data.features], np.int64)
    x = np.vstack(data.features) if data.features else np.zeros((0, len(data.names)), np.float32)
    np.savez(path, x=x, sizes=sizes, target=np.array(data.target, np.int64), weight=np.array(data.weight))


def _load_data(path: Path, names: list[str]) -> StageData:
    with np.load(path, allow_pickle=False) as f:
        x, sizes, target, weight = f["x"], f["sizes"], f["target"], f["weight"]
    data = StageData(names)
    for rows, t, w in zip(np.split(x, np.cumsum(sizes)[:-1]) if len(sizes) else [], target.tolist(), weight.tolist(),
                          strict=True):
        data.add(rows, int(t), float(w))
    return data


def _logged_data(store_url: str, home: Path, scenario: str, pipelines: Path | None, cfg: StageTrainConfig,
                 say: Say) -> tuple[StageData, list[str]]:
    """Logged clicks of the scenario's answers, featurised by a service on the store itself (live models)."""
    from shopsage.serving.ranker_exposures import exposure_stage_data
    from shopsage.serving.service import Service, ServiceOptions

    sc = load_pipelines(pipelines).scenario(scenario)
    keys = [generator_key(g) for g in sc.candidates]
    svc = Service(ServiceOptions(store_url=store_url, home=home, pipelines=pipelines, build_on_start=False,
                                 reload_interval_s=0, exposures=False), say=say).start()
    try:
        features = StageFeatures(keys)
        xs, targets, weights, answers = exposure_stage_data(svc, scenario, sc, features, PositionBasedClicks(cfg.clicks))
        served = [n for n in dict.fromkeys(g.model for g in sc.candidates if g.model) if svc.models.get(n) is not None]
    finally:
        svc.close()
    data = StageData(features.names)
    for x, t, w in zip(xs, targets, weights, strict=True):
        data.add(x, t, w)
    data.served_models = served
    say(f"logged feedback: {len(data):,} attributed items from {answers:,} answers of {scenario}")
    return data, keys


def _use_exposures(store_url: str, scenario: str, cfg: StageTrainConfig) -> bool:
    if cfg.source != "auto":
        return cfg.source == "exposures"
    from shopsage.serving.ranker_exposures import attributed_to

    store = open_store(store_url)
    try:
        return sum(len(v) for v in attributed_to(store, scenario).values()) >= cfg.min_clicks
    finally:
        store.close()


def train_stage_ranker(store_url: str, registry: ModelRegistry, scenario: str, params: dict[str, Any],
                       pipelines: Path | None = None, say: Say = lambda _m: None) -> ModelVersion:
    """Train ``scenario``'s learned ranker on logged or simulated clicks (module doc) and register it as
    ``ranker-<scenario>`` (not promoted)."""
    from shopsage.training.data import prepare

    cfg = StageTrainConfig.from_params(params)
    logged = _use_exposures(store_url, scenario, cfg)
    if logged:
        data, keys = _logged_data(store_url, Path(registry.root).parent, scenario, pipelines, cfg, say)
        feedback = ("logged exposures and attributed clicks/carts/purchases, weighted 1 / (exam(position) x "
                    "propensity), examination (1/k)^eta assumed")
        protocol = "held-out logged clicks (their item's NDCG@10 in the rebuilt pool)"
    else:
        work = Path(registry.root).parent / "ranker-work" / scenario
        data, keys = collect_stage_data(store_url, work, scenario, pipelines, cfg, say, shop=registry)
        feedback = ("simulated clicks: position-based model over the rank-fusion order, relevance = the shopper's "
                    "real next item (no exposures read)")
        protocol = "leave-one-out (latest item of each shopper), simulated clicks"
    ranker, metrics, test_fingerprint = fit_stage_ranker(data, keys, cfg, say, logged=logged)
    store = open_store(store_url)
    try:
        fingerprint = prepare(store, holdout=False).fingerprint
    finally:
        store.close()
    name = ranker_name(scenario)
    path = registry.new_version_dir(name)
    ranker.save(path)
    return registry.register(
        name, path, StageRanker.KIND, json.loads(ranker.config.model_dump_json()),
        feature_names=ranker.feature_names, generators=keys, scenario=scenario, metrics=metrics,
        protocol=protocol if metrics else None, holdout=bool(metrics), data_fingerprint=fingerprint,
        test_fingerprint=test_fingerprint, features_version=FEATURES_VERSION, served_models=data.served_models,
        fit=ranker.metrics, feedback=feedback, source="exposures" if logged else "simulated",
        clicks=json.loads(cfg.clicks.model_dump_json()), n_examples=len(data),
        importance=dict(list(ranker.importance().items())[:10]), training=json.loads(cfg.model_dump_json()))
