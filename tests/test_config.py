from __future__ import annotations

from pathlib import Path

import pytest

from shopsage.config import load_config
from shopsage.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "shopsage.example.toml"


def test_example_config_is_valid_and_complete() -> None:
    cfg = load_config(EXAMPLE, environ={})
    assert cfg.store.url == "sqlite:///var/shop.db" and cfg.import_.batch_size == 20_000
    text = EXAMPLE.read_text()
    for section, model in (("store", cfg.store), ("import", cfg.import_), ("paths", cfg.paths)):
        assert f"[{section}]" in text
        for key in type(model).model_fields:
            assert f"\n{key} = " in text, f"{section}.{key} is not documented in the example"


def test_env_overrides_file() -> None:
    cfg = load_config(EXAMPLE, environ={"SHOPSAGE_STORE": "postgresql://h/db"})
    assert cfg.store.url == "postgresql://h/db"


def test_unknown_key_is_refused_with_pointer(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("[import]\nbatchsize = 5\n")
    with pytest.raises(ConfigError, match=r"import\.batchsize.*example"):
        load_config(bad, environ={})
