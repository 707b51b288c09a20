"""A kept tick as text for a terminal: its sessions, then who blocks whom; pure."""

from __future__ import annotations

from pgwarden import locks
from pgwarden.history.reading import iso
from pgwarden.history.records import Tick, snapshot_of
from pgwarden.models import Backend

QUERY_WIDTH = 60


def _query(backend: Backend) -> str:
    text = " ".join((backend.query or "").split())
    return text if len(text) <= QUERY_WIDTH else text[: QUERY_WIDTH - 1] + "…"


def _wait(backend: Backend) -> str:
    if backend.wait_event_type is None:
        return "CPU"
    return f"{backend.wait_event_type}:{backend.wait_event}"


def _line(backend: Backend) -> str:
    return (
        f"{backend.pid} {backend.state or '-'} {_wait(backend)} "
        f"{max(backend.duration, 0):.1f}s {backend.user or '-'}@{backend.database or '-'}: "
        f"{_query(backend)}"
    )


def report(tick: Tick, asked: float) -> list[str]:
    snapshot = snapshot_of(tick)
    backends = snapshot.backends
    lines = [
        f"Sample of {iso(tick.at)} (asked for {iso(asked)}): {len(backends)} sessions",
        f"{'PID':>7}  {'STATE':<21} {'WAIT':<26} {'DURATION':>9}  {'USER@DATABASE':<24} QUERY",
    ]
    for b in sorted(backends, key=lambda b: -b.duration):
        lines.append(
            f"{b.pid:>7}  {b.state or '-':<21} {_wait(b):<26} {max(b.duration, 0):>8.1f}s  "
            f"{(b.user or '-') + '@' + (b.database or '-'):<24} {_query(b)}"
        )
    lines.append("")
    waits = locks.lock_waits(backends)
    blockers = locks.blockers(backends, waits)
    if not blockers:
        lines.append("Blocking tree: no session waited for a lock.")
        return lines
    lines.append("Blocking tree (each waiter under the first session it waited for):")
    by_pid = {b.pid: b for b in backends}
    waiters_of = {b.backend.pid: b.blocked_pids for b in blockers}
    shown: set[int] = set()

    def walk(pid: int, depth: int) -> None:
        shown.add(pid)
        backend = by_pid.get(pid)
        text = _line(backend) if backend else f"{pid} (not kept)"
        lines.append(f"{'    ' * depth}{'└─ ' if depth else ''}{text}")
        for child in waiters_of.get(pid, ()):
            if child not in shown:
                walk(child, depth + 1)

    for blocker in blockers:
        if blocker.root and blocker.backend.pid not in shown:
            walk(blocker.backend.pid, 0)
    for wait in waits:  # in a cycle (a deadlock about to be broken) no one is a root
        if wait.backend.pid not in shown:
            walk(wait.backend.pid, 0)
    return lines
