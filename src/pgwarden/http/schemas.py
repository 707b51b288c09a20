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


class StatusBody(BaseModel):
    status: Literal["ok"]
    version: str


class ActivityRow(BaseModel):
    pid: int
    database: str | None
    user: str | None
    client: str | None
    cpu: float | None = Field(description="% of one CPU since the previous reading")
    memory: float | None = Field(description="resident memory, % of the host's RAM")
    read_s: str | None = Field(examples=["12.50K"], description="bytes read per second")
    write_s: str | None = Field(examples=["0.00B"], description="bytes written per second")
    iow: Literal["Y", "N"]
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


class LockRow(BaseModel):
    pid: int = Field(description="0 for a prepared transaction")
    database: str | None
    user: str | None
    cpu: float | None
    memory: float | None
    read_s: str | None
    write_s: str | None
    iow: Literal["Y", "N"]
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
        500: "Audit log or users file cannot be used",
        503: "PostgreSQL is unavailable",
    }
    return {s: {"model": ErrorBody, "description": descriptions[s]} for s in statuses}
