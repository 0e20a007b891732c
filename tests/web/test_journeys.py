"""The shopper's and the merchant's journeys in a real browser against a real server on real data.

Every page visited is checked by axe-core (no serious or critical violations) and photographed into
docs/screenshots. The journeys check what the page shows against what the service stored: the
events of the visit (searches, views, clicks with their positions, carts, purchases) in the store,
the for-you rail against the rail before the visit, a pin against the next search, a promotion and
a rollback against the version the service says it serves.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from shopsage.data.stores import open_store

QUERY = "tape"


def _ids(page: Any, selector: str) -> list[str]:
    return [x for x in page.locator(selector).evaluate_all("els => els.map(e => e.getAttribute('data-item-id'))") if x]


def _rail(page: Any, scenario: str) -> list[str]:
    return _ids(page, f'section[data-scenario="{scenario}"] li[data-item-id]')


def _events(store_url: str) -> dict[str, int]:
    store = open_store(store_url)
    try:
        return dict(store.stats().events_by_type)
    finally:
        store.close()


@pytest.fixture()
def page(browser: Any) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    p = ctx.new_page()
    p.set_default_timeout(15_000)
    yield p
    ctx.close()


def test_shopper_searches_filters_buys_and_sees_why(shop: Any, page: Any, axe: Any, screenshot: Any) -> None:
    start = _events(shop.store)
    page.goto(shop.base + "/")
    axe(page, "home")
    screenshot(page, "storefront-home")
    before = _rail(page, "for_you")
    assert before and _rail(page, "trending")

    # keyboard focus order: the skip link, the shop's name, then the search box
    focused = []
    for _ in range(3):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.className || document.activeElement.id"))
    assert focused == ["skip", "brand", "q"], focused

    # search from the box, with the keyboard only; suggestions arrive while typing
    page.focus("input[type=search][name=q]")
    page.keyboard.type(QUERY, delay=40)
    page.wait_for_function("document.querySelectorAll('#suggestions option').length > 0")
    assert any(QUERY in o for o in page.locator("#suggestions option").evaluate_all("os => os.map(o => o.value)"))
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    results = _ids(page, ".results li[data-item-id]")
    assert len(results) == 12, page.content()[:2000]
    assert page.locator(".results li[data-item-id] a.title mark").count() >= 1  # the matched words highlighted
    axe(page, "search")
    screenshot(page, "storefront-search")
    page.click("a[rel=next]")
    page.wait_for_url("**page=2*")
    assert not set(_ids(page, ".results li[data-item-id]")) & set(results)
    assert "page 2 of" in page.locator(".summary").inner_text()

    # a brand facet narrows the results to that brand, with its count
    facet = page.locator('[data-facet="brand"] a').first
    brand = facet.get_attribute("data-facet-value")
    count = int(facet.inner_text().rsplit("(", 1)[1].rstrip(")"))
    facet.click()
    page.wait_for_load_state()
    assert page.locator('[data-facet="brand"] a[aria-current="true"]').count() == 1
    shown = page.locator(".results li[data-item-id] .meta").all_inner_texts()
    assert shown and all(brand in m for m in shown)
    assert f"{count} result" in page.locator(".summary").inner_text()

    # sort by price, lowest first
    page.select_option("#sort", "price_asc")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**sort=price_asc*")

    # open the first result: a click (beacon with its position) and a view
    page.goto(shop.base + f"/search?q={QUERY}")
    first = page.locator(".results li[data-item-id]").first
    item = first.get_attribute("data-item-id")
    first.locator("a[data-click]").click()
    page.wait_for_url(f"**/item/{item}")
    axe(page, "product")
    rails = {s: _rail(page, s) for s in ("similar_items", "frequently_bought_together", "also_viewed")}
    assert rails["similar_items"] and item not in rails["similar_items"]

    # "why?" opens the item's reasons and evidence (keyboard: focus and Enter)
    why = page.locator('section[data-scenario="similar_items"] [data-why]').first
    why.focus()
    page.keyboard.press("Enter")
    panel = page.locator('section[data-scenario="similar_items"] details.why').first
    assert panel.get_attribute("open") is not None
    assert panel.locator("li").count() >= 1 and panel.locator("dl.evidence dt").count() >= 1
    screenshot(page, "storefront-product-why")

    # add to cart and buy
    page.click("[data-add-to-cart]")
    page.wait_for_url("**/cart?added=*")
    assert _ids(page, "table.cart tr[data-item-id]") == [item]
    axe(page, "cart")
    screenshot(page, "storefront-cart")
    page.click("[data-checkout]")
    page.wait_for_selector("[data-purchased]")

    # the for-you rail follows the visit; the bought item is not offered again
    page.goto(shop.base + "/")
    after = _rail(page, "for_you")
    assert after != before and item not in after

    got = _events(shop.store)
    for kind, at_least in (("search", 1), ("click", 1), ("view", 1), ("add_to_cart", 1), ("purchase", 1)):
        assert got[kind] - start.get(kind, 0) >= at_least, (kind, got, start)
    store = open_store(shop.store)
    try:
        log = store.search_log()  # type: ignore[attr-defined]
    finally:
        store.close()
    assert ("click", QUERY, None) in log and any(t == "search" and q == QUERY and (v or 0) > 0 for t, q, v in log)


def _loaded(shop: Any, name: str) -> str | None:
    return httpx.get(shop.base + "/ready", timeout=10).json()["models"]["loaded"].get(name)


def _wait_loaded(shop: Any, name: str, version: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while _loaded(shop, name) != version and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _loaded(shop, name) == version


def test_merchant_pins_promotes_and_rolls_back(shop: Any, page: Any, axe: Any, screenshot: Any) -> None:
    page.goto(shop.base + "/admin")
    assert page.locator('[data-count="items"]').inner_text() != "0"
    axe(page, "admin health")
    screenshot(page, "admin-health")

    # models: roll back to v0001, then promote v0002 again, each with one click
    page.goto(shop.base + "/admin/models")
    axe(page, "admin models")
    screenshot(page, "admin-models")
    assert _loaded(shop, "itemknn") == "v0002"
    page.click('[data-rollback="itemknn"]')
    page.wait_for_selector("p.ok")
    _wait_loaded(shop, "itemknn", "v0001")
    page.click('[data-promote="itemknn:v0002"]')
    page.wait_for_selector("p.ok")
    _wait_loaded(shop, "itemknn", "v0002")

    # a pin edited in the dashboard is first in the very next storefront search
    page.goto(shop.base + f"/search?q={QUERY}")
    listed = _ids(page, ".results li[data-item-id]")
    target = listed[-1]
    assert listed[0] != target
    page.goto(shop.base + "/admin/merchandising")
    page.fill("#r-name", "web-test-pin")
    page.select_option("#r-action", "pin")
    page.fill("#r-items", target)
    page.fill("#r-preview", QUERY)
    page.click('button[value="preview"]')
    page.wait_for_selector("[data-preview]")
    assert _ids(page, "[data-preview] .grid2 > div:nth-child(2) li[data-item-id]")[0] == target
    assert _ids(page, "[data-preview] .grid2 > div:nth-child(1) li[data-item-id]")[0] != target
    axe(page, "admin merchandising")
    page.locator("[data-preview]").scroll_into_view_if_needed()
    screenshot(page, "admin-merchandising")
    page.click('button[value="save"]')
    page.wait_for_selector('tr[data-rule="web-test-pin"]')
    page.goto(shop.base + f"/search?q={QUERY}")
    assert _ids(page, ".results li[data-item-id]")[0] == target
    why = page.locator(".results li[data-item-id]").first.locator("details.why")
    assert "web-test-pin" in (why.text_content() or "")
    page.goto(shop.base + "/admin/merchandising")
    page.click('tr[data-rule="web-test-pin"] button')
    page.wait_for_selector("p.ok")
    page.goto(shop.base + f"/search?q={QUERY}")
    assert _ids(page, ".results li[data-item-id]")[0] == listed[0]

    # search analytics, the shopper inspector (this browser's own session) and experiments
    page.goto(shop.base + "/admin/search")
    assert page.locator(f'#top-queries tr[data-query="{QUERY}"]').count() == 1
    axe(page, "admin search analytics")
    screenshot(page, "admin-search")
    page.goto(shop.base + f"/item/{target}")
    page.goto(shop.base + "/admin/shoppers?mine=true")
    assert target in _ids(page, "[data-history] li")
    axe(page, "admin shoppers")
    screenshot(page, "admin-shoppers")
    page.goto(shop.base + "/admin/experiments")
    axe(page, "admin experiments")



def test_dashboard_asks_for_the_admin_key_when_keys_are_set(keyed_shop: Any, page: Any, axe: Any,
                                                          screenshot: Any) -> None:
    page.goto(keyed_shop.base + "/admin/models")
    page.wait_for_url("**/admin/login?**")
    axe(page, "admin login")
    screenshot(page, "admin-login")
    page.fill("#key", "a-write-key-only")
    page.keyboard.press("Enter")
    assert "may not manage the shop" in page.locator("[role=alert]").inner_text()
    page.fill("#key", keyed_shop.admin_key)
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/models")
    cookie = next(c for c in page.context.cookies() if c["name"] == "ss_admin")
    assert cookie["httpOnly"] and cookie["path"] == "/admin" and cookie["sameSite"] == "Strict"
    assert page.locator('[data-model="itemknn"]').count() == 1
    page.goto(keyed_shop.base + "/")  # the storefront stays open to shoppers
    assert _rail(page, "trending")
