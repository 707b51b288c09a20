"""Every operation of the OpenAPI document fuzzed by schemathesis against a real agent: valid and
invalid parameters and bodies, odd methods; no answer may be a 5xx, or stray from the document.
Then, by hand, what a schema cannot describe: huge numbers, NaN, odd paths, bytes that are not HTTP.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from pgwarden.cluster import Cluster
from pgwarden.config import load_config
from pgwarden.http.app import create_app
from tests.helpers import Agent, start_agent

# Bounded: the coverage phase adds its own boundary and negative cases to these.
EXAMPLES_PER_OPERATION = 25
# Every backend of the test cluster belongs to postgres: fuzzed kills can signal none of them;
# failed logins are many here, and a lockout would hide what comes after it.
FUZZED_CONFIG = '[guards]\nprotected_roles = ["postgres"]\n\n[metrics]\nenabled = true\n'
FUZZED_ENV = {"PGWARDEN_AUTH_MAX_FAILURES": "1000"}
DOCUMENT = create_app(load_config(None, environ={"PGWARDEN_METRICS_ENABLED": "true"})).openapi()
STATUSES: Counter[int] = Counter()

# The event stream never ends by itself: tests/functional/test_stream.py drives it by hand.
schema = schemathesis.openapi.from_dict(DOCUMENT).exclude(path="/activity/stream")


@pytest.fixture(scope="module")
def fuzzed_agent(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    agent = start_agent(cluster, tmp_path_factory.mktemp("fuzzed"), FUZZED_CONFIG, FUZZED_ENV)
    yield agent
    agent.stop()


@pytest.fixture(scope="module")
def token(fuzzed_agent: Agent) -> str:
    return fuzzed_agent.login()


def test_the_agent_serves_the_fuzzed_document(fuzzed_agent: Agent) -> None:
    assert httpx.get(f"{fuzzed_agent.url}/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_gets_a_server_error(
    case: schemathesis.Case[Any], fuzzed_agent: Agent, token: str
) -> None:
    # /logout would end the shared session: it gets one of its own each time.
    headers = {"X-Session": fuzzed_agent.login() if case.path == "/logout" else token}
    response = case.call(base_url=fuzzed_agent.url, headers=headers)
    STATUSES[response.status_code] += 1
    case.validate_response(
        response,
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
        ],
    )


# ---------------------------------------------------------------- by hand, beyond the schema

MALFORMED_LIMIT = {"error": "Parameter 'limit' is malformed."}
MALFORMED_DURATION = {"error": "Parameter 'min_duration' is malformed."}
MALFORMED_PIDS = {"error": "Parameter 'pids' is malformed."}
NOT_FOUND = {"error": "Not found."}
NOT_ALLOWED = {"error": "Method not allowed."}


@pytest.mark.parametrize(
    ("method", "path", "params", "status", "body"),
    [
        ("GET", "/activity", {"limit": "9" * 5000}, 406, MALFORMED_LIMIT),
        ("GET", "/activity/audit", {"limit": "9" * 5000}, 406, MALFORMED_LIMIT),
        ("GET", "/activity", {"min_duration": "1e400"}, 406, MALFORMED_DURATION),
        ("GET", "/activity/waiting", {"min_duration": "9" * 5000}, 406, MALFORMED_DURATION),
        ("GET", "/activity/blocking", {"limit": "-" + "9" * 30}, 406, MALFORMED_LIMIT),
        ("GET", "/activity", {"state": "\x00", "user": "é" * 1000}, 200, None),
        ("GET", "/activity", [("state", "idle")] * 2000, 200, None),
        ("GET", "/activity//waiting", {}, 404, NOT_FOUND),
        ("GET", "/" + "a" * 20_000, {}, 404, NOT_FOUND),
        ("GET", "/activity/%00", {}, 404, NOT_FOUND),
        ("TRACE", "/activity", {}, 405, NOT_ALLOWED),
        ("HEAD", "/activity", {}, 405, None),
    ],
)
def test_odd_parameters_paths_and_methods_get_a_clear_answer(
    fuzzed_agent: Agent,
    token: str,
    method: str,
    path: str,
    params: Any,
    status: int,
    body: dict[str, str] | None,
) -> None:
    with fuzzed_agent.client(headers={"X-Session": token}) as client:
        response = client.request(method, path, params=params)
    assert response.status_code == status, response.text
    if body is not None:
        assert response.json() == body


@pytest.mark.parametrize(
    ("path", "raw", "status", "body"),
    [
        ("/login", b'{"username": 1e999, "password": "x"}', 406, "username"),
        ("/login", b'{"username": "admin", "password": NaN}', 406, "password"),
        ("/login", b'{"username": "admin", "password": ["x"]}', 406, "password"),
        ("/login", b'{"username": "\\ud800", "password": "x"}', 401, None),
        ("/login", b'{"username": "adm\\u0000in", "password": "x"}', 401, None),
        ("/login", b"[" * 20_000 + b"]" * 20_000, 406, "username"),
        ("/login", b'{"username": "' + b"a" * 70_000 + b'"}', 413, None),
        ("/activity/cancel", b'{"pids": [NaN]}', 406, "pids"),
        ("/activity/cancel", b'{"pids": [Infinity]}', 406, "pids"),
        ("/activity/cancel", b'{"pids": [1e400]}', 406, "pids"),
        ("/activity/cancel", b'{"pids": [1], "pids": null}', 406, "pids"),
        ("/activity/cancel", b'{"pids": [-' + b"9" * 5000 + b"]}", 406, "pids"),
        ("/activity/cancel", b"[" * 100_000, 413, None),
    ],
)
def test_odd_bodies_get_a_clear_answer(
    fuzzed_agent: Agent, token: str, path: str, raw: bytes, status: int, body: str | None
) -> None:
    with fuzzed_agent.client(headers={"X-Session": token}) as client:
        response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    if body is not None:
        assert response.json() == {"error": f"Parameter '{body}' is malformed."}
    if status == 413:
        assert "too large" in response.json()["error"]


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
        b"GET /status HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n",
        b"\x16\x03\x01\x00\x05hello\r\n\r\n",  # a TLS hello to the plain HTTP port
    ],
)
def test_requests_that_are_not_http_get_400_and_the_agent_serves_on(
    fuzzed_agent: Agent, raw: bytes
) -> None:
    port = urlsplit(fuzzed_agent.url).port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(raw)
        answer = conn.recv(100)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert httpx.get(f"{fuzzed_agent.url}/status").status_code == 200


def test_the_fuzzing_reached_both_valid_and_invalid_input(
    fuzzed_agent: Agent, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs after the fuzzing above (file order): what it sent, by the status it got."""
    if not STATUSES:
        pytest.skip("the fuzzing did not run in this session")
    with capsys.disabled():
        counts = ", ".join(f"{status}: {n}" for status, n in sorted(STATUSES.items()))
        print(f"\nfuzz: {STATUSES.total()} requests, by status {{{counts}}}")
    assert STATUSES[200] and STATUSES[406] and STATUSES[405]
    assert not [status for status in STATUSES if status >= 500]


def test_nothing_above_left_a_traceback(fuzzed_agent: Agent) -> None:
    assert fuzzed_agent.process.poll() is None
    assert "Traceback" not in fuzzed_agent.log()
