"""When the service retrains: after a count of new events, a period, or a drift monitor over its threshold.

The retrain itself is ``shopsage models retrain`` in a child process at low priority (``--nice``)
with one BLAS/OpenMP thread (:func:`child_env`): training holds the GIL for seconds at a time, and
in a thread of the serving process it would stall every request of that worker; as a process it
competes only for a core, and one thread leaves the other cores to the server (with numpy's
default of a thread per core, a retrain beside the server on 2 cores doubled its p99). The child writes the registry; the service's reload loop serves the
promoted version like any other promotion. Off by default (:class:`RetrainSchedule` with nothing set
never starts anything); one child at a time.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shopsage.data.schema import Event
from shopsage.serving.drift import DriftMonitor

__all__ = ["RetrainSchedule", "child_env"]

log = logging.getLogger("shopsage.retrain")

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def child_env(threads: int = 1) -> dict[str, str]:
    """The environment of a retrain child: this one with every numeric library limited to ``threads``
    (set before the child imports numpy, which reads them once)."""
    return {**os.environ, **{v: str(threads) for v in _THREAD_VARS}}


class RetrainSchedule:
    """Counts events, watches the clock and the drift monitors, starts the retrain child when due."""

    def __init__(self, home: Path, store_url: str, *, every_events: int = 0, every_s: float = 0.0,
                 on_drift: bool = False, drift: DriftMonitor | None = None, nice: int = 10, threads: int = 1) -> None:
        self.home, self.store_url = Path(home), store_url
        self.every_events, self.every_s, self.on_drift = every_events, every_s, on_drift
        self.drift, self.nice, self.threads = drift, nice, threads
        self._lock = threading.Lock()
        self.new_events = 0
        self.last_start = time.monotonic()
        self.child: subprocess.Popen[bytes] | None = None
        self.started = 0
        self.last_reason: str | None = None

    @property
    def enabled(self) -> bool:
        return self.every_events > 0 or self.every_s > 0 or self.on_drift

    def observe(self, events: Sequence[Event]) -> None:
        """Count stored events (an ingest listener)."""
        with self._lock:
            self.new_events += len(events)

    def due(self) -> str | None:
        """Why a retrain is due now, or None."""
        if self.every_events > 0 and self.new_events >= self.every_events:
            return f"{self.new_events:,} new events (every {self.every_events:,})"
        if self.every_s > 0 and time.monotonic() - self.last_start >= self.every_s:
            return f"{self.every_s:g} s since the last retrain"
        if self.on_drift and self.drift is not None:
            over = self.drift.over()
            if over:
                return "drift: " + "; ".join(over)
        return None

    def running(self) -> bool:
        return self.child is not None and self.child.poll() is None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "shopsage.cli.main", "models", "retrain", "--home", str(self.home),
                "--store", self.store_url, "--nice", str(self.nice)]

    def tick(self) -> bool:
        """Start the retrain child when one is due and none runs; True when it started one."""
        if not self.enabled or self.running():
            return False
        reason = self.due()
        if reason is None:
            return False
        with self._lock:
            self.new_events = 0
        self.last_start = time.monotonic()
        self.last_reason = reason
        log.info("retraining (%s): %s", reason, " ".join(self.command()))
        out = open(self.home / "retrain.log", "ab")  # noqa: SIM115 - the child owns it
        self.child = self.launch(out)
        out.close()
        self.started += 1
        return True

    def launch(self, out: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
        """Start the retrain child (nice'd, one numeric thread); its output goes to ``out``."""
        return subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                env=child_env(self.threads))

    def stop(self) -> None:
        """Wait briefly for a running child (it finishes its write or is left to finish alone)."""
        if self.running():
            assert self.child is not None
            try:
                self.child.wait(timeout=1)
            except subprocess.TimeoutExpired:
                log.info("a retrain is still running (pid %d); it finishes on its own", self.child.pid)
