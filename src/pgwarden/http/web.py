"""The live activity page: GET / and its static files from pgwarden/web/, no build step."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from pgwarden import __version__

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

# Everything comes from the agent itself: no inline script, no third party, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    # Revalidate the page so an upgraded agent serves its own app.js (named by version).
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


class RevalidatedFiles(StaticFiles):
    """The page's files, revalidated on each load: ES modules import each other by plain
    names, so only the entry point can carry the version; the others must not go stale."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


@cache
def page() -> bytes:
    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    return html.replace("{{version}}", __version__).encode()


@router.get("/", response_class=HTMLResponse)
async def index() -> HTMLResponse:
    return HTMLResponse(page(), headers=PAGE_HEADERS)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/web", RevalidatedFiles(directory=WEB_DIR), name="web")
