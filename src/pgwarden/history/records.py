"""The sessions a tick keeps, as plain records, and the snapshot they stand for; pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pgwarden.models import Backend, LockInfo, Snapshot
from pgwarden.proc.readings import ProcFigures

# States of a backend with nothing to show: kept only when it holds others up.
RESTING_STATES = frozenset({None, "idle", "disabled"})


@dataclass(frozen=True, slots=True)
class SampledLock:
    """A pg_locks entry as kept: the live LockInfo with its wait start instead of a duration,
    so a lock that stays waited for keeps the same value from tick to tick."""

    target: str
    locktype: str
    mode: str
    granted: bool
    database: int | None
    relation: int | None
    relation_name: str | None
    database_name: str | None
    local: bool
    relation_note: str | None
    wait_start: float | None


@dataclass(frozen=True, slots=True)
class SessionSample:
    """One backend at one tick: the keys of an /activity row plus backend_start and blockers."""

    pid: int
    backend_start: float | None
    user: str | None
    database: str | None
    application: str | None
    client: str | None
    backend_type: str | None
    state: str | None
    wait_event_type: str | None
    wait_event: str | None
    query: str | None
    query_start: float | None
    xact_start: float | None
    leader_pid: int | None
    blocked_by: tuple[int, ...] | None
    cpu: float | None
    memory: float | None
    read_rate: float | None
    write_rate: float | None
    iowait: bool | None
    locks: tuple[SampledLock, ...] = ()
    gid: str | None = None  # a prepared transaction's name (its pid is 0)


@dataclass(frozen=True, slots=True)
class Tick:
    """Every kept session of one sample, taken at `at` (Unix seconds)."""

    at: float
    sessions: tuple[SessionSample, ...]


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _moment(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def blocker_pids(backends: tuple[Backend, ...]) -> frozenset[int]:
    return frozenset(pid for b in backends if b.blocked_by for pid in b.blocked_by)


def kept(backends: tuple[Backend, ...]) -> list[Backend]:
    """Every backend that is not resting, plus every one that blocks another, whatever its state
    (an idle session holding an advisory lock is a root)."""
    blockers = blocker_pids(backends)
    return [
        b for b in backends if b.state not in RESTING_STATES or b.waits_on_lock or b.pid in blockers
    ]


def _sampled_lock(lock: LockInfo, at: float) -> SampledLock:
    wait_start = at - lock.wait_duration if lock.wait_duration is not None else None
    return SampledLock(
        target=lock.target,
        locktype=lock.locktype,
        mode=lock.mode,
        granted=lock.granted,
        database=lock.database,
        relation=lock.relation,
        relation_name=lock.relation_name,
        database_name=lock.database_name,
        local=lock.local,
        relation_note=lock.relation_note,
        wait_start=round(wait_start, 3) if wait_start is not None else None,
    )


def tick_of(snapshot: Snapshot) -> Tick:
    """The sessions of a snapshot worth keeping, in the snapshot's order."""
    at = snapshot.taken_at.timestamp()
    sessions = []
    for backend in kept(snapshot.backends):
        figures = snapshot.figures.get(backend.pid)
        sessions.append(
            SessionSample(
                pid=backend.pid,
                backend_start=_epoch(backend.backend_start),
                user=backend.user,
                database=backend.database,
                application=backend.application_name,
                client=backend.client,
                backend_type=backend.backend_type,
                state=backend.state,
                wait_event_type=backend.wait_event_type,
                wait_event=backend.wait_event,
                query=backend.query,
                query_start=_epoch(backend.query_start),
                xact_start=_epoch(backend.xact_start),
                leader_pid=backend.leader_pid,
                blocked_by=backend.blocked_by,
                cpu=figures.cpu if figures else None,
                memory=figures.memory if figures else None,
                read_rate=figures.read_rate if figures else None,
                write_rate=figures.write_rate if figures else None,
                iowait=figures.iowait if figures else None,
                locks=tuple(_sampled_lock(lock, at) for lock in backend.locks),
                gid=backend.gid,
            )
        )
    return Tick(at, tuple(sessions))


def _lock_info(lock: SampledLock, at: float) -> LockInfo:
    return LockInfo(
        target=lock.target,
        locktype=lock.locktype,
        mode=lock.mode,
        granted=lock.granted,
        database=lock.database,
        relation=lock.relation,
        relation_name=lock.relation_name,
        wait_duration=at - lock.wait_start if lock.wait_start is not None else None,
        database_name=lock.database_name,
        local=lock.local,
        relation_note=lock.relation_note,
    )


def backend_of(session: SessionSample, at: float) -> Backend:
    return Backend(
        pid=session.pid,
        database=session.database,
        user=session.user,
        client=session.client,
        application_name=session.application,
        backend_type=session.backend_type,
        state=session.state,
        wait_event_type=session.wait_event_type,
        wait_event=session.wait_event,
        xact_start=_moment(session.xact_start),
        query_start=_moment(session.query_start),
        duration=at - session.query_start if session.query_start is not None else 0.0,
        query=session.query,
        leader_pid=session.leader_pid,
        xmin_age=None,
        blocked_by=session.blocked_by,
        locks=tuple(_lock_info(lock, at) for lock in session.locks),
        gid=session.gid,
        backend_start=_moment(session.backend_start),
    )


def snapshot_of(tick: Tick) -> Snapshot:
    """The snapshot a tick stands for, so the live views render it unchanged."""
    backends = tuple(backend_of(s, tick.at) for s in tick.sessions)
    figures = {
        s.pid: ProcFigures(s.cpu, s.memory, s.read_rate, s.write_rate, s.iowait)
        for s in tick.sessions
        if s.pid
    }
    taken_at = _moment(tick.at)
    assert taken_at is not None
    return Snapshot(taken_at, backends, figures)
