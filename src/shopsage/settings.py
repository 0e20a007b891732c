"""Process-wide settings, read from ``SHOPSAGE_*`` environment variables.

| variable | meaning | default |
| --- | --- | --- |
| ``SHOPSAGE_DATA_DIR`` | folder with the real data sets (see ``../shared/data/README.md``) | ``../shared/data`` |
| ``SHOPSAGE_STORE`` | store URL used when a command gets no ``--store`` | ``sqlite:///<home>/shop.db`` |
| ``SHOPSAGE_HOME`` | the shop's home: default store ``shop.db``, registry ``models/``, ``cache/`` (``--home`` overrides) | ``var`` |
| ``SHOPSAGE_ENCODER`` | sentence-transformers directory replacing the default encoder | the packaged all-MiniLM-L6-v2 |
| ``SHOPSAGE_API_KEYS`` | comma-separated write/admin API keys | none (open, loopback only) |
| ``SHOPSAGE_READ_KEYS`` | comma-separated read-only API keys | none |
| ``SHOPSAGE_ADMIN_KEYS`` | comma-separated admin API keys (catalogue writes, models, reload, user deletion; also write and read) | none: write keys are admin keys |
| ``SHOPSAGE_RAW_IDS`` | ``1``: store user and session ids as given instead of pseudonymising them | ``0`` |
| ``SHOPSAGE_ID_KEY`` | key (hex or base64, >= 16 bytes) of the id pseudonyms and shopper tokens (``privacy/ids.py``) | ``<home>/secrets/id.key``, created once |
| ``SHOPSAGE_ID_KEY_PREVIOUS`` | the previous id key during a key rotation | none |
| ``SHOPSAGE_RATE_LIMIT_KEY`` | requests per second allowed per API key (0: no limit) | ``0`` |
| ``SHOPSAGE_RATE_LIMIT_ADDRESS`` | requests per second allowed per client address (0: no limit) | ``0`` |
| ``SHOPSAGE_RATE_BURST`` | requests a client may send at once (the bucket size) | ``2 x rate``, at least 10 |
| ``SHOPSAGE_READ_TIMEOUT`` | seconds a request body may take to arrive before 408 | ``30`` |
| ``SHOPSAGE_REQUEST_THREADS`` | threads of a worker running the routes' service work | ``1`` |
| ``SHOPSAGE_CORS_ORIGINS`` | comma-separated origins allowed to call the API from a browser (``*``: any) | none (CORS off) |
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from shopsage.errors import ConfigError

__all__ = ["Settings", "get_settings", "ENV_VARS"]

ENV_VARS = {
    "data_dir": "SHOPSAGE_DATA_DIR",
    "store": "SHOPSAGE_STORE",
    "home": "SHOPSAGE_HOME",
    "encoder": "SHOPSAGE_ENCODER",
    "api_keys": "SHOPSAGE_API_KEYS",
    "read_keys": "SHOPSAGE_READ_KEYS",
    "admin_keys": "SHOPSAGE_ADMIN_KEYS",
    "raw_ids": "SHOPSAGE_RAW_IDS",
    "rate_limit_key": "SHOPSAGE_RATE_LIMIT_KEY",
    "rate_limit_address": "SHOPSAGE_RATE_LIMIT_ADDRESS",
    "rate_burst": "SHOPSAGE_RATE_BURST",
    "read_timeout": "SHOPSAGE_READ_TIMEOUT",
    "request_threads": "SHOPSAGE_REQUEST_THREADS",
    "cors_origins": "SHOPSAGE_CORS_ORIGINS",
}
_LISTS = ("api_keys", "read_keys", "admin_keys", "cors_origins")


class Settings(BaseModel):
    """Settings shared by the CLI, the service and the benchmarks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(Path("../shared/data"), description="Folder holding the real data sets.")
    store: str | None = Field(None, description="Default store URL; None: sqlite:///<home>/shop.db.")
    home: Path = Field(Path("var"), description="The shop's home: default store, model registry and caches.")
    encoder: str | None = Field(None, description="Sentence-transformers model directory; None = packaged MiniLM.")
    api_keys: tuple[str, ...] = Field((), description="Write API keys (admin keys too while no admin keys are set).")
    read_keys: tuple[str, ...] = Field((), description="Read-only API keys.")
    admin_keys: tuple[str, ...] = Field((), description="Admin API keys; none: write keys are admin keys.")
    raw_ids: bool = Field(False, description="Store user and session ids as given, not pseudonymised.")
    rate_limit_key: float = Field(0.0, ge=0, allow_inf_nan=False, description="Requests per second per API key; 0: off.")
    rate_limit_address: float = Field(0.0, ge=0, allow_inf_nan=False,
                                      description="Requests per second per client address; 0: off.")
    rate_burst: int | None = Field(None, ge=1, description="Bucket size of the rate limit; None: 2 x rate, >= 10.")
    read_timeout: float = Field(30.0, gt=0, allow_inf_nan=False, description="Seconds a request body may take to arrive before 408.")
    request_threads: int = Field(1, ge=1, le=64, description="Threads of one worker that run the routes' service work "
                                 "(off the event loop). 1: requests run one at a time, as the GIL would have them; "
                                 "more only oversubscribe the cores (measured in docs/benchmarks.md).")
    cors_origins: tuple[str, ...] = Field((), description="Origins allowed by CORS; empty: CORS off.")


def _split_keys(value: str | None) -> tuple[str, ...]:
    return tuple(k.strip() for k in (value or "").split(",") if k.strip())


def get_settings(environ: dict[str, str] | None = None) -> Settings:
    """Settings from the environment (``os.environ`` unless another mapping is given)."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field, var in ENV_VARS.items():
        if var not in env or env[var] == "":
            continue
        values[field] = _split_keys(env[var]) if field in _LISTS else env[var]
    try:
        return Settings.model_validate(values)
    except PydanticValidationError as exc:
        problems = "; ".join(f"{ENV_VARS.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else ''}: {e['msg']}"
                             for e in exc.errors())
        raise ConfigError(f"{problems}. See the table of SHOPSAGE_* variables in shopsage/settings.py.") from exc
