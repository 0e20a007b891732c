"""Garbage collector pauses as metrics, and ``serve`` freezing its start heap (on by default)."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable

import httpx

from shopsage.api.gc_metrics import BUCKETS, GcPauses


def test_pauses_are_timed_per_generation_and_exposed_as_a_histogram() -> None:
    pauses = GcPauses().install()
    try:
        assert pauses._callback in gc.callbacks
        for _ in range(3):
            gc.collect(2)
        gc.collect(0)
    finally:
        pauses.uninstall()
    assert pauses._callback not in gc.callbacks
    summary = pauses.summary()
    assert summary["2"]["collections"] >= 3 and summary["0"]["collections"] >= 1
    assert 0 < summary["2"]["max_ms"] <= summary["2"]["total_ms"]
    before = pauses.summary()
    gc.collect(2)  # uninstalled: no longer counted
    assert pauses.summary() == before
    families = {f.name: f for f in pauses.collect()}
    hist = families["shopsage_gc_pause_seconds"]
    g2 = [s for s in hist.samples if s.labels.get("generation") == "2"]
    buckets = [s.value for s in g2 if s.name.endswith("_bucket")]
    assert len(buckets) == len(BUCKETS) + 1 and buckets == sorted(buckets)  # cumulative
    count = next(s.value for s in g2 if s.name.endswith("_count"))
    assert buckets[-1] == count == summary["2"]["collections"]
    longest = next(s.value for s in families["shopsage_gc_pause_max_seconds"].samples if s.labels["generation"] == "2")
    assert abs(longest * 1000 - summary["2"]["max_ms"]) < 0.01


def test_served_worker_freezes_its_start_heap_and_reports_pauses(server: Callable[..., object]) -> None:
    srv = server()  # the default: frozen
    with httpx.Client(base_url=srv.base, timeout=10) as c:  # type: ignore[attr-defined]
        for _ in range(20):
            assert c.get("/v1/recommendations/for_you", params={"user": "u1", "n": 5}).status_code == 200
        text = c.get("/metrics").text
    assert 'shopsage_gc_pause_seconds_count{generation="2"}' in text
    assert re.search(r'shopsage_gc_pause_max_seconds\{generation="0"\} [0-9.e-]+', text)
    log = srv.stop()  # type: ignore[attr-defined]
    frozen = re.search(r"garbage collector: (\d+) objects loaded at start frozen", log)
    assert frozen is not None and int(frozen.group(1)) > 10_000, log[-2000:]
