"""The seed's three views of a snapshot, as API rows, filtered and sorted; pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeVar

import orjson

from pgwarden import locks
from pgwarden.forest import blocking_forest, encode_forest
from pgwarden.humanize import format_bytes
from pgwarden.models import Backend, LockInfo, Snapshot
from pgwarden.overview import render_overview
from pgwarden.proc.readings import UNREADABLE, ProcFigures
from pgwarden.shapes import (
    ActivityRow,
    BlockingRow,
    LockedBackend,
    LockRow,
    NotAvailable,
    YesNo,
)

Row = Mapping[str, Any]
R = TypeVar("R", bound=Row)


class View(StrEnum):
    ACTIVITY = "activity"
    WAITING = "waiting"
    BLOCKING = "blocking"


# The process figures' numeric twins; sorting by a seed figure sorts by its twin.
FIGURE_TWINS = {
    "cpu": "cpu_pct",
    "memory": "memory_pct",
    "read_s": "read_bytes_s",
    "write_s": "write_bytes_s",
}
TWINS = frozenset(FIGURE_TWINS.values())

# Keys a client may sort by, per view; the default is the longest duration first.
SORT_KEYS: dict[View, frozenset[str]] = {
    View.ACTIVITY: frozenset(
        {
            "pid",
            "database",
            "user",
            "client",
            "cpu",
            "memory",
            "read_s",
            "write_s",
            "iow",
            "wait",
            "duration",
            "state",
            "query",
            "application_name",
            "backend_type",
            "wait_event_type",
            "wait_event",
            "xact_start",
            "query_start",
        }
    )
    | TWINS,
    View.WAITING: frozenset(
        {
            "pid",
            "database",
            "user",
            "cpu",
            "memory",
            "read_s",
            "write_s",
            "iow",
            "relation",
            "type",
            "mode",
            "state",
            "duration",
            "query",
            "application_name",
            "backend_type",
            "wait_duration",
        }
    )
    | TWINS,
}
SORT_KEYS[View.BLOCKING] = SORT_KEYS[View.WAITING] | {"blocked_count"}


@dataclass(frozen=True, slots=True)
class RowQuery:
    """Server-side filters, sort and limit; hashable so rendered answers can be cached."""

    states: tuple[str, ...] = ()
    databases: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    applications: tuple[str, ...] = ()
    min_duration: float | None = None
    sort: str = "-duration"
    limit: int | None = None

    @property
    def filters(self) -> bool:
        return (
            bool(self.states or self.databases or self.users or self.applications)
            or self.min_duration is not None
        )

    def keeps(self, backend: Backend) -> bool:
        return (
            (not self.states or backend.state in self.states)
            and (not self.databases or backend.database in self.databases)
            and (not self.users or backend.user in self.users)
            and (not self.applications or backend.application_name in self.applications)
            and (self.min_duration is None or backend.duration >= self.min_duration)
        )


ZERO_RATE = format_bytes(0.0)
# What temboard-agent 7.x shows for a figure it cannot read; clients expect it, never null.
NOT_AVAILABLE: Final = "N/A"


def _rate(value: float | None) -> str:
    # Most backends sit idle: their zero rates need no formatting.
    if value is None:
        return NOT_AVAILABLE
    return ZERO_RATE if value == 0 else format_bytes(value)


def _iow(value: bool | None) -> YesNo | NotAvailable:
    if value is None:
        return NOT_AVAILABLE
    return "Y" if value else "N"


def _shown(value: float | None) -> float | NotAvailable:
    return NOT_AVAILABLE if value is None else value


def activity_row(backend: Backend, figures: ProcFigures) -> ActivityRow:
    """The seed's /activity row, then our extra keys; one dict literal, built once per row."""
    cpu, memory, read, write, iowait = figures
    return {
        "pid": backend.pid,
        "database": backend.database,
        "user": backend.user,
        "client": backend.client,
        "cpu": NOT_AVAILABLE if cpu is None else cpu,
        "memory": NOT_AVAILABLE if memory is None else memory,
        "read_s": ZERO_RATE if read == 0 else _rate(read),
        "write_s": ZERO_RATE if write == 0 else _rate(write),
        "iow": NOT_AVAILABLE if iowait is None else ("Y" if iowait else "N"),
        "wait": "Y" if backend.waits_on_lock else "N",
        "duration": f"{backend.duration if backend.duration > 0 else 0.0:.3f}",
        "state": backend.state,
        "query": backend.query,
        "application_name": backend.application_name,
        "backend_type": backend.backend_type,
        "wait_event_type": backend.wait_event_type,
        "wait_event": backend.wait_event,
        "xact_start": backend.xact_start,
        "query_start": backend.query_start,
        "blocked_by": list(backend.blocked_by) if backend.blocked_by else [],
        "cpu_pct": cpu,
        "memory_pct": memory,
        "read_bytes_s": read,
        "write_bytes_s": write,
        "backend_start": backend.backend_start,
    }


def lock_row(backend: Backend, figures: ProcFigures, lock: LockInfo | None) -> LockedBackend:
    """The seed's /activity/waiting and /activity/blocking row, before the extras."""
    return {
        "pid": backend.pid,
        "database": backend.database,
        "user": backend.user,
        "cpu": _shown(figures.cpu),
        "memory": _shown(figures.memory),
        "read_s": _rate(figures.read_rate),
        "write_s": _rate(figures.write_rate),
        "iow": _iow(figures.iowait),
        "relation": locks.relation_text(lock),
        "type": lock.locktype if lock else None,
        "mode": lock.mode if lock else None,
        "state": backend.state,
        "duration": round(max(backend.duration, 0.0), 2),
        "query": backend.query,
        "application_name": backend.application_name,
        "backend_type": backend.backend_type,
        # a parallel worker is shown with its leader: the pid to act on
        "leader_pid": backend.leader_pid if backend.leader_pid != backend.pid else None,
        "cpu_pct": figures.cpu,
        "memory_pct": figures.memory,
        "read_bytes_s": figures.read_rate,
        "write_bytes_s": figures.write_rate,
        # the forest's node id: several prepared transactions share pid 0
        "id": backend.id,
    }


def _wait_duration(lock: LockInfo | None) -> float | None:
    if lock is None or lock.wait_duration is None:
        return None
    return round(max(lock.wait_duration, 0.0), 2)


Keep = Callable[[Backend], bool]


def _keep_all(backend: Backend) -> bool:
    return True


# Rows are filtered by the backend they are built from, before they are built: several
# prepared transactions share pid 0, so a row cannot be traced back to its backend by pid.
def activity_rows(snapshot: Snapshot, keep: Keep = _keep_all) -> list[ActivityRow]:
    figures = snapshot.figures
    return [
        activity_row(b, figures.get(b.pid, UNREADABLE))
        for b in snapshot.backends
        if b.is_client and keep(b)
    ]


def waiting_rows(snapshot: Snapshot, keep: Keep = _keep_all) -> list[LockRow]:
    rows: list[LockRow] = []
    for wait in locks.lock_waits(snapshot.backends):
        if not keep(wait.backend):
            continue
        row = lock_row(wait.backend, snapshot.figures.get(wait.backend.pid, UNREADABLE), wait.lock)
        rows.append(
            {
                **row,
                "blocked_by": list(wait.blocked_by),
                "wait_duration": _wait_duration(wait.lock),
            }
        )
    return rows


def blocking_rows(snapshot: Snapshot, keep: Keep = _keep_all) -> list[BlockingRow]:
    waits = locks.lock_waits(snapshot.backends)
    own_waits = {w.backend.pid: w for w in waits}
    rows: list[BlockingRow] = []
    for blocker in locks.blockers(snapshot.backends, waits):
        backend = blocker.backend
        if not keep(backend):
            continue
        row = lock_row(backend, snapshot.figures.get(backend.pid, UNREADABLE), blocker.lock)
        own_wait = own_waits.get(backend.pid)
        rows.append(
            {
                **row,
                "blocked_pids": list(blocker.blocked_pids),
                "blocked_count": len(blocker.blocked_pids),
                "root": blocker.root,
                "blocked_by": list(own_wait.blocked_by) if own_wait else [],
                "wait_duration": _wait_duration(own_wait.lock) if own_wait else None,
            }
        )
    return rows


BUILDERS: dict[View, Callable[[Snapshot, Keep], Sequence[Row]]] = {
    View.ACTIVITY: activity_rows,
    View.WAITING: waiting_rows,
    View.BLOCKING: blocking_rows,
}


def _sort_key(name: str) -> Callable[[Row], Any]:
    """What a row sorts by, for rows where `name` is not null (nulls are set apart first)."""
    if name == "duration":  # text in /activity ("12.345"): sort it as the number it shows
        return lambda row: float(row["duration"])

    def key(row: Row) -> Any:
        value = row[name]
        return len(value) if isinstance(value, list) else value

    return key


def sort_rows(rows: Sequence[R], query: RowQuery) -> list[R]:
    """Rows in the query's order; nulls sort last either way."""
    name = query.sort.lstrip("-")
    name = FIGURE_TWINS.get(name, name)  # "N/A" sorts with the nulls, numbers as numbers
    descending = query.sort.startswith("-")
    present = [row for row in rows if row.get(name) is not None]
    absent = [row for row in rows if row.get(name) is None]
    present.sort(key=_sort_key(name), reverse=descending)
    return present + absent


def render(snapshot: Snapshot, view: View, query: RowQuery) -> bytes:
    """The JSON body for one view of a snapshot; callers sharing a snapshot share the bytes."""
    cache_key = (view, query)
    body = snapshot.rendered.get(cache_key)
    if body is None:
        keep = query.keeps if query.filters else _keep_all
        rows = sort_rows(BUILDERS[view](snapshot, keep), query)
        shown = rows if query.limit is None else rows[: query.limit]
        body = orjson.dumps({"rows": shown, "total": len(rows)})
        snapshot.rendered[cache_key] = body
    return body


_ALL = RowQuery()


def render_snapshot(snapshot: Snapshot) -> bytes:
    """The body of GET /activity/snapshot and of each stream event: the three views, the
    blocking forest and the overview of one snapshot, serialised once however many callers
    share it."""
    body = snapshot.rendered.get("snapshot")
    if body is None:
        body = b"".join(
            (
                b'{"taken_at":',
                orjson.dumps(snapshot.taken_at),
                b',"running":',
                render(snapshot, View.ACTIVITY, _ALL),
                b',"waiting":',
                render(snapshot, View.WAITING, _ALL),
                b',"blocking":',
                render(snapshot, View.BLOCKING, _ALL),
                b',"tree":',
                encode_forest(blocking_forest(snapshot.backends)),
                b',"overview":',
                render_overview(snapshot),
                b"}",
            )
        )
        snapshot.rendered["snapshot"] = body
    return body
