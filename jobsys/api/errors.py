"""The one boundary from errors to HTTP: each ``JobsysError`` class has a status.

Every error response has the body ``{"error": {"type", "message", "field"}}``, also
for FastAPI's own request validation (422) and unknown routes (404, 405).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobsys.errors import (
    BrokerUnavailable,
    ConfigError,
    DefinitionError,
    Forbidden,
    InputError,
    InvalidTransition,
    JobError,
    JobFailed,
    JobsysError,
    NotFound,
    RateLimited,
    SchemaMissing,
    StoreUnavailable,
    Unauthorized,
    UnknownJobType,
    WaitTimeout,
)

log = logging.getLogger("jobsys.api")

#: HTTP status per error class; a subclass not listed takes its nearest listed base's
HTTP_STATUS: dict[type[JobsysError], int] = {
    JobsysError: 500,
    ConfigError: 422,
    BrokerUnavailable: 503,
    StoreUnavailable: 503,
    SchemaMissing: 503,
    DefinitionError: 422,
    UnknownJobType: 422,
    InputError: 422,
    NotFound: 404,
    InvalidTransition: 409,
    WaitTimeout: 504,
    JobFailed: 409,
    Unauthorized: 401,
    Forbidden: 403,
    RateLimited: 429,
    JobError: 500,
}


def status_of(exc: JobsysError) -> int:
    """The HTTP status of an error: its class's, or its nearest mapped base's."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


def field_of(exc: JobsysError) -> str | None:
    """What the error names as at fault, if anything."""
    if isinstance(exc, UnknownJobType):
        return "job_type"
    if isinstance(exc, Unauthorized | Forbidden | RateLimited):
        return "Authorization"
    if isinstance(exc, InputError):
        return exc.field
    if isinstance(exc, ConfigError):
        return exc.setting
    return None


def error_response(
    status: int, type_: str, message: str, field: str | None = None, **headers: str
) -> JSONResponse:
    """The JSON error body every failing request gets."""
    body = {"error": {"type": type_, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, headers=headers or None)


def _jobsys_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JobsysError)
    status = status_of(exc)
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc.format_message())
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else {}
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(
        status, type(exc).__name__, exc.format_message(), field_of(exc), **headers
    )


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[Any] = list(exc.errors())
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ())]
    where, inner = (loc[0], ".".join(loc[1:])) if loc else ("request", "")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    prefix = f"{where} {inner!r}" if inner else where
    return error_response(422, "InputError", f"{prefix}: {first['msg']}{more}", inner or where)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    message = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else ""
    if exc.status_code == 404 and not message:
        message = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return error_response(
        exc.status_code, phrase.replace(" ", ""), message or phrase, None, **(exc.headers or {})
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "InternalError", "internal error (the server log has details)")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the JSON error body."""
    app.add_exception_handler(JobsysError, _jobsys_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
