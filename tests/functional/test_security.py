"""Who gets in: login throttling, secrets kept out of logs, the listening address, and an agent
running with the least privilege PostgreSQL offers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from pgwarden.cluster import Cluster, free_port
from tests.helpers import (
    ADMIN_PASSWORD,
    VIEWER_PASSWORD,
    Agent,
    Sessions,
    poll_row,
    running_agent,
    start_agent,
    wait_until,
)

THROTTLED = {"error": "Too many failed logins; retry later."}


def attempt(agent: Agent, username: str, password: str) -> httpx.Response:
    with agent.client() as client:
        return client.post("/login", json={"username": username, "password": password})


def retry_after(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.json() == THROTTLED
    return int(response.headers["retry-after"])


def test_repeated_failures_for_a_user_then_from_an_address_get_429(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {"PGWARDEN_AUTH_MAX_FAILURES": "3", "PGWARDEN_AUTH_LOCKOUT_SECONDS": "60"}
    with running_agent(cluster, tmp_path, env=env) as agent:
        for _ in range(3):
            assert attempt(agent, "admin", "wrong").status_code == 401
        # Locked out, even with the right password: a guesser learns nothing more.
        assert 1 <= retry_after(attempt(agent, "admin", ADMIN_PASSWORD)) <= 60
        assert 1 <= retry_after(attempt(agent, "admin", "wrong")) <= 60
        assert attempt(agent, "viewer", VIEWER_PASSWORD).status_code == 200  # others are not
        # The address allows four times as many failures, whatever the names tried.
        for n in range(3 * 4 - 3):
            assert attempt(agent, f"nobody-{n}", "guess").status_code == 401
        assert retry_after(attempt(agent, "viewer", VIEWER_PASSWORD)) <= 60
        assert retry_after(attempt(agent, "someone-else", "guess")) <= 60
        log = agent.log()
    assert ADMIN_PASSWORD not in log and VIEWER_PASSWORD not in log and "guess" not in log


def burst(agent: Agent, logins: list[tuple[str, str]]) -> list[httpx.Response]:
    """All the logins at once, each on its own connection."""
    with ThreadPoolExecutor(max_workers=len(logins)) as pool:
        return list(pool.map(lambda login: attempt(agent, *login), logins))


def test_a_burst_of_parallel_guesses_gets_no_more_checks_than_the_limit(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {"PGWARDEN_AUTH_MAX_FAILURES": "5", "PGWARDEN_AUTH_LOCKOUT_SECONDS": "60"}
    with running_agent(cluster, tmp_path, env=env) as agent:
        # One user: at most 5 of 40 parallel wrong passwords are checked.
        answers = burst(agent, [("admin", f"guess-{n}") for n in range(40)])
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [401] * 5 + [429] * 35, statuses
        assert all(1 <= retry_after(r) <= 60 for r in answers if r.status_code == 429)
        assert retry_after(attempt(agent, "admin", ADMIN_PASSWORD)) <= 60
        # One address: 4 x 5 = 20 checks in all, whatever the names; 5 are already spent.
        answers = burst(agent, [(f"nobody-{n}", "guess") for n in range(40)])
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [401] * 15 + [429] * 25, statuses
        assert retry_after(attempt(agent, "viewer", VIEWER_PASSWORD)) <= 60


def test_parallel_right_logins_are_not_counted_as_failures(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {"PGWARDEN_AUTH_MAX_FAILURES": "2"}
    with running_agent(cluster, tmp_path, env=env) as agent:
        for _ in range(5):  # 10 logins: more than the address allows (8) if they counted
            answers = burst(agent, [("viewer", VIEWER_PASSWORD)] * 2)
            assert [r.status_code for r in answers] == [200, 200]


def test_a_lockout_ends_by_itself(cluster: Cluster, tmp_path: Path) -> None:
    env = {"PGWARDEN_AUTH_MAX_FAILURES": "1", "PGWARDEN_AUTH_LOCKOUT_SECONDS": "3"}
    with running_agent(cluster, tmp_path, env=env) as agent:
        assert attempt(agent, "admin", "wrong").status_code == 401
        assert retry_after(attempt(agent, "admin", ADMIN_PASSWORD)) <= 3
        wait_until(
            lambda: attempt(agent, "admin", ADMIN_PASSWORD).status_code == 200,
            what="the lockout to end",
        )


def test_no_secret_reaches_the_log_or_the_audit_even_with_access_logging(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    victim = sessions.open("audited")
    victim.run("SELECT 1")
    env = {"PGWARDEN_SERVER_ACCESS_LOG": "true", "PGWARDEN_AUTH_MAX_FAILURES": "2"}
    with running_agent(cluster, tmp_path, env=env) as agent:
        token = agent.login()
        with agent.client(headers={"X-Session": token}) as client:
            assert client.get("/activity", params={"state": "idle"}).status_code == 200
            assert client.post("/activity/kill", json={"pids": [victim.pid]}).status_code == 200
            client.get("/logout")
        for guess in ("first-wrong-guess", "second-wrong-guess", "third-wrong-guess"):
            attempt(agent, "admin", guess)
        log = agent.log()
    assert "GET /activity?state=idle" in log  # the access log was on
    audit = (tmp_path / "audit.jsonl").read_text()
    users = (tmp_path / "users").read_text()
    for secret in (ADMIN_PASSWORD, token, "first-wrong-guess", "third-wrong-guess"):
        assert secret not in log
        assert secret not in audit
        assert secret not in users


# ---------------------------------------------------------------- listening address


@contextlib.contextmanager
def serving(cluster: Cluster, workdir: Path, server_section: str, host: str) -> Iterator[Agent]:
    """An agent from a configuration whose [server] section is exactly server_section."""
    port = free_port()
    config = workdir / "pgwarden.toml"
    config.write_text(
        f"[server]\nport = {port}\n{server_section}\n"
        f'[postgresql]\nhost = "{cluster.socket_dir}"\nport = {cluster.port}\n'
        f'[auth]\nusers_file = "users"\n[audit]\nfile = "audit.jsonl"\n'
    )
    agent = start_agent(cluster, workdir, config_path=config, host=host, port=port)
    try:
        yield agent
    finally:
        agent.stop()


def listening(agent: Agent) -> set[str]:
    return {
        conn.laddr.ip
        for conn in psutil.Process(agent.process.pid).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    }


def test_the_agent_listens_on_loopback_only_by_default(cluster: Cluster, tmp_path: Path) -> None:
    with serving(cluster, tmp_path, "", "127.0.0.1") as agent:
        assert listening(agent) == {"127.0.0.1"}
        assert "plain HTTP on" not in agent.log()


def test_the_agent_listens_on_the_address_it_is_given(cluster: Cluster, tmp_path: Path) -> None:
    with serving(cluster, tmp_path, 'address = "127.0.0.2"', "127.0.0.2") as agent:
        assert listening(agent) == {"127.0.0.2"}
        assert httpx.get(f"{agent.url}/status").status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(agent.url.replace("127.0.0.2", "127.0.0.1") + "/status")


# ---------------------------------------------------------------- least privilege

AGENT_ROLE = "pgwarden_agent"  # pg_monitor and pg_signal_backend, as docs/security.md advises
READER_ROLE = "pgwarden_reader"  # pg_monitor only: a read-only agent
ROLES = (AGENT_ROLE, READER_ROLE, "app_user")


@pytest.fixture(scope="module")
def least_privilege(cluster: Cluster) -> Iterator[None]:
    with cluster.connect() as conn:
        for role in ROLES:
            conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {AGENT_ROLE} LOGIN IN ROLE pg_monitor, pg_signal_backend")
        conn.execute(f"CREATE ROLE {READER_ROLE} LOGIN IN ROLE pg_monitor")
        conn.execute("CREATE ROLE app_user LOGIN")
    yield
    with cluster.connect() as conn:
        sessions_of_roles = "FROM pg_stat_activity WHERE usename = ANY(%s)"
        conn.execute(f"SELECT pg_terminate_backend(pid) {sessions_of_roles}", [list(ROLES)])
        wait_until(
            lambda: not conn.execute(f"SELECT 1 {sessions_of_roles}", [list(ROLES)]).fetchall(),
            what="the roles' sessions to end",
        )
        for role in ROLES:
            conn.execute(f"DROP ROLE {role}")


@pytest.mark.usefixtures("least_privilege")
def test_a_least_privilege_role_sees_everything_and_kills_only_non_superusers(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    superuser = sessions.open("superuser-session")
    superuser.submit("SELECT 'secret to nobody but pg_read_all_stats', pg_sleep(60)")
    app = sessions.open("app-session", user="app_user")
    app.submit("SELECT pg_sleep(60)")
    env = {"PGWARDEN_POSTGRESQL_USER": AGENT_ROLE}
    with running_agent(cluster, tmp_path, env=env) as agent, agent.session_client() as client:
        row = poll_row(client, superuser.pid, until=lambda r: r["state"] == "active")
        assert row["query"] == "SELECT 'secret to nobody but pg_read_all_stats', pg_sleep(60)"
        assert row["memory"] is not None
        response = client.post("/activity/kill", json={"pids": [superuser.pid, app.pid]})
        refused, killed = response.json()["backends"]
        assert killed == {"pid": app.pid, "killed": True, "reason": None}
        assert refused["killed"] is False
        assert refused["reason"].startswith("permission denied: ")
        assert "superuser" in refused["reason"]
        assert poll_row(client, superuser.pid)["state"] == "active"
        # The audit log still says whom PostgreSQL refused to signal.
        entries = client.get("/activity/audit", params={"limit": 2}).json()["entries"]
        by_pid = {e["pid"]: e for e in entries}
        assert by_pid[superuser.pid]["target"]["application"] == "superuser-session"
        assert by_pid[superuser.pid]["target"]["user"] == "postgres"
        assert by_pid[app.pid]["target"]["user"] == "app_user"


@pytest.mark.usefixtures("least_privilege")
def test_a_read_only_role_sees_everything_and_its_kills_are_refused_with_the_reason(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    app = sessions.open("app-session", user="app_user")
    app.submit("SELECT pg_sleep(60)")
    env = {"PGWARDEN_POSTGRESQL_USER": READER_ROLE}
    with running_agent(cluster, tmp_path, env=env) as agent, agent.session_client() as client:
        row = poll_row(client, app.pid, until=lambda r: r["state"] == "active")
        assert row["query"] == "SELECT pg_sleep(60)"
        for path in ("/activity/kill", "/activity/cancel"):
            response = client.post(path, json={"pids": [app.pid]})
            assert response.status_code == 200
            (outcome,) = response.json()["backends"]
            assert outcome["reason"].startswith("permission denied: "), outcome
        assert poll_row(client, app.pid)["state"] == "active"


def test_the_postgresql_password_never_reaches_an_answer_or_the_log(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = {
        "PGWARDEN_POSTGRESQL_PASSWORD": "pg-password-never-shown",
        "PGWARDEN_POSTGRESQL_HOST": "127.0.0.1",
        "PGWARDEN_POSTGRESQL_PORT": str(free_port()),  # nothing listens: every query fails
    }
    with running_agent(cluster, tmp_path, env=env) as agent, agent.session_client() as client:
        refused = client.get("/activity")
        assert refused.status_code == 503
        log = agent.log()
    assert "pg-password-never-shown" not in refused.text
    assert "pg-password-never-shown" not in log
