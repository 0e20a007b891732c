"""Prequential replay: does retraining as the service would keep a model better than training it once?

Events are replayed in time order into a store. The first ``warmup_s`` seconds train the first
version (``retrain`` with no champion promotes it); that version, frozen, is the *once-trained*
model. Then, window by window (``every_s``): both the frozen version and the registry's live
version (*retrained*) are scored on the window's sessions before the window is stored (test, then
train: no model ever sees the events it is judged on), the window is written, and
:func:`~shopsage.training.retrain.retrain` runs with its default gate, exactly as ``shopsage models
retrain`` (and the service's schedule) does. Cases are every prefix of each owner's events in the
window predicting the next item (yoochoose's protocol), ranked over every item of the whole replay:
an item not yet seen by a model counts as a miss for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shopsage.data.rows import EventBlock, EventRow, ItemRow
from shopsage.data.splits import EvalCases, Sequences, subsample_cases
from shopsage.recommend.base import TrainData
from shopsage.registry import ModelRegistry
from shopsage.training.data import TrainingSet
from shopsage.training.retrain import RetrainConfig, retrain, score_version
from shopsage.vocab import Vocabulary

__all__ = ["Checkpoint", "ReplayReport", "prequential_replay", "window_cases"]

Say = Callable[[str], None]


@dataclass
class Checkpoint:
    """One window: both models' figures on it (before it was stored), then the retrain's decision."""

    start: float
    end: float
    events: int
    cases: int
    once: dict[str, float]
    retrained: dict[str, float]
    live_version: str
    decision: str
    retrain_seconds: float


@dataclass
class ReplayReport:
    model: str
    metric: str
    warmup_events: int
    checkpoints: list[Checkpoint] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        once = np.array([c.once[self.metric] for c in self.checkpoints])
        re = np.array([c.retrained[self.metric] for c in self.checkpoints])
        return {"metric": self.metric, "checkpoints": len(self.checkpoints),
                "mean_once": float(once.mean()) if len(once) else None,
                "mean_retrained": float(re.mean()) if len(re) else None,
                "never_worse": bool(np.all(re >= once - 1e-12)),
                "better_on_average": bool(re.mean() > once.mean()) if len(re) else False,
                "promotions": sum(c.decision == "promoted" for c in self.checkpoints),
                "max_retrain_seconds": max((c.retrain_seconds for c in self.checkpoints), default=0.0)}

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "metric": self.metric, "warmup_events": self.warmup_events,
                "summary": self.summary(), "checkpoints": [asdict(c) for c in self.checkpoints]}


def window_cases(rows: Sequence[EventRow], items: Vocabulary) -> EvalCases:
    """Every prefix of each owner's events (in time order) predicting the owner's next item."""
    by_owner: dict[str, list[tuple[float, int]]] = {}
    for r in rows:
        owner = r.user if r.user is not None else r.session
        if owner is None or r.item is None:
            continue
        by_owner.setdefault(owner, []).append((r.ts or 0.0, items.index(r.item)))
    hist: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for seq in by_owner.values():
        ids = [i for _, i in sorted(seq, key=lambda x: x[0])]
        for k in range(1, len(ids)):
            hist.append(np.asarray(ids[:k], np.int32))
            targets.append(np.asarray(ids[k:k + 1], np.int32))
    return EvalCases(np.full(len(hist), -1, np.int32), Sequences.from_lists(hist), Sequences.from_lists(targets))


def prequential_replay(events: Sequence[EventRow], store: Any, registry: ModelRegistry, model: str = "itemknn", *,
                       warmup_s: float, every_s: float, config: RetrainConfig | None = None,
                       max_cases: int | None = 5000, metric: str = "mrr@20", say: Say = lambda _m: None) -> ReplayReport:
    """Replay ``events`` (any order: sorted by time here) into the empty ``store``; see the module doc."""
    cfg = config or RetrainConfig.model_validate({})
    rows = sorted((r for r in events if r.ts is not None), key=lambda r: float(r.ts or 0.0))
    if not rows:
        raise ValueError("prequential replay needs timestamped events")
    universe = Vocabulary(dict.fromkeys(r.item for r in rows if r.item is not None))
    store.write_items([ItemRow(ext, f"item {ext}") for ext in universe.ids])
    t0 = float(rows[0].ts or 0.0)
    times = np.array([float(r.ts or 0.0) for r in rows])
    first = int(np.searchsorted(times, t0 + warmup_s))
    _write(store, rows[:first])
    d = retrain(store, registry, model, cfg, say=say)
    once = registry.get(model, d.challenger or "")
    report = ReplayReport(model, metric, first)
    lo = first
    while lo < len(rows):
        start = float(times[lo])
        hi = int(np.searchsorted(times, start + every_s))
        window = rows[lo:hi]
        cases = subsample_cases(window_cases(window, universe), max_cases, 0)
        live = registry.current(model)
        assert live is not None
        if len(cases):
            ts = TrainingSet(universe, TrainData(len(universe), Sequences.from_lists([])), "session-prefix/replay",
                             cases, {}, sessions=True)
            a = score_version(once, ts, None)
            b = a if live.version == once.version else score_version(live, ts, None)
        else:
            a = b = {}
        _write(store, window)
        started = time.perf_counter()
        dec = retrain(store, registry, model, cfg, say=say)
        took = round(time.perf_counter() - started, 2)
        if len(cases):
            report.checkpoints.append(Checkpoint(start, float(times[hi - 1]), len(window), len(cases), a, b,
                                                 live.version, dec.outcome, took))
            say(f"window {len(report.checkpoints)}: {len(window):,} events, {len(cases):,} cases: once "
                f"{a[metric]:.4f}, retrained ({live.version}) {b[metric]:.4f}; retrain: {dec.outcome} in {took:.1f} s")
        lo = hi
    return report


def _write(store: Any, rows: Sequence[EventRow]) -> None:
    block = EventBlock()
    for r in rows:
        block.append(r._replace(split=None))  # live events carry no benchmark split
    store.write_events(block)


def plot_replay(report: ReplayReport, path: Path) -> Path:
    """The metric per window for both models (matplotlib, PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(1, len(report.checkpoints) + 1)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(x, [c.once[report.metric] for c in report.checkpoints], "o-", label="trained once")
    ax.plot(x, [c.retrained[report.metric] for c in report.checkpoints], "s-", label="retrained (gated)")
    for xi, c in zip(x, report.checkpoints, strict=True):
        if c.decision == "promoted":
            ax.axvline(xi + 0.5, color="grey", alpha=0.2)
    ax.set_xlabel("window (prequential: scored before it is stored)")
    ax.set_ylabel(report.metric)
    ax.set_title(f"{report.model}: retrained vs trained once")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
