"""``shopsage demo`` on the real Amazon Scientific data (slow: import and training take a while)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shopsage.registry import ModelRegistry


@pytest.mark.slow
def test_demo_imports_scientific_and_trains_the_fast_models(data_dir: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "shopsage.cli.main", "demo", "--data", str(data_dir), "--home", str(tmp_path), "--no-serve"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert "read 63,812 = accepted 63,812" in out.stdout  # 4,385 items + 59,427 events
    reg = ModelRegistry(tmp_path / "models")  # one home: <home>/shop.db and <home>/models
    assert reg.current("itemknn") is not None and (tmp_path / "shop.db").is_file()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900)  # idempotent
    assert again.returncode == 0 and "already in the registry" in again.stdout
    assert "accepted 0 + already present 63,812" in again.stdout
