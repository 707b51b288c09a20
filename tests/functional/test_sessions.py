"""Login, logout, profile, status and the seed's X-Session rules, over real HTTP."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.helpers import ADMIN_PASSWORD, Agent

PROTECTED = ["/activity", "/activity/waiting", "/activity/blocking", "/profile", "/logout"]


def test_login_gives_a_new_256_bit_session_each_time(agent: Agent) -> None:
    first, second = agent.login(), agent.login()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert re.fullmatch(r"[0-9a-f]{64}", second)
    assert first != second


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "wrong password"), ("nobody", ADMIN_PASSWORD), ("bad:name", "x")],
)
def test_bad_credentials_get_the_same_401(agent: Agent, username: str, password: str) -> None:
    with agent.client() as client:
        response = client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid username/password."}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"password": "x"}, "Parameter 'username' is malformed."),
        ({"username": 1, "password": "x"}, "Parameter 'username' is malformed."),
        ({"username": "", "password": "x"}, "Parameter 'username' is malformed."),
        ({"username": "admin"}, "Parameter 'password' is malformed."),
        ({"username": "admin", "password": None}, "Parameter 'password' is malformed."),
        (["admin", "x"], "Parameter 'username' is malformed."),
        ("admin", "Parameter 'username' is malformed."),
    ],
)
def test_malformed_login_gets_406(agent: Agent, body: object, message: str) -> None:
    with agent.client() as client:
        response = client.post("/login", json=body)
    assert response.status_code == 406
    assert response.json() == {"error": message}


def test_login_body_that_is_not_json_gets_406(agent: Agent) -> None:
    with agent.client() as client:
        response = client.post("/login", content=b"{username", headers={"Content-Type": "x"})
    assert response.status_code == 406
    assert response.json() == {"error": "Parameter 'username' is malformed."}


@pytest.mark.parametrize("path", PROTECTED)
@pytest.mark.parametrize(
    "headers", [{}, {"X-Session": "abc"}, {"X-Session": "A" * 64}, {"X-Session": "0" * 65}]
)
def test_missing_or_malformed_session_gets_406(
    agent: Agent, path: str, headers: dict[str, str]
) -> None:
    with agent.client(headers=headers) as client:
        response = client.get(path)
    assert response.status_code == 406
    assert response.json() == {"error": "Parameter 'X-Session' is malformed."}


@pytest.mark.parametrize("path", PROTECTED)
def test_unknown_session_gets_401(agent: Agent, path: str) -> None:
    with agent.client(headers={"X-Session": "0" * 64}) as client:
        response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid session."}


def test_logout_ends_the_session_and_only_that_one(agent: Agent) -> None:
    token, other = agent.login(), agent.login()
    with agent.client(headers={"X-Session": token}) as client:
        assert client.get("/activity").status_code == 200
        response = client.get("/logout")
        assert response.status_code == 200
        assert response.json() == {"logout": True}
        assert client.get("/activity").status_code == 401
        assert client.get("/logout").status_code == 401
    with agent.client(headers={"X-Session": other}) as client:
        assert client.get("/activity").status_code == 200


@pytest.mark.parametrize(("username", "role"), [("admin", "admin"), ("viewer", "viewer")])
def test_profile_names_user_and_role(agent: Agent, username: str, role: str) -> None:
    with agent.session_client(username) as client:
        response = client.get("/profile")
    assert response.status_code == 200
    assert response.json() == {"username": username, "role": role}


def test_status_needs_no_session_and_tells_no_secret(agent: Agent) -> None:
    response = httpx.get(f"{agent.url}/status")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": "ok",
        "version": body["version"],
        "history": {"enabled": False, "recording": False, "paused": None},  # off in this agent
        "process_figures": {"available": True, "reason": None},  # beside its cluster
    }
    assert response.headers["server"].startswith(f"pgwarden/{body['version']} Python/")


def test_passwords_and_tokens_never_reach_the_log(agent: Agent) -> None:
    token = agent.login()
    with agent.client() as client:
        client.post("/login", json={"username": "admin", "password": "a-wrong-guess-123"})
    log = agent.log()
    assert ADMIN_PASSWORD not in log
    assert "a-wrong-guess-123" not in log
    assert token not in log
