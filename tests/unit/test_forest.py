"""The blocking forest over staged snapshots: its shapes, counts and order."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import orjson
import pytest

from pgwarden.forest import Node, blocking_forest, encode_forest
from pgwarden.models import Backend
from tests.unit.factories import backend, lock

T1 = "relation,5,16384"
T2 = "relation,5,16385"
XID = "transactionid,901"
TUPLE = "tuple,5,16384,0,1"


def walk(roots: list[Node]) -> list[Node]:
    found, stack = [], list(roots)
    while stack:
        node = stack.pop()
        found.append(node)
        stack.extend(node["children"])
    return found


def by_id(roots: list[Node]) -> dict[Any, Node]:
    nodes = walk(roots)
    repeated = [i for i, n in Counter(n["id"] for n in nodes).items() if n > 1]
    assert repeated == [], f"nodes listed more than once: {repeated}"
    return {n["id"]: n for n in nodes}


def child_ids(node: Node) -> list[Any]:
    return [c["id"] for c in node["children"]]


def hot_row(waiters: int) -> list[Backend]:
    """One session holds a row; `waiters` sessions update it. The first waiter got the tuple
    lock and waits on the holder's xid; the others queue for the tuple lock, each blocked by
    the tuple lock's holder and by every waiter queued ahead of it (queue order)."""
    holder = backend(
        1,
        state="idle in transaction",
        locks=(lock(XID, "ExclusiveLock", True, locktype="transactionid", relation=None),),
    )
    first = backend(
        101,
        blocked_by=[1],
        locks=(
            lock(TUPLE, "ExclusiveLock", True, locktype="tuple"),
            lock(XID, "ShareLock", False, locktype="transactionid", relation=None, wait=500),
        ),
    )
    queued = [
        backend(
            pid,
            # the tuple lock's holder last: the parent is found by the lock, not the position
            blocked_by=[*range(102, pid), 101],
            locks=(lock(TUPLE, "ExclusiveLock", False, locktype="tuple", wait=400 - pid),),
        )
        for pid in range(102, 101 + waiters)
    ]
    return [holder, first, *queued]


def test_two_hundred_waiters_on_one_row_hang_under_the_holder_once_each() -> None:
    roots = blocking_forest(hot_row(200))
    nodes = by_id(roots)
    assert len(nodes) == 201
    assert [r["id"] for r in roots] == [1]
    assert roots[0]["waiting_behind"] == 200
    assert child_ids(roots[0]) == [101]
    first = nodes[101]
    assert first["waiting_behind"] == 199
    # Every other waiter sits under the tuple lock's holder, in queue order (longest first).
    assert child_ids(first) == list(range(102, 301))
    # Everyone queued behind a waiter waits on it: the first in the queue has 198 behind it.
    assert nodes[102]["waiting_behind"] == 198
    assert nodes[250]["waiting_behind"] == 50
    assert nodes[300]["waiting_behind"] == 0
    assert all(nodes[pid]["children"] == [] for pid in range(102, 301))
    assert roots[0]["blocking_for"] == 500
    assert all("cycle" not in n for n in nodes.values())


def test_a_thousand_waiters_on_one_row_are_counted_too() -> None:
    roots = blocking_forest(hot_row(1000))
    assert [(r["id"], r["waiting_behind"]) for r in roots] == [(1, 1000)]
    assert len(by_id(roots)) == 1001


def test_a_chain_nests_each_waiter_under_the_one_it_waits_for() -> None:
    # 1 holds t1; 2 holds t2 and waits for t1; 3 holds t3, waits for t2; 4 waits for t3.
    t3 = "relation,5,16386"
    chain = [
        backend(1, state="idle in transaction", locks=(lock(T1, "AccessExclusiveLock", True),)),
        backend(
            2,
            blocked_by=[1],
            locks=(
                lock(T2, "AccessExclusiveLock", True),
                lock(T1, "AccessShareLock", False, wait=30),
            ),
        ),
        backend(
            3,
            blocked_by=[2],
            locks=(
                lock(t3, "AccessExclusiveLock", True),
                lock(T2, "AccessShareLock", False, wait=20),
            ),
        ),
        backend(4, blocked_by=[3], locks=(lock(t3, "AccessShareLock", False, wait=10),)),
    ]
    roots = blocking_forest(chain)
    assert len(roots) == 1
    levels = []
    node = roots[0]
    while True:
        levels.append((node["id"], node["waiting_behind"], node["blocking_for"]))
        if not node["children"]:
            break
        (node,) = node["children"]
    assert levels == [(1, 3, 30), (2, 2, 20), (3, 1, 10), (4, 0, None)]


def test_a_fork_orders_roots_by_how_long_they_block_and_children_by_wait() -> None:
    # 1 blocks 2 (waiting 5 s) and 3 (waiting 50 s); 3 blocks 4. Apart, 9 blocks 8 for 60 s.
    t3 = "relation,5,16386"
    t9 = "relation,5,16389"
    snapshot = [
        backend(1, locks=(lock(T1, "AccessExclusiveLock", True), lock(T2, "ExclusiveLock", True))),
        backend(2, blocked_by=[1], locks=(lock(T1, "AccessShareLock", False, wait=5),)),
        backend(
            3,
            blocked_by=[1],
            locks=(lock(t3, "AccessExclusiveLock", True), lock(T2, "ShareLock", False, wait=50)),
        ),
        backend(4, blocked_by=[3], locks=(lock(t3, "AccessShareLock", False, wait=40),)),
        backend(9, locks=(lock(t9, "AccessExclusiveLock", True),)),
        backend(8, blocked_by=[9], locks=(lock(t9, "AccessShareLock", False, wait=60),)),
    ]
    roots = blocking_forest(snapshot)
    assert [(r["id"], r["blocking_for"], r["waiting_behind"]) for r in roots] == [
        (9, 60, 1),
        (1, 50, 3),
    ]
    nodes = by_id(roots)
    assert child_ids(nodes[1]) == [3, 2]
    assert child_ids(nodes[3]) == [4]
    assert nodes[2]["waiting_behind"] == 0


def test_a_deadlock_not_yet_broken_is_one_root_marked_as_a_cycle() -> None:
    # 5 holds t1 and waits for t2; 6 holds t2 and waits for t1; 7 queues for t1 behind 5.
    snapshot = [
        backend(
            5,
            blocked_by=[6],
            locks=(
                lock(T1, "AccessExclusiveLock", True),
                lock(T2, "AccessShareLock", False, wait=3),
            ),
        ),
        backend(
            6,
            blocked_by=[5],
            locks=(
                lock(T2, "AccessExclusiveLock", True),
                lock(T1, "AccessShareLock", False, wait=8),
            ),
        ),
        backend(7, blocked_by=[5], locks=(lock(T1, "AccessShareLock", False, wait=1),)),
    ]
    roots = blocking_forest(snapshot)
    assert len(roots) == 1
    (root,) = roots
    # Cut at the member waiting longest: 6 waits for 5, which hangs below it.
    assert (root["id"], root.get("cycle"), root.get("waits_for")) == (6, True, 5)
    nodes = by_id(roots)
    assert set(nodes) == {5, 6, 7}
    assert child_ids(root) == [5]
    assert child_ids(nodes[5]) == [7]
    # Members of a deadlock wait behind each other: 5 has 6 and 7 behind it, 6 has 5 and 7.
    assert (nodes[5]["waiting_behind"], nodes[6]["waiting_behind"]) == (2, 2)
    assert sum(1 for n in nodes.values() if n.get("cycle")) == 1


def test_a_deadlock_is_shown_as_a_cycle_even_when_an_outsider_also_holds_the_lock() -> None:
    # 1 and 3 share t1; 2 wants it exclusively (blocked by both) and holds t2, which 3 wants.
    # Until 1 ends, 2 and 3 still deadlock: 2 hangs under 3 (inside the deadlock), not under 1.
    snapshot = [
        backend(1, locks=(lock(T1, "AccessShareLock", True),)),
        backend(
            2,
            blocked_by=[1, 3],
            locks=(
                lock(T2, "AccessExclusiveLock", True),
                lock(T1, "AccessExclusiveLock", False, wait=9),
            ),
        ),
        backend(
            3,
            blocked_by=[2],
            locks=(lock(T1, "AccessShareLock", True), lock(T2, "AccessShareLock", False, wait=4)),
        ),
    ]
    roots = blocking_forest(snapshot)
    nodes = by_id(roots)
    assert set(nodes) == {1, 2, 3}
    cycles = [r for r in roots if r.get("cycle")]
    assert [(r["id"], r["waits_for"], child_ids(r)) for r in cycles] == [(2, 3, [3])]
    (outsider,) = [r for r in roots if not r.get("cycle")]
    assert (outsider["id"], outsider["children"], outsider["waiting_behind"]) == (1, [], 2)


def prepared(gid: str, target: str, mode: str) -> Backend:
    return backend(
        0,
        gid=gid,
        backend_type="prepared transaction",
        state="prepared",
        locks=(lock(target, mode, True),),
    )


def test_two_prepared_transactions_are_two_nodes() -> None:
    # Both pid 0: "a" blocks 10 on t1, "b" blocks 11 on t2.
    snapshot = [
        prepared("a", T1, "AccessExclusiveLock"),
        prepared("b", T2, "AccessExclusiveLock"),
        backend(10, blocked_by=[0], locks=(lock(T1, "AccessShareLock", False, wait=20),)),
        backend(11, blocked_by=[0], locks=(lock(T2, "AccessShareLock", False, wait=10),)),
    ]
    roots = blocking_forest(snapshot)
    assert [(r["id"], r["pid"], child_ids(r), r["waiting_behind"]) for r in roots] == [
        ("0:a", 0, [10], 1),
        ("0:b", 0, [11], 1),
    ]
    assert all("cycle" not in n for n in walk(roots))


def test_a_waiter_blocked_by_two_prepared_transactions_hangs_under_one() -> None:
    snapshot = [
        prepared("b", T1, "RowExclusiveLock"),
        prepared("a", T1, "RowExclusiveLock"),
        backend(10, blocked_by=[0], locks=(lock(T1, "ShareLock", False, wait=20),)),
    ]
    roots = blocking_forest(snapshot)
    # Under the first one that conflicts; both block, so roots that tie go by id.
    assert [(r["id"], child_ids(r), r["waiting_behind"]) for r in roots] == [
        ("0:a", [], 1),
        ("0:b", [10], 1),
    ]


def test_a_waiter_whose_blocker_is_gone_is_a_root_and_idle_backends_are_not_in() -> None:
    snapshot = [
        backend(3, state="idle"),
        backend(5, blocked_by=[99], locks=(lock(T1, "ShareLock", False, wait=2),)),
    ]
    assert blocking_forest(snapshot) == [
        {"id": 5, "pid": 5, "waiting_behind": 0, "blocking_for": None, "children": []}
    ]


def test_a_parallel_leader_blocks_with_its_workers_lock() -> None:
    snapshot = [
        backend(10, wait_event_type="IPC"),
        backend(
            11, leader_pid=10, backend_type="parallel worker", locks=(lock(T1, "ShareLock", True),)
        ),
        # 12 names the leader (as pg_blocking_pids() does) after an unrelated queued pid 13.
        backend(13, blocked_by=[10], locks=(lock(T1, "ExclusiveLock", False, wait=9),)),
        backend(12, blocked_by=[13, 10], locks=(lock(T1, "RowExclusiveLock", False, wait=4),)),
    ]
    roots = blocking_forest(snapshot)
    assert [(r["id"], child_ids(r), r["waiting_behind"]) for r in roots] == [(10, [13, 12], 2)]


def test_encoding_matches_a_plain_encoder_and_goes_deeper_than_it() -> None:
    roots = blocking_forest(hot_row(5))
    assert json.loads(encode_forest(roots)) == json.loads(orjson.dumps(roots))
    assert encode_forest([]) == b"[]"
    # A chain of 400 waiters, each holding a table the next one wants.
    depth = 400
    chain = [backend(1, locks=(lock("relation,5,1", "AccessExclusiveLock", True),))]
    for pid in range(2, depth + 1):
        chain.append(
            backend(
                pid,
                blocked_by=[pid - 1],
                locks=(
                    lock(f"relation,5,{pid}", "AccessExclusiveLock", True),
                    lock(f"relation,5,{pid - 1}", "AccessShareLock", False, wait=depth - pid),
                ),
            )
        )
    deep = blocking_forest(chain)
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(deep)
    decoded = json.loads(encode_forest(deep))
    assert decoded[0]["waiting_behind"] == depth - 1
    assert len(by_id(decoded)) == depth
