"""Continuous retraining: the challenger is judged against the champion on events neither saw, is
promoted only when it wins, the champion stays for rollback, and every decision is recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsage.data.stores import open_store
from shopsage.recommend import create
from shopsage.registry import ModelRegistry
from shopsage.testing.drift_shop import drift_items, write_phase
from shopsage.training import prepare, register_recommender
from shopsage.training.retrain import RetrainConfig, fresh_tail, read_decisions, retrain


@pytest.fixture()
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    s.write_items(drift_items())
    yield s
    s.close()


def _champion(store, reg: ModelRegistry) -> str:  # type: ignore[no-untyped-def]
    """What the service builds on start: item-kNN on every stored event, promoted."""
    ts = prepare(store, holdout=False)
    model = create("itemknn").fit(ts.data)
    v = register_recommender(reg, model, ts.items, promote=True, holdout=False, metrics={}, data=ts.describe())
    return v.version


def test_a_challenger_that_learned_the_new_behaviour_is_promoted(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg = ModelRegistry(tmp_path / "models")
    t = write_phase(store, "old", range(0, 200), 0.0)
    first = _champion(store, reg)
    through = reg.current("itemknn").manifest["data"]["through_event"]  # type: ignore[union-attr]
    write_phase(store, "new", range(200, 400), t, seed=1)
    d = retrain(store, reg, "itemknn", RetrainConfig(max_test_cases=None))
    assert d.outcome == "promoted" and d.champion == first and reg.current("itemknn").version == d.challenger  # type: ignore[union-attr]
    # judged on the newest half of the new events: owners u300.. (one run each), never trained on
    assert d.tail["champion_through"] == through and d.tail["cases"] == 100
    assert d.challenger_metrics["ndcg@10"] > 0.5 > d.champion_metrics["ndcg@10"]
    assert d.champion_metrics["ndcg@10"] == 0.0  # the old model has never seen an n-item
    assert reg.previous("itemknn") == first  # kept for rollback
    assert reg.rollback("itemknn").version == first
    log = read_decisions(reg.root, "itemknn")
    assert [r["outcome"] for r in log] == ["promoted"] and log[0]["challenger"] == d.challenger


def test_no_retrain_without_enough_new_events_and_no_promotion_without_a_win(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg = ModelRegistry(tmp_path / "models")
    t = write_phase(store, "old", range(0, 200), 0.0)
    _champion(store, reg)
    skipped = retrain(store, reg, "itemknn")
    assert skipped.outcome == "skipped" and "new events" in skipped.reason
    # more of the same behaviour, and a challenger configured worse (one neighbour per item)
    write_phase(store, "old", range(200, 300), t, seed=2)
    d = retrain(store, reg, "itemknn", RetrainConfig(max_test_cases=None, params={"neighbors": 1}))
    assert d.outcome == "kept", d
    assert d.challenger_metrics["ndcg@10"] <= d.champion_metrics["ndcg@10"]
    assert reg.current("itemknn").version == "v0001"  # type: ignore[union-attr]
    assert "not better" in d.reason
    assert [r["outcome"] for r in read_decisions(reg.root)] == ["skipped", "kept"]


def test_the_fresh_tail_never_overlaps_training(store) -> None:  # type: ignore[no-untyped-def]
    t = write_phase(store, "old", range(0, 50), 0.0)
    write_phase(store, "new", range(50, 100), t, seed=3)
    through = 50 * 4  # the old phase's events (ids 1..200)
    ts = fresh_tail(store, through, RetrainConfig(tail_fraction=0.5))
    assert ts is not None and ts.test is not None and ts.through_event == through + 100
    assert int(ts.data.sequences.lengths.sum()) == 300  # old phase + the first half of the new one
    assert len(ts.test) == 25  # owners u75..u99: each predicts its last item from its first three
    assert np.all(ts.test.history.lengths == 3)
    last = fresh_tail(store, None, RetrainConfig(first_tail_fraction=0.001))  # the newest event alone is the tail
    assert last is not None and last.test is not None and len(last.test) == 1
    assert last.test.history.lengths.tolist() == [3]  # its owner's earlier events (trained on) are the history
    assert fresh_tail(store, 400, RetrainConfig()) is None


def test_a_dry_run_registers_but_does_not_promote(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg = ModelRegistry(tmp_path / "models")
    t = write_phase(store, "old", range(0, 100), 0.0)
    _champion(store, reg)
    write_phase(store, "new", range(100, 200), t, seed=1)
    d = retrain(store, reg, "itemknn", RetrainConfig(promote=False))
    assert d.outcome == "kept" and "dry run" in d.reason
    assert reg.current("itemknn").version == "v0001" and len(reg.versions("itemknn")) == 2  # type: ignore[union-attr]
