"""``shopsage models train NAME``: fit a recommender on a store, score it on the store's held-out
tail, register the version with its figures.

The registered model is the one that was scored: it never saw the test tail (``holdout=True``,
the default). ``holdout=False`` trains on every stored interaction and registers no figures.
Each version keeps the model in ``<version>/model/`` and its item vocabulary (SKUs, the model's
ids in order) in ``<version>/items.txt``; the manifest holds ``metrics``, ``protocol``, the data
and test fingerprints (``promote --if-better`` compares only versions scored on the same tail),
``event_types`` (what the model learned from, for truthful reasons) and the training time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shopsage.errors import ValidationError
from shopsage.evaluate.protocols import EvalOptions, evaluate, subsample_cases
from shopsage.evaluate.tuning import tune as tune_model
from shopsage.recommend import create, model_class
from shopsage.recommend.base import Recommender
from shopsage.registry import ModelRegistry, ModelVersion
from shopsage.training.data import TrainingSet, prepare
from shopsage.vocab import Vocabulary

__all__ = ["MODEL_DIR", "ITEMS_FILE", "METRIC_KS", "register_recommender", "score_on_tail", "train_recommender",
           "tune_metric"]

MODEL_DIR = "model"
ITEMS_FILE = "items.txt"
METRIC_KS = (10, 20)
METRICS = ("hr", "ndcg", "mrr")
"""What a version's manifest records of its held-out tail (the metric names of ``shopsage bench rec``)."""

Say = Callable[[str], None]


def tune_metric(protocol: str | None) -> str:
    """The metric tuning and blends maximise: MRR@20 for sessions (the published one), NDCG@10 for users."""
    return "mrr@20" if (protocol or "").startswith("session-prefix") else "ndcg@10"


def register_recommender(registry: ModelRegistry, model: Recommender, items: Vocabulary, *, name: str | None = None,
                         promote: bool = False, **extra: object) -> ModelVersion:
    """Save a fitted model as the next version of ``name`` (default ``model.name``) with its vocabulary."""
    name = name or model.name
    path = registry.new_version_dir(name)
    model.save(path / MODEL_DIR)
    items.save(str(path / ITEMS_FILE))
    version = registry.register(name, path, f"recommender/{model.name}", model.config.model_dump(mode="json"),
                                n_items=len(items), **extra)
    return registry.promote(name, version.version) if promote else version


def score_on_tail(model: Recommender, ts: TrainingSet, max_cases: int | None = None,
                  on_progress: Callable[[int], None] | None = None) -> dict[str, float]:
    """The model's ranking figures on the held-out tail (full ranking over every item)."""
    if ts.test is None:
        raise ValidationError("this training set has no held-out tail: prepare it with holdout=True")
    cases = subsample_cases(ts.test, max_cases, 0)
    opts = EvalOptions(ks=METRIC_KS, filter_seen=ts.filter_seen, metrics=METRICS, beyond=False, auc=False)
    return {k: round(v, 6) for k, v in evaluate(model, cases, ts.data.n_items, opts, on_progress=on_progress).items()}


def _params_with_text(name: str, params: dict[str, Any]) -> bool:
    return params.get("item_repr", "id") != "id" and name in ("sasrec", "gru4rec")


def train_recommender(store: Any, registry: ModelRegistry, name: str, *, params: dict[str, Any] | None = None,
                      tune: int = 0, holdout: bool = True, protocol: str | None = None, seed: int = 0,
                      register_as: str | None = None, max_test_cases: int | None = None,
                      say: Say = lambda _m: None, ts: TrainingSet | None = None) -> ModelVersion:
    """Train model ``name`` on ``store`` and register it (not promoted); see the module doc."""
    params = dict(params or {})
    cls = model_class(name)
    ts = ts or prepare(store, holdout=holdout, protocol=protocol, seed=seed, with_text=_params_with_text(name, params))
    d = ts.describe()
    say(f"{name}: {d['n_sequences']:,} histories, {d['n_interactions']:,} interactions, {d['n_items']:,} items; "
        f"held-out tail: {d['protocol']}, {d['n_test_cases']:,} cases")
    tuning: dict[str, Any] | None = None
    if tune > 0:
        if ts.split is None:
            raise ValidationError("--tune needs a held-out split to tune on: drop --no-holdout")
        metric = tune_metric(ts.protocol)
        say(f"{name}: tuning {tune} trials on {len(ts.split.valid):,} validation cases ({metric})")
        opts = EvalOptions(ks=METRIC_KS, filter_seen=ts.filter_seen, beyond=False, auc=False)
        tuning = tune_model(cls, ts.split, n_trials=tune, metric=metric, opts=opts, base_config=params,
                            item_text=ts.data.item_text, max_valid_cases=5000, seed=seed,
                            on_trial=lambda i, v: say(f"{name}: trial {i + 1}/{tune}: valid {metric} {v:.4f}"))
        params = tuning["params"]
        say(f"{name}: best {metric} {tuning['best_value']:.4f} with {params}")
    started = time.perf_counter()
    model = create(name, **params).fit(ts.data)
    seconds = round(time.perf_counter() - started, 1)
    say(f"{name}: trained in {seconds} s")
    metrics: dict[str, float] = {}
    if ts.test is not None:
        metrics = score_on_tail(model, ts, max_test_cases)
        say(f"{name}: held-out " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    extra: dict[str, Any] = {"metrics": metrics, "protocol": ts.protocol, "data": d,
                             "data_fingerprint": ts.fingerprint, "test_fingerprint": ts.test_fingerprint,
                             "event_types": ts.event_types, "train_seconds": seconds, "holdout": ts.test is not None}
    if tuning is not None:
        extra["tuning"] = {k: tuning[k] for k in ("metric", "best_value", "n_valid_cases")}
    return register_recommender(registry, model, ts.items, name=register_as or name, **extra)
