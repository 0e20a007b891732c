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
