"""The merchant dashboard (``/admin``): data health, models, search analytics, merchandising, shoppers.

Behind the admin key when keys are configured (``SHOPSAGE_ADMIN_KEYS``, else a write key): the login
form stores the key in an HttpOnly, SameSite=Strict cookie scoped to ``/admin``, checked on every
request exactly as the API checks its header (:mod:`shopsage.api.security`). With no keys (the demo)
the dashboard is open, like the API, on loopback only.

Every action calls the library the CLI calls: the model registry (promote, roll back: the service
reloads the live version within its reload interval), the rule book (live rules, audited, obeyed by
the next request), the store (counts, quarantine, event rates, the query log) and the service
(profiles, recommendations with their reasons).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, quote

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError

from shopsage.api.deps import current, ids
from shopsage.api.responses import PreparedJSON
from shopsage.api.security import Keys, _match, presented_key
from shopsage.errors import ShopSageError, ValidationError, describe_problems
from shopsage.evaluate.search_analytics import search_report
from shopsage.policy.rule_store import MerchantRule
from shopsage.privacy.cipher import FIELD_KEY_ENV, FieldCipher, is_encrypted
from shopsage.serving.search import SearchRequest
from shopsage.web.charts import WINDOWS, line_chart
from shopsage.web.templating import render
from shopsage.web.visitor import SESSION_COOKIE

__all__ = ["router", "ADMIN_COOKIE"]

router = APIRouter(prefix="/admin", include_in_schema=False)
ADMIN_COOKIE = "ss_admin"
SECTIONS = (("/admin", "Data health"), ("/admin/models", "Models"), ("/admin/search", "Search analytics"),
            ("/admin/merchandising", "Merchandising"), ("/admin/shoppers", "Shoppers"),
            ("/admin/experiments", "Experiments"))


def _allowed(request: Request) -> bool:
    keys: Keys = request.app.state.keys
    if keys.open:
        return True
    key = request.cookies.get(ADMIN_COOKIE) or presented_key(request.headers)
    return key is not None and _match(key, keys.allowed("admin"))


def _login_redirect(request: Request) -> Response:
    return RedirectResponse(f"/admin/login?next={quote(request.url.path)}", status_code=303)


def _page(request: Request, name: str, **context: Any) -> Response:
    return render(request, name, sections=SECTIONS, here=request.url.path, page_lang="en",
                  keys_open=request.app.state.keys.open, **context)


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True, max_num_fields=50).items()}


# ---------------------------------------------------------------------------------------------- login
@router.get("/login", response_class=Response)
def login_form(request: Request, next: str = "/admin") -> Response:  # noqa: A002
    return _page(request, "admin/login.html", title="Sign in", next=next if next.startswith("/admin") else "/admin",
                 error=None)


@router.post("/login", response_class=Response)
async def login(request: Request) -> Response:
    form = await _form(request)
    key, nxt = form.get("key", ""), form.get("next", "/admin")
    keys: Keys = request.app.state.keys
    if not keys.open and not (key and _match(key, keys.allowed("admin"))):
        return _page(request, "admin/login.html", title="Sign in", next=nxt, status=401,
                     error="This key may not manage the shop: use a key from SHOPSAGE_ADMIN_KEYS "
                     "(or SHOPSAGE_API_KEYS while no admin keys are set).")
    response = RedirectResponse(nxt if nxt.startswith("/admin") else "/admin", status_code=303)
    if not keys.open:
        response.set_cookie(ADMIN_COOKIE, key, httponly=True, samesite="strict", path="/admin", max_age=8 * 3600)
    return response


@router.post("/logout", response_class=Response)
def logout(request: Request) -> Response:
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/admin")
    return response


# ---------------------------------------------------------------------------------------------- health
@router.get("", response_class=Response)
def health(request: Request, window: str = "6h") -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    svc = current(request)
    span, bucket = WINDOWS.get(window, WINDOWS["6h"])
    now = time.time()
    rates = svc.store.event_rates(bucket, now - span)  # type: ignore[attr-defined]
    return _page(request, "admin/health.html", title="Data health", stats=svc.store.stats(),
                 quarantine=svc.store.quarantined(50), ready=svc.ready(), live_items=len(svc.catalog),
                 chart=line_chart(rates, now - span, now, bucket), window=window if window in WINDOWS else "6h",
                 windows=list(WINDOWS))


# ---------------------------------------------------------------------------------------------- models
@router.get("/models", response_class=Response)
def models(request: Request, done: str | None = None, error: str | None = None) -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    from shopsage.training.retrain import read_decisions

    svc = current(request)
    reg = svc.registry
    loaded = svc.ready()["models"].get("loaded", {})
    now = time.time()
    rows = []
    for name in reg.names():
        versions = reg.versions(name)
        training = [(v, now - t) for v, t in reg.training(name)]
        if versions or training:
            rows.append({"name": name, "versions": versions, "previous": reg.previous(name),
                         "loaded": loaded.get(name), "training": training})
    decisions = list(reversed(read_decisions(reg.root)))[:20]
    return _page(request, "admin/models.html", title="Models", models=rows, done=done, error=error,
                 decisions=decisions)


@router.post("/models/promote", response_class=Response)
async def promote(request: Request) -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    form = await _form(request)
    reg = current(request).registry
    try:
        v = await anyio.to_thread.run_sync(lambda: reg.promote(form.get("name", ""), form.get("version", "")))
    except ShopSageError as exc:
        return RedirectResponse(f"/admin/models?error={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"/admin/models?done={quote(f'{v.name} {v.version} is live')}", status_code=303)


@router.post("/models/rollback", response_class=Response)
async def rollback(request: Request) -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    form = await _form(request)
    reg = current(request).registry
    try:
        v = await anyio.to_thread.run_sync(lambda: reg.rollback(form.get("name", "")))
    except ShopSageError as exc:
        return RedirectResponse(f"/admin/models?error={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"/admin/models?done={quote(f'{v.name} is back to {v.version}')}", status_code=303)


# ---------------------------------------------------------------------------------------------- search analytics
@router.get("/search", response_class=Response)
def search_analytics(request: Request) -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    store = current(request).store
    log = store.search_log()  # type: ignore[attr-defined]
    cipher = FieldCipher.from_env()
    error = None
    if cipher is not None:
        log = [(t, cipher.reveal_query(q) or q, v) for t, q, v in log]
    elif any(is_encrypted(q) for _, q, _ in log):
        log = [(t, q, v) for t, q, v in log if not is_encrypted(q)]
        error = f"some stored queries are encrypted: set {FIELD_KEY_ENV} to the key they were written with to count them"
    return _page(request, "admin/search.html", title="Search analytics", report=search_report(log), error=error)


# ---------------------------------------------------------------------------------------------- merchandising
def _rule_from(form: dict[str, str]) -> MerchantRule:
    def listed(key: str) -> list[str]:
        return [x.strip() for x in form.get(key, "").replace("\n", ",").split(",") if x.strip()]

    data: dict[str, Any] = {"name": form.get("name", "").strip(), "action": form.get("action", ""),
                            "items": listed("items"), "categories": listed("categories"), "brands": listed("brands"),
                            "scenarios": listed("scenarios")}
    for key, cast in (("factor", float), ("position", int)):
        if form.get(key, "").strip():
            data[key] = cast(form[key])
    return MerchantRule.model_validate(data)


def _preview(request: Request, rules: list[MerchantRule], query: str) -> dict[str, Any]:
    """The first results of ``query`` for this shopper with the live rules and with ``rules`` instead."""
    svc = current(request)
    req = SearchRequest(query, per_page=10)
    before = svc.search(req, shown=False)["items"]
    with svc.rulebook.drafting(rules):
        after = svc.search(req, shown=False)["items"]
    return {"query": query, "before": before, "after": after}


@router.get("/merchandising", response_class=Response)
def merchandising(request: Request, done: str | None = None) -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    book = current(request).rulebook
    return _page(request, "admin/merch.html", title="Merchandising", rules=book.rules(), audit=book.audit(20),
                 form={}, preview=None, error=None, done=done, settings=_settings_text(request))


def _settings_text(request: Request) -> dict[str, str] | None:
    """The index settings' synonyms (``word: other, other`` per line) and stop words, when served."""
    reader = getattr(current(request), "search_settings", None)
    if reader is None:
        return None
    cur = reader()
    return {"synonyms": "\n".join(f"{k}: {', '.join(v)}" for k, v in cur.get("synonyms", {}).items()),
            "stop_words": ", ".join(cur.get("stop_words", []))}


@router.post("/merchandising/settings", response_class=Response)
async def merchandising_settings(request: Request) -> Response:
    """Synonyms and stop words through the index settings (``PATCH /v1/settings``'s service method)."""
    if not _allowed(request):
        return _login_redirect(request)
    from shopsage.search.index_settings import SettingsPatch

    form = await _form(request)
    synonyms: dict[str, list[str]] = {}
    for line in form.get("synonyms", "").splitlines():
        if ":" in line:
            word, others = line.split(":", 1)
            if word.strip():
                synonyms[word.strip()] = [o.strip() for o in others.split(",") if o.strip()]
    stop = [w.strip() for w in form.get("stop_words", "").split(",") if w.strip()]
    svc = current(request)
    try:
        patch = SettingsPatch(synonyms=synonyms, stop_words=stop)
        await anyio.to_thread.run_sync(lambda: svc.update_search_settings(patch))
    except (ShopSageError, PydanticValidationError, ValueError) as exc:
        problem = describe_problems(exc) if isinstance(exc, PydanticValidationError) else str(exc)
        return RedirectResponse(f"/admin/merchandising?done={quote('settings not changed: ' + problem)}",
                                status_code=303)
    return RedirectResponse(f"/admin/merchandising?done={quote('synonyms and stop words saved')}", status_code=303)


@router.post("/merchandising", response_class=Response)
async def merchandising_save(request: Request) -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    form = await _form(request)
    book = current(request).rulebook
    try:
        rule = _rule_from(form)
    except (PydanticValidationError, ValueError) as exc:
        problem = describe_problems(exc) if isinstance(exc, PydanticValidationError) else str(exc)
        return _page(request, "admin/merch.html", title="Merchandising", rules=book.rules(), audit=book.audit(20),
                     form=form, preview=None, error=f"The rule is not valid: {problem}", done=None, status=422,
                     settings=_settings_text(request))
    if form.get("intent") == "preview":
        query = form.get("preview_query", "").strip() or (rule.items[0] if rule.items else "")
        draft = [r for r in book.rules() if r.name != rule.name] + [rule]
        preview = await anyio.to_thread.run_sync(lambda: _preview(request, draft, query)) if query else None
        return _page(request, "admin/merch.html", title="Merchandising", rules=book.rules(), audit=book.audit(20),
                     form=form, preview=preview, error=None if query else "Give a query to preview the rule on.",
                     done=None, settings=_settings_text(request))
    await anyio.to_thread.run_sync(lambda: book.put(rule, "dashboard"))
    return RedirectResponse(f"/admin/merchandising?done={quote(f'rule {rule.name} is live')}", status_code=303)


@router.post("/merchandising/delete", response_class=Response)
async def merchandising_delete(request: Request) -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    name = (await _form(request)).get("name", "")
    book = current(request).rulebook
    try:
        await anyio.to_thread.run_sync(lambda: book.delete(name, "dashboard"))
    except ShopSageError as exc:
        return RedirectResponse(f"/admin/merchandising?done={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"/admin/merchandising?done={quote(f'rule {name} deleted')}", status_code=303)


# ---------------------------------------------------------------------------------------------- shoppers
@router.get("/shoppers", response_class=Response)
def shoppers(request: Request, user: str = "", session: str = "", mine: bool = False) -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    svc = current(request)
    edge = ids(request)
    if mine:
        session = request.cookies.get(SESSION_COOKIE, "")
    user, session = user.strip()[:256], session.strip()[:256]
    found: dict[str, Any] | None = None
    error = None
    if user or session:
        u, s = edge.maybe(user or None), edge.maybe(session or None)
        sh = svc.shopper(u, s)
        history = [{**svc.catalog.view(slot), "event": kind} for slot, kind in (sh.user_history + sh.session_history)[-30:]
                   if svc.catalog.row(slot) is not None]
        profile = None
        if u and sh.user_history:
            profile = svc.profile(u)
        try:
            recs = svc.recommend("for_you", u, s, None, 10, shown=False)
        except ShopSageError as exc:
            recs, error = None, str(exc)
        found = {"user": user, "session": session, "history": list(reversed(history)), "profile": profile,
                 "recs": recs, "mine": mine}
    return _page(request, "admin/shoppers.html", title="Shoppers", found=found, error=error,
                 form={"user": user, "session": "" if mine else session})


# ---------------------------------------------------------------------------------------------- experiments
@router.get("/experiments", response_class=Response)
def experiments(request: Request, done: str | None = None) -> Response:
    """Every experiment with its analysis (the report ``GET /v1/experiments/{name}/report`` answers)."""
    if not _allowed(request):
        return _login_redirect(request)
    from shopsage.evaluate.abtest_report import experiment_report
    from shopsage.experiments.book import list_experiments

    svc = current(request)
    flush = getattr(getattr(svc, "exposure_log", None), "flush", None)
    if flush is not None:
        flush()  # what was answered so far is in the reports
    reports, error, variants = [], None, {}
    try:
        for exp in reversed(list_experiments(svc.store)):  # type: ignore[arg-type]
            reports.append(experiment_report(svc.store, exp.name))  # type: ignore[arg-type]
            variants[exp.name] = [v.name for v in exp.variants]
    except ShopSageError as exc:
        error = str(exc)
    return _page(request, "admin/experiments.html", title="Experiments", reports=reports, error=error, done=done,
                 variants=variants)


@router.get("/experiments/preview", response_class=Response)
def experiment_preview(request: Request, scenario: str, variant: str, q: str = "", item: str = "") -> Response:
    """What ``variant`` of the experiment running on ``scenario`` serves: the API's ``?variant=`` preview behind
    the admin cookie (the answer's JSON, marked preview, outside the experiment's sample)."""
    if not _allowed(request):
        return _login_redirect(request)
    svc = current(request)
    if scenario != "search":
        return PreparedJSON(svc.recommend(scenario, item=item.strip()[:256] or None, variant=variant))
    if not q.strip():
        raise ValidationError("type a query to preview a search variant")
    return PreparedJSON(svc.search(SearchRequest(q.strip()[:500], per_page=10), variant=variant))


@router.post("/experiments/stop", response_class=Response)
async def experiment_stop(request: Request) -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    from shopsage.experiments.book import stop_experiment

    name = (await _form(request)).get("name", "")
    svc = current(request)

    def stop() -> None:
        svc.exposure_log.flush()
        stop_experiment(svc.store, name)  # type: ignore[arg-type]
        svc.experiments.invalidate()

    try:
        await anyio.to_thread.run_sync(stop)
    except ShopSageError as exc:
        return RedirectResponse(f"/admin/experiments?done={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"/admin/experiments?done={quote(f'{name} stopped: its traffic gets the live configuration')}",
                            status_code=303)
