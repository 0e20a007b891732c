"""Tests of absent services skip with a message locally and fail under CI=true."""

from __future__ import annotations

import pytest
from _pytest.outcomes import Failed, Skipped

from shopsage.testing.services import require_service


def test_skip_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(Skipped, match="PostgreSQL unavailable"):
        require_service("PostgreSQL", "connection refused")


def test_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(Failed, match="required in CI"):
        require_service("PostgreSQL", "connection refused")
