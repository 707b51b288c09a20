"""The pure lock analysis over staged snapshots: edges from pg_blocking_pids() only."""

from __future__ import annotations

from pgwarden.locks import (
    CONFLICTS,
    MODES,
    blockers,
    conflicts,
    lock_waits,
    name_relations,
    relation_text,
    unnamed_relations,
)
from pgwarden.models import Backend, LockInfo
from pgwarden.rows import backend_from_columns
from tests.unit.factories import backend, lock

T = "relation,5,16384"


def test_queue_order_blocking_names_the_queued_request() -> None:
    # 1 holds AccessShare; 2 queues for AccessExclusive; 3 wants AccessShare, behind 2.
    holder = backend(1, state="idle in transaction", locks=(lock(T, "AccessShareLock", True),))
    queued = backend(2, blocked_by=[1], locks=(lock(T, "AccessExclusiveLock", False, wait=9),))
    behind = backend(3, blocked_by=[2], locks=(lock(T, "AccessShareLock", False, wait=4),))
    snapshot = [holder, queued, behind]
    waits = lock_waits(snapshot)
    assert [(w.backend.pid, w.blocked_by) for w in waits] == [(2, (1,)), (3, (2,))]
    found = {b.backend.pid: b for b in blockers(snapshot, waits)}
    assert set(found) == {1, 2}
    assert found[1].root and not found[2].root
    assert found[2].lock is not None and found[2].lock.mode == "AccessExclusiveLock"
    assert found[2].lock.granted is False  # queued for, not held
    assert found[1].blocked_pids == (2,)
    assert found[2].blocked_pids == (3,)


def test_a_blocker_is_listed_once_with_the_lock_of_its_longest_waiter() -> None:
    other = "relation,5,99"
    holder = backend(1, locks=(lock(T, "ExclusiveLock", True), lock(other, "ShareLock", True)))
    short = backend(2, blocked_by=[1], locks=(lock(T, "RowExclusiveLock", False, wait=1),))
    long = backend(3, blocked_by=[1], locks=(lock(other, "ExclusiveLock", False, wait=50),))
    result = blockers([holder, short, long], lock_waits([holder, short, long]))
    assert len(result) == 1
    assert result[0].blocked_pids == (3, 2)  # longest waiting first
    assert result[0].lock is not None and result[0].lock.target == other


def test_a_parallel_leader_shows_its_workers_lock() -> None:
    leader = backend(10, locks=())
    worker = backend(
        11, leader_pid=10, backend_type="parallel worker", locks=(lock(T, "AccessShareLock", True),)
    )
    waiter = backend(12, blocked_by=[10], locks=(lock(T, "AccessExclusiveLock", False),))
    result = blockers([leader, worker, waiter], lock_waits([leader, worker, waiter]))
    assert [b.backend.pid for b in result] == [10]
    assert result[0].lock is not None and result[0].lock.mode == "AccessShareLock"


def test_a_blocker_gone_since_the_scan_is_skipped_and_waits_on_nothing_are_kept() -> None:
    waiter = backend(5, blocked_by=[99], locks=(lock(T, "ShareLock", False),))
    lone = backend(6, wait_event_type="Lock", blocked_by=None, locks=())
    waits = lock_waits([waiter, lone])
    assert [(w.backend.pid, w.blocked_by) for w in waits] == [(5, (99,)), (6, ())]
    assert waits[1].lock is None
    assert blockers([waiter, lone], waits) == []


def test_a_prepared_transaction_blocks_as_pid_zero() -> None:
    prepared = backend(
        0,
        backend_type="prepared transaction",
        state="prepared",
        locks=(
            lock(
                "transactionid,77",
                "ExclusiveLock",
                True,
                locktype="transactionid",
                relation=None,
                name=None,
            ),
        ),
    )
    waiter = backend(
        7,
        blocked_by=[0],
        locks=(
            lock("transactionid,77", "ShareLock", False, locktype="transactionid", relation=None),
        ),
    )
    result = blockers([prepared, waiter], lock_waits([prepared, waiter]))
    assert [(b.backend.pid, b.root) for b in result] == [(0, True)]


def test_the_conflict_table_is_symmetric_and_matches_the_documentation() -> None:
    for wanted, held_modes in CONFLICTS.items():
        for held in held_modes:
            assert conflicts(wanted, held), (held, wanted)
    assert conflicts("ShareLock", "RowExclusiveLock")
    assert not conflicts("AccessShareLock", "RowExclusiveLock")
    assert not conflicts("ShareLock", "ShareLock")
    assert not conflicts("RowExclusiveLock", "RowExclusiveLock")
    assert conflicts("ShareUpdateExclusiveLock", "ShareUpdateExclusiveLock")
    assert not conflicts("SIReadLock", "AccessExclusiveLock")
    # The X marks of the documentation's "Conflicting Lock Modes" table, row by row.
    assert [len(CONFLICTS[mode]) for mode in MODES] == [1, 2, 4, 5, 5, 6, 7, 8]


def test_pid_zero_is_the_prepared_transaction_whose_lock_conflicts() -> None:
    def prepared(gid: str, *locks: LockInfo) -> Backend:
        return backend(0, backend_type="prepared transaction", query=gid, locks=locks)

    xid = "transactionid,77"
    p1 = prepared(
        "p1",
        lock(xid, "ExclusiveLock", True, locktype="transactionid", relation=None),
        lock(T, "RowExclusiveLock", True),
    )
    p2 = prepared("p2", lock(T, "RowExclusiveLock", True))
    p3 = prepared("p3", lock(T, "AccessShareLock", True))  # does not conflict with ShareLock
    on_xid = backend(
        5, blocked_by=[0], locks=(lock(xid, "ShareLock", False, locktype="transactionid", wait=9),)
    )
    on_table = backend(6, blocked_by=[0, 5], locks=(lock(T, "ShareLock", False, wait=3),))
    snapshot = [p1, p2, p3, on_xid, on_table]
    found = blockers(snapshot, lock_waits(snapshot))
    assert [(b.backend.pid, b.backend.query, b.blocked_pids, b.root) for b in found] == [
        (0, "p1", (5, 6), True),
        (0, "p2", (6,), True),
        (5, "SELECT 1", (6,), False),
    ]
    # p1 shows the lock its longest waiter (5, on its xid) waits for.
    assert found[0].lock is not None and found[0].lock.locktype == "transactionid"
    assert found[1].lock is not None and found[1].lock.mode == "RowExclusiveLock"
    assert found[2].lock is None  # 5 holds nothing on the table: it only queues elsewhere


def test_a_blocker_shows_its_strongest_conflicting_lock_held_before_queued() -> None:
    # 1 holds AccessShare and queues to upgrade to AccessExclusive; 2 reads behind that.
    upgrading = backend(
        1,
        blocked_by=[9],
        locks=(lock(T, "AccessShareLock", True), lock(T, "AccessExclusiveLock", False, wait=5)),
    )
    holder = backend(9, locks=(lock(T, "AccessShareLock", True), lock(T, "ShareLock", True)))
    reader = backend(2, blocked_by=[1], locks=(lock(T, "AccessShareLock", False, wait=1),))
    snapshot = [upgrading, holder, reader]
    found = {b.backend.pid: b.lock for b in blockers(snapshot, lock_waits(snapshot))}
    # The reader is held up by the queued upgrade, not by the AccessShareLock 1 holds.
    assert found[1] is not None
    assert (found[1].mode, found[1].granted) == ("AccessExclusiveLock", False)
    # Both of 9's locks conflict with the upgrade: the stronger one is shown.
    assert found[9] is not None
    assert (found[9].mode, found[9].granted) == ("ShareLock", True)


def test_repeated_pids_from_pg_blocking_pids_are_kept_once() -> None:
    row = backend_from_columns(
        pid=7, database="app", user="alice", client=None, application_name="psql",
        backend_type="client backend", state="active", wait_event_type="Lock",
        wait_event="relation", xact_start=None, query_start=None, duration=1.0,
        query=b"LOCK TABLE t", encoding="UTF8", leader_pid=None, xmin_age=None,
        blocked_by=[0, 0, 12, 12], locks=None, gid=None, backend_start=None,
    )  # fmt: skip
    assert row.blocked_by == (0, 12)


def test_relations_of_other_databases_are_named_or_explained() -> None:
    elsewhere = lock(T, "ShareLock", False, name=None, local=False, database_name="app")
    gone = lock(T, "ShareLock", False, name=None, local=False, database_name=None)
    here = lock(T, "ShareLock", True)
    other_database = lock(T, "ShareLock", True, name=None, local=False, database_name="shop")
    backends = (
        backend(1, locks=(elsewhere, here)),
        backend(2, locks=(gone,)),
        backend(3, locks=(other_database,)),
    )
    assert unnamed_relations(backends) == {"app": frozenset({16384}), "shop": frozenset({16384})}
    named = name_relations(
        backends, {("app", 16384): "public.orders"}, {"shop": "permission denied for database"}
    )
    texts = [relation_text(info) for b in named for info in b.locks]
    assert texts == [
        "public.orders",
        "public.t",
        "relation 16384 in database with oid 5 (its database is gone)",
        "relation 16384 in database shop (not resolvable: permission denied for database)",
    ]
    assert relation_text(None) == " "
    assert relation_text(lock("advisory,5,1,1,1", "ExclusiveLock", True, relation=None)) == " "
    assert unnamed_relations(named) == {"shop": frozenset({16384})}
