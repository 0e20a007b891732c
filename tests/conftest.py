"""Shared fixtures: data locations, stores per backend, the hypothesis CI profile."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from shopsage.testing.services import require_service

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# CI profile: no deadline (shared 2-core machines are noisy), derandomized, bounded examples.
settings.register_profile("ci", deadline=None, derandomize=True, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("dev", deadline=None, max_examples=30,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))

DATA_DIR = Path(os.environ.get("SHOPSAGE_DATA_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")).resolve()
PG_URL = os.environ.get("SHOPSAGE_TEST_PG", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SHOPSAGE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA_DIR.is_dir():
        require_service("../shared/data", f"{DATA_DIR} does not exist")
    return DATA_DIR


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'shop.db'}"


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A PostgreSQL store URL in a schema of its own, dropped afterwards."""
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "server absent"
        require_service("PostgreSQL", str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__)
    schema = f"ss_test_{uuid.uuid4().hex[:12]}"
    url = f"{PG_URL}?schema={schema}"
    yield url
    from shopsage.data.stores.postgresql import PostgresStore

    store = PostgresStore(url)
    store.drop_schema()
    store.close()
