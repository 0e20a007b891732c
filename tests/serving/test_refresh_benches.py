"""``bench trend --refresh`` and ``bench segments --restart`` end to end on a tiny yoochoose folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from shopsage.cli.main import app

runner = CliRunner()


def _yoochoose(folder: Path) -> Path:
    """Two days of clicks by 40 sessions on 12 items (session-rec files, real-looking epoch times)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, sessions in (("train_full", range(30)), ("test", range(30, 40))):
        lines = ["SessionId\tItemId\tTime"]
        for s in sessions:
            t = 1_396_310_400.0 + s * 4000.0
            for _ in range(int(rng.integers(2, 8))):
                t += float(rng.uniform(30, 900))
                lines.append(f"{s}\t{214_536_500 + int(rng.integers(12))}\t{t:.3f}")
        (folder / f"clicks_{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_bench_trend_refresh_times_incremental_and_full_reads(tmp_path: Path) -> None:
    data, out = _yoochoose(tmp_path / "yc"), tmp_path / "trend.json"
    res = runner.invoke(app, ["bench", "trend", "--refresh", "--data", str(data), "--json", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text(encoding="utf-8"))
    stored = report["per_window"]["events_stored"]
    assert stored[-1] == report["events"] > 0 and report["windows"] == len(stored)
    assert set(report["summary"]) == {"incremental_read_s", "full_read_s", "refresh_s"}


def test_bench_segments_restart_resumes_the_same_book(tmp_path: Path) -> None:
    data, out = _yoochoose(tmp_path / "yc"), tmp_path / "segments.json"
    res = runner.invoke(app, ["bench", "segments", "--restart", "0.2", "--data", str(data), "--json", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["same_book"] is True and report["resume"].startswith("resumed") and report["shoppers"] == 40
