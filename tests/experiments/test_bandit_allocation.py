"""Experiments allocated by a contextual bandit: the typed config, the refit from the store's logs, the
probabilities recorded with each answer, a simulated shop, and the API and CLI edges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from shopsage.cli.main import app as cli
from shopsage.data.rows import EventRow, ItemRow, RowKey
from shopsage.data.stores import open_store
from shopsage.errors import ValidationError
from shopsage.evaluate.abtest_bandit_bench import BanditShopConfig, simulate_allocation
from shopsage.experiments import ExperimentConfig
from shopsage.experiments.allocation import CONTEXT_SCENARIOS, BanditAllocator, context_of
from shopsage.experiments.book import ExperimentBook, create_experiment, parse_experiment
from shopsage.feedback.records import ExposureRow
from shopsage.policy.bandits import BanditConfig
from shopsage.policy.bandits_variants import VariantBandit

VARIANTS = [{"name": "control"}, {"name": "wide", "pipeline": {"rrf_k": 60}}, {"name": "narrow", "pipeline": {"rrf_k": 5}}]


def _exp(**kw: Any) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"name": "bx", "scope": "recommendations", "allocation": "bandit",
                                            "variants": VARIANTS, **kw})


def test_bandit_settings_are_typed_and_errors_say_what_to_do() -> None:
    exp = _exp()
    assert exp.bandit is not None and exp.bandit.policy == "linucb" and exp.bandit.reward == "click"
    assert ExperimentConfig.model_validate(exp.model_dump(mode="json")) == exp
    with pytest.raises(ValidationError, match="allocation is \"split\""):
        parse_experiment({"name": "x", "scope": "for_you", "variants": VARIANTS, "bandit": {"epsilon": 0.2}})
    with pytest.raises(ValidationError, match="the bandit sets the shares"):
        parse_experiment({"name": "x", "scope": "for_you", "allocation": "bandit",
                          "variants": [{"name": "a", "weight": 3}, {"name": "b", "pipeline": {}}]})
    with pytest.raises(ValidationError, match="needs scope \"recommendations\""):
        parse_experiment({"name": "x", "scope": "for_you", "allocation": "bandit", "variants": VARIANTS,
                          "bandit": {"context": "scenario"}})
    with pytest.raises(ValidationError, match="epsilon"):
        parse_experiment({"name": "x", "scope": "for_you", "allocation": "bandit", "variants": VARIANTS,
                          "bandit": {"epsilon": 0}})
    with pytest.raises(ValidationError, match="allocation"):
        parse_experiment({"name": "x", "scope": "for_you", "allocation": "greedy", "variants": VARIANTS})


def test_the_context_one_hot_covers_every_recommendation_scenario() -> None:
    from shopsage.serving.config import SCENARIOS

    assert CONTEXT_SCENARIOS == SCENARIOS
    ctx = context_of(_exp(bandit={"context": "scenario"}), "trending")
    assert ctx is not None and ctx.sum() == 1 and ctx[SCENARIOS.index("trending")] == 1
    assert context_of(_exp(), "trending") is None


def _log(store: Any, exp: ExperimentConfig, decisions: list[tuple[int, int, int, int]], t0: float) -> None:
    """Write ``(variant, scenario, clicks, carts)`` decisions one second apart as the service would."""
    store.write_items([ItemRow(f"i{k}") for k in range(3)])
    rows, events = [], []
    for n, (v, s, clicks, carts) in enumerate(decisions):
        ts = t0 + n
        rid = f"r{n:05d}"
        rows += [ExposureRow(rid, p + 1, "recommendation", CONTEXT_SCENARIOS[s], exp.name, exp.variants[v].name,
                             f"u{n % 7}", None, f"i{p}", 1.0, ts, None, 0.25) for p in range(3)]
        for j, typ in enumerate(["click"] * clicks + ["add_to_cart"] * carts):
            events.append(EventRow(RowKey("t/live", len(events) + 1), typ, f"i{j % 3}", f"u{n % 7}", ts=ts + 0.5,
                                   context={"recomm_id": rid, "position": j % 3 + 1}))
    assert store.write_exposures(rows).conflicts == []
    assert store.write_events(events).conflicts == []


@settings(max_examples=12)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 5), st.integers(0, 3), st.integers(0, 1)),
                min_size=1, max_size=40),
       st.sampled_from(["click", "add_to_cart"]), st.integers(1, 6))
def test_a_bandit_refit_from_the_logs_is_the_bandit_updated_online(decisions: list[tuple[int, int, int, int]],
                                                                   reward: str, step: int) -> None:
    exp = _exp(bandit={"context": "scenario", "reward": reward, "refit_s": 1, "settle_s": 0, "rebuild_every": 1000},
               created_at=1000.0)
    store = open_store("sqlite:///:memory:")
    try:
        _log(store, exp, decisions, 1000.0)
        online = VariantBandit([v.name for v in exp.variants], len(CONTEXT_SCENARIOS), BanditConfig(epsilon=0.1))
        for v, s, clicks, carts in decisions:
            online.update(exp.variants[v].name, context_of(exp, CONTEXT_SCENARIOS[s]),
                          clicks if reward == "click" else carts)
        end = 1000.0 + len(decisions) + 1
        full = BanditAllocator(exp)
        assert full.refit(store, end) and not full.refit(store, end)  # nothing new at the same cutoff
        steps = BanditAllocator(exp)  # the same logs read in windows of ``step`` seconds
        for now in np.arange(1000.0 + step, end + step, step):
            steps.refit(store, float(min(now, end)))
        for fitted in (full, steps):
            assert fitted.cutoff == end
            np.testing.assert_allclose(fitted.bandit.bandit.A, online.bandit.A, atol=1e-9)
            np.testing.assert_allclose(fitted.bandit.bandit.b, online.bandit.b, atol=1e-9)
        assert steps.refits >= 1 and full.bandit.bandit.n_updates == len(decisions)
    finally:
        store.close()


def test_each_request_records_the_probability_the_bandit_gave_its_variant(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        exp = create_experiment(store, _exp(bandit={"context": "scenario", "refit_s": 10, "settle_s": 0}))
        assert exp.planned_units is None  # no fixed-size plan under adaptive allocation
        now = [float(exp.created_at or 0) + 1]
        book = ExperimentBook(lambda: store, clock=lambda: now[0], background=False, rng=np.random.default_rng(3))
        _log(store, exp, [(1, 0, 2, 0)] * 6 + [(0, 0, 0, 0)] * 6, now[0])  # "wide" earned clicks on for_you
        now[0] += 30
        counts: dict[str, int] = {}
        for i in range(400):
            a = book.assign("for_you", f"u{i}", None)
            assert a is not None and a.probability is not None
            shares = book.allocator(exp).shares("for_you")
            assert a.probability == pytest.approx(shares[a.variant])
            counts[a.variant] = counts.get(a.variant, 0) + 1
        assert book.assign("for_you", None, None) is None  # no shopper, no experiment (as under a split)
        shares = book.allocator(exp).shares("for_you")
        assert max(shares, key=shares.__getitem__) == "wide" and sum(shares.values()) == pytest.approx(1.0)
        for name, share in shares.items():  # the chosen variants follow the recorded distribution
            assert abs(counts.get(name, 0) / 400 - share) < 0.08
    finally:
        store.close()


def test_variant_values_are_the_ope_estimators_over_logged_decisions() -> None:
    from shopsage.evaluate.abtest_bandit import variant_values
    from shopsage.evaluate.ope import OPEConfig
    from shopsage.experiments.allocation import Answers

    rng = np.random.default_rng(5)
    exp = _exp(variants=VARIANTS[:2])
    n = 4000
    prob = np.where(rng.random(n) < 0.5, 0.9, 0.1)  # an adaptive log: the first variant at 0.9 or 0.1
    variant = (rng.random(n) >= prob).astype(np.int64)
    p_chosen = np.where(variant == 0, prob, 1 - prob)
    truth = np.array([0.2, 0.3])
    reward = (rng.random(n) < truth[variant]).astype(np.float64)
    answers = Answers([f"r{i}" for i in range(n)], variant, None, p_chosen, ["for_you"] * n, np.arange(n, dtype=float),
                      reward)
    got = variant_values(exp, answers, OPEConfig(n_bootstrap=400, seed=1))
    for k, name in enumerate(["control", "wide"]):
        assert set(got[name]) == {"ips", "snips", "dm", "dr"}  # 0/1 rewards: the reward model's estimators too
        ips = float(np.mean((variant == k) * reward / p_chosen))  # by hand
        assert got[name]["ips"]["value"] == pytest.approx(ips)
        for est in ("ips", "snips", "dr"):  # dm's interval holds its fitted model fixed (ope.py): too narrow
            assert got[name][est]["ci_low"] <= truth[k] <= got[name][est]["ci_high"], (name, est, got[name][est])


def test_a_due_refit_runs_in_the_background_while_requests_use_the_last_state(tmp_path: Path) -> None:
    import time

    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        exp = create_experiment(store, _exp(bandit={"refit_s": 10, "settle_s": 0}))
        now = [float(exp.created_at or 0) + 1]
        book = ExperimentBook(lambda: store, clock=lambda: now[0], rng=np.random.default_rng(1))
        assert book.assign("for_you", "u1", None) is not None  # first use: fitted on the request, no data yet
        first = book.allocator(exp)
        assert first.bandit.bandit.n_updates == 0
        _log(store, exp, [(2, 0, 1, 0)] * 5, now[0])
        now[0] += 20
        assert book.assign("for_you", "u1", None) is not None  # due: answered at once, refit in a thread
        deadline = time.monotonic() + 10
        while first.bandit.bandit.n_updates < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert first.bandit.bandit.n_updates == 5 and first.cutoff == first.cutoff_at(now[0])
        assert book.allocator(exp) is first  # one allocator per running experiment
    finally:
        store.close()


def test_a_simulated_shop_moves_traffic_to_the_better_variant_and_the_report_covers_the_truth(tmp_path: Path) -> None:
    cfg = BanditShopConfig(requests=3000, rate=10, refit_s=20, n_bootstrap=300, true_lift=0.5)
    bandit = simulate_allocation(cfg, "bandit", 0, tmp_path)  # seeded: 95% intervals miss 1 run in 20
    split = simulate_allocation(cfg, "split", 0, tmp_path)
    assert bandit["favoured_variant"] == "treatment" and bandit["current_share_best"] > 0.9
    assert bandit["best_share_last_fifth"] > 0.8 and 0.4 < split["best_share"] < 0.6
    assert bandit["regret"] < 0.6 * split["regret"]
    for variant in bandit["ope"].values():
        for est in ("ips", "snips"):
            assert variant[est]["covers"], variant


def _api(tmp_path: Path) -> Any:
    from fastapi.testclient import TestClient

    from shopsage.api import Keys, create_app
    from shopsage.privacy.ids import Pseudonymizer
    from shopsage.serving.service import Service, ServiceOptions
    from shopsage.settings import Settings
    from shopsage.testing.shop import make_shop

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0)).start()
    return svc, TestClient(create_app(svc, Keys(write=("w",), admin=("a",)), settings=Settings(),
                                      ids=Pseudonymizer(bytes(range(32)))))


def test_api_creates_serves_records_and_reports_a_bandit_experiment(tmp_path: Path) -> None:
    svc, c = _api(tmp_path)
    w, a = {"X-API-Key": "w"}, {"X-API-Key": "a"}
    try:
        body = {"name": "bandit-fy", "scope": "for_you", "allocation": "bandit", "variants": VARIANTS[:2],
                "bandit": {"epsilon": 0.2, "reward": "click", "refit_s": 86400}}
        made = c.post("/v1/experiments", json=body, headers=a)
        assert made.status_code == 201, made.text
        assert made.json()["allocation"] == "bandit" and made.json()["bandit"]["epsilon"] == 0.2
        listed = c.get("/v1/experiments", headers=w).json()
        assert [(e["name"], e["allocation"]) for e in listed] == [("bandit-fy", "bandit")]
        bad = c.post("/v1/experiments", json={**body, "name": "x", "bandit": {"policy": "ucb1"}}, headers=a)
        assert bad.status_code == 422
        answers = []
        for u in range(20):
            rec = c.get("/v1/recommendations/for_you", params={"user": f"s{u}", "n": 3}, headers=w).json()
            assert rec["experiment"] == "bandit-fy"
            answers.append(rec)
            if rec["items"] and u % 2 == 0:
                item = rec["items"][0]
                ev = {"type": "click", "item": item["id"], "user": f"s{u}",
                      "context": {"recomm_id": rec["recomm_id"], "position": item["position"]}}
                assert c.post("/v1/events", json=ev, headers=w).status_code < 300
        forced = svc.recommend("for_you", user="s1", n=3, variant="wide")  # a preview (the service's API)
        assert forced["variant"] == "wide"
        assert svc.exposure_log.flush()
        exp = svc.experiments.running()[0]
        shares = svc.experiments.allocator(exp).shares("for_you")  # refit_s 1 day: the state of every answer
        recorded = {r.exposure_id: r for r in svc.store.read_exposures("bandit-fy")}
        for rec in answers:
            row = recorded[rec["recomm_id"]]
            assert row.variant == rec["variant"] and row.variant_propensity == pytest.approx(shares[rec["variant"]])
        assert forced["recomm_id"] not in recorded  # a preview is no part of the sample
        rep = c.get("/v1/experiments/bandit-fy/report", headers=w)
        assert rep.status_code == 200, rep.text
        r = rep.json()
        assert r["allocation"] == "bandit" and r["decisions"] == 20 and "srm" not in r
        assert sum(v["answers"] for v in r["variants"].values()) == 20
        assert sum(v["reward"] for v in r["variants"].values()) >= 1
        assert r["favoured_variant"] in ("control", "wide")
        assert sum(r["current_allocation"].values()) == pytest.approx(1.0)
        assert {"ips", "snips"} <= set(r["variants"]["control"]["estimates"])
        page = c.get("/admin/experiments", headers=a)  # the dashboard shows the same report
        assert page.status_code == 200 and "20 decisions" in page.text and "off-policy value" in page.text
    finally:
        svc.close()


def test_cli_creates_a_bandit_experiment_lists_and_reports_it(tmp_path: Path) -> None:
    from shopsage.testing.shop import make_shop

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    make_shop(url).close()
    spec = tmp_path / "exp.toml"
    spec.write_text('name = "cb"\nscope = "trending"\n\n[bandit]\nreward = "purchase"\n\n[[variants]]\nname = "a"\n\n'
                    '[[variants]]\nname = "b"\npipeline = { rrf_k = 20.0 }\n', encoding="utf-8")
    run = CliRunner()
    out = run.invoke(cli, ["experiments", "create", str(spec), "--store", url])
    assert out.exit_code == 2 and "allocation = \"bandit\"" in out.output  # [bandit] needs the allocation
    out = run.invoke(cli, ["experiments", "create", str(spec), "--store", url, "--allocation", "bandit"])
    assert out.exit_code == 0, out.output
    assert "linucb bandit" in out.output and "reward purchase" in out.output
    listed = run.invoke(cli, ["experiments", "list", "--store", url, "--json"])
    assert [(e["name"], e["allocation"], e["bandit"]["reward"]) for e in json.loads(listed.output)] == \
        [("cb", "bandit", "purchase")]
    rep = run.invoke(cli, ["experiments", "report", "cb", "--store", url, "--out", str(tmp_path / "rep")])
    assert rep.exit_code == 0, rep.output
    assert json.loads((tmp_path / "rep" / "cb.json").read_text())["decisions"] == 0
    assert "no decisions recorded" in (tmp_path / "rep" / "cb.md").read_text()


def test_bench_abtest_compares_bandit_allocation_with_a_split(tmp_path: Path) -> None:
    out = tmp_path / "bandit.json"
    res = CliRunner().invoke(cli, ["bench", "abtest", "--allocation", "bandit", "--runs", "1", "--requests", "400",
                                   "--true-lift", "0.5", "--json", str(out)])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert set(r["summary"]) == {"bandit", "split"} and r["summary"]["split"]["regret"] > 0
    assert "| bandit |" in out.with_suffix(".md").read_text()


def test_a_variant_the_bandit_never_chose_has_no_estimates_not_nan() -> None:
    """snips of a never-chosen variant is 0/0: the report says nothing of it (valid JSON, "-" in Markdown)."""
    import json

    from shopsage.evaluate.abtest_bandit import markdown_bandit_report, variant_values
    from shopsage.experiments.allocation import Answers

    exp = _exp()
    n = 40
    rng = np.random.default_rng(3)
    answers = Answers([f"a{i}" for i in range(n)], np.zeros(n, np.int64), None, np.full(n, 0.9), ["for_you"] * n,
                      np.arange(n, dtype=np.float64), (rng.random(n) < 0.3).astype(np.float64))
    values = variant_values(exp, answers)
    first, never = (v.name for v in exp.variants[:2])
    assert values[never] == {} and values[first]["snips"]["value"] is not None
    body = {"experiment": "bx", "scope": exp.scope, "status": "running", "bandit": exp.bandit.model_dump(),  # type: ignore[union-attr]
            "decisions": n, "variants": {v: {"answers": n if v == first else 0, "logged_share": float(v == first),
                                             "current_share": 0.5, "estimates": values[v]} for v in (first, never)},
            "estimators": list(values[first]), "favoured_variant": first,
            "current_allocation": {first: 0.5, never: 0.5}, "state": {"decisions": n}, "note": "adaptive"}
    json.dumps(body, allow_nan=False)
    text = markdown_bandit_report(body)
    assert "nan" not in text.lower() and f"| {never} | 0 |" in text
