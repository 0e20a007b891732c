"""schemathesis fuzzes every operation of the OpenAPI schema (15 examples an operation): no 5xx,
and every 2xx body matches its documented schema."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from shopsage.api import Keys, create_app
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop

_DIR = Path(tempfile.mkdtemp(prefix="shopsage-fuzz-"))


def _app():  # type: ignore[no-untyped-def]
    url = f"sqlite:///{_DIR / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=_DIR / "home", reload_interval_s=0)).start()
    return create_app(svc, Keys())


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if response.status_code < 300 and case.path != "/metrics":
        case.validate_response(response)
