"""The pure lock analysis over staged snapshots: edges from pg_blocking_pids() only."""

from __future__ import annotations

from pgwarden.locks import blockers, lock_waits
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
