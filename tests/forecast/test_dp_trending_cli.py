"""``shopsage bench trend --dp-epsilons``: a tiny yoochoose folder in, the private trending table out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from shopsage.cli.main import app

T0 = 1_396_310_400.0  # 2014-04-01 00:00 UTC


def _yoochoose(folder: Path, hours: int = 30) -> Path:
    """SessionId, ItemId, Time files: each hour 12 sessions click 3 of 20 items, popular ones more often."""
    rng = np.random.default_rng(1)
    w = 1.0 / np.arange(1, 21)
    lines, sid = [], 0
    for h in range(hours):
        for s in range(12):
            sid += 1
            for pos, item in enumerate(rng.choice(20, 3, p=w / w.sum())):
                lines.append(f"{sid}\t{100 + int(item)}\t{T0 + h * 3600 + 60 * s + pos}")
    folder.mkdir()
    (folder / "x_train_full.txt").write_text("SessionId\tItemId\tTime\n" + "\n".join(lines[:-30]) + "\n")
    (folder / "x_test.txt").write_text("SessionId\tItemId\tTime\n" + "\n".join(lines[-30:]) + "\n")
    return folder


def test_bench_trend_scores_private_releases(tmp_path: Path) -> None:
    data = _yoochoose(tmp_path / "yc")
    out = tmp_path / "dp.json"
    res = CliRunner().invoke(app, ["bench", "trend", "--data", str(data), "--dp-epsilons", "0.5,1e6", "--dp-repeats", "2",
                                   "--max-contributions", "2", "--k", "5", "--json", str(out)])
    assert res.exit_code == 0, res.output
    rep = json.loads(out.read_text())
    assert rep["windows"] == 6 and rep["max_contributions"] == 2 and rep["repeats"] == 2
    assert set(rep["ndcg"]) == {"trend_model", "served", "clamped", "epsilon_0.5", "epsilon_1e+06"}
    assert rep["ndcg"]["epsilon_1e+06"]["mean"] == rep["ndcg"]["clamped"]["mean"]
    assert "| epsilon_0.5 |" in out.with_suffix(".md").read_text()


def test_bad_epsilons_say_what_to_write(tmp_path: Path) -> None:
    data = _yoochoose(tmp_path / "yc", hours=26)
    for bad, says in (("0.1,x", "comma-separated positive numbers"), ("0", "positive and finite")):
        res = CliRunner().invoke(app, ["bench", "trend", "--data", str(data), "--dp-epsilons", bad,
                                       "--json", str(tmp_path / "dp.json")])
        assert res.exit_code == 2 and says in res.output, res.output
