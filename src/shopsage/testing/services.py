"""Local services in tests: skip with a message when absent, fail under CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["require_service"]


def require_service(name: str, reason: str) -> NoReturn:
    """Skip the test because ``name`` is unavailable, except under ``CI=true`` where that fails it."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI but unavailable: {reason}")
    pytest.skip(f"{name} unavailable ({reason}); start it to run these tests")
