"""/activity/waiting and /activity/blocking reproduce the seed's examples with real locks."""

from __future__ import annotations

from typing import Any

from pgwarden.cluster import Cluster
from tests.helpers import Agent, Sessions, row_of, wait_until

LOCK_SEED_KEYS = [
    "pid", "database", "user", "cpu", "memory", "read_s", "write_s", "iow", "relation", "type",
    "mode", "state", "duration", "query",
]  # fmt: skip


def check_lock_row(row: dict[str, Any]) -> None:
    assert list(row)[: len(LOCK_SEED_KEYS)] == LOCK_SEED_KEYS
    assert type(row["duration"]) is float
    assert round(row["duration"], 2) == row["duration"]
    assert isinstance(row["relation"], str)


def test_row_lock_wait_matches_the_seed(agent: Agent, sessions: Sessions, cluster: Cluster) -> None:
    with cluster.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS t1")
        conn.execute("CREATE TABLE t1 (id int)")
        conn.execute("INSERT INTO t1 VALUES (1), (2)")
    holder = sessions.open("holder")
    holder.run("BEGIN")
    holder.run("UPDATE t1 SET id = 100000000 where id =1;")
    waiter = sessions.open("waiter")
    waiter.submit("DELETE FROM t1 WHERE id = 1;")
    with agent.session_client() as client:
        waiting = wait_until(
            lambda: row_of(client, waiter.pid, "/activity/waiting"), what="the waiter"
        )
        blocking = row_of(client, holder.pid, "/activity/blocking")
        activity = row_of(client, waiter.pid)
    check_lock_row(waiting)
    assert waiting["type"] == "transactionid"
    assert waiting["mode"] == "ShareLock"
    assert waiting["relation"] == " "
    assert waiting["state"] == "active"
    assert waiting["query"] == "DELETE FROM t1 WHERE id = 1;"
    assert waiting["blocked_by"] == [holder.pid]
    assert waiting["wait_duration"] is None or waiting["wait_duration"] >= 0
    assert blocking is not None
    check_lock_row(blocking)
    assert blocking["type"] == "transactionid"
    assert blocking["mode"] == "ExclusiveLock"
    assert blocking["state"] == "idle in transaction"
    assert blocking["query"] == "UPDATE t1 SET id = 100000000 where id =1;"
    assert blocking["blocked_pids"] == [waiter.pid]
    assert blocking["root"] is True
    assert activity is not None
    assert activity["wait"] == "Y"
    assert activity["blocked_by"] == [holder.pid]


def test_table_lock_wait_matches_the_seed(
    agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    with cluster.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS locked_table")
        conn.execute("CREATE TABLE locked_table (id int)")
    holder = sessions.open("table-holder")
    holder.run("BEGIN")
    holder.run("LOCK TABLE locked_table IN EXCLUSIVE MODE")
    waiter = sessions.open("table-waiter")
    waiter.submit("INSERT INTO locked_table VALUES (1)")
    with agent.session_client() as client:
        waiting = wait_until(
            lambda: row_of(client, waiter.pid, "/activity/waiting"), what="the waiter"
        )
        blocking = row_of(client, holder.pid, "/activity/blocking")
    assert (waiting["type"], waiting["mode"]) == ("relation", "RowExclusiveLock")
    assert waiting["relation"] == "public.locked_table"
    assert blocking is not None
    assert (blocking["type"], blocking["mode"]) == ("relation", "ExclusiveLock")
    assert blocking["relation"] == "public.locked_table"
    assert blocking["blocked_pids"] == [waiter.pid]


def test_no_wait_no_rows(agent: Agent, sessions: Sessions) -> None:
    idle = sessions.open("calm")
    idle.run("SELECT 1")
    with agent.session_client() as client:
        assert row_of(client, idle.pid, "/activity/waiting") is None
        assert row_of(client, idle.pid, "/activity/blocking") is None
