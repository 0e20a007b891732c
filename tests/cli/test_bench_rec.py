"""``shopsage bench rec`` end to end on a tiny amazon-seq folder with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopsage.cli.main import app
from shopsage.evaluate.runner import model_names

EVAL_TESTS = Path(__file__).resolve().parents[1] / "evaluate"
TOY = "toy_models:NextItem"
runner = CliRunner()


@pytest.fixture()
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(EVAL_TESTS))  # the spawned model processes inherit sys.path
    from toy_models import offset_sequences, write_amazon_seq

    return write_amazon_seq(tmp_path / "shop", offset_sequences(n_users=8, n_items=10), n_items=10)


def test_bench_rec_report_table_and_plot(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "rec.json"
    res = runner.invoke(app, ["bench", "rec", "--data", str(shop), "--format", "amazon-seq", "--models", TOY,
                              "--json", str(out), "--ks", "1,2,10", "--sampled", "5"])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["dataset"] == "shop" and report["protocol"] == "leave-one-out" and report["filter_seen"] is True
    assert (report["n_items"], report["n_test_cases"], report["n_valid_cases"]) == (10, 8, 8)
    m = report["models"][TOY]
    assert m["status"] == "ok"
    # the test target is two after the history's last item: rank 2 for every user
    assert (m["hr@1"], m["hr@2"], m["mrr@10"]) == (0.0, 1.0, 0.5)
    assert m["train_seconds"] >= 0 and m["peak_rss_mb"] > 0
    assert "sampled-5/hr@1" in m and "sampled-5" in report["ranking"]
    md = out.with_suffix(".md").read_text()
    assert md.splitlines()[2].startswith("| model | hr@10 | ndcg@10 | mrr@10 | sampled-5/hr@1 |")
    assert TOY in md and out.with_suffix(".png").stat().st_size > 1000
    assert "shopsage bench rec" in report["command"]


def test_bench_rec_tunes_on_validation_and_reports_refusals(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec.json"
    res = runner.invoke(app, ["bench", "rec", "--data", str(shop), "--format", "amazon-seq", "--models", TOY,
                              "--json", str(out), "--ks", "1,2", "--tune", "6", "--tune-metric", "hr@1"])
    assert res.exit_code == 0, res.output
    m = json.loads(out.read_text())["models"][TOY]
    assert m["params"]["offset"] == 1 and m["tuning"]["best_value"] == 1.0  # chosen on validation, not test
    assert m["tuning"]["metric"] == "valid/hr@1" and len(m["tuning"]["trials"]) == 6
    res = runner.invoke(app, ["bench", "rec", "--data", str(shop), "--format", "amazon-seq", "--models", f"toy={TOY}",
                              "--json", str(out), "--params", json.dumps({"toy": {"max_items": 5}})])
    assert res.exit_code == 0, res.output
    m = json.loads(out.read_text())["models"]["toy"]  # reported under its label
    assert m["status"] == "refused" and "max_items=5" in m["message"]
    assert "refused" in out.with_suffix(".md").read_text()


def test_bench_rec_clear_errors(shop: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["bench", "rec", "--data", str(shop), "--format", "amazon-seq", "--models", "nope",
                              "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 2 and "unknown model 'nope'" in res.output
    res = runner.invoke(app, ["bench", "rec", "--data", str(shop), "--format", "amazon-seq", "--models", TOY,
                              "--json", str(tmp_path / "r.json"), "--protocol", "session-prefix"])
    assert res.exit_code == 2 and "split='test'" in res.output
    res = runner.invoke(app, ["bench", "rec", "--data", str(shop), "--format", "amazon-seq", "--models", TOY,
                              "--json", str(tmp_path / "r.json"), "--params", "{bad"])
    assert res.exit_code == 2 and "--params is not JSON" in res.output
    res = runner.invoke(app, ["bench", "rec", "--data", str(shop), "--format", "amazon-seq", "--models", TOY,
                              "--json", str(tmp_path / "r.json"), "--tune-trials", '{"x": "many"}'])
    assert res.exit_code == 2 and "--tune-trials must be a JSON object of model names to numbers" in res.output
    res = runner.invoke(app, ["bench", "rec", "--data", str(shop), "--format", "amazon-seq", "--models", TOY,
                              "--json", str(tmp_path / "r.json"), "--ks", "10,x"])
    assert res.exit_code == 2 and "must be positive whole numbers" in res.output


@pytest.mark.skipif(not {"pop", "itemknn"} <= set(model_names()), reason="pop/itemknn not registered yet")
def test_bench_rec_real_models(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec.json"
    res = runner.invoke(app, ["bench", "rec", "--data", str(shop), "--format", "amazon-seq",
                              "--models", "pop,itemknn", "--json", str(out)])
    assert res.exit_code == 0, res.output
    models = json.loads(out.read_text())["models"]
    assert all(models[n]["status"] == "ok" and 0.0 <= models[n]["ndcg@10"] <= 1.0 for n in ("pop", "itemknn"))


@pytest.mark.slow
@pytest.mark.skipif(not {"sasrec", "gru4rec"} <= set(model_names()), reason="sequential models not registered")
def test_bench_rec_sequential_models(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec.json"
    small = {"epochs": 2, "embedding_dim": 8, "max_len": 5, "threads": 1}
    res = runner.invoke(app, ["bench", "rec", "--data", str(shop), "--format", "amazon-seq", "--models", "sasrec,gru4rec",
                              "--json", str(out), "--params", json.dumps({"sasrec": small, "gru4rec": small})])
    assert res.exit_code == 0, res.output
    models = json.loads(out.read_text())["models"]
    assert all(models[n]["status"] == "ok" and models[n]["params"]["epochs"] == 2 for n in ("sasrec", "gru4rec"))
