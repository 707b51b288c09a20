"""Bodies for the OpenAPI document: requests are parsed by hand (for the seed's exact error
messages) and answers written by hand (for speed); these models say what they look like.

The rows of the activity views are defined once, in pgwarden/shapes.py, and used here. An
answer's model forbids undeclared keys (`additionalProperties: false`), so a key added to
an answer and not to its model fails the tests that validate live answers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pgwarden.shapes import ActivityRow, BlockingRow, LockRow


class Answer(BaseModel):
    """A response body: every key declared."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Answer):
    error: str = Field(examples=["Invalid session."])


class LoginBody(BaseModel):
    username: str
    password: str


class SessionBody(Answer):
    session: str = Field(pattern=r"^[0-9a-f]{64}$")


class LogoutBody(Answer):
    logout: Literal[True]


class ProfileBody(Answer):
    username: str
    role: Literal["admin", "viewer"]


class HistoryStatus(Answer):
    enabled: bool
    recording: bool
    paused: str | None = Field(description="why recording is paused (a full disk...), or null")


class ProcessFiguresStatus(Answer):
    available: bool = Field(description="whether /proc figures of the backends are read")
    reason: str | None = Field(
        description="why not: the agent's backend's parent is not this cluster's postmaster "
        "(PostgreSQL elsewhere), or PostgreSQL not reached yet"
    )


class StatusBody(Answer):
    status: Literal["ok"]
    version: str
    history: HistoryStatus
    process_figures: ProcessFiguresStatus


class DiscoverBody(Answer):
    hostname: str | None
    cpu: int | None = Field(description="CPU cores")
    memory_size: int | None = Field(description="bytes of RAM")
    pg_port: int | None
    pg_version: str | None = Field(description="version()")
    pg_version_summary: str | None = Field(examples=["PostgreSQL 15.18"])
    pg_data: str | None = Field(description="data_directory; null without pg_read_all_settings")
    pg_block_size: int | None
    plugins: list[str] = Field(examples=[["activity"]])


class ActivityBody(Answer):
    rows: list[ActivityRow]
    total: int


class WaitingBody(Answer):
    rows: list[LockRow]
    total: int


class BlockingBody(Answer):
    rows: list[BlockingRow]
    total: int


class TreeNode(Answer):
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


class ServerOverview(Answer):
    version: str = Field(examples=["15.10"], description="server_version")
    version_num: int = Field(examples=[150010], description="server_version_num")
    started_at: str = Field(description="pg_postmaster_start_time(), ISO 8601")
    uptime: float = Field(description="seconds since the server started")


class ConnectionsOverview(Answer):
    total: int = Field(description="client backends, the agent's own connections included")
    by_state: dict[str, int] = Field(
        examples=[{"active": 3, "idle": 40, "idle in transaction": 2}],
        description="client backends by state; 'unknown' where the agent may not see it",
    )
    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int | None = Field(description="PostgreSQL 16+, else null")
    available: int = Field(description="slots left for roles without reserved ones")


class TransactionsOverview(Answer):
    commits_per_s: float | None = Field(description="cluster-wide, over `window`")
    rollbacks_per_s: float | None
    window: float | None = Field(
        description="seconds since the previous snapshot; null on the first one"
    )


class OldestTransaction(Answer):
    id: int | str = Field(description='the pid, or "0:<gid>" for a prepared transaction')
    pid: int
    state: str | None
    xact_start: str
    age: float = Field(description="seconds since xact_start")


class HostOverview(Answer):
    load_average: list[float] = Field(description="1, 5 and 15 minutes")
    cpu_count: int | None
    cpu_pct: float = Field(description="% of all CPUs, since the previous snapshot")
    memory_pct: float = Field(description="% of RAM in use (not available)")
    memory_total: int = Field(description="bytes")
    memory_available: int = Field(description="bytes")


class OverviewBody(Answer):
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


class SnapshotBody(Answer):
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


class HistorySnapshotBody(Answer):
    sampled_at: str
    taken_at: str
    running: ActivityBody
    waiting: WaitingBody
    blocking: BlockingBody
    tree: list[TreeNode] = Field(description="the blocking forest of that sample")


class LoadSeries(Answer):
    key: str | None = Field(description="the value split by; CPU for a session waiting on nothing")
    points: list[tuple[float, float]] = Field(
        description="[bucket start, average sessions] for every sampled bucket"
    )


class HistoryLoadBody(Answer):
    from_: float = Field(alias="from")
    to: float
    step: float
    by: str
    series: list[LoadSeries]
    gaps: list[tuple[float, float]] = Field(description="spans when no sample was taken")


class TopRow(Answer):
    key: str | None
    aas: float = Field(description="session-samples over the window's sampled ticks")
    peak: int = Field(description="the most sessions with this key in one sample")
    samples: int


class HistoryTopBody(Answer):
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


class KilledRow(Answer):
    pid: int
    killed: bool
    reason: str | None


class KillBody(Answer):
    backends: list[KilledRow]


class CancelledRow(Answer):
    pid: int
    cancelled: bool
    reason: str | None


class CancelBody(Answer):
    backends: list[CancelledRow]


class AuditBody(Answer):
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
