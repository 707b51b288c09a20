"""The agent's links to its cluster: one samples, one acts, others name relations elsewhere.

Failures are DatabaseUnavailable (and its kinds), defined with the links in db/link.py.
"""

from __future__ import annotations

from typing import Any

from psycopg.rows import AsyncRowFactory, TupleRow, tuple_row

from pgwarden.config import PostgresConfig
from pgwarden.db import queries
from pgwarden.db.link import DatabaseUnavailable, Link, LinkLost, PermissionDenied, Row
from pgwarden.db.relations import RelationNames

__all__ = ["Database", "DatabaseUnavailable", "Link", "LinkLost", "PermissionDenied"]


class Database:
    """The agent's links to its cluster, and the SQL files for the server's version."""

    def __init__(self, config: PostgresConfig) -> None:
        self.config = config
        self.monitor = Link(config, "monitor")
        self.control = Link(config, "control")
        self.relations = RelationNames(config)

    @property
    def own_pids(self) -> frozenset[int]:
        """Backends of the agent itself: never listed, never killed."""
        links = frozenset(
            pid for pid in (self.monitor.backend_pid, self.control.backend_pid) if pid
        )
        return links | self.relations.backend_pids

    async def query(self, link: Link, name: str, params: Any = None) -> list[TupleRow]:
        """Run the SQL file `name` for this server's version on `link`."""
        return await self.fetch(link, name, tuple_row, params)

    async def fetch(
        self, link: Link, name: str, row_factory: AsyncRowFactory[Row], params: Any = None
    ) -> list[Row]:
        """Run the SQL file `name` for this server's version on `link`, rows by `row_factory`."""
        version = link.server_version
        if version is None:
            await link.execute("SELECT 1")
            version = link.server_version or 0
        return await link.fetch(queries.load(name, version), params, row_factory, prepare=True)

    async def close(self) -> None:
        await self.monitor.close()
        await self.control.close()
        await self.relations.close()
