"""/openapi.json tells the truth: every route, every status it really gives, every body.

The statuses are not read from the code: a real agent is driven into each answer it can
give (bad input, a viewer, throttling, PostgreSQL down, a broken audit log or users file),
and what it answered is compared with what the document says, both ways.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from pgwarden.cluster import Cluster, free_port
from pgwarden.config import Config, MetricsConfig
from pgwarden.http.app import create_app
from tests.helpers import Agent, running_agent

TOKEN = "openapi-metrics-token"
METRICS_ON = f'[metrics]\nenabled = true\ntoken = "{TOKEN}"\n'
THROTTLE = {"PGWARDEN_AUTH_MAX_FAILURES": "2"}
NO_SUCH_PID = 999_999_999
TOO_BIG = b'{"pids": [' + b"1," * 40_000 + b"1]}"  # over the default 64 KiB limit
UNKNOWN_SESSION = "0" * 64

Operation = tuple[str, str]


def flat_routes(app: FastAPI) -> list[Any]:
    """Every route of the app, included routers opened up (FastAPI may keep them whole)."""
    found: list[Any] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(inner.routes)
            else:
                found.append(route)

    walk(list(app.routes))
    return found


def full_app() -> FastAPI:
    return create_app(Config(metrics=MetricsConfig(enabled=True, token=TOKEN)))


def documented_operations(document: dict[str, Any]) -> dict[Operation, dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def response_models() -> dict[Operation, type[BaseModel]]:
    models = {}
    for route in flat_routes(full_app()):
        if isinstance(route, APIRoute) and isinstance(route.response_model, type):
            for method in route.methods or ():
                models[(method, route.path)] = route.response_model
    return models


class Recorder:
    """Sends requests, checks each body against its documented shape, and notes the status."""

    def __init__(self) -> None:
        self.seen: dict[Operation, set[int]] = defaultdict(set)
        self.models = response_models()

    def send(
        self,
        agent: Agent,
        method: str,
        path: str,
        session: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if session is not None:
            headers["X-Session"] = session
        with agent.client() as client:
            response = client.request(method, path, headers=headers, **kwargs)
        status = response.status_code
        self.seen[(method, path)].add(status)
        if status >= 400:
            assert response.headers["content-type"] == "application/json", (method, path)
            body = response.json()
            assert list(body) == ["error"] and isinstance(body["error"], str), body
        elif (method, path) in self.models:
            self.models[(method, path)].model_validate_json(response.content, strict=True)
        return response

    def stream(self, agent: Agent, path: str, session: str | None = None) -> None:
        """Open an event stream, read its first line when it is one, and close it."""
        headers = {"X-Session": session} if session is not None else {}
        with agent.client() as client, client.stream("GET", path, headers=headers) as response:
            self.seen[("GET", path)].add(response.status_code)
            if response.status_code >= 400:
                assert response.headers["content-type"] == "application/json", path
                assert list(response.read() and response.json()) == ["error"]
            else:
                assert response.headers["content-type"].startswith("text/event-stream")
                assert next(response.iter_lines()).startswith("event: ")


HISTORY_AT = ["/history/activity", "/history/waiting", "/history/blocking", "/history/snapshot"]
HISTORY_WINDOWS = ["/history/load", "/history/top"]
HISTORY = HISTORY_AT + HISTORY_WINDOWS
SESSION_GETS = [
    "/logout",
    "/profile",
    "/activity",
    "/activity/waiting",
    "/activity/blocking",
    "/activity/snapshot",
    "/overview",
    "/activity/audit",
    *HISTORY,
]
STREAM = "/activity/stream"
ACTIONS = ["/activity/kill", "/activity/activity/kill", "/activity/cancel"]
VIEWS = ["/activity", "/activity/waiting", "/activity/blocking"]


def drive_a_live_agent(rec: Recorder, agent: Agent) -> None:
    admin, viewer = agent.login(), agent.login("viewer")
    login = {"username": "admin", "password": "admin-secret-password"}
    rec.send(agent, "POST", "/login", json=login)
    rec.send(agent, "POST", "/login", json={"username": "admin", "password": "wrong"})
    rec.send(agent, "POST", "/login", json={"username": 7})
    rec.send(agent, "POST", "/login", content=b"not json")
    rec.send(agent, "POST", "/login", content=TOO_BIG)
    for _ in range(3):  # the third failure in a row is throttled
        rec.send(agent, "POST", "/login", json={"username": "ghost", "password": "x"})
    rec.send(agent, "GET", "/status")
    rec.send(agent, "GET", "/discover")
    rec.send(agent, "GET", "/discover", headers={"X-TemBoard-Agent-Key": "not-the-key"})
    for path in SESSION_GETS:
        rec.send(agent, "GET", path)
        rec.send(agent, "GET", path, session="not-a-token")
        rec.send(agent, "GET", path, session=UNKNOWN_SESSION)
    for path in [*VIEWS, "/activity/snapshot", "/overview", "/activity/audit", "/profile"]:
        rec.send(agent, "GET", path, session=admin)
    rec.stream(agent, STREAM)
    rec.stream(agent, STREAM, session="not-a-token")
    rec.stream(agent, STREAM, session=UNKNOWN_SESSION)
    rec.stream(agent, STREAM, session=viewer)
    for path in VIEWS:
        rec.send(agent, "GET", path, session=admin, params={"limit": "0"})
        rec.send(agent, "GET", path, session=admin, params={"sort": "password"})
    rec.send(agent, "GET", "/activity/audit", session=admin, params={"limit": "many"})
    for path in HISTORY:
        rec.send(agent, "GET", path, session=admin)
        rec.send(agent, "GET", path, session=admin, params={"from": "soon", "at": "soon"})
    for path in HISTORY_AT:
        rec.send(agent, "GET", path, session=admin, params={"at": "2001-01-01T00:00:00Z"})
    rec.send(agent, "GET", "/activity/audit", session=viewer)
    for path in ACTIONS:
        rec.send(agent, "POST", path, session=admin, json={"pids": [NO_SUCH_PID]})
        rec.send(agent, "POST", path, session=viewer, json={"pids": [NO_SUCH_PID]})
        rec.send(agent, "POST", path, session=admin, json={"pid": 1})
        rec.send(agent, "POST", path, session=admin, content=b"{not json")
        rec.send(agent, "POST", path, session=admin, content=TOO_BIG)
        rec.send(agent, "POST", path)
        rec.send(agent, "POST", path, session=UNKNOWN_SESSION, json={"pids": [1]})
    rec.send(agent, "GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    rec.send(agent, "GET", "/metrics")
    rec.send(agent, "GET", "/logout", session=agent.login())


def drive_broken_files(rec: Recorder, agent: Agent) -> None:
    """The audit log cannot be written, then the users file cannot be read."""
    admin = agent.login()
    audit = agent.workdir / "audit.jsonl"
    audit.unlink(missing_ok=True)
    audit.mkdir()
    for path in ACTIONS:
        rec.send(agent, "POST", path, session=admin, json={"pids": [NO_SUCH_PID]})
    rec.send(agent, "GET", "/activity/audit", session=admin)
    users = agent.workdir / "users"
    users.write_text(users.read_text() + "this line is not a user\n")
    rec.send(agent, "POST", "/login", json={"username": "admin", "password": "x"})
    for path in SESSION_GETS:
        rec.send(agent, "GET", path, session=admin)
    rec.stream(agent, STREAM, session=admin)
    for path in ACTIONS:
        rec.send(agent, "POST", path, session=admin, json={"pids": [NO_SUCH_PID]})


def drive_postgresql_down(rec: Recorder, agent: Agent) -> None:
    admin = agent.login()
    for path in HISTORY:  # this agent records no history: it has no store to read
        rec.send(agent, "GET", path, session=admin)
    for path in [*VIEWS, "/activity/snapshot", "/overview"]:
        rec.send(agent, "GET", path, session=admin)
    rec.stream(agent, STREAM, session=admin)  # 200: its events say PostgreSQL is unavailable
    for path in ACTIONS:
        rec.send(agent, "POST", path, session=admin, json={"pids": [NO_SUCH_PID]})
    rec.send(agent, "GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    rec.send(agent, "GET", "/discover")  # host facts still, PostgreSQL's null


def test_every_status_a_route_gives_is_documented_and_no_other(
    cluster: Cluster, tmp_path: Path
) -> None:
    rec = Recorder()
    with running_agent(cluster, tmp_path / "live", METRICS_ON, env=THROTTLE) as live:
        with live.client() as client:
            document = client.get("/openapi.json").json()
        drive_a_live_agent(rec, live)
        drive_broken_files(rec, live)
    nowhere = {"PGWARDEN_POSTGRESQL_PORT": str(free_port()), "PGWARDEN_HISTORY_ENABLED": "false"}
    with running_agent(cluster, tmp_path / "down", METRICS_ON, env=nowhere) as down:
        drive_postgresql_down(rec, down)

    operations = documented_operations(document)
    assert set(rec.seen) == set(operations), "every documented operation was driven"
    for operation, statuses in sorted(rec.seen.items()):
        documented = {int(status) for status in operations[operation]["responses"]}
        assert statuses == documented, operation


def test_every_route_is_in_the_document() -> None:
    app = full_app()
    operations = documented_operations(app.openapi())
    for route in flat_routes(app):
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in route.methods or ():
                assert (method, route.path) in operations, route.path
        elif isinstance(route, APIRoute):
            # Only pages for people (the docs page, the web page) stay out of the API document.
            assert issubclass(route.response_class, HTMLResponse), route.path  # type: ignore[arg-type]
        elif isinstance(route, Mount):
            assert isinstance(route.app, StaticFiles), route.path
        else:
            assert route.path == app.openapi_url, route.path
    in_schema = [r for r in flat_routes(app) if isinstance(r, APIRoute) and r.include_in_schema]
    assert len(operations) == sum(len(r.methods or ()) for r in in_schema)


def test_errors_are_documented_with_the_error_body() -> None:
    document = full_app().openapi()
    error_body = document["components"]["schemas"]["ErrorBody"]
    assert error_body["required"] == ["error"]
    assert list(error_body["properties"]) == ["error"]
    assert error_body["properties"]["error"]["type"] == "string"
    for (method, path), operation in documented_operations(document).items():
        for status, answer in operation["responses"].items():
            if int(status) >= 400:
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
                assert answer["description"], (method, path, status)
        assert "422" not in operation["responses"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_routes_needing_a_session_say_so() -> None:
    document = full_app().openapi()
    open_routes = {("POST", "/login"), ("GET", "/status")}
    # Read by a session or by the agent key (header or query): either will do.
    keyed: list[dict[str, list[str]]] = [
        {"APIKeyHeader": []},
        {"AgentKeyHeader": []},
        {"AgentKeyQuery": []},
    ]
    for operation_key, operation in documented_operations(document).items():
        if operation_key in open_routes:
            assert "security" not in operation, operation_key
        elif operation_key == ("GET", "/discover"):  # an agent key, if one is sent
            assert operation["security"] == [{"AgentKeyHeader": []}]
        elif operation_key in {("GET", path) for path in VIEWS}:
            assert operation["security"] == keyed, operation_key
        elif operation_key == ("GET", "/metrics"):
            assert operation["security"] == [{"MetricsToken": []}]
        else:
            assert operation["security"] == [{"APIKeyHeader": []}], operation_key


def test_the_docs_page_is_served_without_any_cdn(agent: Agent) -> None:
    with agent.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "http://" not in html and "https://" not in html
        assets = ["docs/assets/swagger-ui-bundle.js", "docs/assets/swagger-ui.css"]
        for asset in [*assets, "docs/assets/favicon.png", "openapi.json"]:
            assert f"'{asset}'" in html or f'"{asset}"' in html, asset
            response = client.get(f"/{asset}")
            assert response.status_code == 200, asset
            assert len(response.content) > 1000, asset
        assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
        missing = client.get("/docs/assets/nothing-here.js")
        assert missing.status_code == 404
        assert missing.json() == {"error": "Not found."}


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_the_docs_page_renders_every_route_offline(agent: Agent, tmp_path: Path) -> None:
    """A real browser, forbidden every host but the agent's, draws one block per operation."""
    result = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{agent.url}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = result.stdout
    with agent.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert dom.count('class="opblock opblock-') == sum(len(ops) for ops in paths.values()), dom[
        -2000:
    ]
    for path in paths:
        assert f'data-path="{path}"' in dom, path
