from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopsage.cli.main import app
from shopsage.errors import NotFoundError, ValidationError
from shopsage.registry import ModelRegistry


def _train(reg: ModelRegistry, name: str, ndcg: float) -> str:
    path = reg.new_version_dir(name)
    (path / "weights.bin").write_bytes(b"w" * 10)
    return reg.register(name, path, "encoder", {"method": "lora"}, metrics={"ndcg@10": ndcg}, data_fingerprint="abc").version


def test_versions_promote_rollback(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    v1, v2 = _train(reg, "encoder", 0.30), _train(reg, "encoder", 0.36)
    assert (v1, v2) == ("v0001", "v0002")
    assert reg.current("encoder") is None
    reg.promote("encoder", v1)
    reg.promote("encoder", v2)
    cur = reg.current("encoder")
    assert cur is not None and cur.version == v2 and cur.manifest["metrics"]["ndcg@10"] == 0.36
    assert reg.rollback("encoder").version == v1 and reg.current("encoder").version == v1  # type: ignore[union-attr]
    with pytest.raises(NotFoundError, match="no earlier promoted version"):
        reg.rollback("encoder")
    with pytest.raises(ValidationError, match="is live"):
        reg.delete("encoder", v1)
    reg.delete("encoder", v2)
    assert [v.version for v in reg.versions("encoder")] == [v1]


def test_new_version_dir_skips_a_number_claimed_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two trainings finishing together: the directory listing is stale by the time mkdir runs."""
    reg = ModelRegistry(tmp_path)
    first = reg.new_version_dir("encoder")  # v0001, claimed by the other training
    real_glob = Path.glob
    calls = []

    def glob(self: Path, pattern: str):  # type: ignore[no-untyped-def]
        calls.append(pattern)
        return iter([]) if len(calls) == 1 else real_glob(self, pattern)  # the first listing misses v0001

    monkeypatch.setattr(Path, "glob", glob)
    second = reg.new_version_dir("encoder")
    assert (first.name, second.name) == ("v0001", "v0002") and second.is_dir()


def test_unknown_version_and_bad_name(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    _train(reg, "encoder", 0.3)
    with pytest.raises(NotFoundError, match="known: v0001"):
        reg.promote("encoder", "v0009")
    with pytest.raises(ValidationError, match="model name"):
        reg.new_version_dir("../escape")


def test_cli(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    _train(reg, "encoder", 0.30)
    _train(reg, "encoder", 0.36)
    runner = CliRunner()
    assert runner.invoke(app, ["models", "promote", "encoder", "v0001", "--root", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["models", "promote", "encoder", "v0002", "--root", str(tmp_path)]).exit_code == 0
    out = runner.invoke(app, ["models", "list", "--root", str(tmp_path)]).output
    assert "v0002" in out and "0.36" in out
    res = runner.invoke(app, ["models", "rollback", "encoder", "--root", str(tmp_path)])
    assert res.exit_code == 0 and "back to v0001" in res.output
    res = runner.invoke(app, ["models", "promote", "encoder", "v7", "--root", str(tmp_path)])
    assert res.exit_code == 2 and "no version 'v7'" in res.output
