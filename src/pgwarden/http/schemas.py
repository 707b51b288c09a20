"""Shapes for the OpenAPI document only: bodies are parsed and written by hand for speed and
for the seed's exact error messages, and these models say truthfully what they look like.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    error: str = Field(examples=["Invalid session."])


class LoginBody(BaseModel):
    username: str
    password: str


class SessionBody(BaseModel):
    session: str = Field(pattern=r"^[0-9a-f]{64}$")


class LogoutBody(BaseModel):
    logout: Literal[True]


class ProfileBody(BaseModel):
    username: str
    role: Literal["admin", "viewer"]


class HistoryStatus(BaseModel):
    enabled: bool
    recording: bool
    paused: str | None = Field(description="why recording is paused (a full disk...), or null")


class ProcessFiguresStatus(BaseModel):
    available: bool = Field(description="whether /proc figures of the backends are read")
    reason: str | None = Field(
        description="why not: the agent's backend's parent is not this cluster's postmaster "
        "(PostgreSQL elsewhere), or PostgreSQL not reached yet"
    )


class StatusBody(BaseModel):
    status: Literal["ok"]
    version: str
    history: HistoryStatus
    process_figures: ProcessFiguresStatus


NotAvailable = Literal["N/A"]
UNREADABLE = ' "N/A" when /proc/<pid> cannot be read (as temboard-agent 7.x)'
SINCE = " since the previous reading, or over the process's lifetime on its first one"


class ProcessFigures(BaseModel):
    """The seed's process keys (never null) and their numeric twins (null when unreadable)."""

    cpu: float | NotAvailable = Field(description="% of one CPU" + SINCE + ";" + UNREADABLE)
    memory: float | NotAvailable = Field(
        description="resident memory, % of the host's RAM;" + UNREADABLE
    )
    read_s: str = Field(
        examples=["12.50K"], description="bytes read per second" + SINCE + ";" + UNREADABLE
    )
    write_s: str = Field(
        examples=["0.00B"], description="bytes written per second" + SINCE + ";" + UNREADABLE
    )
    iow: Literal["Y", "N"] | NotAvailable = Field(
        description="in uninterruptible I/O wait;" + UNREADABLE
    )
    cpu_pct: float | None = Field(description="cpu as a number; null when unreadable")
    memory_pct: float | None = Field(description="memory as a number; null when unreadable")
    read_bytes_s: float | None = Field(description="read_s in bytes/s; null when unreadable")
    write_bytes_s: float | None = Field(description="write_s in bytes/s; null when unreadable")


class DiscoverBody(BaseModel):
    hostname: str | None
    cpu: int | None = Field(description="CPU cores")
    memory_size: int | None = Field(description="bytes of RAM")
    pg_port: int | None
    pg_version: str | None = Field(description="version()")
    pg_version_summary: str | None = Field(examples=["PostgreSQL 15.18"])
    pg_data: str | None = Field(description="data_directory; null without pg_read_all_settings")
    pg_block_size: int | None
    plugins: list[str] = Field(examples=[["activity"]])


class ActivityRow(ProcessFigures):
    pid: int
    database: str | None
    user: str | None
    client: str | None
    wait: Literal["Y", "N"]
    duration: str = Field(examples=["1.900"], description="seconds since query_start")
    state: str | None
    query: str | None
    application_name: str | None
    backend_type: str | None
    wait_event_type: str | None
    wait_event: str | None
    xact_start: str | None
    query_start: str | None
    blocked_by: list[int]
    backend_start: str | None = Field(
        examples=["2026-11-27T17:38:12.482913+00:00"],
        description="when the backend started; send it back with kill or cancel, so a pid "
        "reused since is refused",
    )


class LockRow(ProcessFigures):
    pid: int = Field(description="0 for a prepared transaction")
    database: str | None
    user: str | None
    relation: str = Field(
        description='schema-qualified table, " " when not a relation lock; when it has no name, '
        "which relation of which database, and why"
    )
    type: str | None = Field(examples=["transactionid"])
    mode: str | None = Field(examples=["ShareLock"])
    state: str | None
    duration: float
    query: str | None
    application_name: str | None
    backend_type: str | None
    leader_pid: int | None = Field(description="a parallel worker's leader, the pid to act on")
    id: int | str = Field(
        examples=[4242, "0:batch-17"],
        description='the pid, or "0:<gid>" for a prepared transaction: its node id in the tree',
    )
    blocked_by: list[int] = Field(description="from pg_blocking_pids(); 0 is a prepared xact")
    wait_duration: float | None


class BlockingRow(LockRow):
    blocked_pids: list[int]
    blocked_count: int
    root: bool


class ActivityBody(BaseModel):
    rows: list[ActivityRow]
    total: int


class WaitingBody(BaseModel):
    rows: list[LockRow]
    total: int


class BlockingBody(BaseModel):
    rows: list[BlockingRow]
    total: int


class TreeNode(BaseModel):
    id: int | str = Field(description='the pid, or "0:<gid>" for a prepared transaction')
    pid: int = Field(description="0 for a prepared transaction")
    waiting_behind: int = Field(
        description="distinct sessions waiting on it, directly or through others"
    )
    blocking_for: float | None = Field(
        description="seconds its longest-waiting direct waiter has waited; null if none"
    )
    children: list[TreeNode] = Field(description="the waiters hanging under it")
    cycle: Literal[True] | None = Field(
        default=None,
        description="only on a root: it cuts a deadlock the detector has not broken yet",
    )
    waits_for: int | str | None = Field(
        default=None, description="with cycle: the id, below it, of the node it waits for"
    )


class ServerOverview(BaseModel):
    version: str = Field(examples=["15.10"], description="server_version")
    version_num: int = Field(examples=[150010], description="server_version_num")
    started_at: str = Field(description="pg_postmaster_start_time(), ISO 8601")
    uptime: float = Field(description="seconds since the server started")


class ConnectionsOverview(BaseModel):
    total: int = Field(description="client backends, the agent's own connections included")
    by_state: dict[str, int] = Field(
        examples=[{"active": 3, "idle": 40, "idle in transaction": 2}],
        description="client backends by state; 'unknown' where the agent may not see it",
    )
    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int | None = Field(description="PostgreSQL 16+, else null")
    available: int = Field(description="slots left for roles without reserved ones")


class TransactionsOverview(BaseModel):
    commits_per_s: float | None = Field(description="cluster-wide, over `window`")
    rollbacks_per_s: float | None
    window: float | None = Field(
        description="seconds since the previous snapshot; null on the first one"
    )


class OldestTransaction(BaseModel):
    id: int | str = Field(description='the pid, or "0:<gid>" for a prepared transaction')
    pid: int
    state: str | None
    xact_start: str
    age: float = Field(description="seconds since xact_start")


class HostOverview(BaseModel):
    load_average: list[float] = Field(description="1, 5 and 15 minutes")
    cpu_count: int | None
    cpu_pct: float = Field(description="% of all CPUs, since the previous snapshot")
    memory_pct: float = Field(description="% of RAM in use (not available)")
    memory_total: int = Field(description="bytes")
    memory_available: int = Field(description="bytes")


class OverviewBody(BaseModel):
    server: ServerOverview | None
    connections: ConnectionsOverview | None
    transactions: TransactionsOverview
    cache_hit_ratio: float | None = Field(
        description="blocks found in shared buffers over all blocks read, cluster-wide, since "
        "the statistics were reset; null before any block was read"
    )
    oldest_xact: OldestTransaction | None = Field(
        description="the backend or prepared transaction whose transaction began first"
    )
    host: HostOverview | None


class SnapshotBody(BaseModel):
    taken_at: str = Field(description="when the snapshot was taken, ISO 8601 with offset")
    running: ActivityBody
    waiting: WaitingBody
    blocking: BlockingBody
    tree: list[TreeNode] = Field(description="the blocking forest: its roots, longest first")
    overview: OverviewBody


class HistoryActivityBody(ActivityBody):
    sampled_at: str = Field(description="when the sample shown was taken, ISO 8601")


class HistoryWaitingBody(WaitingBody):
    sampled_at: str


class HistoryBlockingBody(BlockingBody):
    sampled_at: str


class HistorySnapshotBody(BaseModel):
    sampled_at: str
    taken_at: str
    running: ActivityBody
    waiting: WaitingBody
    blocking: BlockingBody


class LoadSeries(BaseModel):
    key: str | None = Field(description="the value split by; CPU for a session waiting on nothing")
    points: list[tuple[float, float]] = Field(
        description="[bucket start, average sessions] for every sampled bucket"
    )


class HistoryLoadBody(BaseModel):
    from_: float = Field(alias="from")
    to: float
    step: float
    by: str
    series: list[LoadSeries]
    gaps: list[tuple[float, float]] = Field(description="spans when no sample was taken")


class TopRow(BaseModel):
    key: str | None
    aas: float = Field(description="session-samples over the window's sampled ticks")
    peak: int = Field(description="the most sessions with this key in one sample")
    samples: int


class HistoryTopBody(BaseModel):
    rows: list[TopRow]


class PidItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pid: int
    backend_start: str | None = Field(
        default=None,
        examples=["2026-11-27T17:38:12.482913+00:00"],
        description="as /activity shows it: refused unless the backend at pid started then",
    )


class PidsBody(BaseModel):
    pids: list[int | PidItem] = Field(min_length=1, max_length=1000)


class KilledRow(BaseModel):
    pid: int
    killed: bool
    reason: str | None


class KillBody(BaseModel):
    backends: list[KilledRow]


class CancelledRow(BaseModel):
    pid: int
    cancelled: bool
    reason: str | None


class CancelBody(BaseModel):
    backends: list[CancelledRow]


class AuditBody(BaseModel):
    entries: list[dict[str, Any]]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for error statuses, all with the one error body."""
    descriptions = {
        400: "Body is not valid JSON",
        401: "Invalid session",
        403: "Permission denied (viewer)",
        406: "Missing or malformed parameter (X-Session included)",
        413: "Body too large",
        429: "Too many failed logins (see Retry-After)",
        404: "No sample at that time, or the time falls in a gap (the answer says when)",
        500: "Audit log or users file cannot be used",
        503: "PostgreSQL (or the history store) is unavailable",
    }
    return {s: {"model": ErrorBody, "description": descriptions[s]} for s in statuses}
