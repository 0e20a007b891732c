"""``shopsage bench retrain-time`` end to end on a tiny shop: champions, new events, the retrain child
started as the service starts it, latency before, during and after."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsage.serving.retrain_bench import retrain_timing


@pytest.mark.slow
def test_retrain_timing_runs_the_child_and_times_requests(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "shop"
    data.mkdir()
    lines = []
    for u in range(300):
        start = int(rng.integers(30))
        lines.append(f"U{u} " + " ".join(f"I{(start + k) % 30}" for k in range(6)))
    (data / "user_sequence.txt").write_text("\n".join(lines) + "\n")
    (data / "item_titles.txt").write_text("\n".join(f"I{i} thing number {i}" for i in range(30)) + "\n")
    out = retrain_timing(str(data), "amazon-seq", tmp_path / "home", ["pop", "itemknn"], latency_s=0.5)
    assert out["models"] == ["pop", "itemknn"] and out["new_events"] == 180
    assert {d["name"] for d in out["decisions"]} == {"pop", "itemknn"}
    assert out["latency_before"]["requests"] > 0 and out["latency_during"]["requests"] > 0
    assert out["threads"] == 1 and out["retrain_wall_s"] > 0
