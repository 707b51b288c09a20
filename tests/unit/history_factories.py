"""Ticks and sessions for the pure history tests, with every field defaulted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pgwarden.history.records import SampledLock, SessionSample, Tick

SESSION = SessionSample(
    pid=100,
    backend_start=1_700_000_000.125,
    user="app",
    database="shop",
    application="checkout",
    client="10.0.0.7",
    backend_type="client backend",
    state="active",
    wait_event_type=None,
    wait_event=None,
    query="SELECT 1",
    query_start=1_700_000_500.5,
    xact_start=1_700_000_500.25,
    leader_pid=None,
    blocked_by=None,
    cpu=12.5,
    memory=0.25,
    read_rate=None,
    write_rate=0.0,
    iowait=False,
)

ROW_LOCK = SampledLock(
    target="transactionid,,,,,,1234,,,",
    locktype="transactionid",
    mode="ShareLock",
    granted=False,
    database=None,
    relation=None,
    relation_name=None,
    database_name=None,
    local=True,
    relation_note=None,
    wait_start=1_700_000_501.0,
)


def session(pid: int, **changes: Any) -> SessionSample:
    if changes.get("blocked_by") is not None:
        changes["blocked_by"] = tuple(changes["blocked_by"])
        changes.setdefault("wait_event_type", "Lock")
        changes.setdefault("wait_event", "transactionid")
    return replace(SESSION, pid=pid, **changes)


def tick(at: float, *sessions: SessionSample) -> Tick:
    return Tick(at, tuple(sessions))


def hot_row(at: float, waiters: int = 3) -> Tick:
    """One holder idle in transaction, `waiters` sessions queued on its row."""
    holder = session(
        1,
        state="idle in transaction",
        wait_event_type="Client",
        wait_event="ClientRead",
        query="UPDATE t SET v = v + 1 WHERE id = 1",
    )
    queued = [
        session(
            10 + i, blocked_by=[1], query="UPDATE t SET v = v + 1 WHERE id = 1", locks=(ROW_LOCK,)
        )
        for i in range(waiters)
    ]
    return tick(at, holder, *queued)
