"""Who waits for whom: pure analysis of one snapshot.

The edges come from pg_blocking_pids() (queue order included, non-conflicting holders
excluded); pg_locks only says which lock each edge is about, and which prepared transaction
stands behind a pid 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from pgwarden.models import Backend, Blocker, LockInfo, LockWait

# Heavyweight lock modes in PostgreSQL's order, and which modes each one conflicts with
# (LockConflicts in src/backend/storage/lmgr/lock.c), by position in MODES, from 1.
MODES = (
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)
_CONFLICTING_POSITIONS = {
    1: {8},
    2: {7, 8},
    3: {5, 6, 7, 8},
    4: {4, 5, 6, 7, 8},
    5: {3, 4, 6, 7, 8},
    6: {3, 4, 5, 6, 7, 8},
    7: {2, 3, 4, 5, 6, 7, 8},
    8: {1, 2, 3, 4, 5, 6, 7, 8},
}
CONFLICTS: dict[str, frozenset[str]] = {
    MODES[mode - 1]: frozenset(MODES[other - 1] for other in others)
    for mode, others in _CONFLICTING_POSITIONS.items()
}

NOT_IN_CATALOG = "not in its catalog: created by a transaction still open, or dropped since"


def conflicts(held: str, wanted: str) -> bool:
    """Whether a lock held in mode `held` stops one wanted in mode `wanted` (SIReadLock never)."""
    return held in CONFLICTS.get(wanted, frozenset())


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


def _strength(mode: str) -> int:
    return MODES.index(mode) + 1 if mode in MODES else 0


def _blocking_lock(wait: LockWait, candidates: Sequence[Backend]) -> LockInfo | None:
    """The lock these backends have on what `wait` waits for: a conflicting one first, then
    held before queued, then the strongest."""
    wanted = wait.lock
    if wanted is None:
        return None
    on_target = [lock for b in candidates for lock in b.locks if lock.target == wanted.target]
    return min(
        on_target,
        key=lambda lock: (
            not conflicts(lock.mode, wanted.mode),
            not lock.granted,
            -_strength(lock.mode),
        ),
        default=None,
    )


def _prepared_holders(wait: LockWait, prepared: Sequence[Backend]) -> list[Backend]:
    """The prepared transactions behind a pid 0: those holding a lock that conflicts."""
    wanted = wait.lock
    if wanted is None:
        return []
    return [
        p
        for p in prepared
        if any(
            lock.granted and lock.target == wanted.target and conflicts(lock.mode, wanted.mode)
            for lock in p.locks
        )
    ]


def blockers(backends: Sequence[Backend], waits: Sequence[LockWait]) -> list[Blocker]:
    """Each backend (or prepared transaction) that holds up at least one waiter, once, in order
    of first appearance; its waiters longest waiting first."""
    by_pid = {b.pid: b for b in backends if b.pid != 0}
    prepared = [b for b in backends if b.pid == 0]
    workers: dict[int, list[Backend]] = {}
    for backend in backends:
        if backend.leader_pid is not None and backend.leader_pid != backend.pid:
            workers.setdefault(backend.leader_pid, []).append(backend)
    # A parallel leader waits when one of its workers does.
    waiting_pids = {w.backend.pid for w in waits} | {w.backend.leader_pid for w in waits}
    # Keyed by identity: several prepared transactions all have pid 0.
    blocked: dict[int, tuple[Backend, list[LockWait]]] = {}
    for wait in waits:
        for pid in wait.blocked_by:
            if pid == 0:
                holders = _prepared_holders(wait, prepared)
            else:
                # A pid gone since pg_blocking_pids() ran is skipped.
                holders = [by_pid[pid]] if pid in by_pid else []
            for holder in holders:
                blocked.setdefault(id(holder), (holder, []))[1].append(wait)
    result = []
    for holder, waits_on_holder in blocked.values():
        its_waiters = sorted(waits_on_holder, key=_wait_seconds, reverse=True)
        longest = its_waiters[0]
        # pg_blocking_pids() names a parallel leader for a lock its worker holds.
        group = [holder, *workers.get(holder.pid, ())] if holder.pid else [holder]
        lock = _blocking_lock(longest, group)
        blocked_pids = tuple(dict.fromkeys(w.backend.pid for w in its_waiters))
        result.append(Blocker(holder, lock, blocked_pids, root=holder.pid not in waiting_pids))
    return result


def unnamed_relations(backends: Iterable[Backend]) -> dict[str, frozenset[int]]:
    """Relations locked in another database than the agent's, by database name: only a
    connection to that database can read their names."""
    found: dict[str, set[int]] = {}
    for backend in backends:
        for lock in backend.locks:
            if (
                not lock.local
                and lock.relation is not None
                and lock.relation_name is None
                and lock.database_name is not None
            ):
                found.setdefault(lock.database_name, set()).add(lock.relation)
    return {database: frozenset(oids) for database, oids in found.items()}


def name_relations(
    backends: Sequence[Backend],
    names: Mapping[tuple[str, int], str],
    failures: Mapping[str, str],
) -> tuple[Backend, ...]:
    """The backends with the names read in other databases, or why a name is missing."""

    def named(lock: LockInfo) -> LockInfo:
        if lock.local or lock.relation is None or lock.relation_name is not None:
            return lock
        database = lock.database_name
        if database is None:
            return replace(lock, relation_note="its database is gone")
        if database in failures:
            return replace(lock, relation_note=f"not resolvable: {failures[database]}")
        name = names.get((database, lock.relation))
        if name is None:
            return replace(lock, relation_note=NOT_IN_CATALOG)
        return replace(lock, relation_name=name)

    return tuple(
        replace(b, locks=tuple(named(lock) for lock in b.locks)) if b.locks else b for b in backends
    )


def relation_text(lock: LockInfo | None) -> str:
    """What the seed's `relation` shows: the qualified name, " " for a lock on no relation,
    and otherwise which relation of which database, and why it has no name."""
    if lock is None or lock.relation is None:
        return " "
    if lock.relation_name:
        return lock.relation_name
    database = lock.database_name or f"with oid {lock.database}"
    note = lock.relation_note or (NOT_IN_CATALOG if lock.local else "not resolved")
    return f"relation {lock.relation} in database {database} ({note})"
