"""The application: routes, error handlers, headers, and the services' life cycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from pgwarden import __version__
from pgwarden.config import Config
from pgwarden.http import errors, web
from pgwarden.http import history as history_routes
from pgwarden.http.docs import COMMON_ERRORS, AgentAPI, install_docs_page
from pgwarden.http.metrics import metrics_router
from pgwarden.http.middleware import AgentHeaders
from pgwarden.http.routes import router
from pgwarden.services import Services


def create_app(config: Config) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = Services.create(config)
        app.state.services = svc
        await svc.start()
        try:
            yield
        finally:
            await svc.close()

    app = AgentAPI(
        title="pgwarden",
        version=__version__,
        summary="What every PostgreSQL backend is doing right now.",
        description=COMMON_ERRORS,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(router)
    app.include_router(history_routes.router)
    if config.metrics.enabled:
        app.include_router(metrics_router(config.metrics))
    install_docs_page(app)
    web.install(app)
    errors.install(app)
    app.add_middleware(AgentHeaders, max_body_bytes=config.server.max_body_bytes)
    return app
