"""Jinja2 templates of the storefront and the dashboard: one autoescaping environment, loaded from the package.

Pages are rendered on the server (no build step, no network at run time: the one script and the one
stylesheet are in ``web/static``). Every value reaches the page escaped; the few filters here format,
they never decide what is shown.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

__all__ = ["render", "text_lang", "ENV"]

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def text_lang(text: object, default: str = "en") -> str:
    """The ``lang`` of a text as stored: ``zh`` when it holds Chinese characters (a Chinese catalogue's titles
    are served as stored; screen readers need to know which voice reads them)."""
    return "zh" if isinstance(text, str) and _CJK.search(text) else default


def _money(value: object, currency: object = None) -> str:
    if not isinstance(value, (int, float)):
        return ""
    return f"{value:,.2f}" + (f" {currency}" if currency else "")


def _when(ts: object) -> str:
    """Epoch seconds as a UTC date and time (empty when unknown)."""
    if not isinstance(ts, (int, float)):
        return ""
    return dt.datetime.fromtimestamp(float(ts), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _evidence(value: object) -> str:
    """An evidence value as one short line (lists and dicts as compact JSON)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)[:300]
    return str(value)


_MARKS = re.compile(r"&lt;(/?)(em|mark)&gt;")


def _highlight(text: object) -> Markup:
    """A search hit's ``formatted`` field (HTML-escaped text with ``<mark>`` around matched words), made
    safe again here: unescaped, escaped whole, then only the ``<mark>`` tags restored, so nothing else in
    the text can become markup whatever the engine returned."""
    return Markup(_MARKS.sub(r"<\1mark>", str(escape(html.unescape(str(text))))))


ENV = Environment(loader=PackageLoader("shopsage.web", "templates"), autoescape=select_autoescape(default=True),
                  trim_blocks=True, lstrip_blocks=True, auto_reload=False)
ENV.filters["money"] = _money
ENV.filters["evidence"] = _evidence
ENV.filters["lang"] = text_lang
ENV.filters["when"] = _when
ENV.filters["safe_highlight"] = _highlight


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``name`` with ``context`` (``request`` and the page language are always there)."""
    svc = getattr(request.app.state, "service", None)
    page_lang = context.pop("page_lang", None) or (getattr(svc, "search_language", "en") if svc else "en")
    html = ENV.get_template(name).render(request=request, page_lang=page_lang, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
