"""Protocols: full ranking with and without filtering, sampled negatives, identical saved splits,
tuning on validation only, one process per model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from toy_models import NextItem, offset_sequences, write_amazon_seq

from shopsage.data.importers import get_importer, run_import
from shopsage.data.splits import EvalCases, Sequences
from shopsage.data.stores import open_store
from shopsage.errors import ConfigError, ValidationError
from shopsage.evaluate.protocols import (
    EvalOptions,
    default_filter_seen,
    evaluate,
    load_split,
    make_split,
    save_split,
    slice_cases,
    subsample_cases,
)
from shopsage.evaluate.runner import ModelJob, resolve_model, run_job
from shopsage.evaluate.tuning import tune
from shopsage.recommend.base import TrainData


def _cases() -> EvalCases:
    # n_items = 5; NextItem(offset=1) ranks last+1, last+2, ... first.
    hist = Sequences.from_lists([[0, 1], [3], [4, 1]])
    targets = Sequences.from_lists([[2], [3], [4]])
    return EvalCases(np.array([0, 1, 2], np.int32), hist, targets)


def _fitted(n_items: int = 5, **cfg: int) -> NextItem:
    return NextItem(**cfg).fit(TrainData(n_items, Sequences.from_lists([[0, 1, 2]])))


def test_full_ranking_without_filtering_by_hand() -> None:
    got = evaluate(_fitted(), _cases(), 5, EvalOptions(ks=(2, 5), filter_seen=False, batch_size=2))
    # target ranks: 1, 5 (repeat of the last item), 3
    assert got["hr@2"] == pytest.approx(1 / 3)
    assert got["hr@5"] == 1.0
    assert got["mrr@5"] == pytest.approx((1 + 1 / 5 + 1 / 3) / 3)
    assert got["ndcg@5"] == pytest.approx((1 + 1 / math.log2(6) + 1 / math.log2(4)) / 3)
    assert got["auc"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)


def test_filter_seen_removes_repeated_targets() -> None:
    got = evaluate(_fitted(), _cases(), 5, EvalOptions(ks=(2, 5), filter_seen=True, batch_size=2))
    assert got["hr@5"] == pytest.approx(1 / 3)  # cases 1 and 2 ask for an item of their history
    assert got["hr@2"] == pytest.approx(1 / 3)


def test_sampled_negatives_are_labelled_and_optimistic() -> None:
    model = _fitted(n_items=50)
    hist = Sequences.from_lists([[i, i + 1] for i in range(10)])
    targets = Sequences.from_lists([[i + 4] for i in range(10)])  # full rank 3 (0-based 2)
    cases = EvalCases(np.arange(10, dtype=np.int32), hist, targets)
    got = evaluate(model, cases, 50, EvalOptions(ks=(1, 10), sampled_negatives=20, seed=1))
    assert got["hr@1"] == 0.0 and got["hr@10"] == 1.0
    assert {"sampled-20/hr@1", "sampled-20/ndcg@10", "sampled-20/mrr@10"} <= set(got)
    assert got["sampled-20/hr@10"] >= got["hr@10"] and got["sampled-20/hr@1"] >= got["hr@1"]
    again = evaluate(model, cases, 50, EvalOptions(ks=(1, 10), sampled_negatives=20, seed=1))
    assert again == got  # seeded
    with pytest.raises(ValidationError, match="unseen items"):
        evaluate(model, cases, 50, EvalOptions(sampled_negatives=49))


def test_beyond_accuracy_keys_with_training_data() -> None:
    got = evaluate(_fitted(), _cases(), 5, EvalOptions(ks=(2,)), train=Sequences.from_lists([[0, 1], [1, 2]]))
    assert {"coverage@2", "novelty@2", "ild@2", "popularity_bias@2"} <= set(got)
    assert 0 < got["coverage@2"] <= 1


def test_slices_and_samples() -> None:
    cases = _cases()
    part = slice_cases(cases, 1, 3)
    assert [part.history[b].tolist() for b in range(2)] == [[3], [4, 1]] and part.targets.items.tolist() == [3, 4]
    assert subsample_cases(cases, None) is cases
    sample = subsample_cases(cases, 2, seed=0)
    assert len(sample) == 2 and sample.targets.items.tolist() == subsample_cases(cases, 2, seed=0).targets.items.tolist()


@pytest.fixture()
def saved_split(tmp_path: Path) -> tuple[Path, object]:
    folder = write_amazon_seq(tmp_path / "shop", offset_sequences(), n_items=10)
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    run_import(store, get_importer("amazon-seq", str(folder)))
    split = make_split(store, "leave-one-out")
    with pytest.raises(ValidationError, match="timestamp"):
        make_split(store, "temporal")
    with pytest.raises(ValidationError, match="unknown protocol"):
        make_split(store, "random")
    store.close()
    return save_split(split, tmp_path / "split", item_text=[f"t{i}" for i in range(10)]), split


def test_split_round_trip_is_identical(saved_split: tuple[Path, object]) -> None:
    directory, split = saved_split
    back, text = load_split(directory)
    assert back.protocol == split.protocol and back.items == split.items and back.owners == split.owners
    for name in ("train",):
        np.testing.assert_array_equal(getattr(back, name).items, getattr(split, name).items)
    for part in ("valid", "test"):
        a, b = getattr(back, part), getattr(split, part)
        np.testing.assert_array_equal(a.owner, b.owner)
        np.testing.assert_array_equal(a.history.indptr, b.history.indptr)
        np.testing.assert_array_equal(a.targets.items, b.targets.items)
    assert text == [f"t{i}" for i in range(10)]
    users = [int(back.owners.external(o)[1:]) for o in back.test.owner]
    assert back.test.targets.items.tolist() == [(j + 5) % 10 for j in users]
    assert sorted(users) == list(range(8))


def test_tuning_sees_validation_only(saved_split: tuple[Path, object]) -> None:
    _, split = saved_split
    # validation targets are one after the history's last item, test targets two after:
    # a search that peeked at test would pick offset 2.
    result = tune(NextItem, split, n_trials=12, metric="hr@1", opts=EvalOptions(ks=(1,), beyond=False))
    assert result["params"]["offset"] == 1
    assert result["best_value"] == 1.0 and result["metric"] == "valid/hr@1"
    assert len(result["trials"]) == 12


def test_each_model_in_its_own_process(saved_split: tuple[Path, object], tmp_path: Path) -> None:
    toy_models_on_path = "toy_models:NextItem"
    directory, _ = saved_split
    job = ModelJob(toy_models_on_path, str(directory), opts=EvalOptions(ks=(1, 2)), refit_with_valid=True)
    events: list[tuple] = []
    res = run_job(job, tmp_path, events.append)
    assert res["status"] == "ok", res
    assert res["hr@1"] == 0.0 and res["hr@2"] == 1.0  # test target is two after the last item
    assert res["peak_rss_mb"] >= res["rss_before_fit_mb"] > 10
    assert res["train_seconds"] >= 0 and res["params"] == {"offset": 1, "max_items": 1000}
    assert ("phase", "toy_models:NextItem: fit", 1) in events
    assert sum(e[1] for e in events if e[0] == "advance") == 1 + 8  # the fit, then 8 test cases
    refused = run_job(ModelJob(toy_models_on_path, str(directory), config={"max_items": 5}), tmp_path)
    assert refused["status"] == "refused" and "max_items=5" in refused["message"]
    tuned = run_job(ModelJob(toy_models_on_path, str(directory), mode="tune", tune_trials=8, tune_metric="hr@1",
                             opts=EvalOptions(ks=(1,), beyond=False)), tmp_path)
    assert tuned["status"] == "ok" and tuned["params"]["offset"] == 1


def test_unknown_models_and_defaults() -> None:
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        resolve_model("nope")
    with pytest.raises(ConfigError, match="cannot load model class"):
        resolve_model("no_such_module_xyz:Model")
    assert default_filter_seen("leave-one-out") and not default_filter_seen("session-prefix-expanded")


def test_temporal_and_session_protocols_end_to_end(tmp_path: Path) -> None:
    from shopsage.data.rows import EventRow, ItemRow, RowKey

    store = open_store(f"sqlite:///{tmp_path / 't.db'}")
    store.write_items([ItemRow(x, x) for x in "abcdefgh"])  # indexes 0..7
    evs = [("u1", "a", 1.0), ("u1", "b", 2.0), ("u2", "c", 3.0), ("u2", "d", 4.0), ("u1", "e", 5.0),
           ("u2", "f", 6.0), ("u1", "g", 7.0), ("u1", "h", 8.0), ("u2", "a", 9.0), ("u2", "b", 10.0)]
    store.write_events([EventRow(RowKey("f", n, 0), "click", i, u, ts=t) for n, (u, i, t) in enumerate(evs)])
    split = make_split(store, "temporal", valid_fraction=0.1)
    # the last 10% of events (u2 buys b at t=10) is the test; u2's history before it ends with a
    got = evaluate(_fitted(n_items=8), split.test, 8, EvalOptions(ks=(1,)))
    assert len(split.test) == 1 and got["hr@1"] == 1.0 and got["recall@1"] == 1.0
    store.close()

    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.write_items([ItemRow(x, x) for x in "abcdef"])
    for line, (items, part) in enumerate([("abc", "train"), ("de", "train"), ("abcd", "test"), ("ef", "test")]):
        store.write_events([EventRow(RowKey("s", line, p), "click", x, None, f"s{line}", ordinal=p, split=part)
                            for p, x in enumerate(items)])
    expanded = make_split(store, "session-prefix-expanded", valid_fraction=0.0)
    plain = make_split(store, "session-prefix", valid_fraction=0.0)
    store.close()
    # expanded: a->b, ab->c, abc->d, e->f; plain: abc->d, e->f; NextItem(offset=1) gets each at rank 1
    assert len(expanded.test) == 4 and len(plain.test) == 2
    for s in (expanded, plain):
        got = evaluate(_fitted(n_items=6), s.test, 6, EvalOptions(ks=(1, 20), filter_seen=False))
        assert got["hr@1"] == 1.0 and got["mrr@20"] == 1.0


def test_tuning_reports_why_every_trial_was_refused(saved_split: tuple[Path, object]) -> None:
    from shopsage.errors import CapacityError

    _, split = saved_split
    with pytest.raises(CapacityError, match="every configuration was refused: NextItem refuses 10 items"):
        tune(NextItem, split, n_trials=2, metric="hr@1", opts=EvalOptions(ks=(1,)), base_config={"max_items": 5})
