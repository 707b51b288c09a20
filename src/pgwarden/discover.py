"""What GET /discover tells a temBoard UI registering the agent: the host and its cluster."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from pgwarden import proc
from pgwarden.db.database import Database, DatabaseUnavailable

log = logging.getLogger(__name__)

PLUGINS = ["activity"]


def summary(version: str) -> str:
    """version() cut to its first two words ("PostgreSQL 15.18"), as temBoard shows it."""
    return " ".join(version.split(" ")[:2])


async def discover(db: Database) -> dict[str, Any]:
    """Host facts always; the cluster's are null when PostgreSQL cannot be asked."""
    facts: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "cpu": os.cpu_count(),
        "memory_size": proc.TOTAL_MEMORY,
        "pg_port": None,
        "pg_version": None,
        "pg_version_summary": None,
        "pg_data": None,
        "pg_block_size": None,
        "plugins": PLUGINS,
    }
    try:
        ((version, port, block_size, data_directory),) = await db.query(db.monitor, "discover")
    except DatabaseUnavailable as exc:
        log.warning("discover: PostgreSQL facts left null: %s", exc)
        return facts
    facts.update(
        pg_port=port,
        pg_version=version,
        pg_version_summary=summary(version),
        pg_data=data_directory,
        pg_block_size=block_size,
    )
    return facts
