"""The one error handler: ShopSage errors, validation errors and HTTP errors become
``{"error", "message", "detail"}`` with the status of :data:`shopsage.errors.HTTP_STATUS`."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shopsage.errors import HTTP_STATUS, ShopSageError

__all__ = ["install_error_handlers", "status_of"]

log = logging.getLogger("shopsage.api")


def status_of(exc: ShopSageError) -> int:
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


def _body(error: str, message: str, status: int, detail: list[dict[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, "detail": detail}, status_code=status, headers=headers)


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


def _clean(e: dict[str, Any]) -> dict[str, Any]:
    out = {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
    if "input" in e:
        try:
            json.dumps(e["input"])
            text = repr(e["input"])
            out["input"] = e["input"] if len(text) <= 200 else text[:200] + "..."
        except (TypeError, ValueError):
            out["input"] = repr(e["input"])[:200]
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ShopSageError)
    async def _shopsage(_req: Request, exc: ShopSageError) -> JSONResponse:
        return _body(type(exc).__name__, str(exc), status_of(exc))

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
        names = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}
        return _body(names.get(exc.status_code, "HTTPError"), str(exc.detail), exc.status_code,
                     headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s", type(exc).__name__, exc_info=exc)
        return _body("InternalError", "an unexpected error occurred; it was logged. Retry, or report it.", 500)
