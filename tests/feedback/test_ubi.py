"""UBI import and export: a served shop's answers and what followed round-trip through the two files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shopsage.cli.main import app
from shopsage.data.importers import get_importer, run_import
from shopsage.data.schema import Event
from shopsage.data.stores import open_store
from shopsage.experiments import ExperimentConfig
from shopsage.experiments.book import create_experiment
from shopsage.serving.search import SearchRequest
from shopsage.serving.service import Service, ServiceOptions
from shopsage.testing.shop import make_shop

runner = CliRunner()


def _served_shop(tmp_path: Path) -> str:
    """A shop whose service answered searches and recommendations (these in a bandit-allocated experiment, so
    their exposures carry the variant's probability), and events that followed them."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    store = make_shop(url)
    create_experiment(store, ExperimentConfig.model_validate(
        {"name": "bx", "scope": "recommendations", "allocation": "bandit",
         "variants": [{"name": "control"}, {"name": "wide", "pipeline": {"rrf_k": 60}}]}))
    store.close()
    svc = Service(ServiceOptions(store_url=url, home=tmp_path / "home", reload_interval_s=0)).start()
    rec = svc.recommend("similar_items", item="pip1", user="u1", session="v1", n=4)
    found = svc.search(SearchRequest("saw", per_page=3, page=2, session="v2"))
    svc.search(SearchRequest("model", user="u2"))
    a, b = rec["items"][2], found["items"][0]
    svc.ingest([Event(type="click", item=a["id"], user="u1", session="v1", timestamp=2.0e9,
                      context={"recomm_id": rec["recomm_id"], "position": a["position"]}),
                Event(type="purchase", item=b["id"], session="v2", timestamp=2.0e9 + 5, value=19.5,
                      context={"query_id": found["query_id"], "position": b["position"]}),
                Event(type="view", item=b["id"], session="v2", timestamp=2.0e9 + 6)])
    svc.close()
    return url


def test_export_import_export_gives_the_same_files(tmp_path: Path) -> None:
    url = _served_shop(tmp_path)
    first = tmp_path / "first"
    res = runner.invoke(app, ["export", "ubi", str(first), "--store", url, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {"queries": 3, "events": 2}
    queries = [json.loads(line) for line in (first / "ubi_queries.jsonl").read_text().splitlines()]
    assert [q["query_attributes"]["kind"] for q in queries] == ["recommendation", "search", "search"]
    assert queries[1]["user_query"] == "saw" and len(queries[1]["query_response_hit_ids"]) == 3
    bandit = queries[0]["query_attributes"]  # the recommendation's variant was drawn with a known probability
    assert bandit["experiment"] == "bx" and 0 < bandit["variant_propensity"] < 1
    assert all("variant_propensity" not in q["query_attributes"] for q in queries[1:])  # searches: no experiment
    events = [json.loads(line) for line in (first / "ubi_events.jsonl").read_text().splitlines()]
    assert [(e["action_name"], e["event_attributes"]["position"]["ordinal"]) for e in events] == [
        ("click", 3), ("purchase", 4)]  # page 2 of 3 a page starts at 4

    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    store = open_store(copy)
    summary = run_import(store, get_importer("ubi", str(first)))
    assert (summary.quarantined, summary.by_kind) == (0, {"exposures": 4 + 3 + 10, "events": 2})
    assert run_import(store, get_importer("ubi", str(first))).already_present == summary.read
    original = open_store(url)
    # UBI times are ISO 8601 to the microsecond; row ids are each store's own
    exp = lambda rows: [r._replace(ts=round(r.ts, 6)) for r in rows]  # noqa: E731
    assert exp(store.read_exposures()) == exp(original.read_exposures())
    assert {r.variant_propensity for r in store.read_exposures() if r.kind == "recommendation"} == {
        bandit["variant_propensity"]}
    att = lambda rows: [r._replace(ts=round(r.ts, 6), event_id=None) for r in rows]  # noqa: E731
    assert att(store.read_attributed()) == att(original.read_attributed())
    original.close()
    store.close()
    second = tmp_path / "second"
    assert runner.invoke(app, ["export", "ubi", str(second), "--store", copy]).exit_code == 0
    for name in ("ubi_queries.jsonl", "ubi_events.jsonl"):
        assert (second / name).read_text() == (first / name).read_text(), name


def test_bad_ubi_lines_are_quarantined_with_their_reason_and_the_rest_stored(tmp_path: Path) -> None:
    folder = tmp_path / "ubi"
    folder.mkdir()
    good_q = {"query_id": "q1", "user_query": "red shoe", "client_id": "c1", "timestamp": "2026-12-01T10:00:00Z",
              "query_response_hit_ids": ["A", "B", 7]}
    (folder / "ubi_queries.jsonl").write_text("\n".join([
        json.dumps(good_q),
        json.dumps({**good_q, "query_id": "q2", "timestamp": "2026-12-01T10:00:00"}),  # no time zone
        json.dumps({**good_q, "query_id": "q3", "query_response_hit_ids": ["A", "A"]}),
        json.dumps({**good_q, "query_id": "q4", "query_response_hit_ids": []}),
        "{not json",
    ]) + "\n", encoding="utf-8")
    click = {"action_name": "click", "query_id": "q1", "client_id": "c1", "timestamp": "2026-12-01T10:00:05Z",
             "event_attributes": {"object": {"object_id": "B"}, "position": {"ordinal": 2}}}
    (folder / "ubi_events.jsonl").write_text("\n".join([
        json.dumps(click),
        json.dumps({**click, "action_name": "product_hover"}),
        json.dumps({**click, "event_attributes": {"position": {"ordinal": 1}}}),
        json.dumps({**{k: v for k, v in click.items() if k != "query_id"}, "action_name": "add_to_cart",
                    "timestamp": "2026-12-01T10:01:00Z",
                    "event_attributes": {"object": {"object_id": "A"}}}),  # no reference: implicit
    ]) + "\n", encoding="utf-8")
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    summary = run_import(store, get_importer("ubi", str(folder)))
    assert (summary.read, summary.accepted, summary.quarantined) == (3 + 4 + 4, 3 + 2, 6)
    reasons = sorted(q.reason for q in store.quarantined())
    assert any("no time zone" in r for r in reasons) and any("names an id twice" in r for r in reasons)
    assert any("no exposure to store" in r for r in reasons) and any("not valid JSON" in r for r in reasons)
    assert any("product_hover" in r for r in reasons) and any("object_id" in r for r in reasons)
    got = sorted((a.type, a.exposure_id, a.position, a.explicit, a.session_id) for a in store.read_attributed())
    assert got == [("add_to_cart", "q1", 1, False, "c1"), ("click", "q1", 2, True, "c1")]
    assert [r.item for r in store.read_exposures()] == ["A", "B", "7"]
    store.close()


def test_shopsage_import_ubi_pseudonymises_ids_and_scrubs_queries_as_every_import(tmp_path: Path) -> None:
    folder = tmp_path / "ubi"
    folder.mkdir()
    (folder / "ubi_queries.jsonl").write_text(json.dumps(
        {"query_id": "q1", "user_query": "shoes for bob@example.org", "client_id": "browser-7",
         "timestamp": "2026-12-01T10:00:00Z", "query_response_hit_ids": ["A", "B"],
         "query_attributes": {"user_id": "alice"}}) + "\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 's.db'}"
    res = runner.invoke(app, ["import", "ubi", str(folder), "--store", url, "--home", str(tmp_path / "home"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["by_kind"] == {"exposures": 2}
    store = open_store(url)
    rows = list(store.read_exposures())
    store.close()
    assert {r.query for r in rows} == {"shoes for [email]"}
    assert {r.user_id for r in rows} != {"alice"} and {r.session_id for r in rows} != {"browser-7"}
    assert len({r.user_id for r in rows}) == 1 and None not in {r.session_id for r in rows}


def _write(folder: Path, name: str, docs: list) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("".join((d if isinstance(d, str) else json.dumps(d)) + "\n" for d in docs),
                               encoding="utf-8")


def test_values_of_the_wrong_json_type_are_quarantined_not_a_crash(tmp_path: Path) -> None:
    good = {"query_id": "q1", "client_id": "c1", "timestamp": "2026-12-01T10:00:00Z", "query_response_hit_ids": ["A"]}
    wrong = [{"timestamp": [1]}, {"timestamp": {"at": 1}}, {"timestamp": True}, {"query_response_hit_ids": {}},
             {"query_response_hit_ids": "A"}, {"query_attributes": {"first_position": 2**31}},
             {"query_attributes": {"first_position": True}}, {"query_attributes": {"kind": "k" * 100_000}},
             {"query_attributes": []}, {"query_attributes": {"scenario": ["s"]}},
             {"query_attributes": {"variant_propensity": True}}, {"query_attributes": {"variant_propensity": 1.5}},
             {"timestamp": 1e300}, {"timestamp": False}]
    folder = tmp_path / "ubi"
    _write(folder, "ubi_queries.jsonl", [good] + [{**good, "query_id": f"w{n}", **w} for n, w in enumerate(wrong)])
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    summary = run_import(store, get_importer("ubi", str(folder)))
    assert (summary.accepted, summary.quarantined) == (1, len(wrong))
    reasons = {q.key.line: q.reason for q in store.quarantined()}
    assert set(reasons) == set(range(2, 2 + len(wrong)))
    assert "timestamp is a list" in reasons[2] and "timestamp is an object" in reasons[3]
    assert "timestamp is the boolean true, not a time" in reasons[4] and "boolean false" in reasons[15]
    assert "outside 1970..3000" in reasons[14]
    assert "variant_propensity True must be a probability" in reasons[12] and "1.5" in reasons[13]
    assert "must be a list of ids" in reasons[5] and "must be a list of ids" in reasons[6]
    assert "first_position must be an integer from 1 to 2,147,483,647" in reasons[7]
    assert len(reasons[9]) < 200 and "query_attributes.kind" in reasons[9]
    assert "query_attributes must be a JSON object" in reasons[10] and "scenario" in reasons[11]
    store.close()


def test_a_line_read_again_is_a_duplicate_and_an_answer_changed_since_the_last_import_a_conflict(tmp_path: Path) -> None:
    q = {"query_id": "q1", "client_id": "c1", "timestamp": "2026-12-01T10:00:00Z", "query_response_hit_ids": ["A", "B"]}
    click = {"action_name": "click", "query_id": "q1", "client_id": "c1", "timestamp": "2026-12-01T10:00:05Z",
             "event_attributes": {"object": {"object_id": "B"}, "position": {"ordinal": 2}}}
    folder = tmp_path / "ubi"
    _write(folder, "ubi_queries.jsonl", [q, {**q, "query_id": "q2"}, q, {**q, "query_response_hit_ids": ["C"]},
                                         {**q, "query_id": "q3", "query_response_hit_ids": []}])
    _write(folder, "ubi_events.jsonl", [click, {**click, "timestamp": "2026-12-01T10:00:06Z"}, click])
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    summary = run_import(store, get_importer("ubi", str(folder)))
    assert summary.by_kind == {"exposures": 4, "events": 2} and summary.quarantined == 4
    got = {(q.key.source.rsplit("/", 1)[1], q.key.line): (q.reason, q.raw) for q in store.quarantined()}
    assert got[("ubi_queries.jsonl", 3)][0] == "exact duplicate of line 1"
    assert got[("ubi_queries.jsonl", 4)][0] == "conflicting duplicate: query_id q1 was read at line 1 with another answer"
    assert got[("ubi_queries.jsonl", 5)] == ("a query with no hits shows nothing: no exposure to store",
                                              json.dumps({**q, "query_id": "q3", "query_response_hit_ids": []}))
    assert got[("ubi_events.jsonl", 3)][0] == "exact duplicate of line 1"

    later = tmp_path / "later"  # the same answers exported again, one of them since changed
    _write(later, "ubi_queries.jsonl", [{**q, "query_id": "q2"}, {**q, "query_response_hit_ids": ["A", "C"]}])
    again = run_import(store, get_importer("ubi", str(later)))
    assert (again.already_present, again.accepted, again.quarantined) == (2 + 1, 0, 1)  # q2 whole, q1's first hit
    conflicts = [q for q in store.quarantined() if q.key.source.startswith("later/")]
    assert [(q.key.line, q.key.pos) for q in conflicts] == [(2, 1)]  # the line and the hit in it
    assert "conflicting duplicate: exposure q1 position 2" in conflicts[0].reason
    store.close()
