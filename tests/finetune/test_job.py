"""A fine-tuning job from a shop's store to a registered version (`shopsage models finetune`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from shopsage.data.rows import EventRow, ItemRow, JudgmentRow, RowKey
from shopsage.data.stores import open_store
from shopsage.errors import ValidationError
from shopsage.finetune import FineTuneConfig, Pair, PairSet, keep_near
from shopsage.finetune.job import DevSet, FineTuneJob, dev_ndcg, run_job, split_anchors
from shopsage.registry import ModelRegistry

TITLES = ["bolt", "cask", "dune", "fern", "gust", "hive", "isle", "jolt", "kite", "lava", "moss", "nook",
          "oath", "pike", "quay", "reed", "sage", "tusk", "urn", "vale"]
QUERIES = ["zorb", "plim", "quax", "vrel", "snib", "trop", "glen", "frum", "wask", "drib", "kelp", "mirn",
           "blop", "crin", "dask", "fost", "grel", "hant", "jusp", "klor"]


def _shop(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    store = open_store(url)
    store.write_items([ItemRow(f"p{i}", t) for i, t in enumerate(TITLES)])
    events, n = [], 0
    for u in range(4):  # each user searches five words, clicks their items, then buys them in order
        for k in range(5):
            i = 5 * u + k
            n += 1
            events.append(EventRow(RowKey("e", n), "click", f"p{i}", f"u{u}", query=QUERIES[i], ts=float(n)))
    store.write_events(events)
    store.write_judgments([JudgmentRow(RowKey("j", i), QUERIES[i], f"p{i}", 3.0) for i in range(0, 20, 2)])
    store.close()
    return url


def _job(**training: object) -> FineTuneJob:
    cfg = {"method": "full", "tower": "both", "epochs": 4, "batch_size": 8, "learning_rate": 5e-3, "max_length": 16,
           "threads": 1, "eval_every": 2, "patience": 5, **training}
    return FineTuneJob(sources=["search", "judgments", "sequences"], dev_fraction=0.25, hard_negatives=1, skip_top=0,
                       training=FineTuneConfig(**cfg))  # type: ignore[arg-type]


def test_split_anchors_keeps_each_anchor_on_one_side() -> None:
    pairs = PairSet([Pair(q, f"p{i % 5}") for i, q in enumerate(QUERIES * 3)], {f"p{i}": "t" for i in range(5)}, "query-item")
    fit, dev = split_anchors(pairs, 0.3, seed=0)
    assert len(fit) + len(dev) == len(pairs) and dev.pairs and fit.pairs
    assert not {p.anchor for p in fit.pairs} & {p.anchor for p in dev.pairs}
    again, _ = split_anchors(pairs, 0.3, seed=0)
    other, _ = split_anchors(pairs, 0.3, seed=1)
    assert again.pairs == fit.pairs and other.pairs != fit.pairs  # seeded


def test_dev_ndcg_by_hand() -> None:
    items = np.eye(4, dtype=np.float32)
    anchors = np.array([[0.9, 0.1, 0, 0], [0.1, 0.2, 0.9, 0]], dtype=np.float32)
    # anchor 0 wants item 1 (ranked 2nd: 1/log2(3)); anchor 1 wants items 2 and 0 but 2 is its own item (excluded):
    # ranking 1, 0, ... puts 0 second: (1/log2(3)) / (1 + 1/log2(3))
    dev = DevSet(["a", "b"], [{"i1"}, {"i2", "i0"}], [None, "i2"])
    got = dev_ndcg(anchors, items, ["i0", "i1", "i2", "i3"], dev, k=2)
    first = 1 / np.log2(3)
    second = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert got == pytest.approx((first + second) / 2)


def test_keep_near_keeps_pairs_whose_positive_the_retriever_ranks_high() -> None:
    pairs = PairSet([Pair("a", "x"), Pair("a", "y"), Pair("b", "z")], {}, "item-item")
    ranked = {"a": ["x", "q", "y"], "b": ["z"]}
    kept = keep_near(pairs, lambda anchors: [ranked[a] for a in anchors], 2)
    assert [(p.anchor, p.positive) for p in kept.pairs] == [("a", "x"), ("b", "z")] and kept.sources["near"] == 2
    with pytest.raises(ValidationError, match="k >= 1"):
        keep_near(pairs, lambda anchors: [[] for _ in anchors], 0)


@pytest.mark.parametrize("tower", ["both", "query"])
def test_run_job_trains_on_the_store_and_registers_the_version(tiny_model: str, tmp_path: Path, tower: str) -> None:
    store = open_store(_shop(tmp_path))
    reg = ModelRegistry(tmp_path / "models")
    lines: list[str] = []
    report = run_job(store, reg, "enc", _job(tower=tower), tiny_model, str(tmp_path / "cache"), log=lines.append)
    assert report.sources["search"] == 20 and report.sources["judgments"] == 10 and report.sources["sequences"] == 16
    assert report.dev_anchors > 0 and report.pairs > 0
    assert report.zero_shot is not None and report.tuned is not None and 0 <= report.zero_shot <= 1
    assert report.tuned >= report.zero_shot  # early stopping never keeps a worse model than the base
    manifest = report.version.manifest
    assert manifest["tower"] == tower and manifest["metrics"]["dev_ndcg@10_zero_shot"] == pytest.approx(report.zero_shot)
    assert manifest["data"]["pairs"] == report.pairs and manifest["data_fingerprint"]
    training = json.loads((report.version.path / "training.json").read_text())
    assert training["history"][0]["step"] == 0 and len(training["history"]) > 1
    assert any("dev anchors" in line for line in lines)


def test_run_job_refuses_a_store_without_pairs(tiny_model: str, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(ValidationError, match="import a catalogue first"):
        run_job(store, ModelRegistry(tmp_path / "m"), "enc", _job(), tiny_model)
    store.write_items([ItemRow("p1", "bolt")])
    with pytest.raises(ValidationError, match="too few training pairs"):
        run_job(store, ModelRegistry(tmp_path / "m"), "enc", _job(), tiny_model)


def test_cli_finetune_then_list(tiny_model: str, tmp_path: Path) -> None:
    from shopsage.cli.main import app

    url = _shop(tmp_path)
    common = ["--root", str(tmp_path / "models")]
    res = CliRunner().invoke(app, ["models", "finetune", "enc", "--store", url, "--base-model", tiny_model,
                                   "--sources", "search,sequences", "--method", "full", "--tower", "query",
                                   "--epochs", "2", "--batch-size", "8", "--lr", "1e-3", "--max-length", "16",
                                   "--threads", "1", "--eval-every", "2", "--dev-fraction", "0.25", "--hard", "1",
                                   "--near", "5", "--precision", "fp32", "--one-way", "--average-from", "0.5", "--cache", str(tmp_path / "cache"),
                                   *common])
    assert res.exit_code == 0, res.output
    assert "enc v0001" in res.output and "dev nDCG@10" in res.output
    (version,) = ModelRegistry(tmp_path / "models").versions("enc")
    assert version.version == "v0001" and version.manifest["data"]["sources"]["near"] == 5
    assert version.manifest["config"]["symmetric"] is False and FineTuneConfig().symmetric is True
    assert version.manifest["config"]["average_from"] == 0.5
    assert set(version.manifest["metrics"]) == {"dev_ndcg@10", "dev_ndcg@10_zero_shot", "dev_anchors"}
    bad = CliRunner().invoke(app, ["models", "finetune", "enc", "--store", url, "--method", "adapters", *common])
    assert bad.exit_code == 2 and "invalid fine-tuning settings" in bad.output and "method" in bad.output
    bad = CliRunner().invoke(app, ["models", "finetune", "enc", "--store", url, "--precision", "fp16", *common])
    assert bad.exit_code == 2 and "precision" in bad.output and "'fp16'" in bad.output
    bad = CliRunner().invoke(app, ["models", "finetune", "enc", "--store", url, "--wise", "0.5,x", *common])
    assert bad.exit_code == 2 and "--wise takes comma-separated numbers" in bad.output
    bad = CliRunner().invoke(app, ["models", "finetune", "enc", "--store", url, "--wise", "0.5", "--average-from", "0.5",
                                   *common])
    assert bad.exit_code == 2 and "average_from and wise_alphas both choose the final weights" in bad.output
