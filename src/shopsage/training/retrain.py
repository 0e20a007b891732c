"""Continuous retraining: a challenger trained on the latest data replaces the live champion only when
it beats it on the same fresh held-out tail.

The *fresh tail* is the newest events the store holds (store event ids are the arrival order), cut
so that the champion never saw them: of the events stored after the champion's training data ends
(``data.through_event`` in its manifest), the last ``tail_fraction`` are held out; a champion that
does not say what it read (older versions) is judged on the last ``first_tail_fraction`` of all
events, and the decision records that it may have seen them. The challenger trains on every event
before the tail (the new ones included: that is its advantage), and both rank every item for each
owner (user, else session) active in the tail: the history before their last event predicts it.

The gate is the registry's :meth:`~shopsage.registry.ModelRegistry.promote_if_better` (the one of
``shopsage models promote --if-better``), given the champion's figure re-measured on the
challenger's tail. The promoted version is exactly the one scored (what is served is what is
measured); the registry keeps the champion for ``rollback``; every decision, promoted or not, is
one JSON line in ``<registry>/retrain.jsonl``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shopsage.data.splits import EvalCases, Sequences, sequences_from_interactions
from shopsage.errors import NotBetterError, ValidationError
from shopsage.recommend import model_class
from shopsage.recommend.base import ModelConfig, Recommender, TrainData
from shopsage.registry import ModelRegistry, ModelVersion
from shopsage.training.data import TrainingSet, owner_groups, store_interactions
from shopsage.training.recommenders import ITEMS_FILE, MODEL_DIR, score_on_tail, tune_metric
from shopsage.vocab import Vocabulary

__all__ = ["DECISIONS_FILE", "RetrainConfig", "RetrainDecision", "fresh_tail", "read_decisions", "retrain",
           "score_version"]

DECISIONS_FILE = "retrain.jsonl"
Say = Callable[[str], None]


class RetrainConfig(BaseModel):
    """How a retrain cuts its tail and judges (``shopsage models retrain`` options)."""

    model_config = ConfigDict(extra="forbid")

    tail_fraction: float = Field(0.5, gt=0, lt=1)
    """Share of the events stored since the champion's data ended that is held out (the rest trains)."""
    first_tail_fraction: float = Field(0.1, gt=0, lt=1)
    """Share of all events held out when the champion does not record what it read (or there is none)."""
    min_new_events: int = Field(50, ge=1)
    """Fewer new events than this since the champion: nothing to learn, no retrain (recorded as skipped)."""
    metric: str | None = None
    """The gate's metric; default mrr@20 for sessions, ndcg@10 for users (:func:`tune_metric`)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Hyperparameters of the challenger (default: the champion's own configuration)."""
    max_test_cases: int | None = Field(20000, ge=1)
    """Score a seeded sample of the tail's cases (the same sample for both)."""
    promote: bool = True
    """False: register and record the challenger, leave the champion live (a dry run)."""


@dataclass
class RetrainDecision:
    """One retrain's outcome, as recorded in ``retrain.jsonl``."""

    name: str
    at: float
    outcome: str  # promoted | kept | skipped
    reason: str
    metric: str | None = None
    challenger: str | None = None
    champion: str | None = None
    challenger_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] = field(default_factory=dict)
    tail: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    store_through: int | None = None  # the newest stored event when it ran

    @property
    def promoted(self) -> bool:
        return self.outcome == "promoted"


class _Mapped(Recommender):
    """A champion scored in the challenger's item ids: histories mapped into its vocabulary (items it
    does not know are dropped), scores mapped back; items it does not know rank last."""

    name = "mapped"
    Config = ModelConfig

    def __init__(self, model: Recommender, to_model: np.ndarray) -> None:
        super().__init__()
        self.model, self.to_model = model, to_model
        self.n_items, self.fitted = len(to_model), True
        self._known = np.flatnonzero(to_model >= 0)

    def score(self, histories: Any) -> np.ndarray:
        lists = [self.to_model[np.asarray(histories[b], np.int64)] for b in range(len(histories))]
        inner = np.asarray(self.model.score(Sequences.from_lists([h[h >= 0].astype(np.int32) for h in lists])))
        out = np.full((len(lists), self.n_items), np.finfo(np.float32).min / 4, dtype=np.float32)
        out[:, self._known] = inner[:, self.to_model[self._known]]
        return out

    def _fit(self, data: TrainData) -> None: ...

    def _save(self, directory: Any) -> None: ...

    def _load(self, directory: Any) -> None: ...


def fresh_tail(store: Any, champion_through: int | None, config: RetrainConfig) -> TrainingSet | None:
    """Training data before the tail and the tail's cases (see the module doc); None when fewer than
    ``min_new_events`` events arrived after ``champion_through``."""
    inter = store_interactions(store)
    if not len(inter):
        raise ValidationError("the store holds no interactions with items: nothing to retrain on")
    ids = np.sort(inter.event_id)
    if champion_through is not None:
        new = ids[ids > champion_through]
        if len(new) < config.min_new_events:
            return None
        cut = int(new[int(np.floor(len(new) * (1 - config.tail_fraction)))])
    else:
        cut = int(ids[int(np.floor(len(ids) * (1 - config.first_tail_fraction)))])
    items = Vocabulary(store.item_ids().keys())
    rows = list(store.item_ids().values())
    lut = np.full(max(rows, default=0) + 1, -1, dtype=np.int64)
    lut[rows] = np.arange(len(rows))
    group = owner_groups(inter)
    before = inter.event_id < cut
    _, train = sequences_from_interactions(inter, np.where(before, group, -1), lut[inter.item])
    cases = _tail_cases(inter, group, lut, before)
    if not len(cases):
        raise ValidationError(f"the newest events (from store event {cut}) hold no owner with two interactions: "
                              "wait for more events, or raise tail_fraction")
    sessions = float((inter.user >= 0).mean()) < 0.5
    types = {"events_before_tail": int(before.sum()), "events_in_tail": int((~before).sum())}
    return TrainingSet(items, TrainData(len(items), train), "session-prefix/fresh-tail" if sessions else "fresh-tail",
                       cases, types, sessions=sessions, through_event=cut - 1)


def _tail_cases(inter: Any, group: np.ndarray, lut: np.ndarray, before: np.ndarray) -> EvalCases:
    """Per owner with an event in the tail: every event before its last one (in arrival order,
    the tail's earlier ones included) predicts that last one."""
    order = np.lexsort((inter.event_id, group))
    g, item, old = group[order], lut[inter.item[order]], before[order]
    hist, targets = [], []
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    ends = np.r_[starts[1:], len(g)]
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        if g[lo] < 0 or hi - lo < 2 or old[hi - 1]:
            continue
        hist.append(item[lo:hi - 1].astype(np.int32))
        targets.append(item[hi - 1:hi].astype(np.int32))
    return EvalCases(np.full(len(hist), -1, np.int32), Sequences.from_lists(hist), Sequences.from_lists(targets))


def score_version(v: ModelVersion, ts: TrainingSet, max_cases: int | None) -> dict[str, float]:
    """A registry version's figures on ``ts``'s tail, its items mapped by SKU onto ``ts``'s."""
    kind = str(v.manifest.get("kind", "")).split("/", 1)[-1]
    model = model_class(kind).load(v.path / MODEL_DIR)
    vocab = Vocabulary.load(str(v.path / ITEMS_FILE))
    to_model = vocab.indexes(ts.items.ids, missing=-1).astype(np.int64)
    return score_on_tail(_Mapped(model, to_model), ts, max_cases)


def _through(v: ModelVersion | None) -> int | None:
    if v is None:
        return None
    data = v.manifest.get("data")
    got = data.get("through_event") if isinstance(data, dict) else None
    return int(got) if got is not None else None


def retrain(store: Any, registry: ModelRegistry, name: str, config: RetrainConfig | None = None,
            say: Say = lambda _m: None) -> RetrainDecision:
    """Train a challenger for ``name``, judge it against the live champion, promote or keep; record it."""
    from shopsage.training.blends import BLENDS, train_blend
    from shopsage.training.recommenders import train_recommender

    cfg = config or RetrainConfig.model_validate({})
    started = time.perf_counter()
    champion = registry.current(name)
    through = _through(champion)
    newest = _newest_event(store)
    last = next(reversed(read_decisions(registry.root, name)), None)
    if last is not None and last.get("champion") == _v(champion) and last.get("store_through") == newest \
            and last.get("outcome") != "promoted":
        return _record(registry, RetrainDecision(name, time.time(), "skipped", f"nothing stored since the last retrain "
                                                 f"(store event {newest}) and the same champion", champion=_v(champion),
                                                 store_through=newest))
    ts = fresh_tail(store, through, cfg)
    if ts is None:
        return _record(registry, RetrainDecision(name, time.time(), "skipped",
                                                 f"fewer than {cfg.min_new_events} new events since the champion's data "
                                                 f"(store event {through})", champion=_v(champion),
                                                 store_through=newest))
    assert ts.test is not None
    metric = cfg.metric or tune_metric(ts.protocol)
    tail = {"from_event": (ts.through_event or 0) + 1, "cases": len(ts.test), "fingerprint": ts.test_fingerprint,
            "train_events": ts.event_types["events_before_tail"], "champion_through": through,
            "champion_may_have_seen_tail": champion is not None and through is None}
    say(f"{name}: fresh tail from store event {tail['from_event']:,}: {len(ts.test):,} cases; challenger trains on "
        f"{tail['train_events']:,} events")
    params = dict(cfg.params) if cfg.params else (dict(champion.manifest.get("config") or {}) if champion else {})
    if name in BLENDS or name.startswith("blend-"):
        parts = params.pop("parts", None) or (champion.manifest.get("blend", {}).get("parts") if champion else None)
        challenger = train_blend(store, registry, name, parts=parts, ts=ts, max_test_cases=cfg.max_test_cases, say=say)
    else:
        kind = str(champion.manifest.get("kind", name)).split("/", 1)[-1] if champion else name
        params = {k: v for k, v in params.items() if k in model_class(kind).Config.model_fields}
        challenger = train_recommender(store, registry, kind, params=params, ts=ts, register_as=name,
                                       max_test_cases=cfg.max_test_cases, say=say)
    mine = dict(challenger.manifest.get("metrics", {}))
    theirs = score_version(champion, ts, cfg.max_test_cases) if champion is not None else {}
    decision = RetrainDecision(name, time.time(), "kept", "", metric, challenger.version, _v(champion), mine, theirs, tail,
                               store_through=newest)
    if metric not in mine:
        raise ValidationError(f"the challenger has no {metric!r} (its metrics: {', '.join(mine)}); use one of them")
    if not cfg.promote:
        decision.reason = "dry run: the challenger is registered, not promoted"
    else:
        try:
            registry.promote_if_better(name, challenger.version, metric, live_value=theirs.get(metric))
            decision.outcome = "promoted"
            decision.reason = (f"{metric} {mine[metric]:.4f} > the champion's {theirs[metric]:.4f} on the same tail"
                               if champion is not None else "no champion was live")
        except NotBetterError as exc:
            decision.reason = str(exc)
    decision.seconds = round(time.perf_counter() - started, 2)
    say(f"{name}: {decision.outcome}: {decision.reason}")
    return _record(registry, decision)


def _newest_event(store: Any) -> int | None:
    ids = store_interactions(store).event_id
    return int(ids.max()) if len(ids) else None


def _v(v: ModelVersion | None) -> str | None:
    return None if v is None else v.version


def _record(registry: ModelRegistry, d: RetrainDecision) -> RetrainDecision:
    """Append the decision to ``<registry>/retrain.jsonl`` (one line, written whole)."""
    registry.root.mkdir(parents=True, exist_ok=True)
    line = json.dumps(asdict(d), sort_keys=True, default=str)
    with open(registry.root / DECISIONS_FILE, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    return d


def read_decisions(root: Path | str, name: str | None = None) -> list[dict[str, Any]]:
    """The recorded decisions, oldest first (only ``name``'s when given)."""
    path = Path(root) / DECISIONS_FILE
    if not path.is_file():
        return []
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [r for r in rows if name is None or r.get("name") == name]
