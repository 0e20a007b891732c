"""Generated shops, merchant rules, diversity settings and requests (hypothesis): every reason of every
recommended item is recomputed from the store, the live events and the models, and must be true.

Each example writes a small shop (items with categories, brands, stock and hidden flags; users and
sessions with random event types) into a fresh SQLite store, starts a real :class:`Service` on it
(item-kNN and popularity trained on start, FBT, session-kNN and EASE trained after), sends live
events, and asks every scenario. What is checked, per item shown:

- exclusions (hidden, out of stock, purchased, seen, the page's item) and no duplicates;
- every active rule that matches the item has its reason and no other rule does; a pin overrides
  boost and bury, and a pinned item is at its position (earlier only when the list ran out of
  other items); buried items come after every unburied one; fallback items went through the rules;
- "because you <verb> X": the shopper did that to X (the strongest of their interactions with it),
  with the model's similarity or contribution; "picked for you from K items": K distinct items;
- "shoppers who <verb> X also <verb> this": the event types the model learned from, which are
  the store's; trending counts are the stored plus the live ones, and name their window.

A generated request never raises anything but a domain error of a 4xx status.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from calendar import timegm
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopsage.data.rows import EventRow, ItemRow, RowKey
from shopsage.data.schema import Event
from shopsage.data.stores import open_store
from shopsage.errors import HTTP_STATUS, ShopSageError
from shopsage.profiles import EVENT_WEIGHTS
from shopsage.serving.build import build_missing
from shopsage.serving.config import DEFAULT_PIPELINES, SCENARIOS
from shopsage.serving.generators import BECAUSE_YOU, SHOPPERS_ALSO
from shopsage.serving.service import ITEM_SCENARIOS, Service, ServiceOptions

pytestmark = pytest.mark.timeout(120)  # 40 examples of a few hundred milliseconds each (about 10 s)

LEAVES = [("Lab", "Pipettes"), ("Lab", "Beakers"), ("Tools", "Saws"), None]
BRANDS = ["Acme", "Toolo", None]
INTERACTIONS = ["view", "click", "add_to_cart", "purchase", "rating"]
USERS = ["u0", "u1", "u2"]
SESSIONS = ["s0", "s1", "s2"]
PROBE = ("probe", "probe-session")  # a shopper with a short live history: most neighbours are unseen
SKIP = ("impression", "search")
CO_OCCURRENCE = ("itemknn", "fbt", "sknn")


# ---------------------------------------------------------------------- what is generated
@dataclass(frozen=True)
class ItemSpec:
    ext: str
    path: tuple[str, ...]
    brand: str | None
    stock: int | None
    available: bool

    @property
    def title(self) -> str:
        return f"{self.brand or 'Plain'} thing {self.ext}"


@dataclass(frozen=True)
class Ev:
    user: str | None
    session: str | None
    item: str
    type: str


@dataclass
class Shop:
    items: list[ItemSpec]
    stored: list[Ev]
    live: list[Ev]
    rules: list[dict[str, Any]]
    diversity: dict[str, dict[str, Any]]
    requests: list[tuple[str, str | None, str | None, str | None, int]]


def _events(exts: list[str], types: list[str], users: list[str | None], sessions: list[str | None]) -> st.SearchStrategy[Ev]:
    owners = st.tuples(st.sampled_from(users), st.sampled_from(sessions)).filter(lambda o: o != (None, None))
    return st.builds(lambda o, i, t: Ev(o[0], o[1], i, t), owners, st.sampled_from(exts), st.sampled_from(types))


@st.composite
def _rule(draw: st.DrawFn, k: int, exts: list[str]) -> dict[str, Any]:
    action = draw(st.sampled_from(["pin", "boost", "bury"]))
    rule: dict[str, Any] = {"name": f"rule {k}", "action": action}
    targets = st.lists(st.sampled_from([*exts, "nope"]), min_size=1, max_size=3, unique=True)
    if action == "pin":
        rule["items"] = draw(targets)
        rule["position"] = draw(st.integers(0, 4))
    else:
        what = draw(st.sampled_from(["items", "categories", "brands"]))
        if what == "items":
            rule["items"] = draw(targets)
        elif what == "categories":
            rule["categories"] = draw(st.lists(st.sampled_from(["lab", "Pipettes", "saws", "TOOLS", "Beakers"]),
                                               min_size=1, max_size=2, unique=True))
        else:
            rule["brands"] = draw(st.lists(st.sampled_from(["acme", "Toolo"]), min_size=1, max_size=2, unique=True))
        if action == "boost":
            rule["factor"] = draw(st.sampled_from([1.5, 2.0, 4.0]))
    rule["scenarios"] = draw(st.one_of(st.just([]), st.lists(st.sampled_from(SCENARIOS), min_size=1, max_size=3,
                                                             unique=True)))
    return rule


_DIVERSITY = st.one_of(st.just({"method": "none"}),
                       st.builds(lambda k: {"method": "category_cap", "max_per_category": k}, st.integers(1, 3)),
                       st.builds(lambda lam: {"method": "mmr", "mmr_lambda": lam}, st.sampled_from([0.0, 0.3, 0.7, 1.0])))


@st.composite
def shops(draw: st.DrawFn) -> Shop:
    n = draw(st.integers(4, 12))
    items = []
    for i in range(n):
        leaf = draw(st.sampled_from(LEAVES))
        items.append(ItemSpec(f"i{i}", leaf or (), draw(st.sampled_from(BRANDS)),
                              draw(st.sampled_from([None, 3, 3, 0])), draw(st.sampled_from([True, True, True, False]))))
    exts = [it.ext for it in items]
    # one to three interaction types per shop (a model trained on one type names it), and impressions
    types = [*draw(st.lists(st.sampled_from(INTERACTIONS), min_size=1, max_size=3, unique=True)), "impression"]
    stored = draw(st.lists(_events(exts, types, [*USERS, None], [*SESSIONS, None]), max_size=40))
    live = draw(st.lists(_events(exts, types, [*USERS, None], [*SESSIONS, None]), max_size=8))
    live += draw(st.lists(_events(exts, INTERACTIONS, [PROBE[0], None], [PROBE[1], None]), min_size=1, max_size=3))
    rules = [draw(_rule(k, exts)) for k in range(draw(st.integers(0, 3)))]
    diversity = {s: draw(_DIVERSITY) for s in SCENARIOS}
    request = st.tuples(st.sampled_from(SCENARIOS), st.sampled_from([*USERS, "newcomer", None]),
                        st.sampled_from([*SESSIONS, "fresh", None]), st.sampled_from([*exts, "unknown", None]),
                        st.integers(1, 12))
    return Shop(items, stored, live, rules, diversity, draw(st.lists(request, min_size=2, max_size=6)))


# ---------------------------------------------------------------------- the shop as a service
def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"


def _pipelines(shop: Shop) -> str:
    scenarios = copy.deepcopy(DEFAULT_PIPELINES["scenarios"])
    assert isinstance(scenarios, dict)
    lines = ["rules = " + _toml(shop.rules)]
    for name, sc in scenarios.items():
        if name in shop.diversity:
            sc["diversity"] = shop.diversity[name]
        lines.append(f"[scenarios.{name}]")
        lines += [f"{k} = {_toml(v)}" for k, v in sc.items()]
    return "\n".join(lines) + "\n"


def _start(shop: Shop, root: Path) -> Service:
    url = f"sqlite:///{root / 'shop.db'}"
    store = open_store(url)
    store.write_items([ItemRow(it.ext, it.title, None, it.path, it.brand, 5.0, "EUR", None, it.available, it.stock)
                       for it in shop.items])
    store.write_events([EventRow(RowKey("gen", k, 0), e.type, e.item, e.user, e.session, None,
                                 4.0 if e.type == "rating" else None, None, k) for k, e in enumerate(shop.stored)])
    store.close()
    (root / "pipelines.toml").write_text(_pipelines(shop))
    svc = Service(ServiceOptions(store_url=url, home=root / "home", pipelines=root / "pipelines.toml",
                                 reload_interval_s=0, trending_cache_s=0.0)).start()
    build_missing(svc.store, svc.registry, names=("fbt", "sknn", "ease"))
    svc.models.refresh()
    t = time.time()
    svc.ingest([Event(type=e.type, item=e.item, user=e.user, session=e.session, timestamp=t + k,
                      value=4.0 if e.type == "rating" else None) for k, e in enumerate(shop.live)])
    return svc


# ---------------------------------------------------------------------- the truth, from the generated data
@dataclass
class Truth:
    shop: Shop
    items: dict[str, ItemSpec] = field(init=False)
    stored_counts: Counter[str] = field(init=False)
    live_counts: Counter[str] = field(init=False)
    stored_types: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.items = {it.ext: it for it in self.shop.items}
        self.stored_counts = Counter(e.item for e in self.shop.stored if e.type not in SKIP)
        self.live_counts = Counter(e.item for e in self.shop.live if e.type not in SKIP)
        self.stored_types = dict(Counter(e.type for e in self.shop.stored if e.type not in SKIP))

    def history(self, user: str | None, session: str | None) -> list[tuple[str, str]]:
        """Every interaction of the user or the session, stored then live (each event once)."""
        return [(e.item, e.type) for e in [*self.shop.stored, *self.shop.live] if e.type not in SKIP
                and ((user is not None and e.user == user) or (session is not None and e.session == session))]

    def purchased(self, user: str | None) -> set[str]:
        return {i for i, t in self.history(user, None) if t == "purchase"} if user is not None else set()


def _matches(rule: dict[str, Any], it: ItemSpec) -> bool:
    if it.ext in rule.get("items", []):
        return True
    if {c.casefold() for c in rule.get("categories", [])} & {c.casefold() for c in it.path}:
        return True
    return it.brand is not None and it.brand.casefold() in {b.casefold() for b in rule.get("brands", [])}


def _pins(active: list[dict[str, Any]], allowed: set[str]) -> dict[str, tuple[int, str]]:
    """ext -> (position, rule name) of every item the pin rules place, recomputed."""
    out: dict[str, tuple[int, str]] = {}
    taken: set[int] = set()
    for r in (r for r in active if r["action"] == "pin"):
        k = 0
        for ext in r["items"]:
            if ext not in allowed or ext in out:
                continue
            pos = r["position"] + k
            while pos in taken:
                pos += 1
            out[ext] = (pos, r["name"])
            taken.add(pos)
            k += 1
    return out


def _rule_text(rule: dict[str, Any], at: int) -> tuple[str, dict[str, Any]]:
    ev: dict[str, Any] = {"rule": rule["name"], "action": rule["action"],
                          "factor": rule.get("factor", 2.0) if rule["action"] == "boost" else None}
    if rule["action"] == "pin":
        ev["position"] = at
        return f"Pinned at #{at + 1} by the shop", ev
    if rule["action"] == "boost":
        return f"Promoted by the shop (score x{rule.get('factor', 2.0):g})", ev
    return "Placed lower by the shop", ev


# ---------------------------------------------------------------------- the checks
def _status(exc: Exception) -> int:
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]  # type: ignore[index]
    return 500


def _check_rules(truth: Truth, scenario: str, items: list[dict[str, Any]], allowed: set[str], n: int) -> None:
    active = [r for r in truth.shop.rules if not r["scenarios"] or scenario in r["scenarios"]]
    pins = _pins(active, allowed)
    ids = [it["id"] for it in items]
    for ext, (pos, _) in pins.items():  # every pin within the list is shown (all of them when the list is short)
        assert ext in ids or (pos >= len(ids) and len(ids) == n), (ext, pos, ids)
    buried_seen = False
    for at, it in enumerate(items):
        got = [(r["source"], r["text"], r["evidence"]) for r in it["reasons"] if r["stage"] == "rules"]
        if it["id"] in pins:
            pos, name = pins[it["id"]]
            want = [r for r in active if r["name"] == name]
            assert at <= pos and (at == pos or all(i in pins for i in ids[at:])), (it["id"], at, pos, ids)
        else:
            want = [r for r in active if r["action"] != "pin" and _matches(r, truth.items[it["id"]])]
            buried = any(r["action"] == "bury" for r in want)
            assert buried or not buried_seen, ("an unburied item after a buried one", ids)
            buried_seen |= buried
        assert got == [(f"rule:{r['name']}", *_rule_text(r, at)) for r in want], (it["id"], got)


def _allowed(truth: Truth, scenario: str, user: str | None, session: str | None, item: str | None) -> set[str]:
    exclude = DEFAULT_PIPELINES["scenarios"][scenario]["exclude"]  # type: ignore[index]
    out = set()
    seen = {i for i, _ in truth.history(user, None)} | {i for i, _ in truth.history(None, session)}
    for ext, it in truth.items.items():
        if not it.available or ("out_of_stock" in exclude and it.stock == 0):
            continue
        if ("purchased" in exclude and ext in truth.purchased(user)) or ("seen" in exclude and ext in seen):
            continue
        if "source_item" in exclude and ext == item:
            continue
        out.add(ext)
    return out


def _model(svc: Service, source: str) -> Any:
    name, version = source.split(":", 1)
    m = svc.models.get(name)
    assert m is not None and m.version == version, source
    return m


def _similarity(m: Any, svc: Service, src: str, dst: str) -> float:
    sid = m.model_ids([svc.catalog.slot(src)])
    ids, scores = m.model.similar_items(sid, m.model.n_items).row(0)
    return float(dict(zip(ids.tolist(), scores.tolist(), strict=True))[int(m.model_ids([svc.catalog.slot(dst)])[0])])


def _weight(m: Any, svc: Service, src: str, dst: str) -> float:
    w = m.model.weights
    a, b = int(m.model_ids([svc.catalog.slot(src)])[0]), int(m.model_ids([svc.catalog.slot(dst)])[0])
    row = w[a]
    return float(row.toarray().ravel()[b] if hasattr(row, "toarray") else np.asarray(row).ravel()[b])


def _check_because(svc: Service, truth: Truth, r: dict[str, Any], dst: str, hist: list[tuple[str, str]]) -> None:
    ev = r["evidence"]
    src, typ = ev["item"], ev["interaction"]
    types = {t for i, t in hist if i == src}
    assert typ in types, (src, typ, hist)  # the shopper really did that to X
    assert EVENT_WEIGHTS[typ] == max(EVENT_WEIGHTS[t] for t in types)  # and it is the strongest thing they did
    assert r["text"] == BECAUSE_YOU[typ].format(t=truth.items[src].title)
    m = _model(svc, r["source"])
    if "similarity" in ev:
        assert ev["similarity"] > 0 and abs(ev["similarity"] - _similarity(m, svc, src, dst)) < 1e-5
    else:
        contrib = {h: _weight(m, svc, h, dst) for h, _ in hist if len(m.model_ids([svc.catalog.slot(h)]))}
        assert abs(ev["contribution"] - contrib[src]) < 1e-5 and ev["contribution"] >= max(contrib.values()) - 1e-6


def _check_trending(truth: Truth, r: dict[str, Any], it: dict[str, Any], started: float) -> None:
    ev = r["evidence"]
    stored, live = truth.stored_counts[it["id"]], truth.live_counts[it["id"]]
    assert (ev["stored"], ev["live"], ev["interactions"]) == (stored, live, stored + live) and stored + live > 0
    cat = it["category_path"][-1] if it["category_path"] else None
    assert ev["category"] == cat and ev["window"] == "all time"
    since = timegm(time.strptime(ev["live_since"], "%Y-%m-%dT%H:%M:%SZ"))
    assert int(started) <= since <= time.time()
    n = stored + live
    text = f"Popular in {cat or 'the shop'}: {n} interaction{'s' if n != 1 else ''} in all"
    if live:
        text += f", {live} since {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(since))}"
    assert r["text"] == text


def _check_neighbour(svc: Service, truth: Truth, r: dict[str, Any], it: dict[str, Any], page: str) -> None:
    ev = r["evidence"]
    m = _model(svc, r["source"])
    assert ev["item"] == page and abs(ev["similarity"] - _similarity(m, svc, page, it["id"])) < 1e-5
    assert ev["event_types"] == m.event_types == truth.stored_types  # what it learned from: the store's interactions
    title = truth.items[page].title
    kinds = [t for t, c in truth.stored_types.items() if c > 0]
    if m.model.name not in CO_OCCURRENCE:
        assert r["text"] == f"Related to {title} in what shoppers chose"
    elif len(kinds) == 1:
        assert r["text"] == SHOPPERS_ALSO[kinds[0]].format(t=title)
    else:
        assert r["text"] == f"Shoppers who interacted with {title} also chose this"


def _check_reasons(svc: Service, truth: Truth, scenario: str, it: dict[str, Any], user: str | None,
                   session: str | None, page: str | None, started: float) -> None:
    hist = truth.history(None, session) if scenario == "next_in_session" else truth.history(user, session)
    mine = [r for r in it["reasons"] if r["stage"] in ("candidates", "fallback")]
    assert mine or it["reasons"][-1]["evidence"]["action"] == "pin", it
    for r in mine:
        ev = r["evidence"]
        if r["source"] == "trending":
            _check_trending(truth, r, it, started)
        elif r["source"] == "content:bm25":
            assert ev["item"] == page
        elif "interaction" in ev:
            _check_because(svc, truth, r, it["id"], hist)
        elif "history_items" in ev:
            m = _model(svc, r["source"])
            known = {i for i, _ in hist if len(m.model_ids([svc.catalog.slot(i)]))}
            k = len(known)
            assert ev["history_items"] == k >= 1  # distinct items
            where = "in this session" if ev["history"] == "session" else "so far"
            assert r["text"] == f"Picked for you from {k} item{'s' if k != 1 else ''} you interacted with {where}"
        else:
            _check_neighbour(svc, truth, r, it, page or "")


def _ask(svc: Service, truth: Truth, req: tuple[str, str | None, str | None, str | None, int], started: float) -> None:
    scenario, user, session, item, n = req
    invalid = ((scenario in ITEM_SCENARIOS and item is None) or (scenario == "next_in_session" and session is None)
               or item == "unknown")
    try:
        out = svc.recommend(scenario, user=user, session=session, item=item, n=n)
    except ShopSageError as exc:
        assert invalid and _status(exc) < 500, (req, exc)
        return
    assert not invalid, req
    items = out["items"]
    ids = [it["id"] for it in items]
    allowed = _allowed(truth, scenario, user, session, item)
    assert len(ids) == len(set(ids)) <= n and set(ids) <= allowed, (req, ids, allowed)
    _check_rules(truth, scenario, items, allowed, n)
    for it in items:
        _check_reasons(svc, truth, scenario, it, user, session, item, started)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(shop=shops())
def test_every_reason_is_true(shop: Shop) -> None:
    truth = Truth(shop)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        svc = _start(shop, Path(tmp))
        try:
            fixed = [(s, "u0", "s0", shop.items[0].ext, 12) for s in SCENARIOS]
            fixed += [("for_you", *PROBE, None, 12), ("next_in_session", None, PROBE[1], None, 12)]
            for req in [*shop.requests, *fixed]:
                _ask(svc, truth, req, started)
        finally:
            svc.close()
