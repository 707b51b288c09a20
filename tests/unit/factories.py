"""Backends and locks for the pure tests, with every field defaulted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pgwarden.models import Backend, LockInfo

BASE = Backend(
    pid=0,
    database="app",
    user="alice",
    client=None,
    application_name="psql",
    backend_type="client backend",
    state="active",
    wait_event_type=None,
    wait_event=None,
    xact_start=None,
    query_start=None,
    duration=1.0,
    query="SELECT 1",
    leader_pid=None,
    xmin_age=None,
    blocked_by=None,
)


def backend(pid: int, **changes: Any) -> Backend:
    if "blocked_by" in changes and changes["blocked_by"] is not None:
        changes["blocked_by"] = tuple(changes["blocked_by"])
        changes.setdefault("wait_event_type", "Lock")
    return replace(BASE, pid=pid, **changes)


def lock(
    target: str,
    mode: str,
    granted: bool,
    locktype: str = "relation",
    wait: float | None = None,
    relation: int | None = 16384,
    name: str | None = "public.t",
    local: bool = True,
    database_name: str | None = "app",
) -> LockInfo:
    return LockInfo(target, locktype, mode, granted, 5, relation, name, wait, database_name, local)
