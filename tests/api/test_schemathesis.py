"""schemathesis fuzzes every operation of the OpenAPI schema: no 5xx, and every 2xx body matches its
documented schema. ``SHOPSAGE_SCHEMATHESIS_EXAMPLES`` sets the examples per operation (default 15,
under a minute); the issue's goal, 0 5xx over 10,000 requests, is
``SHOPSAGE_SCHEMATHESIS_EXAMPLES=800 pytest tests/api/test_schemathesis.py`` (every operation of the schema)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection

from shopsage.api import Keys, create_app
from shopsage.privacy.ids import Pseudonymizer
from shopsage.serving.service import Service, ServiceOptions
from shopsage.settings import Settings
from shopsage.testing.shop import make_shop

EXAMPLES = int(os.environ.get("SHOPSAGE_SCHEMATHESIS_EXAMPLES", "15"))
_DIR = Path(tempfile.mkdtemp(prefix="shopsage-fuzz-"))
CALLS: dict[str, int] = {}
"""Requests sent per status class (2xx, 4xx...): the 10,000-request goal counts them."""


def _app():  # type: ignore[no-untyped-def]
    url = f"sqlite:///{_DIR / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=_DIR / "home", reload_interval_s=0)).start()
    return create_app(svc, Keys(), settings=Settings(), ids=Pseudonymizer(bytes(range(32))))


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize="SHOPSAGE_SCHEMATHESIS_EXAMPLES" not in os.environ,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call()
    kind = f"{response.status_code // 100}xx"
    CALLS[kind] = CALLS.get(kind, 0) + 1
    assert response.status_code < 500, (case.method, case.path, response.text[:500])
    if response.status_code < 300 and case.path != "/metrics":
        # negative_data_rejection is left out: on the wire a query parameter is text, and one value of
        # an array parameter is a one-element array (OpenAPI's form style), so ``category=6.5e16`` is a
        # valid category named "6.5e16" that schemathesis counts as "a number where an array belongs".
        case.validate_response(response, excluded_checks=[negative_data_rejection])


def test_every_route_is_in_the_schema() -> None:
    ops = {(op.method.upper(), op.path) for op in (r.ok() for r in schema.get_all_operations())}
    assert {("POST", "/v1/events"), ("GET", "/v1/search"), ("GET", "/v1/recommendations/{scenario}"),
            ("GET", "/v1/users/{user_id}/profile"), ("POST", "/v1/users/{user_id}/token"),
            ("DELETE", "/v1/users/{user_id}"), ("PUT", "/v1/items/{item_id}"), ("GET", "/health"),
            ("GET", "/v1/autocomplete"), ("GET", "/v1/settings"), ("PATCH", "/v1/settings")} <= ops


def teardown_module() -> None:
    """With ``SHOPSAGE_SCHEMATHESIS_REPORT=path``, write the requests sent per status class (the goal's count)."""
    out = os.environ.get("SHOPSAGE_SCHEMATHESIS_REPORT")
    if out:
        import json

        Path(out).write_text(json.dumps({"examples_per_operation": EXAMPLES, "requests": sum(CALLS.values()),
                                         "by_status_class": CALLS}, indent=1, sort_keys=True) + "\n")
