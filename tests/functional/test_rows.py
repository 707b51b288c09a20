"""The activity query's rows, mapped to Backends by column name, on the real server."""

from __future__ import annotations

import inspect
from dataclasses import replace

import psycopg
import pytest
from psycopg import sql

from pgwarden.cluster import Cluster
from pgwarden.db import queries
from pgwarden.models import Backend
from pgwarden.rows import backend_from_columns, backend_row
from tests.functional.test_locks_databases import create_database
from tests.helpers import Sessions

DATABASE = "pgwarden_rows_db"
ROLE = "pgwarden_rows_role"
EVERY_BACKEND = {"every_backend": True}


def activity_sql(conn: psycopg.Connection) -> str:
    return queries.load("activity", conn.info.server_version)


def backends(conn: psycopg.Connection, query: str | sql.Composed) -> dict[int, Backend]:
    with conn.cursor(row_factory=backend_row) as cursor:
        return {b.pid: b for b in cursor.execute(query, EVERY_BACKEND).fetchall()}


def test_the_server_names_the_columns_as_the_record_fields(cluster: Cluster) -> None:
    with cluster.connect() as conn:
        cursor = conn.execute(activity_sql(conn), EVERY_BACKEND)
        assert cursor.description is not None
        names = [column.name for column in cursor.description]
    assert sorted(names) == sorted(inspect.signature(backend_from_columns).parameters)


def test_columns_in_another_order_fill_the_same_fields(cluster: Cluster) -> None:
    with cluster.connect() as conn:
        cursor = conn.execute(activity_sql(conn), EVERY_BACKEND)
        assert cursor.description is not None
        names = [column.name for column in cursor.description]
        reordered = sql.SQL("SELECT {} FROM ({}) AS activity").format(
            sql.SQL(", ").join(sql.Identifier(name) for name in reversed(names)),
            sql.SQL(activity_sql(conn).rstrip().rstrip(";")),
        )
        as_written, reversed_order = backends(conn, activity_sql(conn)), backends(conn, reordered)
    # Durations move between the two statements; every other field is the same.
    assert {pid: replace(b, duration=0.0) for pid, b in as_written.items()} == {
        pid: replace(b, duration=0.0) for pid, b in reversed_order.items()
    }


def test_a_renamed_column_fails_by_its_name(cluster: Cluster) -> None:
    with cluster.connect() as conn, conn.cursor(row_factory=backend_row) as cursor:
        renamed = activity_sql(conn).replace('b.usename AS "user"', "b.usename AS username", 1)
        assert renamed != activity_sql(conn)
        with pytest.raises(TypeError, match="username"):
            cursor.execute(renamed, EVERY_BACKEND).fetchall()


def test_each_text_column_lands_in_its_own_field(cluster: Cluster, sessions: Sessions) -> None:
    """Database, user, application and state all differ, so a swap of any two shows."""
    create_database(cluster, DATABASE)
    with cluster.connect() as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ROLE]).fetchone():
            conn.execute(f"CREATE ROLE {ROLE} LOGIN")
    watched = sessions.open("pgwarden-rows-app", dbname=DATABASE, user=ROLE)
    watched.run("SELECT 'rows test' AS marker")
    with cluster.connect() as conn:
        found = backends(conn, activity_sql(conn))[watched.pid]
    assert (found.database, found.user) == (DATABASE, ROLE)
    assert (found.application_name, found.backend_type) == ("pgwarden-rows-app", "client backend")
    assert (found.state, found.query) == ("idle", "SELECT 'rows test' AS marker")
    assert (found.wait_event_type, found.wait_event) == ("Client", "ClientRead")
    assert found.client is None  # over the Unix socket
    assert found.blocked_by is None and found.locks == ()
    assert found.query_start is not None and found.xact_start is None
