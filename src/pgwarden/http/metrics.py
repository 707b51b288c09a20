"""GET /metrics: registered only when [metrics] enabled, behind its own bearer token if set."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from pgwarden import metrics
from pgwarden.config import MetricsConfig
from pgwarden.db.database import DatabaseUnavailable
from pgwarden.http import schemas
from pgwarden.http.dependencies import services
from pgwarden.http.errors import ApiError
from pgwarden.services import Services

TEXT_FORMAT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format, version 0.0.4",
        "content": {metrics.CONTENT_TYPE: {"schema": {"type": "string"}}},
    }
}

WRONG_TOKEN: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.ErrorBody, "description": "Missing or wrong metrics token"}
}


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


bearer = HTTPBearer(
    auto_error=False,
    scheme_name="MetricsToken",
    description="The [metrics] token, as `Authorization: Bearer <token>`",
)


def _token_check(token: str) -> Any:
    expected = _digest(token)

    def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> None:
        # Digests first, so the comparison takes as long whatever the length of the guess.
        given = _digest(credentials.credentials if credentials else "")
        if credentials is None or not hmac.compare_digest(given, expected):
            raise ApiError(401, "Invalid metrics token.", {"WWW-Authenticate": "Bearer"})

    return check


def metrics_router(config: MetricsConfig) -> APIRouter:
    router = APIRouter()
    guarded = bool(config.token)

    async def scrape(svc: Annotated[Services, Depends(services)]) -> Response:
        """Backends by state and database, lock waits, the longest query and transactions,
        the oldest backend_xmin, and the agent's own sampling; never any query text.
        When PostgreSQL is unavailable the answer is still 200, with
        pgwarden_postgresql_up 0 and the agent's own figures."""
        try:
            snapshot = await svc.sampler.snapshot()
        except DatabaseUnavailable:
            snapshot = None  # counted in pgwarden_sampler_errors_total by the sampler
        history = svc.recorder.stats if svc.recorder is not None else None
        body = metrics.exposition(snapshot, svc.sampler.stats, history)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    router.add_api_route(
        "/metrics",
        scrape,
        methods=["GET"],
        response_class=Response,
        responses={**TEXT_FORMAT, **(WRONG_TOKEN if guarded else {})},
        dependencies=[Depends(_token_check(config.token))] if guarded else [],
        tags=["metrics"],
        summary="Prometheus metrics",
    )
    return router
