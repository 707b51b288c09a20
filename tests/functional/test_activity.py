"""GET /activity against a real cluster: the seed's keys and types, every backend, filters."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden.cluster import Cluster
from tests.helpers import Agent, Sessions, poll_row, row_of, rows, running_agent, wait_until

SEED_KEYS = [
    "pid", "database", "user", "client", "cpu", "memory", "read_s", "write_s", "iow", "wait",
    "duration", "state", "query",
]  # fmt: skip
EXTRA_KEYS = [
    "application_name", "backend_type", "wait_event_type", "wait_event", "xact_start",
    "query_start", "blocked_by", "cpu_pct", "memory_pct", "read_bytes_s", "write_bytes_s",
    "backend_start",
]  # fmt: skip
HUMAN = re.compile(r"^\d+\.\d{2}[BKMGTP]$")


def check_seed_types(row: dict[str, Any]) -> None:
    assert list(row) == SEED_KEYS + EXTRA_KEYS
    assert type(row["pid"]) is int
    for key in ("database", "user", "client", "state", "query"):
        assert row[key] is None or isinstance(row[key], str), key
    # The agent runs as root here: every backend's /proc can be read, so no "N/A" either.
    for key in ("cpu", "memory", "cpu_pct", "memory_pct", "read_bytes_s", "write_bytes_s"):
        assert type(row[key]) is float, (key, row[key])
    for key in ("read_s", "write_s"):
        assert HUMAN.match(row[key]), (key, row[key])
    assert (row["cpu"], row["memory"]) == (row["cpu_pct"], row["memory_pct"])
    assert row["iow"] in ("Y", "N")
    assert row["wait"] in ("Y", "N")
    assert re.fullmatch(r"\d+\.\d{3}", row["duration"]), row["duration"]
    assert isinstance(row["blocked_by"], list)
    # ISO 8601 with the offset, like the other timestamps: a client can send it back as is
    started = datetime.fromisoformat(row["backend_start"])
    assert started.tzinfo is not None and started <= datetime.now(UTC)


def test_rows_have_the_seed_keys_and_types(agent: Agent, sessions: Sessions) -> None:
    sleeper = sessions.open("seed-sleeper")
    sleeper.submit("SELECT pg_sleep(30)")
    with agent.session_client() as client:
        row = poll_row(
            client, sleeper.pid, until=lambda r: r["state"] == "active", what="the sleeping backend"
        )
        check_seed_types(row)
        assert row["query"] == "SELECT pg_sleep(30)"
        assert row["database"] == "postgres"
        assert row["user"] == "postgres"
        assert row["client"] is None  # unix socket
        assert row["wait"] == "N"
        assert row["application_name"] == "seed-sleeper"
        assert row["backend_type"] == "client backend"
        assert row["wait_event"] == "PgSleep"
        assert row["query_start"].endswith("+00:00")
        for other in rows(client):
            check_seed_types(other)


def test_a_backend_that_never_ran_a_query_is_listed(agent: Agent, cluster: Cluster) -> None:
    with (
        psycopg.connect(cluster.conninfo(), application_name="silent") as silent,
        agent.session_client() as client,
    ):
        row = row_of(client, silent.info.backend_pid)
    assert row is not None
    assert row["duration"] == "0.000"
    assert row["state"] == "idle"
    assert row["query"] == ""


def test_tcp_client_address_is_shown(agent: Agent, cluster: Cluster) -> None:
    conninfo = f"host=127.0.0.1 port={cluster.port} dbname=postgres user=postgres"
    with psycopg.connect(conninfo) as tcp, agent.session_client() as client:
        row = row_of(client, tcp.info.backend_pid)
    assert row is not None
    assert row["client"] == "127.0.0.1"


def test_the_agents_own_connections_are_not_listed(agent: Agent, cluster: Cluster) -> None:
    with agent.session_client() as client:
        client.post("/activity/kill", json={"pids": [1]})  # opens the control link too
        listed = {r["pid"] for r in rows(client)}
    with cluster.connect() as conn:
        own = [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgwarden'"
            )
        ]
    assert len(own) >= 2  # monitor and control, and a link per database it named relations in
    assert not listed & set(own)


def test_background_processes_are_not_client_rows(agent: Agent, sessions: Sessions) -> None:
    sessions.open("client").run("SELECT 1")
    with agent.session_client() as client:
        types = {r["backend_type"] for r in rows(client)}
    assert types == {"client backend"}


def test_every_backend_is_listed_without_a_cap(agent: Agent, cluster: Cluster) -> None:
    conns = [psycopg.connect(cluster.conninfo(), application_name="crowd") for _ in range(350)]
    try:
        pids = {c.info.backend_pid for c in conns}
        with agent.session_client() as client:
            response = client.get("/activity")
            listed = response.json()
            assert pids <= {r["pid"] for r in listed["rows"]}
            assert listed["total"] == len(listed["rows"]) >= 350
            capped = client.get("/activity", params={"limit": 10}).json()
            assert len(capped["rows"]) == 10
            assert capped["total"] == listed["total"]
    finally:
        for conn in conns:
            conn.close()


def test_first_reading_is_over_the_lifetime_later_ones_over_the_window(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    # No history recorder: its ticks would read the backend before the first poll does.
    extra = "[history]\nenabled = false"
    with running_agent(cluster, tmp_path, extra) as agent, agent.session_client() as client:
        # Opened after the agent's start-up read, and CPU burnt before the agent ever reads
        # it: its first reading has it all, over its age.
        fresh = sessions.open("first-sight")
        fresh.run("SELECT count(*) FROM generate_series(1, 3000000)")
        first = row_of(client, fresh.pid)
        assert first is not None
        time.sleep(1.0)  # idle meanwhile: nothing burnt since the first reading
        later = row_of(client, fresh.pid)
        assert later is not None
    check_seed_types(first)
    check_seed_types(later)
    assert first["cpu"] > 0.0, first
    assert 0 < first["memory"] < 100
    assert later["cpu"] == 0.0, later


def test_longest_duration_first_by_default(agent: Agent, sessions: Sessions) -> None:
    old = sessions.open("old")
    old.submit("SELECT pg_sleep(30)")
    time.sleep(0.5)
    young = sessions.open("young")
    young.submit("SELECT pg_sleep(30)")
    with agent.session_client() as client:
        wait_until(lambda: row_of(client, young.pid), what="the young sleeper")
        order = [r["pid"] for r in rows(client, application="old", state="active")]
        assert order == [old.pid]
        durations = [float(r["duration"]) for r in rows(client)]
        assert durations == sorted(durations, reverse=True)
        ascending = [float(r["duration"]) for r in rows(client, sort="duration")]
        assert ascending == sorted(ascending)


def test_filters_select_rows_and_total_counts_them(
    agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    with cluster.connect() as conn:
        conn.execute("DROP DATABASE IF EXISTS filtered")
        conn.execute("CREATE DATABASE filtered")
    other_db = sessions.open("filter-app", dbname="filtered")
    other_db.run("SELECT 1")
    sleeper = sessions.open("filter-app")
    sleeper.submit("SELECT pg_sleep(30)")
    with agent.session_client() as client:
        poll_row(client, sleeper.pid, until=lambda r: r["state"] == "active", what="the sleeper")
        by_db = rows(client, database="filtered")
        assert [r["pid"] for r in by_db] == [other_db.pid]
        by_app = {r["pid"] for r in rows(client, application="filter-app")}
        assert by_app == {other_db.pid, sleeper.pid}
        active = rows(client, application="filter-app", state="active")
        assert [r["pid"] for r in active] == [sleeper.pid]
        both = client.get(
            "/activity",
            params=[("application", "filter-app"), ("state", "idle"), ("state", "active")],
        ).json()
        assert {r["pid"] for r in both["rows"]} == {other_db.pid, sleeper.pid}
        assert rows(client, user="nobody-at-all") == []
        slow = rows(client, application="filter-app", min_duration=3600)
        assert slow == []


@pytest.mark.parametrize("path", ["/activity/waiting", "/activity/blocking"])
def test_lock_views_accept_the_same_filters(agent: Agent, path: str) -> None:
    with agent.session_client() as client:
        response = client.get(path, params={"limit": 5, "sort": "pid", "state": "active"})
    assert response.status_code == 200
    assert set(response.json()) == {"rows", "total"}
