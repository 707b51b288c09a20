"""The HTTP conventions of every route: JSON errors, the seed's headers, body limits."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.helpers import Agent


def _check_headers(response: httpx.Response) -> None:
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["server"].startswith("pgwarden/")
    assert " Python/" in response.headers["server"]


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/no/such/route", 404, "Not found."),
        ("GET", "/activity/kill", 405, "Method not allowed."),
        ("DELETE", "/activity", 405, "Method not allowed."),
        ("PUT", "/login", 405, "Method not allowed."),
        ("GET", "/activity/../../etc/passwd", 404, "Not found."),
    ],
)
def test_unknown_routes_and_methods_are_json(
    agent: Agent, method: str, path: str, status: int, message: str
) -> None:
    with agent.client() as client:
        response = client.request(method, path)
    assert response.status_code == status
    assert response.json() == {"error": message}
    assert response.headers["content-type"] == "application/json"
    _check_headers(response)


def test_every_answer_has_the_seed_headers(agent: Agent) -> None:
    with agent.session_client() as client:
        answers = [
            client.get("/activity"),
            client.get("/activity/waiting"),
            client.get("/activity/blocking"),
            client.get("/status"),
            client.post("/activity/kill", json={}),
            client.get("/nowhere"),
        ]
    with agent.client() as anonymous:
        answers.append(anonymous.get("/activity"))
        answers.append(anonymous.post("/login", json={"username": "admin", "password": "x"}))
    for response in answers:
        _check_headers(response)


def test_preflight_allows_the_session_header(agent: Agent) -> None:
    with agent.client() as client:
        response = client.options(
            "/activity",
            headers={"Origin": "http://example.test", "Access-Control-Request-Method": "GET"},
        )
    assert response.status_code == 204
    assert "X-Session" in response.headers["access-control-allow-headers"]
    _check_headers(response)


def test_huge_body_gets_413_and_the_agent_keeps_serving(agent: Agent) -> None:
    token = agent.login()
    with agent.client(headers={"X-Session": token}) as client:
        big = b'{"pids": [' + b"1," * 100_000 + b"1]}"
        response = client.post(
            "/activity/kill", content=big, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert "too large" in response.json()["error"]
    with agent.client(headers={"X-Session": token}) as client:
        # Chunked, with no Content-Length to check up front.
        response = client.post(
            "/activity/kill", content=iter([b'{"pids": [', b"1," * 50_000, b"1]}"])
        )
        assert response.status_code == 413
        assert client.get("/activity").status_code == 200


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"min_duration": "-1"}, "min_duration"),
        ({"min_duration": "nan"}, "min_duration"),
        ({"sort": "password"}, "sort"),
        ({"sort": "--duration"}, "sort"),
    ],
)
def test_malformed_filters_get_406(agent: Agent, params: dict[str, str], name: str) -> None:
    with agent.session_client() as client:
        response = client.get("/activity", params=params)
    assert response.status_code == 406
    assert response.json() == {"error": f"Parameter '{name}' is malformed."}


def _post_slowly(agent: Agent, body_size: int, chunked: bool) -> bytes:
    """POST /login over a plain socket, sending the body in small pieces; the raw answer."""
    host, port = agent.url.removeprefix("http://").rsplit(":", 1)
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % body_size
    head = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s\r\n\r\n"
    piece = b"x" * 16384
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head % length)
        for _ in range(body_size // len(piece)):
            # Slow enough for the agent to answer and close while the client still sends.
            time.sleep(0.002)
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
        answer = b""
        while data := sock.recv(65536):
            answer += data
    return answer


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_client_still_sending_a_huge_body_reads_the_413(agent: Agent, chunked: bool) -> None:
    answer = _post_slowly(agent, 2 << 20, chunked)  # 2 MiB, the limit is 64 KiB
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {"error": "Request body too large (limit 65536 bytes)."}
    with agent.client() as client:
        assert client.get("/status").status_code == 200


def test_a_client_that_waits_for_100_continue_gets_the_413_at_once(agent: Agent) -> None:
    host, port = agent.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2097152\r\nExpect: 100-continue\r\n\r\n"
        )
        answer = b""
        while data := sock.recv(65536):  # never sends the body: the agent must not wait for it
            answer += data
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
