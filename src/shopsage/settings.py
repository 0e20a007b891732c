"""Process-wide settings, read from ``SHOPSAGE_*`` environment variables.

| variable | meaning | default |
| --- | --- | --- |
| ``SHOPSAGE_DATA_DIR`` | folder with the real data sets (see ``../shared/data/README.md``) | ``../shared/data`` |
| ``SHOPSAGE_STORE`` | store URL used when a command gets no ``--store`` | ``sqlite:///<home>/shop.db`` |
| ``SHOPSAGE_HOME`` | the shop's home: default store ``shop.db``, registry ``models/``, ``cache/`` (``--home`` overrides) | ``var`` |
| ``SHOPSAGE_ENCODER`` | sentence-transformers directory replacing the default encoder | the packaged all-MiniLM-L6-v2 |
| ``SHOPSAGE_API_KEYS`` | comma-separated write/admin API keys | none (open, loopback only) |
| ``SHOPSAGE_READ_KEYS`` | comma-separated read-only API keys | none |
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Settings", "get_settings", "ENV_VARS"]

ENV_VARS = {
    "data_dir": "SHOPSAGE_DATA_DIR",
    "store": "SHOPSAGE_STORE",
    "home": "SHOPSAGE_HOME",
    "encoder": "SHOPSAGE_ENCODER",
    "api_keys": "SHOPSAGE_API_KEYS",
    "read_keys": "SHOPSAGE_READ_KEYS",
}


class Settings(BaseModel):
    """Settings shared by the CLI, the service and the benchmarks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(Path("../shared/data"), description="Folder holding the real data sets.")
    store: str | None = Field(None, description="Default store URL; None: sqlite:///<home>/shop.db.")
    home: Path = Field(Path("var"), description="The shop's home: default store, model registry and caches.")
    encoder: str | None = Field(None, description="Sentence-transformers model directory; None = packaged MiniLM.")
    api_keys: tuple[str, ...] = Field((), description="Write/admin API keys.")
    read_keys: tuple[str, ...] = Field((), description="Read-only API keys.")


def _split_keys(value: str | None) -> tuple[str, ...]:
    return tuple(k.strip() for k in (value or "").split(",") if k.strip())


def get_settings(environ: dict[str, str] | None = None) -> Settings:
    """Settings from the environment (``os.environ`` unless another mapping is given)."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field, var in ENV_VARS.items():
        if var not in env or env[var] == "":
            continue
        values[field] = _split_keys(env[var]) if field.endswith("_keys") else env[var]
    return Settings(**values)
