"""Who waits for whom: pure analysis of one snapshot.

The edges come from pg_blocking_pids() (queue order included, non-conflicting holders
excluded); pg_locks only says which lock each edge is about.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pgwarden.models import Backend, Blocker, LockInfo, LockWait


def lock_waits(backends: Iterable[Backend]) -> list[LockWait]:
    """Every backend waiting for a heavyweight lock, with the lock it waits for."""
    waits = []
    for backend in backends:
        if not backend.waits_on_lock:
            continue
        waited = next((lock for lock in backend.locks if not lock.granted), None)
        waits.append(LockWait(backend, waited, backend.blocked_by or ()))
    return waits


def _wait_seconds(wait: LockWait) -> float:
    if wait.lock is not None and wait.lock.wait_duration is not None:
        return wait.lock.wait_duration
    return wait.backend.duration


def _lock_on(target: str, candidates: Sequence[Backend]) -> LockInfo | None:
    """The lock these backends hold on target, else the one they queue for."""
    on_target = [lock for b in candidates for lock in b.locks if lock.target == target]
    return next((lock for lock in on_target if lock.granted), on_target[0] if on_target else None)


def blockers(backends: Sequence[Backend], waits: Sequence[LockWait]) -> list[Blocker]:
    """Each backend that holds up at least one waiter, once, in order of first appearance."""
    by_pid = {b.pid: b for b in backends}
    workers: dict[int, list[Backend]] = {}
    for backend in backends:
        if backend.leader_pid is not None and backend.leader_pid != backend.pid:
            workers.setdefault(backend.leader_pid, []).append(backend)
    waiting_pids = {w.backend.pid for w in waits}
    blocked: dict[int, list[LockWait]] = {}
    for wait in waits:
        for pid in wait.blocked_by:
            blocked.setdefault(pid, []).append(wait)
    result = []
    for pid, its_waiters in blocked.items():
        holder = by_pid.get(pid)
        if holder is None:
            continue  # ended between pg_blocking_pids() and the row scan
        longest = max(its_waiters, key=_wait_seconds)
        lock = None
        if longest.lock is not None:
            # pg_blocking_pids() names a parallel leader for a lock its worker holds.
            lock = _lock_on(longest.lock.target, [holder, *workers.get(pid, ())])
        blocked_pids = tuple(dict.fromkeys(w.backend.pid for w in its_waiters))
        result.append(Blocker(holder, lock, blocked_pids, root=pid not in waiting_pids))
    return result
