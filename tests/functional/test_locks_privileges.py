"""The agent as a non-superuser: exactly pg_monitor and pg_signal_backend, as docs/privileges.md
says to set up, and with less, degraded answers, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pgwarden.cluster import Cluster
from tests.functional.locking import blocked, lock_graph
from tests.functional.test_locks_databases import create_database
from tests.helpers import Agent, Sessions, rows, running_agent, wait_until

MONITOR = "pgwarden_monitor"  # the role docs/privileges.md tells to create
WEAK = "pgwarden_weak"  # a bare login role
APP = "pgwarden_app_user"  # whose sessions the agent watches
APP_DATABASE = "pgwarden_app"
CLOSED_DATABASE = "pgwarden_closed"  # the agent's role has no CONNECT there


def _create_role(conn: psycopg.Connection, name: str, grants: str = "") -> None:
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone():
        conn.execute(f"CREATE ROLE {name} LOGIN {grants}")


@pytest.fixture(scope="module")
def roles(cluster: Cluster) -> None:
    with cluster.connect() as conn:
        # Exactly what docs/privileges.md says, nothing more.
        _create_role(conn, MONITOR)
        conn.execute(f"GRANT pg_monitor, pg_signal_backend TO {MONITOR}")
        _create_role(conn, WEAK)
        _create_role(conn, APP)
    for database in (APP_DATABASE, CLOSED_DATABASE):
        create_database(cluster, database)
        with psycopg.connect(cluster.conninfo(database), autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS app_t")
            conn.execute("CREATE TABLE app_t (id int)")
            conn.execute(f"GRANT ALL ON app_t TO {APP}")
    with cluster.connect() as conn:
        conn.execute(f"REVOKE CONNECT ON DATABASE {CLOSED_DATABASE} FROM PUBLIC")
        conn.execute(f"GRANT CONNECT ON DATABASE {CLOSED_DATABASE} TO {APP}")


@pytest.fixture(scope="module")
def monitor_agent(
    cluster: Cluster, roles: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Agent]:
    env = {"PGWARDEN_POSTGRESQL_USER": MONITOR}
    with running_agent(cluster, tmp_path_factory.mktemp("monitor"), env=env) as agent:
        yield agent


def test_the_monitor_role_is_no_superuser_and_has_only_the_two_roles(
    cluster: Cluster, roles: None
) -> None:
    with cluster.connect() as conn:
        attributes = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname = %s",
            [MONITOR],
        ).fetchone()
        granted = conn.execute(
            "SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m "
            "JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member "
            "WHERE r.rolname = %s",
            [MONITOR],
        ).fetchone()
    assert attributes == (False, False, False, False, False)
    assert granted == (["pg_monitor", "pg_signal_backend"],)


def test_the_monitor_role_sees_every_wait_and_names_relations_in_other_databases(
    monitor_agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    holder = sessions.open("app-holder", dbname=APP_DATABASE, user=APP)
    superuser_waiter = sessions.open("su-waiter", dbname=APP_DATABASE)
    app_waiter = sessions.open("app-waiter", dbname=APP_DATABASE, user=APP)
    holder.run("BEGIN")
    holder.run("LOCK TABLE app_t IN EXCLUSIVE MODE")
    blocked(cluster, superuser_waiter, "INSERT INTO app_t VALUES (1)")
    blocked(cluster, app_waiter, "INSERT INTO app_t VALUES (2)")
    with monitor_agent.session_client() as client:
        graph = lock_graph(client, {holder.pid, superuser_waiter.pid, app_waiter.pid})
    graph.check_consistent()
    # Two inserts queue one behind the other but do not conflict: no edge between them.
    assert graph.edges == {(superuser_waiter.pid, holder.pid), (app_waiter.pid, holder.pid)}
    assert graph.roots == {holder.pid}
    assert graph.waiting[superuser_waiter.pid]["query"] == "INSERT INTO app_t VALUES (1)"
    assert graph.waiting[superuser_waiter.pid]["user"] == cluster.superuser
    assert graph.blocking_row(holder.pid)["query"] == "LOCK TABLE app_t IN EXCLUSIVE MODE"
    for row in (*graph.waiting.values(), *graph.blocking):
        assert row["relation"] == "public.app_t"


def test_the_monitor_role_terminates_but_not_a_superusers_backend(
    monitor_agent: Agent, sessions: Sessions
) -> None:
    app_session = sessions.open("app-victim", dbname=APP_DATABASE, user=APP)
    superuser_session = sessions.open("su-victim", dbname=APP_DATABASE)
    with monitor_agent.session_client() as client:
        answer = client.post(
            "/activity/kill", json={"pids": [app_session.pid, superuser_session.pid]}
        )
        assert answer.status_code == 200
        app_result, superuser_result = answer.json()["backends"]
        assert (app_result["pid"], app_result["killed"]) == (app_session.pid, True)
        assert (superuser_result["pid"], superuser_result["killed"]) == (
            superuser_session.pid,
            False,
        )
        assert superuser_result["reason"].startswith("permission denied")
        assert "superuser" in superuser_result["reason"].lower()
        wait_until(
            lambda: all(r["pid"] != app_session.pid for r in rows(client)),
            what="the terminated backend to leave /activity",
        )


def test_a_database_the_role_cannot_enter_is_said_so(
    monitor_agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    with psycopg.connect(cluster.conninfo(CLOSED_DATABASE), autocommit=True) as conn:
        (oid,) = conn.execute("SELECT 'app_t'::regclass::oid::int").fetchone() or (None,)
    holder = sessions.open("closed-holder", dbname=CLOSED_DATABASE, user=APP)
    waiter = sessions.open("closed-waiter", dbname=CLOSED_DATABASE, user=APP)
    holder.run("BEGIN")
    holder.run("LOCK TABLE app_t IN EXCLUSIVE MODE")
    blocked(cluster, waiter, "INSERT INTO app_t VALUES (1)")
    with monitor_agent.session_client() as client:
        graph = lock_graph(client, {holder.pid, waiter.pid})
    assert graph.edges == {(waiter.pid, holder.pid)}
    relation = graph.waiting[waiter.pid]["relation"]
    assert relation.startswith(f"relation {oid} in database {CLOSED_DATABASE} (not resolvable: ")
    assert "permission denied for database" in relation
    assert graph.blocking_row(holder.pid)["relation"] == relation


def _agent_log_says(agent: Agent, text: str) -> bool:
    return text in agent.log()


def test_a_role_without_the_grants_degrades_and_says_why(
    sessions: Sessions, cluster: Cluster, roles: None, tmp_path: Path
) -> None:
    env = {"PGWARDEN_POSTGRESQL_USER": WEAK}
    with running_agent(cluster, tmp_path, env=env) as agent:
        wait_until(lambda: _agent_log_says(agent, f"GRANT pg_monitor TO {WEAK}"), what="log")
        assert _agent_log_says(agent, f"GRANT pg_signal_backend TO {WEAK}")
        own_holder = sessions.open("weak-holder", user=WEAK)
        own_waiter = sessions.open("weak-waiter", user=WEAK)
        other = sessions.open("weak-other")
        own_holder.run("SELECT pg_advisory_lock(730004)")
        blocked(cluster, own_waiter, "SELECT pg_advisory_lock(730004)")
        other.run("SELECT pg_advisory_lock(730005)")
        with agent.session_client() as client:
            for path in ("/activity", "/activity/waiting", "/activity/blocking"):
                assert client.get(path).status_code == 200
            # Its own role's backends in full, the others' hidden by PostgreSQL.
            graph = lock_graph(client, {own_holder.pid, own_waiter.pid, other.pid})
            assert graph.edges == {(own_waiter.pid, own_holder.pid)}
            assert graph.waiting[own_waiter.pid]["query"] == "SELECT pg_advisory_lock(730004)"
            assert other.pid not in graph.activity
            answer = client.post("/activity/kill", json={"pids": [other.pid, own_waiter.pid]})
        assert answer.status_code == 200
        assert answer.json()["backends"] == [
            {
                "pid": other.pid,
                "killed": False,
                "reason": "hidden from the agent's role (it needs pg_monitor)",
            },
            {"pid": own_waiter.pid, "killed": True, "reason": None},
        ]
