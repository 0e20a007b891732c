"""The one error handler: ShopSage errors, validation errors and HTTP errors become
``{"error", "message", "detail"}`` with the status of :data:`shopsage.errors.HTTP_STATUS`.

Nothing a client sent is repeated: a validation error names the field and the rule, never the value
(it may be a shopper's id, a lone surrogate, NaN); bodies are written as ASCII JSON, so no text can
make an answer unencodable. An unexpected error is logged by its class, the route template and the
code lines of its traceback, never its message or values (they may hold ids).
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shopsage.errors import HTTP_STATUS, ShopSageError

__all__ = ["install_error_handlers", "status_of", "log_unexpected", "ContainErrors"]

log = logging.getLogger("shopsage.api")


def status_of(exc: ShopSageError) -> int:
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


class _AsciiJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _body(error: str, message: str, status: int, detail: list[dict[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    return _AsciiJSON({"error": error, "message": message, "detail": detail}, status_code=status, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _branch(part: object) -> str | None:
    """The union member a location part names (pydantic writes e.g. ``function-after[_check(), EventIn]``)."""
    text = str(part)
    for name in ("EventBatch", "EventIn"):
        if text == name or text.endswith(f" {name}]"):
            return name
    return None


def _pick_branch(errors: list[dict[str, Any]], body: Any) -> list[dict[str, Any]]:
    """A body that is one event or a batch fails both union branches: report only the one it meant."""
    if not any(len(e["loc"]) > 1 and _branch(e["loc"][1]) for e in errors):
        return errors
    meant = "EventBatch" if isinstance(body, dict) and "events" in body else "EventIn"
    kept = [e for e in errors if len(e["loc"]) < 2 or _branch(e["loc"][1]) in (meant, None)]
    return [{**e, "loc": tuple(p for i, p in enumerate(e["loc"]) if not (i == 1 and _branch(p)))} for e in kept] or errors


def _name(part: object) -> int | str:
    """A location part; a field name the client made up (an unknown field, a dict key) is shown only
    when it is short and printable."""
    if isinstance(part, int):
        return part
    text = str(part)
    return text if len(text) <= 64 and text.isprintable() else "<unprintable name>"


def _clean(e: dict[str, Any]) -> dict[str, Any]:
    """Where and which rule, never the input (see the module docstring)."""
    return {"loc": [_name(p) for p in e["loc"]], "msg": str(e["msg"]), "type": str(e["type"])}


def _route(req: Request) -> str:
    route = req.scope.get("route")
    return f"{req.method} {getattr(route, 'path', None) or 'unmatched'}"


def _detail(exc: ShopSageError) -> list[dict[str, Any]] | None:
    """An error's own ``detail`` (e.g. both versions of a conflicting event), made JSON-safe."""
    detail = getattr(exc, "detail", None)
    if detail is None:
        return None
    try:
        return json.loads(json.dumps(detail, ensure_ascii=True, allow_nan=False, default=str))  # type: ignore[no-any-return]
    except (TypeError, ValueError):
        return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ShopSageError)
    async def _shopsage(_req: Request, exc: ShopSageError) -> JSONResponse:
        retry = getattr(exc, "retry_after", None)
        return _body(type(exc).__name__, str(exc), status_of(exc), _detail(exc),
                     headers={"Retry-After": str(retry)} if retry is not None else None)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_req: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _pick_branch(list(exc.errors()), exc.body)
        detail = [_clean(e) for e in errors]
        message = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in detail[:10])
        if len(detail) > 10:
            message += f"; and {len(detail) - 10} more"
        return _body("ValidationError", message + ". Nothing of this request was applied.", 422, detail)

    @app.exception_handler(PydanticValidationError)
    async def _model_validation(_req: Request, exc: PydanticValidationError) -> JSONResponse:
        detail = [_clean(dict(e)) for e in exc.errors()]
        message = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in detail[:10])
        return _body("ValidationError", message + ". Nothing of this request was applied.", 422, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
                 413: "PayloadTooLarge"}
        return _body(names.get(exc.status_code, "HTTPError"), str(exc.detail), exc.status_code,
                     headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception) -> JSONResponse:
        log_unexpected(exc, _route(req))
        return _body("InternalError", _INTERNAL, 500)


_INTERNAL = "an unexpected error occurred; it was logged. Retry, or report it."


def log_unexpected(exc: BaseException, route: str) -> None:
    """Log an unexpected error by class, route template and traceback code lines: no message, no values."""
    frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    log.error("unexpected %s on %s\n%s", type(exc).__name__, route, frames.rstrip())


class ContainErrors:
    """The outermost layer: an exception that escaped every handler is logged by :func:`log_unexpected`
    and answered 500 here, instead of reaching Starlette's and uvicorn's loggers, which print the
    exception's message (and with it whatever ids it holds)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(msg: dict[str, Any]) -> None:
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # noqa: BLE001 - the last line of defence, logged without values
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            log_unexpected(exc, f"{scope.get('method', '?')} {route}")
            if not started:
                await _body("InternalError", _INTERNAL, 500)(scope, receive, send)
