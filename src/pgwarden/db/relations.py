"""Names of relations locked in another database than the agent's.

PostgreSQL can name a relation only from its own database's catalog, so the agent keeps a
connection per such database: opened when a lock there first needs a name, at most
`max_databases` at once (the least recently used one makes room), closed after
`idle_seconds` unused. A database the agent cannot enter (no CONNECT privilege, pg_hba, no
free connection slot) is tried again only after `retry_seconds`; meanwhile its relations
say why they have no name. Which relations need a name, and what the names mean for the
locks, is the business of locks.py: this module only reads names by oid.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pgwarden.config import PostgresConfig
from pgwarden.db import queries
from pgwarden.db.link import DatabaseUnavailable, Link

log = logging.getLogger(__name__)

MAX_DATABASES = 8
IDLE_SECONDS = 60.0
RETRY_SECONDS = 30.0


@dataclass(slots=True)
class _Open:
    link: Link
    last_used: float


class RelationNames:
    def __init__(
        self,
        config: PostgresConfig,
        max_databases: int = MAX_DATABASES,
        idle_seconds: float = IDLE_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._max = max_databases
        self._idle = idle_seconds
        self._retry = retry_seconds
        self._clock = clock
        self._open: dict[str, _Open] = {}  # least recently used first
        self._failures: dict[str, tuple[float, str]] = {}
        self._janitor: asyncio.Task[None] | None = None

    @property
    def backend_pids(self) -> frozenset[int]:
        return frozenset(o.link.backend_pid for o in self._open.values() if o.link.backend_pid)

    @property
    def open_databases(self) -> list[str]:
        return list(self._open)

    async def read(
        self, wanted: Mapping[str, frozenset[int]], server_version: int
    ) -> tuple[dict[tuple[str, int], str], dict[str, str]]:
        """Names by (database, oid) of the relations wanted in each database, and why the
        names of a database could not be read, by database."""
        if not wanted:
            return {}, {}
        databases = sorted(wanted)
        now_served, too_many = databases[: self._max], databases[self._max :]
        query = queries.load("relation_names", server_version)
        await self._make_room(now_served)
        found = await asyncio.gather(
            *(self._lookup(database, wanted[database], query) for database in now_served)
        )
        names: dict[tuple[str, int], str] = {}
        failures = {d: f"locks in more than {self._max} other databases at once" for d in too_many}
        for database, result in zip(now_served, found, strict=True):
            if isinstance(result, str):
                failures[database] = result
            else:
                names.update(((database, oid), name) for oid, name in result.items())
        return names, failures

    async def _make_room(self, needed: Sequence[str]) -> None:
        """Close the least recently used links so that every needed database can have one."""
        missing = [d for d in needed if d not in self._open]
        spare = [d for d in self._open if d not in needed]
        while spare and len(self._open) + len(missing) > self._max:
            await self._close(spare.pop(0))

    async def _lookup(
        self, database: str, oids: frozenset[int], query: str
    ) -> dict[int, str] | str:
        """Names by oid, or why they cannot be read."""
        failed = self._failures.get(database)
        if failed is not None and self._clock() - failed[0] < self._retry:
            return failed[1]
        entry = self._open.pop(database, None)
        if entry is None:
            entry = _Open(Link(self._config, f"relation names in {database}", database), 0.0)
        entry.last_used = self._clock()
        self._open[database] = entry  # most recently used last
        self._start_janitor()
        try:
            rows = await entry.link.execute(query, {"oids": sorted(oids)}, prepare=True)
        except DatabaseUnavailable as exc:
            reason = str(exc)
            log.warning("cannot name relations of database %s: %s", database, reason)
            self._failures[database] = (self._clock(), reason)
            await self._close(database)
            return reason
        self._failures.pop(database, None)
        return {oid: name for oid, name in rows}

    def _start_janitor(self) -> None:
        if self._janitor is None or self._janitor.done():
            self._janitor = asyncio.create_task(self._close_idle())

    async def _close_idle(self) -> None:
        while self._open:
            oldest = min(entry.last_used for entry in self._open.values())
            await asyncio.sleep(max(0.0, oldest + self._idle - self._clock()))
            await self.close_expired()

    async def close_expired(self) -> None:
        """Close the links unused for idle_seconds."""
        for database, entry in list(self._open.items()):
            if self._clock() - entry.last_used >= self._idle:
                await self._close(database)

    async def _close(self, database: str) -> None:
        entry = self._open.pop(database, None)
        if entry is not None:
            await entry.link.close()

    async def close(self) -> None:
        if self._janitor is not None and not self._janitor.done():
            self._janitor.cancel()
        for database in list(self._open):
            await self._close(database)
