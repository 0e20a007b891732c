"""The Python garbage collector's pauses, as a Prometheus histogram (``shopsage_gc_pause_seconds``).

A collection stops every thread of the worker (it holds the GIL), so a full (generation 2) collection
over a heap of millions of objects (catalogue, histories, vocabularies) is a latency spike of every
request in flight (:meth:`~shopsage.serving.service.Service.freeze_heap` takes what was loaded at start
out of those scans). The collector's callbacks (:data:`gc.callbacks`) time each collection; the counts
are plain integers updated under the GIL, read at scrape time: a callback takes no lock, since it runs
inside whatever allocation triggered the collection, possibly while that thread holds a metrics lock.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

__all__ = ["GcPauses", "BUCKETS"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class GcPauses(Collector):
    """Per generation: how many collections fell in each bucket, their total and the longest."""

    def __init__(self) -> None:
        self.counts = [[0] * (len(BUCKETS) + 1) for _ in range(3)]
        self.sums = [0.0, 0.0, 0.0]
        self.max = [0.0, 0.0, 0.0]
        self._t0 = 0.0
        self._installed = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        took = time.perf_counter() - self._t0
        g = int(info.get("generation", 2))
        i = 0
        while i < len(BUCKETS) and took > BUCKETS[i]:
            i += 1
        self.counts[g][i] += 1
        self.sums[g] += took
        if took > self.max[g]:
            self.max[g] = took

    def install(self) -> GcPauses:
        if not self._installed:
            gc.callbacks.append(self._callback)
            self._installed = True
        return self

    def uninstall(self) -> None:
        if self._installed:
            gc.callbacks.remove(self._callback)
            self._installed = False

    def summary(self) -> dict[str, dict[str, float]]:
        """Per generation: collections, total and longest pause in milliseconds."""
        return {str(g): {"collections": sum(self.counts[g]), "total_ms": round(self.sums[g] * 1000, 2),
                         "max_ms": round(self.max[g] * 1000, 2)} for g in range(3)}

    def collect(self) -> Iterator[HistogramMetricFamily | GaugeMetricFamily]:
        fam = HistogramMetricFamily("shopsage_gc_pause_seconds", "Python garbage collector pauses by generation "
                                    "(every thread of the worker waits)", labels=["generation"])
        for g in range(3):
            cumulative, buckets = 0, []
            for bound, n in zip((*BUCKETS, float("inf")), self.counts[g], strict=True):
                cumulative += n
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            fam.add_metric([str(g)], buckets, self.sums[g])
        yield fam
        longest = GaugeMetricFamily("shopsage_gc_pause_max_seconds", "Longest garbage collector pause since the "
                                    "worker started, by generation", labels=["generation"])
        for g in range(3):
            longest.add_metric([str(g)], self.max[g])
        yield longest

