"""One connection of the agent to PostgreSQL: opened on demand, dropped when broken.

A pool would add background reconnection with exponential back-off; the agent needs the
opposite: each request either gets a working connection within connect_timeout or a 503 at
once, and the first request after PostgreSQL comes back reconnects. Two long-lived links
keep the agent answering when clients exhaust max_connections: one samples, one acts, so a
kill never queues behind a snapshot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.rows import AsyncRowFactory, TupleRow, tuple_row

from pgwarden.config import PostgresConfig

log = logging.getLogger(__name__)

Row = TypeVar("Row")

APPLICATION_NAME = "pgwarden"


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached or did not answer; the message says why."""


class PermissionDenied(DatabaseUnavailable):
    """PostgreSQL refused the agent's role something: the agent lacks a privilege."""


class LinkLost(DatabaseUnavailable):
    """The connection broke: PostgreSQL restarted, or someone terminated the agent's backend."""


def conninfo(config: PostgresConfig, dbname: str | None = None) -> str:
    """A libpq connection string; an empty password is left to PGPASSWORD or ~/.pgpass."""
    timeouts = (
        f"-c statement_timeout={int(config.statement_timeout * 1000)} "
        f"-c lock_timeout={int(config.lock_timeout * 1000)} -c jit=off"
    )
    params: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "user": config.user,
        "dbname": dbname or config.dbname,
        "connect_timeout": max(1, round(config.connect_timeout)),
        "application_name": APPLICATION_NAME,
        "options": timeouts,
    }
    if config.password:
        params["password"] = config.password
    return psycopg.conninfo.make_conninfo(**params)


def describe(exc: BaseException) -> str:
    """One line about a failure, without the connection string or any password."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Link:
    """One connection, serialised by a lock, reopened by the next caller after a failure."""

    def __init__(self, config: PostgresConfig, name: str, dbname: str | None = None) -> None:
        self._config = config
        self._conninfo = conninfo(config, dbname)
        self._name = name
        self._conn: psycopg.AsyncConnection[TupleRow] | None = None
        self._lock = asyncio.Lock()
        self.backend_pid: int | None = None

    @property
    def _deadline(self) -> float:
        # The server cancels a slow statement itself; this bound covers a silent network.
        return self._config.statement_timeout + self._config.connect_timeout

    async def _connection(self) -> psycopg.AsyncConnection[TupleRow]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            async with asyncio.timeout(self._config.connect_timeout + 0.5):
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            raise DatabaseUnavailable(describe(exc)) from exc
        self._conn = conn
        self.backend_pid = conn.info.backend_pid
        log.info("connected to PostgreSQL (%s link, backend pid %s)", self._name, self.backend_pid)
        return conn

    async def execute(
        self,
        query: str,
        params: Sequence[Any] | dict[str, Any] | None = None,
        *,
        prepare: bool | None = None,
    ) -> list[TupleRow]:
        """Run one statement in autocommit; every failure becomes DatabaseUnavailable."""
        return await self.fetch(query, params, tuple_row, prepare=prepare)

    async def fetch(
        self,
        query: str,
        params: Sequence[Any] | dict[str, Any] | None,
        row_factory: AsyncRowFactory[Row],
        *,
        prepare: bool | None = None,
    ) -> list[Row]:
        """Run one statement in autocommit, its rows made by `row_factory`."""
        async with self._lock:
            reused = self._conn is not None and not self._conn.closed
            try:
                return await self._execute(query, params, row_factory, prepare)
            except LinkLost:
                if not reused:
                    raise
            # A link lost while idle fails on its first use: reconnect at once, rather than
            # answer 503 to whoever asks first after a restart.
            log.info("%s link lost; reconnecting", self._name)
            return await self._execute(query, params, row_factory, prepare)

    async def _execute(
        self,
        query: str,
        params: Sequence[Any] | dict[str, Any] | None,
        row_factory: AsyncRowFactory[Row],
        prepare: bool | None,
    ) -> list[Row]:
        conn = await self._connection()
        try:
            async with asyncio.timeout(self._deadline):
                cursor = conn.cursor(row_factory=row_factory)
                await cursor.execute(query, params, prepare=prepare)
                return await cursor.fetchall() if cursor.description else []
        except psycopg.errors.InsufficientPrivilege as exc:
            # PostgreSQL 16+ says which privilege is missing only in the detail.
            detail = exc.diag.message_detail
            message = f"{describe(exc)} ({detail})" if detail else describe(exc)
            raise PermissionDenied(message) from exc
        except TimeoutError as exc:
            await self._drop()  # a silent network: retrying would only double the wait
            raise DatabaseUnavailable(describe(exc)) from exc
        except psycopg.Error as exc:
            if conn.broken:
                await self._drop()
                raise LinkLost(describe(exc)) from exc
            raise DatabaseUnavailable(describe(exc)) from exc

    @property
    def server_version(self) -> int | None:
        return self._conn.info.server_version if self._conn and not self._conn.closed else None

    async def _drop(self) -> None:
        conn, self._conn, self.backend_pid = self._conn, None, None
        if conn is not None:
            await conn.close()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
