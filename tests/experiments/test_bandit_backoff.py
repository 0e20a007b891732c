"""A bandit refit that fails (the store is down) keeps the last fitted bandit serving and backs off: tries
1 s, 2 s, 4 s ... apart (at most ``refit_s``), one warning per try, in the background thread as on the request;
the first refit that succeeds resets the delay."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopsage.data.stores import open_store
from shopsage.errors import StoreError
from shopsage.experiments import ExperimentConfig
from shopsage.experiments.allocation import BanditAllocator
from shopsage.experiments.book import ExperimentBook, create_experiment
from shopsage.feedback.records import ExposureRow

VARIANTS = [{"name": "control"}, {"name": "wide", "pipeline": {"rrf_k": 60}}]


def _exp(**bandit: Any) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"name": "bx", "scope": "for_you", "allocation": "bandit",
                                            "variants": VARIANTS, "bandit": {"settle_s": 0, **bandit}})


class _Flaky:
    """The real store, whose log reads raise while ``down`` (the experiments table still answers)."""

    def __init__(self, store: Any) -> None:
        self.store, self.down, self.reads = store, False, 0

    def experiments(self, name: str | None = None) -> list[dict[str, Any]]:
        return self.store.experiments(name)

    def read_exposures(self, experiment: str | None = None, since: float | None = None) -> Any:
        self.reads += 1
        if self.down:
            raise StoreError("could not connect to the store: is it running?")
        return self.store.read_exposures(experiment, since)

    def read_attributed(self, experiment: str | None = None, since: float | None = None) -> Any:
        return self.store.read_attributed(experiment, since)


def _decisions(store: Any, exp: ExperimentConfig, n: int, t0: float) -> None:
    rows = [ExposureRow(f"r{k}", 1, "recommendation", "for_you", exp.name, "control", f"u{k}", None, "i0", 1.0,
                        t0 + k * 0.01, None, 0.5) for k in range(n)]
    assert store.write_exposures(rows).conflicts == []


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "shopsage.experiments" and "refitting the bandit" in r.getMessage()]


@given(st.floats(1, 86_400), st.integers(1, 80))
def test_the_delay_doubles_from_one_second_up_to_refit_s_and_a_success_resets_it(refit_s: float, failures: int) -> None:
    alloc = BanditAllocator(_exp(refit_s=refit_s))
    delays = [alloc.failed(1000.0 + k) for k in range(failures)]
    assert delays == [min(refit_s, 2.0 ** k) for k in range(failures)]
    assert alloc.retry_at == 1000.0 + failures - 1 + delays[-1] and not alloc.due(alloc.retry_at - 1e-3)
    assert alloc.due(alloc.retry_at)  # never fitted: due again once the delay is over


def test_a_failing_refit_backs_off_keeps_the_last_bandit_and_logs_once_per_try(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "shopsage.experiments")
    real = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        exp = create_experiment(real, _exp(refit_s=60))
        store = _Flaky(real)
        t0 = float(exp.created_at or 0)
        _decisions(real, exp, 3, t0)
        now = [t0 + 61]
        book = ExperimentBook(lambda: store, clock=lambda: now[0], background=False, rng=np.random.default_rng(0))
        assert book.assign("for_you", "u1", None) is not None  # fitted on the first request: 3 decisions
        alloc = book.allocator(exp)
        fitted, cutoff = alloc.bandit, alloc.cutoff
        assert fitted.bandit.n_updates == 3
        store.down = True
        now[0] += 60  # the next cutoff is due
        tries: list[float] = []
        for _ in range(400):  # 0.1 s apart: 40 s of requests
            got = book.assign("for_you", "u1", None)
            assert got is not None and got.variant in ("control", "wide") and got.probability is not None
            assert alloc.bandit is fitted and alloc.cutoff == cutoff  # the last fitted bandit keeps serving
            if len(_warnings(caplog)) > len(tries):
                tries.append(now[0])
            now[0] += 0.1
        gaps = np.diff(tries)
        assert len(tries) == 6 and store.reads == 1 + 6  # 1, 2, 4, 8, 16 s apart, not every request
        assert gaps == pytest.approx([1, 2, 4, 8, 16], abs=0.11)
        logged = _warnings(caplog)
        assert "6 in a row" in logged[-1].getMessage() and "tries again in 32 s" in logged[-1].getMessage()
        assert logged[0].exc_info and not any(r.exc_info for r in logged[1:])  # one traceback
        store.down = False
        now[0] = alloc.retry_at
        book.assign("for_you", "u1", None)
        assert alloc.failures == 0 and alloc.cutoff == alloc.cutoff_at(now[0]) and alloc.bandit is not fitted
        assert len(_warnings(caplog)) == 6
    finally:
        real.close()


def test_the_background_refit_backs_off_too(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "shopsage.experiments")
    real = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        exp = create_experiment(real, _exp(refit_s=10))
        store = _Flaky(real)
        now = [float(exp.created_at or 0) + 1]
        book = ExperimentBook(lambda: store, clock=lambda: now[0], rng=np.random.default_rng(0))
        assert book.assign("for_you", "u1", None) is not None
        alloc = book.allocator(exp)
        store.down = True
        now[0] += 20
        assert book.assign("for_you", "u1", None) is not None  # due: answered at once, the refit fails in a thread
        deadline = time.monotonic() + 10
        while not _warnings(caplog) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(_warnings(caplog)) == 1 and alloc.retry_at == now[0] + 1
        for _ in range(50):  # within the second: no new thread, no new read, no new line
            assert book.assign("for_you", "u1", None) is not None
        assert store.reads == 2 and len(_warnings(caplog)) == 1
    finally:
        real.close()
