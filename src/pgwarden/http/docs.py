"""The OpenAPI document as the agent really answers, and a docs page that needs no CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

# Swagger UI's own files, shipped inside a Python package: operators' hosts may have no internet.
SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"

# Answers any route can give, described once rather than on every operation.
COMMON_ERRORS = """\
Every error is `{"error": "<one sentence>"}`. Besides the statuses listed per route, any
route may answer 404 (unknown route), 405 (method not allowed), 413 (request body larger
than `[server] max_body_bytes`) and 500 (internal error).
"""


class AgentAPI(FastAPI):
    """FastAPI, minus the 422 answers it documents for every route with parameters: the agent
    answers a malformed parameter with 406 (as the seed does), which each route lists."""

    def openapi(self) -> dict[str, Any]:
        schema = super().openapi()  # built once, then cached by FastAPI
        drop_validation_errors(schema)  # idempotent, and cheap on the cached document
        return schema


def drop_validation_errors(schema: dict[str, Any]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def install_docs_page(app: FastAPI) -> None:
    """GET /docs: Swagger UI with its files served by the agent itself."""
    app.mount(ASSETS_PATH, StaticFiles(directory=SWAGGER_ASSETS), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False, response_class=HTMLResponse)
    async def docs_page() -> HTMLResponse:
        # Relative URLs: the page keeps working behind a proxy that adds a path prefix.
        return get_swagger_ui_html(
            openapi_url="openapi.json",
            title=f"{app.title} API",
            swagger_js_url="docs/assets/swagger-ui-bundle.js",
            swagger_css_url="docs/assets/swagger-ui.css",
            swagger_favicon_url="docs/assets/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None},  # no badge from an online validator
        )
