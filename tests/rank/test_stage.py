"""The learned ranking stage served by the Service: features at training = serving, true reasons, fallback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shopsage.rank import StageFeatures, StageRanker
from shopsage.registry import ModelRegistry
from shopsage.serving.bench import ensure_models
from shopsage.serving.config import load_pipelines
from shopsage.serving.learned import generator_key, stage_input
from shopsage.serving.ranker_training import train_stage_ranker
from shopsage.serving.scenario import fused_candidates
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop

ROOT = Path(__file__).resolve().parents[2]
RANKING = 'ranking = { kind = "learned", model = "ranker-for_you" }\n'


def _pipelines(path: Path, learned: bool) -> Path:
    text = (ROOT / "config" / "pipelines.toml").read_text(encoding="utf-8")
    start = text.index("[scenarios.for_you]")
    end = text.index("[scenarios.", start + 5)
    only = ('[scenarios.for_you]\ncandidates = [{ kind = "similar_to_recent", model = "itemknn", n = 100 },\n'
            '  { kind = "model", model = "ease", n = 100 }]\nfallbacks = [{ kind = "trending", n = 100 }]\n'
            + (RANKING if learned else "")
            + 'exclude = ["out_of_stock", "hidden", "purchased", "seen"]\ndiversity = { method = "none" }\n\n')
    path.write_text(text[:start] + only + text[end:], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path, Path]]:
    """A shop with the candidate models live and a trained, promoted ``ranker-for_you``."""
    tmp = tmp_path_factory.mktemp("stage")
    url = f"sqlite:///{tmp / 'shop.db'}"
    make_shop(url).close()
    learned, plain = _pipelines(tmp / "learned.toml", True), _pipelines(tmp / "plain.toml", False)
    registry = ModelRegistry(tmp / "home" / "models")
    ensure_models(url, registry, ["itemknn", "ease"], {}, lambda _m: None)
    v = train_stage_ranker(url, registry, "for_you", {"holdout": 0.0, "ranker": {"min_data_in_leaf": 3, "epochs": 30}},
                           learned)
    registry.promote(v.name, v.version)
    yield url, tmp / "home", learned, plain


def _service(url: str, home: Path, pipelines: Path) -> Service:
    return Service(ServiceOptions(store_url=url, home=home, pipelines=pipelines, build_on_start=False,
                                  reload_interval_s=0)).start()


def test_the_version_records_simulated_clicks_and_its_generators(shop: tuple[str, Path, Path, Path]) -> None:
    cur = ModelRegistry(shop[1] / "models").current("ranker-for_you")
    assert cur is not None and cur.manifest["kind"] == "stage-ranker"
    assert cur.manifest["generators"] == ["similar_to_recent:itemknn", "model:ease"]
    assert "simulated clicks" in cur.manifest["feedback"] and cur.manifest["clicks"]["eta"] == 1.0
    assert cur.manifest["data_fingerprint"]
    assert cur.manifest["served_models"] == ["itemknn", "ease"]  # the models live when its rows were built


def test_a_ranker_trained_on_other_live_models_is_refused_and_fusion_serves(shop: tuple[str, Path, Path, Path],
                                                                            tmp_path: Path) -> None:
    """Only item-kNN live now (EASE gone): its columns would be empty at serving, unlike in training."""
    import shutil

    url, home, learned, plain = shop
    other = tmp_path / "home"
    shutil.copytree(home, other)
    shutil.rmtree(other / "models" / "ease")
    svc_plain = _service(url, other, plain)
    try:
        fusion = [it["id"] for it in svc_plain.recommend("for_you", user="u3", n=10)["items"]]
    finally:
        svc_plain.close()
    svc = _service(url, other, learned)
    try:
        out = svc.recommend("for_you", user="u3", n=10)
        why = out["stages"]["ranking"].get("why", "")
        assert out["stages"]["ranking"]["method"] == "rank_fusion" and "itemknn, ease" in why and "train it again" in why
        assert [it["id"] for it in out["items"]] == fusion
    finally:
        svc.close()


@pytest.mark.parametrize("user", ["u0", "u5", "u10", "u23"])
def test_served_order_and_reasons_equal_the_training_features(shop: tuple[str, Path, Path, Path], user: str) -> None:
    """The training path's features (fused_candidates + stage_input + StageFeatures) scored by the ranker give
    exactly the served order and the scores and contributions the reasons show."""
    url, home, learned, _ = shop
    svc = _service(url, home, learned)
    try:
        out = svc.recommend("for_you", user=user, n=10)
        assert out["stages"]["ranking"]["method"] == "learned"
        sc = load_pipelines(learned).scenario("for_you")
        sh = svc.shopper(user, None)
        lists, slots, fused = fused_candidates("for_you", sc, svc.gens, sh, svc.masks.allowed(sc.exclude, sh),
                                               {"candidates": {}})
        keys = [generator_key(g) for g in sc.candidates]
        x = StageFeatures(keys).compute(stage_input(svc.gens, sh, slots, fused, [cl for cl, _ in lists]))
        assert np.isfinite(x[:, StageFeatures(keys).names.index("category_share")]).all()  # the shop has categories
        ranker = StageRanker.load(ModelRegistry(home / "models").current("ranker-for_you").path)  # type: ignore[union-attr]
        score = ranker.predict(x)
        expected = [svc.catalog.ext(int(s)) for s in slots[np.argsort(-score, kind="stable")][:10]]
        shown = [it["id"] for it in out["items"]]
        assert shown == expected[:len(shown)]
        row_of = {svc.catalog.ext(int(s)): i for i, s in enumerate(slots.tolist())}
        for it in out["items"]:
            (why,) = [r for r in it["reasons"] if r["stage"] == "ranking"]
            i = row_of[it["id"]]
            assert why["evidence"]["score"] == pytest.approx(float(score[i]), abs=1e-5)
            assert why["evidence"]["contributions"] == {n: pytest.approx(c, abs=1e-5)
                                                        for n, c in ranker.explain(x[i:i + 1])[0]}
    finally:
        svc.close()


def test_without_a_live_ranker_the_stage_falls_back_to_rank_fusion(shop: tuple[str, Path, Path, Path],
                                                                   tmp_path: Path) -> None:
    url, home, learned, plain = shop
    svc_plain = _service(url, home, plain)
    try:
        fusion = [it["id"] for it in svc_plain.recommend("for_you", user="u3", n=10)["items"]]
    finally:
        svc_plain.close()
    other = tmp_path / "pipes.toml"
    other.write_text(learned.read_text(encoding="utf-8").replace("ranker-for_you", "ranker-none"), encoding="utf-8")
    svc = _service(url, home, other)
    try:
        out = svc.recommend("for_you", user="u3", n=10)
        assert out["stages"]["ranking"]["method"] == "rank_fusion" and "ranker-none" in out["stages"]["ranking"]["why"]
        assert [it["id"] for it in out["items"]] == fusion
        assert not any(r["stage"] == "ranking" for it in out["items"] for r in it["reasons"])
    finally:
        svc.close()


def test_models_train_ranker_scenario_through_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from shopsage.cli.main import app

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    home = tmp_path / "home"
    args = ["models", "train", "ranker", "--scenario", "for_you", "--store", url, "--home", str(home), "--pipelines",
            str(_pipelines(tmp_path / "p.toml", True)), "--params", '{"ranker": {"min_data_in_leaf": 3}}', "--promote"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "ranker-for_you v0001 registered" in res.output and "ranker-for_you: v0001 is live" in res.output
    res = CliRunner().invoke(app, ["models", "train", "itemknn", "--scenario", "for_you", "--store", url, "--home", str(home)])
    assert res.exit_code == 2 and "train ranker --scenario for_you" in res.output


def test_the_ranking_stage_is_typed(tmp_path: Path) -> None:
    from shopsage.errors import ConfigError

    good = _pipelines(tmp_path / "good.toml", True)
    assert load_pipelines(good).scenario("for_you").ranking.model == "ranker-for_you"  # type: ignore[union-attr]
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text(encoding="utf-8").replace('model = "ranker-for_you"', 'modle = "ranker-for_you"'),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match="modle"):
        load_pipelines(bad)
    default = load_pipelines().scenario("for_you").ranking  # the learned stage, fusion while no ranker is live
    assert not isinstance(default, str) and (default.kind, default.model) == ("learned", "ranker-for_you")


def test_training_from_logged_exposures_and_attributed_clicks(tmp_path: Path) -> None:
    """Answers are logged as exposures; clicks naming them (recomm_id, position) become the training groups,
    each featurised with the shopper's history as of the answer (the click itself not in it)."""
    import time

    from shopsage.data.schema import Event, EventContext
    from shopsage.data.stores import open_store
    from shopsage.serving.ranker_exposures import attributed_to, shopper_as_of

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    home = tmp_path / "home"
    pipes = _pipelines(tmp_path / "p.toml", True)
    registry = ModelRegistry(home / "models")
    ensure_models(url, registry, ["itemknn", "ease"], {}, lambda _m: None)
    svc = _service(url, home, pipes)
    clicked: dict[str, str] = {}
    try:
        for u in range(40):
            out = svc.recommend("for_you", user=f"u{u}", n=10)
            assert out["stages"]["ranking"]["method"] == "rank_fusion"  # no ranker yet: fusion serves
            pick = max(out["items"], key=lambda it: it["price"] or 0)  # the shoppers like expensive items
            svc.ingest([Event(user=f"u{u}", item=pick["id"], type="click", timestamp=time.time() + 1,
                              context=EventContext(recomm_id=out["recomm_id"], position=pick["position"]))])
            clicked[f"u{u}"] = pick["id"]
    finally:
        svc.close()
    store = open_store(url)
    try:
        assert sum(len(v) for v in attributed_to(store, "for_you").values()) == 40
    finally:
        store.close()
    v = train_stage_ranker(url, registry, "for_you", {"source": "auto", "min_clicks": 40, "holdout": 0.25,
                                                        "ranker": {"min_data_in_leaf": 3, "epochs": 30}}, pipes)
    assert v.manifest["source"] == "exposures" and v.manifest["n_examples"] == 40
    assert "ndcg@10" in v.manifest["metrics"]
    svc = _service(url, home, pipes)
    try:  # as of the answer, the clicked item is not yet in the history
        sh = shopper_as_of(svc, "u0", None, time.time() - 3600)
        assert svc.catalog.slot(clicked["u0"]) not in {s for s, _ in sh.user_history}
        now = svc.shopper("u0", None)
        assert svc.catalog.slot(clicked["u0"]) in {s for s, _ in now.user_history}
    finally:
        svc.close()


def test_a_ranker_of_other_features_is_refused_and_fusion_serves(shop: tuple[str, Path, Path, Path], tmp_path: Path) -> None:
    import json
    import shutil

    url, home, learned, plain = shop
    copy = tmp_path / "home"
    shutil.copytree(home / "models", copy / "models")
    cur = ModelRegistry(copy / "models").current("ranker-for_you")
    assert cur is not None
    manifest = json.loads((cur.path / "manifest.json").read_text())
    manifest["features_version"] = 1  # raw source scores: an older feature builder
    (cur.path / "manifest.json").write_text(json.dumps(manifest))
    svc = _service(url, copy, learned)
    try:
        out = svc.recommend("for_you", user="u7", n=10)
        assert out["stages"]["ranking"]["method"] == "rank_fusion" and "features v1" in out["stages"]["ranking"]["why"]
    finally:
        svc.close()
    svc = _service(url, copy, plain)
    try:
        assert [it["id"] for it in out["items"]] == [it["id"] for it in svc.recommend("for_you", user="u7", n=10)["items"]]
    finally:
        svc.close()


def test_the_rank_fusion_preset_is_the_default_pipelines_without_the_learned_stage() -> None:
    """benchmarks/pipelines_rank_fusion.toml (the baseline of docs/benchmarks.md) must not drift from config/pipelines.toml."""
    fusion = load_pipelines(ROOT / "benchmarks" / "pipelines_rank_fusion.toml").model_dump(mode="json")
    default = load_pipelines(ROOT / "config" / "pipelines.toml").model_dump(mode="json")
    assert fusion["scenarios"]["for_you"].pop("ranking") == "rank_fusion"
    assert default["scenarios"]["for_you"].pop("ranking") == {"kind": "learned", "model": "ranker-for_you"}
    assert fusion == default
