"""``shopsage bench serve``: the served pipeline scored through the service equals the model it serves."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from shopsage.serving.bench import ServeBenchConfig, run_serve_bench

ROOT = Path(__file__).resolve().parents[2]


def _data(folder: Path) -> Path:
    """An amazon-seq folder: 60 shoppers buying within one of three groups of 12 items."""
    folder.mkdir()
    items = [f"I{g}{i:02d}" for g in range(3) for i in range(12)]
    (folder / "item_titles.txt").write_text("".join(f"{i} item {i} of group {i[1]}\n" for i in items), encoding="utf-8")
    rng = random.Random(0)
    lines = []
    for u in range(60):
        group = [i for i in items if i[1] == str(u % 3)]
        lines.append(" ".join([f"U{u}", *rng.sample(group, 6)]))
    (folder / "user_sequence.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _pipelines(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "pipelines.toml").read_text(encoding="utf-8")
    start = text.index("[scenarios.for_you]")
    end = text.index("[scenarios.", start + 5)
    only = ('[scenarios.for_you]\ncandidates = [{ kind = "model", model = "itemknn", n = 100 }]\n'
            'exclude = ["out_of_stock", "hidden", "purchased", "seen"]\ndiversity = { method = "none" }\n\n')
    path = tmp_path / "pipelines.toml"
    path.write_text(text[:start] + only + text[end:], encoding="utf-8")
    return path


@pytest.mark.timeout(120)
def test_a_pipeline_of_one_model_scores_exactly_that_model(tmp_path: Path) -> None:
    cfg = ServeBenchConfig(scenario="for_you", data=str(_data(tmp_path / "data")), format="amazon-seq",
                           home=tmp_path / "home", pipelines=_pipelines(tmp_path), latency_requests=0)
    report = run_serve_bench(cfg)
    assert report["n_scored"] == 60 and report["protocol"] == "leave-one-out"
    assert report["served"] == report["models_alone"]["itemknn"]
    assert report["served"]["hr@10"] > 0.3  # the groups are learnable: a broken run would score ~0
    assert report["latency_ms"]["requests"] == 60
    again = run_serve_bench(cfg)  # the home is reused: nothing retrained, the same figures
    assert again["served"] == report["served"] and again["live_models"] == report["live_models"]


def test_the_default_pipeline_scores_at_least_its_best_model_here(tmp_path: Path) -> None:
    cfg = ServeBenchConfig(scenario="for_you", data=str(_data(tmp_path / "data")), format="amazon-seq",
                           home=tmp_path / "home", params={"sasrec": {"epochs": 2}}, latency_requests=0)
    report = run_serve_bench(cfg)
    assert set(report["models_alone"]) == {"itemknn", "ease", "sasrec"}
    assert report["served"]["hr@20"] >= max(m["hr@20"] for m in report["models_alone"].values()) - 0.05
