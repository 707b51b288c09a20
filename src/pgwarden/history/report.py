"""A kept tick as text for a terminal: its sessions, then who blocks whom; pure."""

from __future__ import annotations

from typing import Any

from pgwarden.forest import blocking_forest
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
    roots = blocking_forest(backends)
    if not roots:
        lines.append("Blocking tree: no session waited for a lock.")
        return lines
    lines.append("Blocking tree (each waiter once, under the session it waits for):")
    by_id = {b.id: b for b in backends}
    # Depth first, without recursion: a chain of waiters may be deeper than Python recurses.
    pending: list[tuple[dict[str, Any], int]] = [(root, 0) for root in reversed(roots)]
    while pending:
        node, depth = pending.pop()
        backend = by_id.get(node["id"])
        text = _line(backend) if backend else f"{node['id']} (not kept)"
        behind = f" [{node['waiting_behind']} waiting behind]" if node["waiting_behind"] else ""
        lines.append(f"{'    ' * depth}{'└─ ' if depth else ''}{text}{behind}")
        pending.extend((child, depth + 1) for child in reversed(node["children"]))
    return lines
