"""The configuration file (``shopsage.toml``), typed and validated.

``config/shopsage.example.toml`` documents every key; a test loads it with these models so the
example can never drift from the code. Environment variables (:mod:`shopsage.settings`) override
the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from shopsage.errors import ConfigError, describe_problems
from shopsage.experiments.definition import ExperimentConfig
from shopsage.settings import get_settings

__all__ = ["ShopSageConfig", "StoreConfig", "ImportConfig", "PathsConfig", "load_config", "read_toml", "home_store_url",
           "PrivacyConfig", "PrivacyBudget"]

STORE_FILE = "shop.db"
"""The store's file inside the home when no store URL is configured."""


def home_store_url(home: Path) -> str:
    """The default store of a home: ``sqlite:///<home>/shop.db``."""
    return f"sqlite:///{Path(home) / STORE_FILE}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreConfig(_Section):
    url: str | None = Field(None, description="Store URL: sqlite:///path.db or postgresql://...; unset: "
                            "sqlite:///<paths.home>/shop.db, the store of the home (where `shopsage demo` imports).")
    request_retention_days: float = Field(7.0, gt=0, le=3650, allow_inf_nan=False, description=(
        "Days an Idempotency-Key's record answers retries exactly once; older ones are pruned (by the service, "
        "hourly, and `shopsage store prune`) and a retry after that is a new request (data/stores/retention.py)."))


class ImportConfig(_Section):
    batch_size: int = Field(20_000, ge=1, description="Rows per transaction.")
    robot_filter_per_minute: int = Field(0, ge=0, description="Quarantine events beyond N a minute per user (0 = off).")
    strict: bool = Field(False, description="Stop at the first bad row instead of quarantining it.")


class PathsConfig(_Section):
    data_dir: Path = Field(Path("../shared/data"), description="Folder with the benchmark data sets.")
    home: Path = Field(Path("var"), description="The one home of a shop: its default store (shop.db), model "
                       "registry (models/) and caches (cache/). --home and $SHOPSAGE_HOME override it.")


class PrivacyBudget(_Section):
    """The differential-privacy budget of what a shop publishes (:mod:`shopsage.privacy.dp`): every
    release spends ``epsilon_per_release`` and is recorded in ``<home>/privacy/ledger.jsonl``; a
    release that would take the spending of the last ``period_days`` past ``epsilon_per_period`` is
    refused."""

    epsilon_per_release: float = Field(1.0, gt=0, le=10, description="Epsilon one release spends (smaller: "
                                       "noisier counts, more releases per period).")
    epsilon_per_period: float = Field(10.0, gt=0, description="Total epsilon all releases of one period may spend.")
    period_days: float = Field(30.0, gt=0, description="Length of the budget's rolling period, in days.")
    delta: float = Field(1e-6, gt=0, lt=1e-3, description="Releases whose keys are private (search queries): the "
                         "chance that a key only one shopper contributed is shown at all.")
    max_contributions: int = Field(10, ge=1, description="Distinct keys (items, queries) one shopper counts toward in "
                                   "one release, once each; the rest of a shopper's events are left out (the "
                                   "sensitivity every noise scale follows).")


class PrivacyConfig(_Section):
    raw_ids: bool = Field(False, description="Store user and session ids as given instead of their keyed "
                          "pseudonyms (privacy/ids.py); $SHOPSAGE_RAW_IDS overrides.")
    dp_trending: bool = Field(False, description="The trending generator ranks by differentially private counts "
                              "(each release spends the budget); off: exact counts.")
    trending_release_s: float = Field(3600.0, ge=60, description="dp_trending: seconds between two releases of "
                                      "the private counts (between them the last release is served, at no cost).")
    trending_window_s: float = Field(0.0, ge=0, description="dp_trending: count only the events of the last this "
                                     "many seconds before a release (0: all time).")
    budget: PrivacyBudget = Field(default_factory=lambda: PrivacyBudget.model_validate({}))

    def trending_shortfall(self) -> str | None:
        """What goes wrong when the budget pays for fewer trending releases per period than
        ``trending_release_s`` asks for (then every release past the budget is refused and the last one
        is served unchanged until the period frees budget), with what to change; None when it fits."""
        b = self.budget
        affordable = int(b.epsilon_per_period / b.epsilon_per_release + 1e-9)
        wanted = b.period_days * 86400 / self.trending_release_s
        if affordable >= wanted:
            return None
        hours = affordable * self.trending_release_s / 3600
        return (f"privacy.dp_trending: the budget pays for {affordable} releases per {b.period_days:g} days "
                f"(epsilon_per_period {b.epsilon_per_period:g} / epsilon_per_release {b.epsilon_per_release:g}) but "
                f"trending_release_s = {self.trending_release_s:g} asks for {wanted:.0f}: after {hours:.0f} hours "
                "trending serves its last release unchanged until budget frees up. Set trending_release_s to at "
                f"least {b.period_days * 86400 / max(affordable, 1):.0f}, or raise epsilon_per_period; what each epsilon "
                "costs: docs/benchmarks.md, What differential privacy costs trending.")


class ShopSageConfig(_Section):
    store: StoreConfig = Field(default_factory=StoreConfig)
    import_: ImportConfig = Field(default_factory=ImportConfig, alias="import")
    paths: PathsConfig = Field(default_factory=PathsConfig)
    privacy: PrivacyConfig = Field(default_factory=lambda: PrivacyConfig.model_validate({}))
    experiments: list[ExperimentConfig] = Field(default_factory=list, description="A/B tests created in the store "
                                                "when `shopsage serve` starts, unless the store holds one of that name.")

    def store_url(self, home: Path | None = None) -> str:
        """The configured store URL, else the store of ``home`` (default: ``paths.home``)."""
        return self.store.url or home_store_url(self.paths.home if home is None else home)


def read_toml(path: Path, what: str) -> dict[str, object]:
    """The TOML file at ``path``; a :class:`ConfigError` naming ``what`` when unreadable or invalid."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def load_config(path: Path | None = None, environ: dict[str, str] | None = None) -> ShopSageConfig:
    """The file's configuration (defaults when ``path`` is None) with environment overrides applied."""
    data: dict[str, object] = {} if path is None else read_toml(path, "the configuration")
    try:
        cfg = ShopSageConfig.model_validate(data)
    except PydanticValidationError as exc:
        problems = describe_problems(exc)
        raise ConfigError(f"{path}: {problems}. See config/shopsage.example.toml for every key.") from exc
    env = get_settings(environ)
    source = environ if environ is not None else os.environ
    if source.get("SHOPSAGE_STORE"):
        cfg.store.url = env.store
    if source.get("SHOPSAGE_DATA_DIR"):
        cfg.paths.data_dir = env.data_dir
    if source.get("SHOPSAGE_HOME"):
        cfg.paths.home = env.home
    if source.get("SHOPSAGE_RAW_IDS"):
        cfg.privacy.raw_ids = env.raw_ids
    return cfg
