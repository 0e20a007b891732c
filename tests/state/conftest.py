"""State backends for the tests: memory:// and the real Redis (a unique prefix per test, deleted after),
opened with URL options and an injectable clock."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from shopsage.errors import StoreError
from shopsage.state import StateStore, open_state
from shopsage.testing.services import require_service

REDIS_URL = os.environ.get("SHOPSAGE_TEST_REDIS", "redis://127.0.0.1:6379/0")


class Clock:
    """Unix seconds that move only when a test moves them (starts at the real time: Redis expires keys
    by its own clock, so a Redis test may go back in time to make a key already expired, or forward
    for anything the state itself decides)."""

    def __init__(self) -> None:
        self.start = self.t = time.time()

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def clock() -> Clock:
    return Clock()


OpenState = Callable[[str], StateStore]


@pytest.fixture(params=["memory", "redis"])
def open_with(request: pytest.FixtureRequest, clock: Clock) -> Iterator[OpenState]:
    """``open_with("session_ttl=60&...")``: a state of this backend with these URL options and ``clock``."""
    opened: list[StateStore] = []

    def make(options: str = "") -> StateStore:
        if request.param == "memory":
            st = open_state(f"memory://?{options}", clock=clock)
        else:
            prefix = f"ss_test_{uuid.uuid4().hex[:12]}"
            try:
                st = open_state(f"{REDIS_URL}?prefix={prefix}" + (f"&{options}" if options else ""), clock=clock)
            except StoreError as exc:
                require_service("Redis", str(exc))
        opened.append(st)
        return st

    yield make
    for st in opened:
        if hasattr(st, "clear"):
            st.clear()
        st.close()


@pytest.fixture()
def state(open_with: OpenState) -> StateStore:
    """A state with the default options on each backend."""
    return open_with("")
