"""Cancel, roles, guards and the audit trail, with real backends and a real agent."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden.cluster import Cluster
from tests.helpers import Agent, Sessions, poll_row, row_of, running_agent, wait_until

ACTION_ROUTES = [("/activity/kill", "killed"), ("/activity/cancel", "cancelled")]


def audit(client: Any, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/activity/audit", params=params)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def test_cancel_stops_the_query_and_keeps_the_session(agent: Agent, sessions: Sessions) -> None:
    victim = sessions.open("cancel-me")
    running = victim.submit("SELECT pg_sleep(60)")
    with agent.session_client() as client:
        poll_row(client, victim.pid, until=lambda r: r["state"] == "active")
        response = client.post("/activity/cancel", json={"pids": [victim.pid]})
        assert response.status_code == 200
        assert response.json() == {
            "backends": [{"pid": victim.pid, "cancelled": True, "reason": None}]
        }
        with pytest.raises(psycopg.errors.QueryCanceled):
            running.result(timeout=10)
        assert victim.run("SELECT 1") == [(1,)]  # same session, still there
        assert row_of(client, victim.pid) is not None


@pytest.mark.parametrize(("path", "key"), ACTION_ROUTES)
def test_cancel_and_kill_share_the_input_rules(agent: Agent, path: str, key: str) -> None:
    with agent.session_client() as client:
        assert client.post(path, json={}).json() == {"error": "Parameter 'pids' not sent."}
        assert client.post(path, json={"pids": ["1"]}).json() == {
            "error": "Parameter 'pids' is malformed."
        }
        assert client.post(path, content=b"{").status_code == 400
        answer = client.post(path, json={"pids": [1, 0, -1]}).json()
    assert [(b["pid"], b[key]) for b in answer["backends"]] == [(1, False), (0, False), (-1, False)]


@pytest.mark.parametrize(("path", "key"), ACTION_ROUTES)
def test_a_viewer_reads_but_may_not_act(
    agent: Agent, sessions: Sessions, path: str, key: str
) -> None:
    target = sessions.open("viewer-target")
    target.submit("SELECT pg_sleep(60)")
    with agent.session_client("viewer") as client:
        poll_row(client, target.pid, until=lambda r: r["state"] == "active")
        for view in ("/activity", "/activity/waiting", "/activity/blocking"):
            assert client.get(view).status_code == 200
        response = client.post(path, json={"pids": [target.pid]})
        assert response.status_code == 403
        assert response.json() == {"error": "Permission denied."}
        assert client.get("/activity/audit").status_code == 403
        assert poll_row(client, target.pid)["state"] == "active"
    with agent.session_client() as admin:
        refused = [e for e in audit(admin, limit=50) if e.get("pid") == target.pid]
    assert refused[-1]["username"] == "viewer"
    assert refused[-1]["result"] is False
    assert refused[-1]["reason"] == "permission denied: viewer"


def test_every_action_is_audited_with_its_target(agent: Agent, sessions: Sessions) -> None:
    victim = sessions.open("audited-app")
    victim.submit("SELECT pg_sleep(60) /* audited */")
    with agent.session_client() as client:
        row = poll_row(client, victim.pid, until=lambda r: r["state"] == "active")
        client.post("/activity/kill", json={"pids": [victim.pid, 1]})
        entries = audit(client, limit=3)
    request, *results = entries
    assert request["event"] == "request"
    assert request["pids"] == [victim.pid, 1]
    assert len(request["request_id"]) == 32
    assert {e["request_id"] for e in results} == {request["request_id"]}
    by_pid = {e["pid"]: e for e in results}
    killed = by_pid[victim.pid]
    assert killed["event"] == "result"
    assert killed["action"] == "terminate"
    assert killed["username"] == "admin"
    assert killed["client"] == "127.0.0.1"
    assert killed["result"] is True
    assert killed["target"] == {
        "user": "postgres",
        "database": "postgres",
        "application": "audited-app",
        "query": "SELECT pg_sleep(60) /* audited */",
        "backend_type": "client backend",
        "backend_start": row["backend_start"],
    }
    assert killed["time"].endswith("+00:00")
    assert by_pid[1]["result"] is False
    assert by_pid[1]["target"] is None
    with agent.session_client() as client:
        assert len(audit(client, limit=1)) == 1
        assert client.get("/activity/audit", params={"limit": 0}).status_code == 406


def test_audit_lines_are_on_disk_before_the_answer(agent: Agent) -> None:
    with agent.session_client() as client:
        client.post("/activity/cancel", json={"pids": [424242]})
        on_disk = (agent.workdir / "audit.jsonl").read_text().splitlines()
    assert '"pid":424242' in on_disk[-1]
    assert '"action":"cancel"' in on_disk[-1]
    assert oct((agent.workdir / "audit.jsonl").stat().st_mode & 0o777) == "0o600"


@pytest.fixture
def guarded_agent(cluster: Cluster, tmp_path: Path) -> Iterator[Agent]:
    with cluster.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS replicator_app")
        conn.execute("CREATE ROLE replicator_app LOGIN")
        conn.execute("DROP DATABASE IF EXISTS billing")
        conn.execute("CREATE DATABASE billing")
    extra = '[guards]\nprotected_roles = ["replicator_app"]\nprotected_databases = ["billing"]\n'
    with running_agent(cluster, tmp_path, extra) as agent:
        yield agent


def test_protected_roles_and_databases_are_left_alone(
    guarded_agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    by_role = sessions.open("protected-role", user="replicator_app")
    by_role.submit("SELECT pg_sleep(60)")
    in_db = sessions.open("protected-db", dbname="billing")
    in_db.submit("SELECT pg_sleep(60)")
    free = sessions.open("unprotected")
    free.submit("SELECT pg_sleep(60)")
    with guarded_agent.session_client() as client:
        for pid in (by_role.pid, in_db.pid, free.pid):
            poll_row(client, pid, until=lambda r: r["state"] == "active")
        answer = client.post(
            "/activity/kill", json={"pids": [by_role.pid, in_db.pid, free.pid]}
        ).json()["backends"]
        assert answer == [
            {"pid": by_role.pid, "killed": False, "reason": "protected role replicator_app"},
            {"pid": in_db.pid, "killed": False, "reason": "protected database billing"},
            {"pid": free.pid, "killed": True, "reason": None},
        ]
        cancelled = client.post("/activity/cancel", json={"pids": [by_role.pid]}).json()
        assert cancelled["backends"][0]["cancelled"] is False
        wait_until(lambda: row_of(client, free.pid) is None, what="the free backend to go")
        assert poll_row(client, by_role.pid)["state"] == "active"
        assert poll_row(client, in_db.pid)["state"] == "active"


def test_the_agents_own_connections_are_refused_with_a_reason(
    agent: Agent, cluster: Cluster
) -> None:
    with agent.session_client() as client:
        client.post("/activity/cancel", json={"pids": [1]})  # both links are open now
        with cluster.connect() as conn:
            own = [
                p
                for (p,) in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgwarden'"
                )
            ]
        answer = client.post("/activity/kill", json={"pids": own}).json()["backends"]
    assert [(b["killed"], b["reason"]) for b in answer] == [
        (False, "the agent's own connection")
    ] * len(own)


def test_an_unwritable_audit_log_stops_the_action(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    victim = sessions.open("not-unrecorded")
    victim.submit("SELECT pg_sleep(60)")
    # /dev/full accepts open() and fails every write with ENOSPC: a full disk.
    with (
        running_agent(cluster, tmp_path, '[audit]\nfile = "/dev/full"\n') as agent,
        agent.session_client() as client,
    ):
        poll_row(client, victim.pid, until=lambda r: r["state"] == "active")
        for path in ("/activity/kill", "/activity/cancel"):
            response = client.post(path, json={"pids": [victim.pid]})
            assert response.status_code == 500
            message = response.json()["error"]
            assert message.startswith("Audit log cannot be written: /dev/full: ")
            assert message.endswith("nothing was done")
        assert poll_row(client, victim.pid)["state"] == "active"
        assert client.get("/activity").status_code == 200


def test_a_missing_audit_folder_stops_the_action(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    victim = sessions.open("no-folder")
    victim.submit("SELECT pg_sleep(60)")
    extra = f'[audit]\nfile = "{tmp_path}/missing/audit.jsonl"\n'
    with running_agent(cluster, tmp_path, extra) as agent, agent.session_client() as client:
        poll_row(client, victim.pid, until=lambda r: r["state"] == "active")
        response = client.post("/activity/kill", json={"pids": [victim.pid]})
        assert response.status_code == 500
        assert "No such file or directory" in response.json()["error"]
        assert poll_row(client, victim.pid)["state"] == "active"


@contextlib.contextmanager
def tiny_filesystem(path: Path) -> Iterator[Path]:
    """A one-page tmpfs: room for the request line, not for a long result."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_result_that_cannot_be_recorded_is_reported(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    victim = sessions.open("long-query")
    victim.submit(f"SELECT pg_sleep(60) /* {'x' * 900} */")
    with tiny_filesystem(tmp_path / "tiny") as tiny:
        (tiny / "audit.jsonl").write_bytes(b"#" * 3000)  # leaves room for the request only
        extra = f'[audit]\nfile = "{tiny}/audit.jsonl"\n'
        with (
            running_agent(cluster, tmp_path / "agent", extra) as agent,
            agent.session_client() as client,
        ):
            poll_row(client, victim.pid, until=lambda r: r["state"] == "active")
            response = client.post("/activity/kill", json={"pids": [victim.pid]})
            assert response.status_code == 500
            message = response.json()["error"]
            assert "carried out" in message
            assert str(victim.pid) in message
            assert '"event":"request"' in (tiny / "audit.jsonl").read_text()
