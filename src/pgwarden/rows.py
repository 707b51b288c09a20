"""The agent's query rows as records, mapped by column name.

A psycopg row factory looks the columns up by name once per statement, from the cursor's
description, then picks each row's values in the record's order (kwargs_row would build a
dict per row: a microsecond more per backend). A column renamed in the SQL, or one the
record lacks, fails with a TypeError naming it, rather than filling the wrong field: the
SQL and the record are tied by names, not places.
"""

from __future__ import annotations

import inspect
import operator
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import RowMaker, kwargs_row

from pgwarden.db.encodings import decode_query
from pgwarden.models import Backend, LockInfo, ServerFigures, Target


def backend_from_columns(
    pid: int,
    database: str | None,
    user: str | None,
    client: str | None,
    application_name: str | None,
    backend_type: str | None,
    state: str | None,
    wait_event_type: str | None,
    wait_event: str | None,
    xact_start: datetime | None,
    query_start: datetime | None,
    duration: float,
    query: bytes | None,
    encoding: str | None,
    leader_pid: int | None,
    xmin_age: int | None,
    blocked_by: list[int] | None,
    locks: list[dict[str, Any]] | None,
    gid: str | None,
    backend_start: datetime | None,
) -> Backend:
    """One row of the activity query (db/sql/activity.sql) as a Backend."""
    return Backend(
        pid=pid,
        database=database,
        user=user,
        client=client,
        application_name=application_name,
        backend_type=backend_type,
        state=state,
        wait_event_type=wait_event_type,
        wait_event=wait_event,
        xact_start=xact_start,
        query_start=query_start,
        duration=duration,
        query=decode_query(query, encoding),
        leader_pid=leader_pid,
        xmin_age=xmin_age,
        # pg_blocking_pids() repeats a pid (0 once per prepared transaction): keep one
        blocked_by=tuple(dict.fromkeys(blocked_by)) if blocked_by is not None else None,
        locks=tuple(LockInfo.from_json(item) for item in locks or ()),
        gid=gid,
        backend_start=backend_start,
    )


BACKEND_COLUMNS = tuple(inspect.signature(backend_from_columns).parameters)


def backend_row(cursor: psycopg.Cursor[Any] | psycopg.AsyncCursor[Any]) -> RowMaker[Backend]:
    """A row factory: the activity query's rows as Backends, columns matched by name."""
    names = [column.name for column in cursor.description or ()]
    missing = [name for name in BACKEND_COLUMNS if name not in names]
    unexpected = [name for name in names if name not in BACKEND_COLUMNS]
    if missing or unexpected or len(names) != len(BACKEND_COLUMNS):
        raise TypeError(
            f"the columns do not match a Backend: missing {missing}, unexpected {unexpected}, "
            f"{len(names)} columns for {len(BACKEND_COLUMNS)} fields"
        )
    pick = operator.itemgetter(*(names.index(name) for name in BACKEND_COLUMNS))
    return lambda values: backend_from_columns(*pick(values))


def server_from_columns(
    *,
    version: str,
    version_num: int,
    started_at: datetime,
    max_connections: int,
    superuser_reserved: int,
    reserved: int | None,
    by_state: dict[str, int] | None,
    commits: int | None,
    rollbacks: int | None,
    blocks_hit: int | None,
    blocks_read: int | None,
    oldest_prepared_gid: str | None,
    oldest_prepared_at: datetime | None,
) -> ServerFigures:
    """The row of the overview query (db/sql/overview.sql)."""
    return ServerFigures(
        version=version,
        version_num=version_num,
        started_at=started_at,
        max_connections=max_connections,
        superuser_reserved=superuser_reserved,
        reserved=reserved,
        by_state=dict(by_state or {}),
        # sums over no row are null
        commits=commits or 0,
        rollbacks=rollbacks or 0,
        blocks_hit=blocks_hit or 0,
        blocks_read=blocks_read or 0,
        oldest_prepared_gid=oldest_prepared_gid,
        oldest_prepared_at=oldest_prepared_at,
    )


server_row = kwargs_row(server_from_columns)


def signal_from_columns(
    *,
    pid: int,
    backend_type: str | None,
    user: str | None,
    database: str | None,
    application: str | None,
    backend_start: datetime | None,
    query: bytes | None,
    encoding: str | None,
    signalled: bool | None,
) -> tuple[Target, bool | None]:
    """The row of the signal statement (db/sql/signal.sql): its target, and what the signal
    function answered (None: not called)."""
    target = Target(
        pid, backend_type, user, database, application, backend_start, decode_query(query, encoding)
    )
    return target, signalled


signal_row = kwargs_row(signal_from_columns)
