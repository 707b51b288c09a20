"""Every error leaves as `{"error": "<one sentence>"}`: one exception class, one handler each."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from pgwarden.audit import AuditUnavailable
from pgwarden.auth.login import LoginThrottled
from pgwarden.auth.users import UsersFileError
from pgwarden.db.database import DatabaseUnavailable, PermissionDenied
from pgwarden.http.responses import json_response

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def malformed(name: str) -> ApiError:
    return ApiError(406, f"Parameter '{name}' is malformed.")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status=status, headers=headers)


_HTTP_MESSAGES = {
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
}


def install(app: FastAPI) -> None:
    """Register one handler per error class."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, message, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        name = str(errors[0]["loc"][-1]) if errors and errors[0].get("loc") else "request"
        return error_response(406, f"Parameter '{name}' is malformed.")

    @app.exception_handler(LoginThrottled)
    async def throttled(request: Request, exc: LoginThrottled) -> Response:
        retry = str(max(1, math.ceil(exc.retry_after)))
        return error_response(429, "Too many failed logins; retry later.", {"Retry-After": retry})

    @app.exception_handler(PermissionDenied)
    async def permission_denied(request: Request, exc: PermissionDenied) -> Response:
        return error_response(503, f"PostgreSQL refused the agent's query: {exc}")

    @app.exception_handler(DatabaseUnavailable)
    async def unavailable(request: Request, exc: DatabaseUnavailable) -> Response:
        return error_response(503, f"PostgreSQL is unavailable: {exc}")

    @app.exception_handler(AuditUnavailable)
    async def audit_unavailable(request: Request, exc: AuditUnavailable) -> Response:
        log.error("audit log cannot be written: %s", exc)
        return error_response(500, f"Audit log cannot be written: {exc}")

    @app.exception_handler(UsersFileError)
    async def users_file(request: Request, exc: UsersFileError) -> Response:
        log.error("users file unusable: %s", exc)
        return error_response(500, f"Users file is unusable: {exc}")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal error.")
