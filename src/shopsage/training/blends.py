"""Blends are models: a nested :class:`~shopsage.recommend.Hybrid` of trained parts whose weights
and score normalisation are chosen on validation cases, registered like any recommender.

``blend-session`` (SASRec + GRU4Rec + session-kNN + the session's own items) is the blend that
beat GCE-GNN on Diginetica; ``blend-user`` (SASRec + EASE + item-kNN) serves ``for_you``. The rule,
for parts ``p0..pk`` and normalisation ``norm`` (per history): ``s1 = a1 norm(p0) + (1 - a1) norm(p1)``,
``s_j = a_j norm(s_{j-1}) + (1 - a_j) norm(p_j)``; ``Hybrid(Hybrid(p0, p1, a1), p2, a2)...``.

Choosing the weights without leakage: every part trains on the training set minus the last item
of a seeded share of its histories (the sequential models' own early-stopping cases, same
``max_valid_cases`` and ``seed`` for all), which are the validation cases here; the weights are
chosen stage by stage on a 0..1 grid (``step``), for each normalisation, by the protocol's metric
(MRR@20 for sessions, NDCG@10 for users). Parts that learn nothing from held-out targets are then
refitted on the whole training set; the blend is scored on the held-out tail beside each part alone.
A sequential part is taken from the registry when its live version was trained on the same data
(same data fingerprint, e.g. a SASRec trained before on a GPU), else trained here with
``params[part]``; the other parts are always fitted here, once without the validation targets (for
the choice) and once on everything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from shopsage.data.splits import EvalCases
from shopsage.errors import ConfigError, ValidationError
from shopsage.evaluate.protocols import EvalOptions, evaluate, slice_cases, subsample_cases
from shopsage.recommend import create, model_class
from shopsage.recommend.base import Recommender, TrainData
from shopsage.recommend.hybrid import Hybrid, normalize_scores
from shopsage.recommend.sequential.base import holdout_valid
from shopsage.registry import ModelRegistry, ModelVersion
from shopsage.training.data import TrainingSet, prepare
from shopsage.training.recommenders import (
    METRIC_KS,
    MODEL_DIR,
    register_recommender,
    score_on_tail,
    tune_metric,
)

__all__ = ["BLENDS", "BlendChoice", "choose_weights", "train_blend"]

BLENDS: dict[str, tuple[str, ...]] = {
    "blend-session": ("sasrec", "gru4rec", "sknn", "recent"),
    "blend-user": ("sasrec", "ease", "itemknn"),
}
"""Registry names of the blends ``shopsage models train`` knows, and their default parts."""

_SEQUENTIAL = ("sasrec", "gru4rec")
_DEFAULT_PARAMS: dict[str, dict[str, Any]] = {"recent": {"decay": 1.0}}

Say = Callable[[str], None]


class _Fixed(Recommender):
    """Scores computed beforehand, handed to the one evaluation path (:func:`evaluate`)."""

    name = "fixed"
    Config = Hybrid.Config

    def __init__(self, scores: np.ndarray) -> None:
        super().__init__()
        self.scores, self.n_items, self.fitted = scores, scores.shape[1], True

    def score(self, histories: Any) -> np.ndarray:
        return self.scores

    def _fit(self, data: TrainData) -> None: ...

    def _save(self, directory: Any) -> None: ...

    def _load(self, directory: Any) -> None: ...


class BlendChoice:
    """The weights (one per part after the first) and normalisation chosen, with the validation value."""

    def __init__(self, alphas: list[float], normalization: str, value: float, metric: str) -> None:
        self.alphas, self.normalization, self.value, self.metric = alphas, normalization, value, metric

    def as_dict(self) -> dict[str, Any]:
        return {"alphas": self.alphas, "normalization": self.normalization, "valid": {self.metric: round(self.value, 6)}}


def _nest(parts: list[Recommender], alphas: list[float], how: str) -> Recommender:
    model: Recommender = parts[0]
    for part, a in zip(parts[1:], alphas, strict=True):
        model = Hybrid(model, part, alpha=float(a), normalization=how)
        model.n_items, model.fitted = part.n_items, True
    return model


def choose_weights(parts: list[Recommender], valid: EvalCases, n_items: int, *, metric: str, filter_seen: bool,
                   step: float = 0.1, norms: tuple[str, ...] = ("minmax", "zscore"), batch: int = 500,
                   refine: int = 2, say: Say = lambda _m: None) -> BlendChoice:
    """Greedy stage-wise grid search of the nested blend's weights on ``valid`` (see the module doc),
    then ``refine`` sweeps of coordinate ascent: each weight again on the grid, the others fixed,
    scoring the whole blend (a stage chosen without the later parts may be worth revisiting)."""
    if len(parts) < 2:
        raise ValidationError("a blend needs at least two parts")
    grid = [round(float(a), 4) for a in np.linspace(0.0, 1.0, int(round(1.0 / step)) + 1)]
    k = int(metric.split("@")[1])
    opts = EvalOptions(ks=(k,), filter_seen=filter_seen, beyond=False, auc=False, batch_size=10**9)
    best: BlendChoice | None = None
    for how in norms:
        fixed: list[float] = []
        value = 0.0
        for stage in range(1, len(parts)):
            sums = np.zeros(len(grid))
            for lo in range(0, len(valid), batch):
                part = slice_cases(valid, lo, min(lo + batch, len(valid)))
                normed = [normalize_scores(p.score(part.history), how) for p in parts[: stage + 1]]
                inner = normed[0]
                for j, a in enumerate(fixed):
                    inner = normalize_scores(a * inner + (1.0 - a) * normed[j + 1], how)
                for g, a in enumerate(grid):
                    blended = (a * inner + (1.0 - a) * normed[stage]).astype(np.float32)
                    sums[g] += evaluate(_Fixed(blended), part, n_items, opts)[metric] * len(part)
            g = int(np.argmax(sums))
            fixed.append(grid[g])
            value = float(sums[g] / len(valid))
            say(f"  {how}: weight {stage} = {grid[g]} (valid {metric} {value:.4f})")
        for _ in range(refine):
            fixed, value = _refine(parts, valid, n_items, fixed, how, grid, metric, opts, batch, value, say)
        if best is None or value > best.value:
            best = BlendChoice(fixed, how, value, metric)
    assert best is not None
    return best


def _nested(normed: list[np.ndarray], alphas: list[float], how: str) -> np.ndarray:
    """The blend's scores from its parts' normalised scores (the rule of the module doc)."""
    s = normed[0]
    for j, a in enumerate(alphas):
        inner = s if j == 0 else normalize_scores(s, how)
        s = a * inner + (1.0 - a) * normed[j + 1]
    return s.astype(np.float32)


def _refine(parts: list[Recommender], valid: EvalCases, n_items: int, alphas: list[float], how: str,
            grid: list[float], metric: str, opts: EvalOptions, batch: int, value: float,
            say: Say) -> tuple[list[float], float]:
    """One sweep of coordinate ascent over the weights; keeps a change only when it scores better."""
    trials = [(j, a) for j in range(len(alphas)) for a in grid if a != alphas[j]]
    sums = np.zeros(len(trials))
    for lo in range(0, len(valid), batch):
        part = slice_cases(valid, lo, min(lo + batch, len(valid)))
        normed = [normalize_scores(p.score(part.history), how) for p in parts]
        for t, (j, a) in enumerate(trials):
            trial = [*alphas[:j], a, *alphas[j + 1:]]
            sums[t] += evaluate(_Fixed(_nested(normed, trial, how)), part, n_items, opts)[metric] * len(part)
    t = int(np.argmax(sums)) if len(trials) else -1
    if t >= 0 and sums[t] / len(valid) > value:
        j, a = trials[t]
        alphas = [*alphas[:j], a, *alphas[j + 1:]]
        value = float(sums[t] / len(valid))
        say(f"  {how}: refined weight {j + 1} to {a}: {alphas} (valid {metric} {value:.4f})")
    return alphas, value


def _live_part(registry: ModelRegistry, name: str, fingerprint: str) -> tuple[Recommender, str] | None:
    """The live version of ``name`` when it was trained on the same data."""
    cur = registry.current(name)
    if cur is None or cur.manifest.get("data_fingerprint") != fingerprint:
        return None
    kind = str(cur.manifest.get("kind", "")).split("/", 1)[-1]
    return model_class(kind).load(cur.path / MODEL_DIR), cur.version


def _holdout_of(parts: list[str], params: dict[str, dict[str, Any]], live: dict[str, Recommender]) -> tuple[int, int]:
    """(max_valid_cases, seed) shared by the sequential parts (their early-stopping cases)."""
    found = set()
    for p in parts:
        if p in _SEQUENTIAL:
            cfg = live[p].config if p in live else model_class(p).Config.model_validate(params.get(p, {}))
            found.add((int(cfg.max_valid_cases), int(cfg.seed)))  # type: ignore[attr-defined]
    if len(found) > 1:
        raise ConfigError(f"the sequential parts hold out different early-stopping cases {sorted(found)}: train them "
                          "with the same max_valid_cases and seed")
    return found.pop() if found else (5000, 0)


def train_blend(store: Any, registry: ModelRegistry, name: str, *, parts: list[str] | None = None,
                params: dict[str, dict[str, Any]] | None = None, holdout: bool = True, protocol: str | None = None,
                seed: int = 0, step: float = 0.1, norms: tuple[str, ...] = ("minmax", "zscore"),
                max_test_cases: int | None = None, say: Say = lambda _m: None,
                ts: TrainingSet | None = None) -> ModelVersion:
    """Train (or reuse) the parts, choose the blend's weights on validation, register it (not promoted)."""
    names = list(parts or BLENDS.get(name, ()))
    if len(names) < 2:
        raise ConfigError(f"blend {name!r} needs its parts: --params '{{\"parts\": [\"sasrec\", \"sknn\"]}}' "
                          f"(known blends: {', '.join(BLENDS)})")
    params = {p: {**_DEFAULT_PARAMS.get(p, {}), **(params or {}).get(p, {})} for p in names}
    ts = ts or prepare(store, holdout=holdout, protocol=protocol, seed=seed)
    fp = ts.fingerprint
    live: dict[str, Recommender] = {}
    versions: dict[str, str] = {}
    for p in names:
        found = _live_part(registry, p, fp) if p in _SEQUENTIAL else None
        if found is not None:
            live[p], versions[p] = found
            say(f"{name}: {p} {found[1]} from the registry (trained on the same data)")
    most, hseed = _holdout_of(names, params, live)
    held = holdout_valid(replace(ts.data, valid=None), most, hseed)
    if held.valid is None or not len(held.valid):
        raise ValidationError("too few histories of 3 or more items to choose the blend's weights on")
    started = time.perf_counter()
    select: list[Recommender] = []
    for p in names:
        if p in live:
            select.append(live[p])  # trained on ts.data, holding out exactly held.valid itself
            continue
        say(f"{name}: training {p} for the weight choice")
        if p in _SEQUENTIAL:  # it holds out held.valid by itself: this fit is also the final one
            live[p] = create(p, **params[p]).fit(ts.data)
            versions[p] = "trained with the blend"
            select.append(live[p])
        else:
            select.append(create(p, **params[p]).fit(held))
    metric = tune_metric("session-prefix" if ts.sessions else "leave-one-out")
    valid = subsample_cases(held.valid, most, hseed)
    say(f"{name}: choosing weights on {len(valid):,} validation cases ({metric})")
    choice = choose_weights(select, valid, ts.data.n_items, metric=metric, filter_seen=ts.filter_seen, step=step,
                            norms=norms, say=say)
    final: list[Recommender] = []
    for p, sel in zip(names, select, strict=True):
        final.append(live[p] if p in live else create(p, **params[p]).fit(ts.data))
        del sel
    blend = _nest(final, choice.alphas, choice.normalization)
    seconds = round(time.perf_counter() - started, 1)
    metrics: dict[str, float] = {}
    parts_alone: dict[str, dict[str, float]] = {}
    if ts.test is not None:
        say(f"{name}: scoring the blend and each part on {len(ts.test):,} held-out cases")
        metrics = score_on_tail(blend, ts, max_test_cases)
        for p, model in zip(names, final, strict=True):
            parts_alone[p] = score_on_tail(model, ts, max_test_cases)
        say(f"{name}: held-out " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    extra: dict[str, Any] = {"metrics": metrics, "protocol": ts.protocol, "data": ts.describe(),
                             "data_fingerprint": fp, "test_fingerprint": ts.test_fingerprint,
                             "event_types": ts.event_types, "train_seconds": seconds, "holdout": ts.test is not None,
                             "blend": {"parts": names, "part_versions": versions, **choice.as_dict(),
                                       "metric_ks": list(METRIC_KS)},
                             "parts_alone": parts_alone}
    return register_recommender(registry, blend, ts.items, name=name, **extra)
