"""Errors as RFC 9457 problem documents (application/problem+json)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from windflow.errors import RateLimited, WindFlowError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("windflow.api")


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    code: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://windflow.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


_HTTP_TITLES = {
    404: ("Not found", "not_found"),
    405: ("Method not allowed", "method_not_allowed"),
    413: ("Payload too large", "payload_too_large"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(WindFlowError)
    async def _windflow(request: Request, exc: WindFlowError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if exc.status >= 500:
            log.error("request failed: %s", exc)
        return problem(
            exc.status,
            exc.title,
            exc.message,
            code=exc.code,
            instance=request.url.path,
            headers=headers or None,
            hint=exc.hint,
            **exc.details,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _location(err.get("loc", ())), "message": err.get("msg", "invalid")}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(
            422,
            "Invalid input",
            f"the request is invalid: {summary}",
            code="invalid_input",
            instance=request.url.path,
            errors=errors,
            hint="fix the listed fields; unknown fields are rejected",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            _HTTP_TITLES.get(exc.status_code, ("Request error", "http_error"))[0],
            str(exc.detail),
            code=_HTTP_TITLES.get(exc.status_code, ("Request error", "http_error"))[1],
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged with the traceback for operators; the client gets no internals.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "Internal error",
            "WindFlow hit an unexpected error; it has been logged",
            code="internal_error",
            instance=request.url.path,
            hint="retry; if it persists, check the server log",
        )
