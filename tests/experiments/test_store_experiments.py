"""Experiments in the store (migration 5), on every backend: create, list, stop, seed, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopsage.config import load_config
from shopsage.data.stores import open_store
from shopsage.errors import NotFoundError, ValidationError
from shopsage.experiments import ExperimentConfig
from shopsage.experiments.book import (
    ExperimentBook,
    create_experiment,
    get_experiment,
    list_experiments,
    seed_experiments,
    stop_experiment,
)


def _exp(name: str, scope: str = "for_you", **kw: object) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"name": name, "scope": scope, **kw,
                                            "variants": [{"name": "control"},
                                                         {"name": "fresh", "pipeline": {"rrf_k": 30}}]})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    return sqlite_url if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


def test_create_plans_stores_and_lists_experiments(store_url: str) -> None:
    st = open_store(store_url)
    try:
        made = create_experiment(st, _exp("a", baseline=0.05, min_lift=0.1))
        assert made.planned_units is not None and made.planned_units > 1000 and made.created_at is not None
        assert get_experiment(st, "a") == made
        with pytest.raises(ValidationError, match="already running on scope 'for_you'"):
            create_experiment(st, _exp("b"))
        create_experiment(st, ExperimentConfig.model_validate({"name": "b", "scope": "search", "variants": [
            {"name": "lexical", "search_mode": "lexical"}, {"name": "hybrid", "search_mode": "hybrid"}]}))
        assert [e.name for e in list_experiments(st)] == ["a", "b"]
    finally:
        st.close()
    other = open_store(store_url)  # another connection (another worker) sees them
    try:
        assert [e.status for e in list_experiments(other)] == ["running", "running"]
    finally:
        other.close()


def test_stop_is_idempotent_and_frees_the_scope(store_url: str) -> None:
    st = open_store(store_url)
    try:
        create_experiment(st, _exp("a"))
        first = stop_experiment(st, "a")
        assert first.status == "stopped" and first.stopped_at is not None
        assert stop_experiment(st, "a").stopped_at == first.stopped_at
        with pytest.raises(ValidationError, match="exists already"):
            create_experiment(st, _exp("a"))
        create_experiment(st, _exp("a2"))  # the scope is free again
        with pytest.raises(NotFoundError, match="no experiment named 'nope'"):
            stop_experiment(st, "nope")
    finally:
        st.close()


def test_config_seeds_only_what_the_store_lacks_and_a_stop_survives(sqlite_url: str) -> None:
    st = open_store(sqlite_url)
    try:
        assert seed_experiments(st, [_exp("a")]) == ["a"]
        stop_experiment(st, "a")
        assert seed_experiments(st, [_exp("a")]) == []
        assert get_experiment(st, "a").status == "stopped"
    finally:
        st.close()


def test_book_serves_running_experiments_by_scope(sqlite_url: str) -> None:
    st = open_store(sqlite_url)
    try:
        book = ExperimentBook(lambda: st, refresh_s=60)
        assert book.assign("for_you", "u1", None) is None
        create_experiment(st, _exp("all", scope="recommendations"))
        assert book.assign("for_you", "u1", None) is None  # not re-read yet
        book.invalidate()
        got = book.assign("similar_items", "u1", None)
        assert got is not None and got.experiment.name == "all" and got.variant in {"control", "fresh"}
        assert book.assign("search", "u1", None) is None
        create_experiment(st, _exp("fy"))
        book.invalidate()
        fy = book.assign("for_you", "u1", "s1")
        assert fy is not None and fy.experiment.name == "fy"  # the scenario's own experiment wins
        assert book.assign("for_you", None, None) is None
        forced = book.assign("for_you", "u1", None, variant="fresh")
        assert forced is not None and forced.overrides.pipeline == {"rrf_k": 30}
        with pytest.raises(ValidationError, match="not one of experiment 'fy'"):
            book.assign("for_you", "u1", None, variant="nope")
        stop_experiment(st, "fy")
        book.invalidate()
        back = book.assign("for_you", "u1", None)
        assert back is not None and back.experiment.name == "all"
    finally:
        st.close()


def test_definitions_refuse_what_cannot_be_served() -> None:
    with pytest.raises(ValueError, match="search_mode but the scope is 'for_you'"):
        ExperimentConfig.model_validate({"name": "x", "scope": "for_you", "variants": [
            {"name": "a"}, {"name": "b", "search_mode": "hybrid"}]})
    with pytest.raises(ValueError, match="appear more than once"):
        ExperimentConfig.model_validate({"name": "x", "scope": "for_you", "variants": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ValueError, match="extra"):
        ExperimentConfig.model_validate({"name": "x", "scope": "for_you", "colour": 1,
                                         "variants": [{"name": "a"}, {"name": "b"}]})


def test_the_example_configs_experiment_block_is_valid(tmp_path: Path) -> None:
    example = (Path(__file__).resolve().parents[2] / "config" / "shopsage.example.toml").read_text()
    lines = example.splitlines()
    start = lines.index("#[[experiments]]")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        if not line.startswith("##"):
            block.append(line[1:])
    cfg_file = tmp_path / "shop.toml"
    cfg_file.write_text("\n".join(block) + "\n")
    (exp,) = load_config(cfg_file, environ={}).experiments
    assert exp.scope == "for_you" and [v.name for v in exp.variants] == ["control", "wide-fusion"]
    assert exp.variants[1].pipeline == {"rrf_k": 60.0} and exp.variants[1].models == {"itemknn": "v0001"}


def test_an_unreadable_stored_definition_is_skipped_not_fatal(sqlite_url: str) -> None:
    st = open_store(sqlite_url)
    try:
        st.write_experiment({"name": "broken", "scope": "for_you", "variants": "not a list"})
        create_experiment(st, _exp("ok", scope="similar_items"))
        book = ExperimentBook(lambda: st)
        assert book.assign("for_you", "u1", None) is None
        got = book.assign("similar_items", "u1", None)
        assert got is not None and got.experiment.name == "ok"
    finally:
        st.close()
