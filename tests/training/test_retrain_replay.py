"""Prequential replay: each window is scored before it is stored, the once-trained model is frozen,
the retrained one follows the gate; on a shop whose behaviour changes, retraining wins."""

from __future__ import annotations

from pathlib import Path

from shopsage.data.stores import open_store
from shopsage.registry import ModelRegistry
from shopsage.testing.drift_shop import phase_rows
from shopsage.training.prequential import plot_replay, prequential_replay, window_cases
from shopsage.vocab import Vocabulary

HOUR = 3600.0


def test_retraining_follows_a_shop_whose_behaviour_changes(tmp_path: Path) -> None:
    old, t = phase_rows("old", range(0, 100), 0.0)
    new, _ = phase_rows("new", range(100, 300), t, seed=1)
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        report = prequential_replay(old + new, store, ModelRegistry(tmp_path / "models"), "itemknn",
                                    warmup_s=400 * HOUR, every_s=100 * HOUR, max_cases=None)
    finally:
        store.close()
    s = report.summary()
    assert report.warmup_events == 400 and s["checkpoints"] == 8  # 800 new events, 100 hours (25 users) a window
    first = report.checkpoints[0]
    assert first.live_version == "v0001" and first.once == first.retrained  # nothing retrained before window 1
    assert first.once["mrr@20"] == 0.0  # the new range: unknown to the warm-up model, and to the window's own data
    assert s["never_worse"] and s["better_on_average"] and s["promotions"] >= 1
    assert s["mean_retrained"] > 0.3 > s["mean_once"]
    assert all(c.cases == 25 * 3 for c in report.checkpoints)  # every prefix of each shopper's run of four
    png = plot_replay(report, tmp_path / "replay.png")
    assert png.stat().st_size > 1000


def test_window_cases_are_every_prefix_in_time_order() -> None:
    rows, _ = phase_rows("old", range(0, 2), 0.0, run=3)
    vocab = Vocabulary(f"a{i}" for i in range(20))
    cases = window_cases(list(reversed(rows)), vocab)
    assert len(cases) == 4 and cases.history.lengths.tolist() == [1, 2, 1, 2]
    # the owners in order of first appearance (u1 first here), each one's events sorted by time again
    want = [vocab.index(rows[i].item) for i in (4, 5, 1, 2)]  # type: ignore[arg-type]
    assert cases.targets.items.tolist() == want
    assert cases.history[3].tolist() == [vocab.index(rows[0].item), vocab.index(rows[1].item)]  # type: ignore[arg-type]
