"""What temBoard clients need besides the seed: GET /discover, the agent key, and the real
client's address behind a trusted proxy (a reverse proxy, or the temBoard UI itself).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import psutil

from pgwarden.cluster import Cluster
from tests.helpers import ADMIN_PASSWORD, Agent, Sessions, poll_row, running_agent

AGENT_KEY = "k3y-for-temboard-0123456789abcdef"
DISCOVER_KEYS = {
    "hostname", "cpu", "memory_size", "pg_port", "pg_version", "pg_version_summary",
    "pg_data", "pg_block_size", "plugins",
}  # fmt: skip
READ_ROUTES = ("/activity", "/activity/waiting", "/activity/blocking")


def login(agent: Agent, username: str, password: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with agent.client() as client:
        response = client.post(
            "/login", json={"username": username, "password": password}, headers=headers
        )
    return response.status_code


# ---------------------------------------------------------------- /discover


def test_discover_tells_what_the_ui_records_without_a_session(
    agent: Agent, cluster: Cluster
) -> None:
    with agent.client() as client:
        response = client.get("/discover")
        empty_key = client.get("/discover", headers={"X-TemBoard-Agent-Key": ""})
        wrong_key = client.get("/discover", headers={"X-TemBoard-Agent-Key": "nope"})
    assert response.status_code == 200, response.text
    found = response.json()
    assert set(found) == DISCOVER_KEYS
    assert found["hostname"] == os.uname().nodename
    assert found["cpu"] == os.cpu_count()
    assert found["memory_size"] == psutil.virtual_memory().total
    assert found["pg_port"] == cluster.port
    assert found["pg_version"].startswith(f"PostgreSQL {found['pg_version_summary'].split()[1]}")
    assert found["pg_version_summary"] == " ".join(found["pg_version"].split()[:2])
    assert Path(found["pg_data"]) == cluster.datadir
    assert found["pg_block_size"] == 8192
    assert found["plugins"] == ["activity"]
    assert empty_key.status_code == 200  # the UI's form sends an empty key when none is set
    assert (wrong_key.status_code, wrong_key.json()) == (401, {"error": "Invalid key."})


def test_discover_takes_the_configured_key(cluster: Cluster, tmp_path: Path) -> None:
    extra = f'[auth]\nagent_key = "{AGENT_KEY}"'
    with running_agent(cluster, tmp_path, extra) as agent, agent.client() as client:
        right = client.get("/discover", headers={"X-TemBoard-Agent-Key": AGENT_KEY})
        wrong = client.get("/discover", headers={"X-TemBoard-Agent-Key": AGENT_KEY + "x"})
    assert right.status_code == 200 and right.json()["pg_port"] == cluster.port
    assert wrong.status_code == 401


# ---------------------------------------------------------------- [auth] agent_key


def test_the_agent_key_opens_the_read_routes_only(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    victim = sessions.open("key-victim")
    victim.run("SELECT 1")
    extra = f'[auth]\nagent_key = "{AGENT_KEY}"\n[server]\naccess_log = true'
    with running_agent(cluster, tmp_path, extra) as agent, agent.client() as client:
        for path in READ_ROUTES:
            by_header = client.get(path, headers={"X-TemBoard-Agent-Key": AGENT_KEY})
            by_query = client.get(path, params={"key": AGENT_KEY})
            assert (by_header.status_code, by_query.status_code) == (200, 200), path
            assert "rows" in by_header.json() and "rows" in by_query.json()
            wrong = client.get(path, params={"key": "wrong-" + AGENT_KEY})
            assert (wrong.status_code, wrong.json()) == (401, {"error": "Invalid key."})
            assert client.get(path).status_code == 406  # neither key nor session
        assert victim.pid in {
            r["pid"] for r in client.get("/activity?key=" + AGENT_KEY).json()["rows"]
        }
        for action in ("/activity/kill", "/activity/cancel"):
            refused = client.post(
                action + "?key=" + AGENT_KEY,
                json={"pids": [victim.pid]},
                headers={"X-TemBoard-Agent-Key": AGENT_KEY},
            )
            assert refused.status_code == 406, (action, refused.text)  # a session, always
        # The UI sends its key on every request, POSTs included: with a session it acts.
        with agent.session_client() as ui:
            killed = ui.post("/activity/kill?key=" + AGENT_KEY, json={"pids": [victim.pid]}).json()
        log = agent.log()
    assert killed == {"backends": [{"pid": victim.pid, "killed": True, "reason": None}]}
    assert "key=***" in log  # the access log was on, and hid it
    assert AGENT_KEY not in log
    assert AGENT_KEY not in (tmp_path / "audit.jsonl").read_text()


def test_a_key_sent_to_an_agent_without_one_is_refused(agent: Agent) -> None:
    token = agent.login()
    with agent.client() as client:
        keyed = client.get("/activity", headers={"X-TemBoard-Agent-Key": "anything"})
        # Registered without a key, the UI still sends `?key=` (empty) beside its session.
        empty = client.get("/activity", params={"key": ""}, headers={"X-Session": token})
    assert (keyed.status_code, keyed.json()) == (
        401,
        {"error": "Authentication key not configured."},
    )
    assert empty.status_code == 200


# ---------------------------------------------------------------- [server] trusted_proxies


def test_behind_a_trusted_proxy_each_client_is_throttled_by_its_own_address(
    cluster: Cluster, tmp_path: Path
) -> None:
    extra = '[server]\ntrusted_proxies = ["127.0.0.0/8"]\n[auth]\nmax_failures = 2'
    with running_agent(cluster, tmp_path, extra) as agent:
        # The address allows 4 x 2 failures; the guesser behind the proxy uses them up.
        for n in range(8):
            assert login(agent, f"guess-{n}", "wrong", forwarded="203.0.113.7") == 401
        assert login(agent, "admin", ADMIN_PASSWORD, forwarded="203.0.113.7") == 429
        # Someone else behind the same proxy is not locked out with them.
        assert login(agent, "admin", ADMIN_PASSWORD, forwarded="203.0.113.8") == 200
        # A forged hop before the proxy's own does not help: the right-most untrusted counts.
        assert login(agent, "admin", ADMIN_PASSWORD, forwarded="198.51.100.1, 203.0.113.7") == 429


def test_a_trusted_peer_that_names_no_client_locks_out_no_one_else(
    cluster: Cluster, tmp_path: Path
) -> None:
    # The temBoard UI forwards its users' logins from its own address, with no header.
    extra = '[server]\ntrusted_proxies = ["127.0.0.1"]\n[auth]\nmax_failures = 2'
    with running_agent(cluster, tmp_path, extra) as agent:
        for n in range(12):
            assert login(agent, f"ui-user-{n}", "mistyped") == 401
        assert login(agent, "admin", ADMIN_PASSWORD) == 200
        # Each name is still throttled.
        for _ in range(2):
            assert login(agent, "viewer", "wrong") == 401
        assert login(agent, "viewer", "wrong") == 429


def test_an_untrusted_peer_cannot_choose_its_address(cluster: Cluster, tmp_path: Path) -> None:
    extra = '[server]\ntrusted_proxies = ["127.0.0.2"]\n[auth]\nmax_failures = 1'
    with running_agent(cluster, tmp_path, extra) as agent:
        for n in range(4):
            assert login(agent, f"guess-{n}", "wrong", forwarded=f"203.0.113.{n}") == 401
        assert login(agent, "admin", ADMIN_PASSWORD, forwarded="203.0.113.99") == 429


def test_the_audit_log_names_the_client_behind_the_proxy(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    victim = sessions.open("proxied-victim")
    victim.run("SELECT 1")
    extra = '[server]\ntrusted_proxies = ["127.0.0.1"]'
    with running_agent(cluster, tmp_path, extra) as agent, agent.session_client() as client:
        poll_row(client, victim.pid)
        answer = client.post(
            "/activity/kill",
            json={"pids": [victim.pid]},
            headers={"X-Forwarded-For": "192.0.2.44"},
        )
    assert answer.status_code == 200, answer.text
    entries = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert {entry["client"] for entry in entries} == {"192.0.2.44"}


def test_forwarded_headers_are_ignored_without_trusted_proxies(
    cluster: Cluster, tmp_path: Path
) -> None:
    with running_agent(cluster, tmp_path, "[auth]\nmax_failures = 1") as agent:
        for n in range(4):
            assert login(agent, f"guess-{n}", "wrong", forwarded=f"203.0.113.{n}") == 401
        assert login(agent, "admin", ADMIN_PASSWORD, forwarded="203.0.113.99") == 429


def test_status_and_discover_need_no_session_but_activity_does(agent: Agent) -> None:
    with httpx.Client(base_url=agent.url) as client:
        assert client.get("/discover").status_code == 200
        assert client.get("/activity").status_code == 406
