"""What the agent knows of the cluster: frozen records filled straight from query rows."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from psycopg._encodings import py_codecs

from pgwarden.proc import ProcFigures


@cache
def _python_codec(pg_encoding: str | None) -> str:
    """PostgreSQL's encoding name as a Python codec; SQL_ASCII and unknowns read as UTF-8."""
    name = py_codecs.get((pg_encoding or "UTF8").upper().encode(), "utf-8")
    if name == "ascii":
        return "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def decode_query(raw: bytes | None, pg_encoding: str | None) -> str | None:
    """Query text in its database's encoding: pg_stat_activity passes it through unconverted."""
    if raw is None:
        return None
    return raw.decode(_python_codec(pg_encoding), errors="replace")


@dataclass(frozen=True, slots=True)
class LockInfo:
    """One pg_locks entry on an object some backend waits for.

    `relation_name` is the schema-qualified name when it could be read; `local` says whether
    the agent's own database could read it (the relation is in that database, or shared);
    `relation_note` says why a relation has no name.
    """

    target: str
    locktype: str
    mode: str
    granted: bool
    database: int | None
    relation: int | None
    relation_name: str | None
    wait_duration: float | None
    database_name: str | None = None
    local: bool = True
    relation_note: str | None = None

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> LockInfo:
        return cls(
            target=item["target"],
            locktype=item["locktype"],
            mode=item["mode"],
            granted=item["granted"],
            database=item["database"],
            relation=item["relation"],
            relation_name=item["relation_name"],
            wait_duration=item["wait_duration"],
            database_name=item["database_name"],
            local=item["local"],
        )


@dataclass(frozen=True, slots=True)
class Backend:
    """One row of pg_stat_activity (or a prepared transaction, as pid 0)."""

    pid: int
    database: str | None
    user: str | None
    client: str | None
    application_name: str | None
    backend_type: str | None
    state: str | None
    wait_event_type: str | None
    wait_event: str | None
    xact_start: datetime | None
    query_start: datetime | None
    duration: float
    query: str | None
    leader_pid: int | None
    query_id: int | None
    xmin_age: int | None
    blocked_by: tuple[int, ...] | None
    locks: tuple[LockInfo, ...] = field(default=())
    gid: str | None = None  # a prepared transaction's name (its pid is 0)

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Backend:
        (pid, database, user, client, application_name, backend_type, state, wait_event_type,
         wait_event, xact_start, query_start, duration, query, encoding, leader_pid, query_id,
         xmin_age, blocked_by, locks, gid) = row  # fmt: skip
        return cls(
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
            query_id=query_id,
            xmin_age=xmin_age,
            # pg_blocking_pids() repeats a pid (0 once per prepared transaction): keep one
            blocked_by=tuple(dict.fromkeys(blocked_by)) if blocked_by is not None else None,
            locks=tuple(LockInfo.from_json(item) for item in locks or ()),
            gid=gid,
        )

    @property
    def id(self) -> int | str:
        """What tells backends apart: the pid, or "0:<gid>" for a prepared transaction."""
        return f"0:{self.gid}" if self.pid == 0 else self.pid

    @property
    def is_client(self) -> bool:
        return self.backend_type == "client backend"

    @property
    def waits_on_lock(self) -> bool:
        return self.wait_event_type == "Lock"


@dataclass(frozen=True, slots=True)
class LockWait:
    """A backend waiting for a heavyweight lock, and who holds it up."""

    backend: Backend
    lock: LockInfo | None
    blocked_by: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Blocker:
    """A backend (or prepared transaction) that others wait for; `root` when it waits on no one."""

    backend: Backend
    lock: LockInfo | None
    blocked_pids: tuple[int, ...]
    root: bool


@dataclass(frozen=True, slots=True)
class ServerFigures:
    """One row of overview.sql: the server as a whole."""

    version: str
    version_num: int
    started_at: datetime
    max_connections: int
    superuser_reserved: int
    reserved: int | None
    by_state: dict[str, int]
    commits: int
    rollbacks: int
    blocks_hit: int
    blocks_read: int
    oldest_prepared_gid: str | None
    oldest_prepared_at: datetime | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> ServerFigures:
        (version, version_num, started_at, max_connections, superuser_reserved, reserved,
         by_state, commits, rollbacks, blocks_hit, blocks_read, oldest_prepared_gid,
         oldest_prepared_at) = row  # fmt: skip
        return cls(
            version=version,
            version_num=version_num,
            started_at=started_at,
            max_connections=max_connections,
            superuser_reserved=superuser_reserved,
            reserved=reserved,
            by_state=dict(by_state or {}),
            commits=commits or 0,
            rollbacks=rollbacks or 0,
            blocks_hit=blocks_hit or 0,
            blocks_read=blocks_read or 0,
            oldest_prepared_gid=oldest_prepared_gid,
            oldest_prepared_at=oldest_prepared_at,
        )


@dataclass(frozen=True, slots=True)
class TransactionRates:
    """Commits and rollbacks per second, cluster-wide, over `window` seconds."""

    commits_per_s: float
    rollbacks_per_s: float
    window: float


@dataclass(frozen=True, slots=True)
class HostFigures:
    load_average: tuple[float, float, float]
    cpu_count: int | None
    cpu_pct: float  # all CPUs, since the previous reading
    memory_total: int
    memory_available: int
    memory_pct: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every backend and its process figures at one moment; views of it are cached on it."""

    taken_at: datetime
    backends: tuple[Backend, ...]
    figures: dict[int, ProcFigures]
    rendered: dict[Any, bytes] = field(default_factory=dict, compare=False)
    server: ServerFigures | None = None
    rates: TransactionRates | None = None  # None for the first snapshot, or after a reset
    host: HostFigures | None = None
