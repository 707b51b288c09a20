"""What the agent knows of the cluster: frozen, plain records (rows.py fills them from rows)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from pgwarden.proc.readings import ProcFigures


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
    xmin_age: int | None
    blocked_by: tuple[int, ...] | None
    locks: tuple[LockInfo, ...] = field(default=())
    gid: str | None = None  # a prepared transaction's name (its pid is 0)
    # With pid, tells one session from a later one that reuses its pid.
    backend_start: datetime | None = None

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
    """The server as a whole, from db/sql/overview.sql."""

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
class Target:
    """What the backend at a pid was doing, read by the statement that signals it."""

    pid: int
    backend_type: str | None
    user: str | None
    database: str | None
    application: str | None
    backend_start: datetime | None
    query: str | None

    def describe(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "database": self.database,
            "application": self.application,
            "query": self.query,
            "backend_type": self.backend_type,
            "backend_start": self.backend_start.isoformat() if self.backend_start else None,
        }


class Scope(Enum):
    """Which backends a snapshot holds."""

    EVERY_BACKEND = "every backend"
    # Not resting (idle, disabled, no state), or waiting on a lock, or blocking one: what the
    # history recorder keeps. Such a snapshot has no server or host figures.
    AT_WORK = "at work"

    def covers(self, wanted: Scope) -> bool:
        return self is Scope.EVERY_BACKEND or wanted is Scope.AT_WORK

    @staticmethod
    def widest(wanted: Iterable[Scope]) -> Scope:
        """The one scope that covers all of these (AT_WORK when there are none)."""
        return Scope.EVERY_BACKEND if Scope.EVERY_BACKEND in wanted else Scope.AT_WORK


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The backends of `scope` and their process figures at one moment; views of it are
    cached on it."""

    taken_at: datetime
    backends: tuple[Backend, ...]
    figures: dict[int, ProcFigures]
    rendered: dict[Any, bytes] = field(default_factory=dict, compare=False)
    server: ServerFigures | None = None
    rates: TransactionRates | None = None  # None for the first snapshot, or after a reset
    host: HostFigures | None = None
    scope: Scope = Scope.EVERY_BACKEND


@dataclass(slots=True)
class RecorderStats:
    """The recorder's own figures, for /status and /metrics."""

    recording: bool = False
    paused: str | None = None
    ticks: int = 0
    missed: int = 0
    last_write_seconds: float = 0.0


@dataclass(slots=True)
class SamplerStats:
    """The sampler's own figures, for /metrics."""

    snapshots: int = 0
    errors: int = 0
    last_seconds: float = 0.0
