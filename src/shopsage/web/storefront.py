"""The storefront: home rails, search, product pages, cart and purchase, each a server-rendered page.

Every page calls the same :class:`~shopsage.serving.service.Service` methods as the JSON API (search,
recommend, ingest), for the shopper's anonymous session, so what a shop sees here is what its API
serves. Every interaction is a real event: a search (its ``value`` the number of results), a view
(opening a product), a click (the browser's beacon from a list, with the list's ``query_id`` or
``recomm_id`` and the item's position when the answer carries them), an add-to-cart and a purchase.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from shopsage.api.deps import current, ids
from shopsage.errors import NotFoundError, ShopSageError
from shopsage.serving.search import SearchRequest
from shopsage.web.templating import render
from shopsage.web.visitor import cart_of, send_event, session_id, store_cart

__all__ = ["router", "RAIL_SIZE", "PER_PAGE"]

router = APIRouter(include_in_schema=False)

RAIL_SIZE = 8
PER_PAGE = 12
SORTS = {"relevance": "Relevance", "price_asc": "Price: low to high", "price_desc": "Price: high to low",
         "popularity": "Popularity"}


def _rail(request: Request, title: str, scenario: str, *, item: str | None = None, n: int = RAIL_SIZE) -> dict[str, Any]:
    """One recommendation rail for this shopper (a scenario that cannot answer shows why, not a blank)."""
    sid = ids(request).maybe(session_id(request))
    try:
        ans = current(request).recommend(scenario, None, sid, item, n)
    except ShopSageError as exc:
        return {"title": title, "scenario": scenario, "items": [], "error": str(exc), "recomm_id": None}
    return {"title": title, "scenario": scenario, "items": _positioned(ans["items"], 0),
            "recomm_id": ans.get("recomm_id"), "error": None}


def _positioned(items: list[dict[str, Any]], offset: int) -> list[dict[str, Any]]:
    """Each item with the position its click reports: the answer's when it has one, else its 0-based rank."""
    return [{**it, "position": it.get("position", offset + i)} for i, it in enumerate(items)]


def _page(request: Request, name: str, **context: Any) -> Response:
    response = render(request, name, cart_count=len(cart_of(request)), **context)
    session_id(request, response)
    return response


def _closed(request: Request) -> Response | None:
    """The storefront is off when every read needs a key (``SHOPSAGE_READ_KEYS``): a public page must not
    serve what the API refuses without one."""
    if not request.app.state.keys.read:
        return None
    return render(request, "message.html", status=403, title="Storefront off",
                  message="Every read of this shop needs an API key (SHOPSAGE_READ_KEYS is set), so the built-in "
                  "storefront is off. Serve your own storefront with a read key, or unset SHOPSAGE_READ_KEYS.")


@router.get("/", response_class=Response)
def home(request: Request) -> Response:
    if (closed := _closed(request)) is not None:
        return closed
    rails = [_rail(request, "Picked for you", "for_you"), _rail(request, "Trending now", "trending")]
    return _page(request, "home.html", rails=rails, title="ShopSage shop")


@router.get("/search", response_class=Response)
def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=500)] = "",
    category: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    brand: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    price_min: Annotated[str, Query(max_length=20)] = "",
    price_max: Annotated[str, Query(max_length=20)] = "",
    in_stock: bool = False,
    sort: str = "relevance",
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
) -> Response:
    q = " ".join(q.split())
    if (closed := _closed(request)) is not None:
        return closed
    form = {"q": q, "category": category, "brand": brand, "price_min": price_min, "price_max": price_max,
            "in_stock": in_stock, "sort": sort if sort in SORTS else "relevance"}
    if not q:
        return _page(request, "search.html", form=form, sorts=SORTS, answer=None, error=None, title="Search")
    error = None
    answer: dict[str, Any] | None = None
    try:
        req = SearchRequest(q, categories=tuple(category), brands=tuple(brand), price_min=_price(price_min),
                            price_max=_price(price_max), in_stock=in_stock, sort=form["sort"], page=page,  # type: ignore[arg-type]
                            per_page=PER_PAGE, session=ids(request).maybe(session_id(request)))
        answer = current(request).search(req)
    except ShopSageError as exc:
        error = str(exc)
    if answer is not None:
        answer["items"] = _positioned(answer["items"], (page - 1) * PER_PAGE)
        if page == 1:  # one search event per query and filters; pages of it are not new searches
            send_event(request, "search", query=q, value=float(answer["total"]),
                       context={"page": "search", "query_id": answer.get("query_id")})
    pages = max(1, math.ceil((answer or {}).get("total", 0) / PER_PAGE))
    links = {"prev": _link(form, page - 1) if page > 1 else None, "next": _link(form, page + 1) if page < pages else None}
    facets = _facet_links(form, (answer or {}).get("facets", {}))
    return _page(request, "search.html", form=form, sorts=SORTS, answer=answer, error=error, pages=pages,
                 page=page, links=links, facets=facets, title=f"{q} - search")


def _price(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) and v >= 0 else None


def _link(form: dict[str, Any], page: int, **change: Any) -> str:
    f = {**form, **change}
    params: list[tuple[str, str]] = [("q", f["q"])]
    params += [("category", c) for c in f["category"]] + [("brand", b) for b in f["brand"]]
    params += [(k, str(f[k])) for k in ("price_min", "price_max") if f[k]]
    if f["in_stock"]:
        params.append(("in_stock", "true"))
    if f["sort"] != "relevance":
        params.append(("sort", f["sort"]))
    if page > 1:
        params.append(("page", str(page)))
    return "/search?" + urlencode(params)


def _facet_links(form: dict[str, Any], facets: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Each facet value with the link that toggles it (facets as the answer counts them)."""
    field_of = {"brand": "brand", "category": "category"}
    out: dict[str, list[dict[str, Any]]] = {}
    for name, values in facets.items():
        key = field_of.get(name)
        if key is None:
            continue
        chosen = list(form[key])
        rows = []
        for v in values:
            on = v["value"] in chosen
            nxt = [c for c in chosen if c != v["value"]] if on else [*chosen, v["value"]]
            rows.append({"value": v["value"], "count": v["count"], "on": on, "href": _link(form, 1, **{key: nxt})})
        out[name] = rows
    return out


@router.get("/item/{item_id}", response_class=Response)
def item_page(request: Request, item_id: str) -> Response:
    if (closed := _closed(request)) is not None:
        return closed
    svc = current(request)
    try:
        item = svc.get_item(item_id)
    except NotFoundError as exc:
        return render(request, "message.html", status=404, title="Not found", message=str(exc))
    send_event(request, "view", item=item_id, context={"page": "product"})
    rails = [_rail(request, "Similar items", "similar_items", item=item_id),
             _rail(request, "Frequently bought together", "frequently_bought_together", item=item_id),
             _rail(request, "Shoppers also viewed", "also_viewed", item=item_id)]
    return _page(request, "item.html", item=item, rails=rails, title=item.get("title") or item_id)


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (first value of each)."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, max_num_fields=50).items()}


@router.post("/cart/add", response_class=Response)
async def cart_add(request: Request) -> Response:
    if (closed := _closed(request)) is not None:
        return closed
    form = await _form(request)
    item = form.get("item", "")
    svc = current(request)
    try:
        svc.get_item(item)
    except NotFoundError as exc:
        return render(request, "message.html", status=404, title="Not found", message=str(exc))
    import anyio.to_thread

    ctx = {"page": form.get("page") or None, "query_id": form.get("query_id") or None,
           "recomm_id": form.get("recomm_id") or None, "position": _int(form.get("position"))}
    await anyio.to_thread.run_sync(lambda: send_event(request, "add_to_cart", item=item, value=1.0, context=ctx))
    response = RedirectResponse("/cart?added=" + item, status_code=303)
    store_cart(response, [*cart_of(request), item])
    session_id(request, response)
    return response


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


@router.post("/cart/remove", response_class=Response)
async def cart_remove(request: Request) -> Response:
    if (closed := _closed(request)) is not None:
        return closed
    item = (await _form(request)).get("item", "")
    cart = cart_of(request)
    if item in cart:
        cart.remove(item)
    response = RedirectResponse("/cart", status_code=303)
    store_cart(response, cart)
    return response


@router.get("/cart", response_class=Response)
def cart_page(request: Request, added: str | None = None, bought: int = 0) -> Response:
    if (closed := _closed(request)) is not None:
        return closed
    svc = current(request)
    lines: dict[str, dict[str, Any]] = {}
    for x in cart_of(request):
        try:
            it = svc.get_item(x)
        except NotFoundError:
            continue
        lines.setdefault(x, {**it, "qty": 0})["qty"] += 1
    total = sum((it.get("price") or 0) * it["qty"] for it in lines.values())
    rail = _rail(request, "You may also like", "for_you")
    return _page(request, "cart.html", lines=list(lines.values()), total=total, added=added, bought=bought,
                 rails=[rail], title="Your cart")


@router.post("/cart/checkout", response_class=Response)
async def checkout(request: Request) -> Response:
    if (closed := _closed(request)) is not None:
        return closed
    import anyio.to_thread

    items = cart_of(request)
    if not items:
        return RedirectResponse("/cart", status_code=303)

    def buy() -> int:
        svc = current(request)
        n = 0
        for x in dict.fromkeys(items):
            try:
                price = svc.get_item(x).get("price")
            except NotFoundError:
                continue
            qty = items.count(x)
            send_event(request, "purchase", item=x, value=float(price * qty) if price is not None else float(qty),
                       context={"page": "checkout"})
            n += qty
        return n

    n = await anyio.to_thread.run_sync(buy)
    response = RedirectResponse(f"/cart?bought={n}", status_code=303)
    store_cart(response, [])
    return response


class ClickIn(BaseModel):
    """A click on an item of a list, sent by the page's beacon."""

    model_config = ConfigDict(extra="forbid")

    item: str = Field(min_length=1, max_length=256)
    page: str | None = Field(None, max_length=64)
    query: str | None = Field(None, max_length=500)
    query_id: str | None = Field(None, max_length=128)
    recomm_id: str | None = Field(None, max_length=128)
    position: int | None = Field(None, ge=0, le=100_000)


@router.post("/shop/click", response_class=Response)
def click(request: Request, body: ClickIn) -> Response:
    """The beacon of a click on a listed item: a click event with where it was shown (204)."""
    if (closed := _closed(request)) is not None:
        return closed
    ctx = {"page": body.page, "query_id": body.query_id, "recomm_id": body.recomm_id, "position": body.position}
    send_event(request, "click", item=body.item, query=body.query or None, context=ctx)
    return Response(status_code=204)


@router.get("/shop/suggest", response_class=Response)
def suggest(request: Request, q: Annotated[str, Query(max_length=100)] = "") -> Response:
    """Autocomplete for the search box: the search API's suggestions when the service serves them."""
    if (closed := _closed(request)) is not None:
        return closed
    svc = current(request)
    fn = getattr(svc, "autocomplete", None)
    if not q.strip() or fn is None:
        return JSONResponse({"suggestions": []})
    try:
        found = fn(q, 8)
    except ShopSageError:
        return JSONResponse({"suggestions": []})
    raw = found.get("suggestions", found) if isinstance(found, dict) else found
    return JSONResponse({"suggestions": [s if isinstance(s, str) else s.get("text") or s.get("query") for s in raw][:8]})
