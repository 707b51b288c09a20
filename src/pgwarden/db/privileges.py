"""What the agent's role lacks: said once at start-up, in the log, with the grant that fixes it.

With pg_monitor (for pg_read_all_stats) the agent sees every backend's query and lock wait;
with pg_signal_backend it may cancel and terminate other roles' backends (never a
superuser's). Without them it still answers, with less: see docs/privileges.md.
"""

from __future__ import annotations

import logging

from pgwarden.db.database import Database, DatabaseUnavailable

log = logging.getLogger(__name__)


def missing_privileges(
    role: str, superuser: bool, reads_all_stats: bool, signals_backends: bool
) -> list[str]:
    """One sentence per thing the role cannot do, naming the grant that allows it."""
    if superuser:
        return []
    missing = []
    if not reads_all_stats:
        missing.append(
            f"role {role} sees neither the queries nor the lock waits of other roles' "
            f"backends: GRANT pg_monitor TO {role}"
        )
    if not signals_backends:
        missing.append(
            f"role {role} cannot cancel or terminate other roles' backends: "
            f"GRANT pg_signal_backend TO {role}"
        )
    return missing


async def warn_missing_privileges(db: Database) -> list[str]:
    """Log what the agent's role lacks; an unreachable server is reported by the sampler."""
    try:
        rows = await db.query(db.monitor, "privileges")
    except DatabaseUnavailable:
        return []
    if not rows:
        return []
    role, superuser, reads_all_stats, signals_backends = rows[0]
    missing = missing_privileges(role, superuser, reads_all_stats, signals_backends)
    for sentence in missing:
        log.warning("%s", sentence)
    return missing
