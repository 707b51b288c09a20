"""Relations locked in another database than the agent's are named there."""

from __future__ import annotations

import psycopg
import pytest

from pgwarden.cluster import Cluster
from tests.functional.locking import blocked, lock_graph
from tests.helpers import Agent, Sessions, rows

OTHER_DATABASE = "pgwarden_other"


def create_database(cluster: Cluster, name: str) -> None:
    """Create `name` unless an earlier test did: the agent may still hold a link into it."""
    with cluster.connect() as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture(scope="module")
def other_database(cluster: Cluster) -> str:
    create_database(cluster, OTHER_DATABASE)
    with psycopg.connect(cluster.conninfo(OTHER_DATABASE), autocommit=True) as conn:
        conn.execute('DROP SCHEMA IF EXISTS "Sales" CASCADE')
        conn.execute('CREATE SCHEMA "Sales"')
        conn.execute('CREATE TABLE "Sales"."Order Items" (id int)')
    return OTHER_DATABASE


def test_a_relation_of_another_database_is_named_from_there(
    agent: Agent, sessions: Sessions, cluster: Cluster, other_database: str
) -> None:
    holder = sessions.open("other-holder", dbname=other_database)
    waiter = sessions.open("other-waiter", dbname=other_database)
    holder.run("BEGIN")
    holder.run('LOCK TABLE "Sales"."Order Items" IN EXCLUSIVE MODE')
    blocked(cluster, waiter, 'INSERT INTO "Sales"."Order Items" VALUES (1)')
    with agent.session_client() as client:
        graph = lock_graph(client, {holder.pid, waiter.pid})
        every_row = rows(client)
    graph.check_consistent()
    assert graph.edges == {(waiter.pid, holder.pid)}
    for row in (graph.waiting[waiter.pid], graph.blocking_row(holder.pid)):
        assert row["database"] == other_database
        assert row["relation"] == '"Sales"."Order Items"'
    # The agent read that name over a connection of its own into that database: one that is
    # neither listed nor killable.
    with cluster.connect() as conn:
        (link_pid,) = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgwarden' AND datname = %s",
            [other_database],
        ).fetchone() or (None,)
    assert link_pid is not None
    assert link_pid not in {row["pid"] for row in every_row}
    with agent.session_client() as client:
        answer = client.post("/activity/kill", json={"pids": [link_pid]})
    assert answer.status_code == 200
    assert answer.json()["backends"] == [
        {"pid": link_pid, "killed": False, "reason": "the agent's own connection"}
    ]
