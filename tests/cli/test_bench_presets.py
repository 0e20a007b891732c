"""`make bench` (benchmarks/run_all.py): every preset is a valid `shopsage bench` command line
writing under benchmarks/results, and every script entry exists."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import typer

from shopsage.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
SIMULATED = {"abtest"}
"""Presets that read no data set (a simulated shop)."""


def _run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_preset_parses_as_a_shopsage_bench_command(tmp_path: Path) -> None:
    run_all = _run_all()
    bench = typer.main.get_command(app).commands["bench"]  # type: ignore[attr-defined]
    presets = run_all.presets(tmp_path / "data", "postgresql://db.example/test")
    assert {"import-beauty", "import-diginetica", "search", "rec-beauty", "rec-diginetica"} <= set(presets)
    for name, argv in presets.items():
        command = bench.commands[argv[0]]
        ctx = command.make_context(f"bench {argv[0]}", list(argv[1:]))  # an unknown or missing option raises
        out = Path(ctx.params["json_out"])
        assert out.parts[:2] == ("benchmarks", "results"), name
        if name not in SIMULATED:
            assert str(tmp_path / "data") in " ".join(argv), f"{name} reads the data folder it is given"


def test_scripts_exist_and_commands_read_as_the_docs_write_them() -> None:
    run_all = _run_all()
    every = run_all.commands()
    for name, argv in run_all.SCRIPTS.items():
        assert (ROOT / argv[0]).is_file(), name
    assert set(run_all.ON_REQUEST) <= set(every)
    assert run_all.shown(every["search"]).startswith("shopsage bench search --catalog ")
    assert run_all.shown(every["peer-implicit"]).startswith("python benchmarks/peers/peer_implicit.py ")
