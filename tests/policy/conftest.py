"""A service over the synthetic shop for the explore stage's tests (as ``tests/serving/conftest.py``,
whose fixtures pytest shares only below that folder)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop


@pytest.fixture()
def make_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    made: list[Service] = []
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()

    def make(**options: object) -> Service:
        opts = ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0, trending_cache_s=0.0,
                              segments=False, **options)  # type: ignore[arg-type]
        svc = Service(opts).start()
        made.append(svc)
        return svc

    yield make
    for s in made:
        if s.started:
            s.close()


@pytest.fixture()
def svc(make_service: Callable[..., Service]) -> Service:
    return make_service()
