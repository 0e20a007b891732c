"""The [privacy] section: every key documented in the example, env override of raw_ids, bounds checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopsage.config import load_config
from shopsage.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "shopsage.example.toml"


def test_example_documents_every_privacy_key() -> None:
    cfg = load_config(EXAMPLE, environ={})
    assert cfg.privacy.raw_ids is False and cfg.privacy.dp_trending is False
    text = EXAMPLE.read_text()
    for section, model in (("privacy", cfg.privacy), ("privacy.budget", cfg.privacy.budget)):
        assert f"[{section}]" in text
        for key in type(model).model_fields:
            assert key == "budget" or f"\n{key} = " in text, f"{section}.{key} is not documented in the example"


def test_raw_ids_env_overrides_and_bad_budgets_are_refused(tmp_path: Path) -> None:
    assert load_config(EXAMPLE, environ={"SHOPSAGE_RAW_IDS": "1"}).privacy.raw_ids is True
    bad = tmp_path / "c.toml"
    bad.write_text("[privacy.budget]\nepsilon_per_release = 0\n")
    with pytest.raises(ConfigError, match=r"privacy\.budget\.epsilon_per_release"):
        load_config(bad, environ={})


def test_a_budget_that_cannot_pay_for_the_release_cadence_is_named(caplog: pytest.LogCaptureFixture,
                                                                   tmp_path: Path) -> None:
    from shopsage.config import PrivacyConfig
    from shopsage.privacy.trending import PrivateTrending

    default = PrivacyConfig.model_validate({"dp_trending": True})  # 10 / 1 per 30 days, a release an hour
    why = default.trending_shortfall()
    assert why is not None and "pays for 10 releases per 30 days" in why and "asks for 720" in why
    assert "after 10 hours" in why and "trending_release_s to at least 259200" in why
    fits = PrivacyConfig.model_validate({"dp_trending": True, "trending_release_s": 259200})
    assert fits.trending_shortfall() is None
    daily = PrivacyConfig.model_validate({"trending_release_s": 86400, "budget": {"epsilon_per_release": 0.33}})
    assert daily.trending_shortfall() is None  # 30 releases of 0.33 fit in 10
    with caplog.at_level("WARNING", logger="shopsage.privacy"):
        PrivateTrending(lambda: None, tmp_path, default)  # type: ignore[arg-type,return-value]
    assert any("pays for 10 releases" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="shopsage.privacy"):
        PrivateTrending(lambda: None, tmp_path, fits)  # type: ignore[arg-type,return-value]
    assert not caplog.records
