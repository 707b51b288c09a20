"""Kill and cancel: the guards and the signal in one statement, and a reused pid refused.

The statement is run here as the agent runs it (its SQL file, bound parameters): each guard
alone must keep the signal from being sent, whatever Python checked before.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from pgwarden.actions import DESCRIBE_ONLY
from pgwarden.cluster import Cluster
from pgwarden.db import queries
from pgwarden.models import Target
from pgwarden.rows import signal_row
from tests.helpers import Agent, BackgroundSession, Sessions, poll_row, row_of, wait_until


def signal(
    conn: psycopg.Connection[Any], action: str, pid: int, **guards: Any
) -> tuple[Any, ...] | None:
    params = {
        "action": action,
        "pid": pid,
        "backend_start": None,
        "own_pids": [],
        "protected_roles": [],
        "protected_databases": [],
        **guards,
    }
    sql = queries.load("signal", conn.info.server_version)
    row = conn.execute(sql, params, prepare=True).fetchone()
    return tuple(row) if row is not None else None


@pytest.fixture
def sleeper(cluster: Cluster, sessions: Sessions) -> BackgroundSession:
    victim = sessions.open("one-statement")
    victim.submit("SELECT pg_sleep(60)")
    with cluster.connect() as conn:
        wait_until(
            lambda: (
                conn.execute(
                    "SELECT state FROM pg_stat_activity WHERE pid = %s", (victim.pid,)
                ).fetchone()
                == ("active",)
            ),
            what="the sleeper to run",
        )
    return victim


def started(cluster: Cluster, pid: int) -> datetime:
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT backend_start FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


@pytest.mark.parametrize("action", ["terminate", "cancel"])
def test_each_guard_alone_keeps_the_statement_from_signalling(
    cluster: Cluster, sleeper: BackgroundSession, action: str
) -> None:
    pid, start = sleeper.pid, started(cluster, sleeper.pid)
    with cluster.connect() as conn:
        checkpointer = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"
        ).fetchone()
        assert checkpointer is not None
        own = conn.info.backend_pid
        refused = [
            signal(conn, action, pid, protected_roles=["postgres"]),
            signal(conn, action, pid, protected_databases=["postgres"]),
            signal(conn, action, pid, own_pids=[pid]),
            signal(conn, action, pid, backend_start=start + timedelta(microseconds=1)),
            signal(conn, action, checkpointer[0]),
            signal(conn, action, own),
        ]
        # Every row says what the backend was; none was signalled (signalled is NULL).
        assert [row[-1] if row else "no row" for row in refused] == [None] * 6
        assert refused[0] is not None and refused[0][:6] == (
            pid,
            "client backend",
            "postgres",
            "postgres",
            "one-statement",
            start,
        )
        assert conn.execute(
            "SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone() == ("active",)
        assert signal(conn, action, 2**31 - 1) is None  # no such backend: no row
        done = signal(conn, action, pid, backend_start=start, own_pids=[own + 100000])
        assert done is not None and done[-1] is True


def test_an_action_that_is_neither_terminate_nor_cancel_signals_nothing(
    cluster: Cluster, sleeper: BackgroundSession
) -> None:
    with cluster.connect() as conn:
        row = signal(conn, "stop", sleeper.pid)
        assert row is not None and row[-1] is None
        assert conn.execute(
            "SELECT state FROM pg_stat_activity WHERE pid = %s", (sleeper.pid,)
        ).fetchone() == ("active",)


def test_reading_a_target_only_fills_the_audit_record_by_column_name(
    cluster: Cluster, sleeper: BackgroundSession
) -> None:
    """What actions.py does after PostgreSQL refused a signal: the same statement, no signal."""
    params = {
        "action": DESCRIBE_ONLY,
        "pid": sleeper.pid,
        "backend_start": None,
        "own_pids": [],
        "protected_roles": [],
        "protected_databases": [],
    }
    with cluster.connect() as conn, conn.cursor(row_factory=signal_row) as cursor:
        sql = queries.load("signal", conn.info.server_version)
        ((target, signalled),) = cursor.execute(sql, params).fetchall()
        state = conn.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [sleeper.pid])
        assert state.fetchone() == ("active",)
    assert signalled is None
    assert target == Target(
        pid=sleeper.pid,
        backend_type="client backend",
        user=cluster.superuser,
        database="postgres",
        application="one-statement",
        backend_start=started(cluster, sleeper.pid),
        query="SELECT pg_sleep(60)",
    )


@pytest.mark.parametrize(
    ("path", "key"), [("/activity/kill", "killed"), ("/activity/cancel", "cancelled")]
)
def test_a_backend_that_started_at_another_time_is_refused(
    agent: Agent, sleeper: BackgroundSession, path: str, key: str
) -> None:
    with agent.session_client() as client:
        row = poll_row(client, sleeper.pid, until=lambda r: r["state"] == "active")
        # As if the page's selection were of an earlier backend that had this pid.
        earlier = (datetime.fromisoformat(row["backend_start"]) - timedelta(minutes=5)).isoformat()
        answer = client.post(path, json={"pids": [{"pid": sleeper.pid, "backend_start": earlier}]})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "backends": [
                {
                    "pid": sleeper.pid,
                    key: False,
                    "reason": f"another backend has this pid now: it started at "
                    f"{row['backend_start']}, not {earlier}",
                }
            ]
        }
        assert poll_row(client, sleeper.pid)["state"] == "active"
        entries = client.get("/activity/audit", params={"limit": 2}).json()["entries"]
        assert entries[0]["pids"] == [{"pid": sleeper.pid, "backend_start": earlier}]
        assert entries[1]["expected_backend_start"] == earlier
        assert entries[1]["target"]["backend_start"] == row["backend_start"]
        # The backend_start /activity shows, sent back as is, names this backend.
        exact = {"pid": sleeper.pid, "backend_start": row["backend_start"]}
        answer = client.post(path, json={"pids": [exact, 1]})
        assert [(b["pid"], b[key]) for b in answer.json()["backends"]] == [
            (sleeper.pid, True),
            (1, False),
        ]
        if key == "killed":
            wait_until(lambda: row_of(client, sleeper.pid) is None, what="the victim to go")


@pytest.mark.parametrize(
    "item",
    [
        {"pid": "1"},
        {"pid": True},
        {"backend_start": "2026-12-01T10:00:00+00:00"},
        {"pid": 1, "backend_start": "yesterday"},
        {"pid": 1, "backend_start": "2026-12-01T10:00:00"},  # no offset: which time?
        {"pid": 1, "backend_start": 1764583200},
        {"pid": 1, "started": "2026-12-01T10:00:00+00:00"},
        [1],
    ],
)
def test_malformed_items_are_refused_with_the_seeds_message(agent: Agent, item: Any) -> None:
    with agent.session_client() as client:
        for path in ("/activity/kill", "/activity/cancel"):
            response = client.post(path, json={"pids": [2**31 - 1, item]})
            assert response.status_code == 406
            assert response.json() == {"error": "Parameter 'pids' is malformed."}
