"""Real lock pile-ups of several shapes: the exact waiters, blockers and edges, on any version.

Each shape is where a self-join of pg_locks (the peers' way) goes wrong; the expected graphs
are PostgreSQL's own answer (pg_blocking_pids()), written out by hand from the staging.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pgwarden.cluster import Cluster
from tests.functional.locking import blocked, lock_graph
from tests.helpers import Agent, Sessions, wait_until


@pytest.fixture
def table(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """A fresh table of ten rows, named after the test."""
    name = f"shape_{request.node.name.removeprefix('test_')[:40]}"
    with cluster.connect() as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v int)")
        conn.execute(f"INSERT INTO {name} SELECT g, 0 FROM generate_series(1, 10) g")
    return name


def test_queue_order_blocking_behind_a_waiting_lock_table(
    agent: Agent, sessions: Sessions, cluster: Cluster, table: str
) -> None:
    reader, locker, late1, late2 = (sessions.open(f"queue-{i}") for i in range(4))
    reader.run("BEGIN")
    reader.run(f"SELECT count(*) FROM {table}")
    blocked(cluster, locker, f"BEGIN; LOCK TABLE {table}")
    # AccessShareLock does not conflict with the reader's: these wait only behind the queue.
    blocked(cluster, late1, f"SELECT count(*) FROM {table}")
    blocked(cluster, late2, f"SELECT count(*) FROM {table}")
    with agent.session_client() as client:
        graph = lock_graph(client, {s.pid for s in (reader, locker, late1, late2)})
    graph.check_consistent()
    assert graph.waiters == {locker.pid, late1.pid, late2.pid}
    assert graph.blockers == {reader.pid, locker.pid}
    assert graph.edges == {
        (locker.pid, reader.pid),
        (late1.pid, locker.pid),
        (late2.pid, locker.pid),
    }
    assert graph.roots == {reader.pid}
    assert graph.blocking_row(locker.pid)["blocked_pids"] == [late1.pid, late2.pid]
    for pid, mode in ((locker.pid, "AccessExclusiveLock"), (late1.pid, "AccessShareLock")):
        row = graph.waiting[pid]
        assert (row["type"], row["mode"], row["relation"]) == ("relation", mode, f"public.{table}")
    # Each blocker shows the lock that holds its waiters up: held, or queued for.
    assert graph.blocking_row(reader.pid)["mode"] == "AccessShareLock"
    assert graph.blocking_row(locker.pid)["mode"] == "AccessExclusiveLock"


def test_a_chain_of_row_lock_waiters_follows_the_tuple_lock(
    agent: Agent, sessions: Sessions, cluster: Cluster, table: str
) -> None:
    owner, first, second, third = (sessions.open(f"row-{i}") for i in range(4))
    owner.run("BEGIN")
    owner.run(f"UPDATE {table} SET v = 1 WHERE id = 1")
    blocked(cluster, first, f"UPDATE {table} SET v = 2 WHERE id = 1")
    blocked(cluster, second, f"UPDATE {table} SET v = 3 WHERE id = 1")
    blocked(cluster, third, f"UPDATE {table} SET v = 4 WHERE id = 1")
    with agent.session_client() as client:
        graph = lock_graph(client, {s.pid for s in (owner, first, second, third)})
    graph.check_consistent()
    # `first` holds the tuple lock and waits for the owner's transaction; the others queue
    # for that tuple lock, `third` behind `second` as well.
    assert graph.waiters == {first.pid, second.pid, third.pid}
    assert graph.blockers == {owner.pid, first.pid, second.pid}
    assert graph.edges == {
        (first.pid, owner.pid),
        (second.pid, first.pid),
        (third.pid, first.pid),
        (third.pid, second.pid),
    }
    assert graph.roots == {owner.pid}
    waits_for_xid = graph.waiting[first.pid]
    assert (waits_for_xid["type"], waits_for_xid["mode"], waits_for_xid["relation"]) == (
        "transactionid",
        "ShareLock",
        " ",
    )
    for pid in (second.pid, third.pid):
        row = graph.waiting[pid]
        assert (row["type"], row["mode"], row["relation"]) == (
            "tuple",
            "ExclusiveLock",
            f"public.{table}",
        )
    holds_tuple = graph.blocking_row(first.pid)
    assert (holds_tuple["type"], holds_tuple["mode"]) == ("tuple", "ExclusiveLock")
    assert holds_tuple["blocked_pids"] == [second.pid, third.pid]
    assert graph.blocking_row(owner.pid)["type"] == "transactionid"


def test_a_share_lock_that_does_not_conflict_blocks_no_one(
    agent: Agent, sessions: Sessions, cluster: Cluster, table: str
) -> None:
    reader, row_sharer, sharer, writer = (sessions.open(f"share-{i}") for i in range(4))
    reader.run("BEGIN")
    reader.run(f"SELECT count(*) FROM {table}")
    row_sharer.run("BEGIN")
    row_sharer.run(f"LOCK TABLE {table} IN ROW SHARE MODE")
    sharer.run("BEGIN")
    sharer.run(f"LOCK TABLE {table} IN SHARE MODE")
    blocked(cluster, writer, f"INSERT INTO {table} VALUES (100, 0)")
    ours = {s.pid for s in (reader, row_sharer, sharer, writer)}
    with agent.session_client() as client:
        graph = lock_graph(client, ours)
    graph.check_consistent()
    # Three sessions hold locks on the table; only the SHARE lock conflicts with the insert.
    assert graph.waiters == {writer.pid}
    assert graph.blockers == {sharer.pid}
    assert graph.edges == {(writer.pid, sharer.pid)}
    held = graph.blocking_row(sharer.pid)
    assert (held["mode"], held["relation"], held["root"]) == ("ShareLock", f"public.{table}", True)
    assert graph.waiting[writer.pid]["mode"] == "RowExclusiveLock"
    for pid in (reader.pid, row_sharer.pid):
        assert graph.activity[pid]["wait"] == "N"


def test_advisory_locks_exclusive_then_shared_in_queue(
    agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    key = 730_001
    holder, exclusive, shared = (sessions.open(f"advisory-{i}") for i in range(3))
    holder.run("SELECT pg_advisory_lock(%s)", [key])
    blocked(cluster, exclusive, f"SELECT pg_advisory_lock({key})")
    blocked(cluster, shared, f"SELECT pg_advisory_lock_shared({key})")
    with agent.session_client() as client:
        graph = lock_graph(client, {holder.pid, exclusive.pid, shared.pid})
    graph.check_consistent()
    assert graph.waiters == {exclusive.pid, shared.pid}
    assert graph.blockers == {holder.pid, exclusive.pid}
    assert graph.edges == {
        (exclusive.pid, holder.pid),
        (shared.pid, holder.pid),
        (shared.pid, exclusive.pid),
    }
    assert graph.roots == {holder.pid}
    assert graph.blocking_row(holder.pid)["blocked_pids"] == [exclusive.pid, shared.pid]
    assert [graph.waiting[p]["mode"] for p in (exclusive.pid, shared.pid)] == [
        "ExclusiveLock",
        "ShareLock",
    ]
    for row in (*graph.waiting.values(), *graph.blocking):
        assert (row["type"], row["relation"]) == ("advisory", " ")


@pytest.fixture
def prepared(cluster: Cluster) -> Iterator[list[str]]:
    """Names of prepared transactions to roll back after the test, whatever happens."""
    names: list[str] = []
    yield names
    with cluster.connect() as conn:
        for gid in names:
            if conn.execute("SELECT 1 FROM pg_prepared_xacts WHERE gid = %s", [gid]).fetchone():
                conn.execute(f"ROLLBACK PREPARED '{gid}'")


def test_prepared_transactions_block_as_pid_zero(
    agent: Agent, sessions: Sessions, cluster: Cluster, table: str, prepared: list[str]
) -> None:
    for gid, row_id in (("pgwarden_p1", 1), ("pgwarden_p2", 2)):
        preparer = sessions.open(gid)
        preparer.run("BEGIN")
        preparer.run(f"UPDATE {table} SET v = 9 WHERE id = {row_id}")
        preparer.run(f"PREPARE TRANSACTION '{gid}'")
        prepared.append(gid)
    updater, locker = sessions.open("after-p1"), sessions.open("locker")
    blocked(cluster, updater, f"UPDATE {table} SET v = 10 WHERE id = 1")
    blocked(cluster, locker, f"BEGIN; LOCK TABLE {table}")
    with agent.session_client() as client:
        graph = lock_graph(client, {0, updater.pid, locker.pid})
    graph.check_consistent()
    assert graph.waiters == {updater.pid, locker.pid}
    assert graph.edges == {(updater.pid, 0), (locker.pid, 0), (locker.pid, updater.pid)}
    by_query = {row["query"]: row for row in graph.blocking if row["pid"] == 0}
    # Both prepared transactions are shown, each with the waiters its own locks hold up.
    assert set(by_query) == {
        "PREPARE TRANSACTION 'pgwarden_p1'",
        "PREPARE TRANSACTION 'pgwarden_p2'",
    }
    p1 = by_query["PREPARE TRANSACTION 'pgwarden_p1'"]
    p2 = by_query["PREPARE TRANSACTION 'pgwarden_p2'"]
    assert (p1["id"], p2["id"]) == ("0:pgwarden_p1", "0:pgwarden_p2")
    assert p1["blocked_pids"] == [updater.pid, locker.pid]
    assert p2["blocked_pids"] == [locker.pid]
    for row in (p1, p2):
        assert (row["state"], row["backend_type"], row["root"]) == (
            "prepared",
            "prepared transaction",
            True,
        )
        assert (row["database"], row["user"]) == ("postgres", cluster.superuser)
        assert (row["cpu"], row["cpu_pct"]) == ("N/A", None)  # no process to read
    # Each shows its lock that holds up its longest waiter: the updater for p1.
    assert (p1["type"], p1["mode"], p1["relation"]) == ("transactionid", "ExclusiveLock", " ")
    assert (p2["type"], p2["mode"], p2["relation"]) == (
        "relation",
        "RowExclusiveLock",
        f"public.{table}",
    )
    assert graph.blocking_row(updater.pid)["blocked_pids"] == [locker.pid]
    assert graph.waiting[updater.pid]["type"] == "transactionid"


def test_one_blocker_of_two_tables_is_listed_once(
    agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    with cluster.connect() as conn:
        for name in ("once_a", "once_b"):
            conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute(f"CREATE TABLE {name} (id int)")
    holder, on_a, on_b = (sessions.open(f"once-{i}") for i in range(3))
    holder.run("BEGIN")
    holder.run("LOCK TABLE once_a, once_b IN EXCLUSIVE MODE")
    blocked(cluster, on_a, "INSERT INTO once_a VALUES (1)")
    blocked(cluster, on_b, "INSERT INTO once_b VALUES (1)")
    with agent.session_client() as client:
        graph = lock_graph(client, {holder.pid, on_a.pid, on_b.pid})
    graph.check_consistent()
    assert graph.edges == {(on_a.pid, holder.pid), (on_b.pid, holder.pid)}
    assert [row["pid"] for row in graph.blocking] == [holder.pid]
    assert graph.blocking_row(holder.pid)["blocked_pids"] == [on_a.pid, on_b.pid]
    # Its lock is the one its longest waiter waits for.
    assert graph.blocking_row(holder.pid)["relation"] == "public.once_a"


def _parallel_settings(major: int) -> str:
    force = "debug_parallel_query" if major >= 16 else "force_parallel_mode"
    return (
        f"SET {force} = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
        "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 1; "
        "SET parallel_leader_participation = off"
    )


def test_parallel_workers_are_shown_with_their_leader(
    agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    major = cluster.version() // 10000
    with cluster.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS par_scanned, par_locked CASCADE")
        conn.execute("CREATE TABLE par_scanned AS SELECT g AS id FROM generate_series(1, 1000) g")
        conn.execute("ANALYZE par_scanned")
        conn.execute("CREATE TABLE par_locked (id int)")
        # Runs in the workers only (the leader does not scan, and cannot inline PL/pgSQL at
        # planning): the workers lock par_locked themselves.
        conn.execute(
            "CREATE OR REPLACE FUNCTION par_probe(int) RETURNS bigint LANGUAGE plpgsql STABLE "
            "PARALLEL SAFE AS 'BEGIN RETURN (SELECT count(*) FROM par_locked); END'"
        )
    locker, leader, late = (sessions.open(f"parallel-{i}") for i in range(3))
    locker.run("BEGIN")
    locker.run("LOCK TABLE par_locked IN ACCESS EXCLUSIVE MODE")
    leader.run(_parallel_settings(major))
    marker = "/* pgwarden parallel probe */"
    leader.submit(f"SELECT {marker} count(*) FROM par_scanned WHERE par_probe(id) >= 0")

    def waiting_workers() -> list[int]:
        with cluster.connect() as conn:
            found = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'parallel worker' "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                [f"%{marker}%"],
            ).fetchall()
        return [pid for (pid,) in found]

    workers = wait_until(waiting_workers, what="parallel workers waiting on par_locked")
    blocked(cluster, late, "BEGIN; LOCK TABLE par_scanned")
    ours = {locker.pid, leader.pid, late.pid, *workers}
    with agent.session_client() as client:
        graph = lock_graph(client, ours)
    graph.check_consistent()
    assert graph.waiters == {late.pid, *workers}
    # pg_blocking_pids() names the leader for locks its workers hold: never a worker.
    assert graph.edges == {(late.pid, leader.pid)} | {(w, locker.pid) for w in workers}
    assert graph.blockers == {locker.pid, leader.pid}
    assert graph.roots == ({locker.pid} if major >= 13 else {locker.pid, leader.pid})
    for worker in workers:
        row = graph.waiting[worker]
        assert row["backend_type"] == "parallel worker"
        assert row["leader_pid"] == (leader.pid if major >= 13 else None)
        assert (row["mode"], row["relation"]) == ("AccessShareLock", "public.par_locked")
    held = graph.blocking_row(leader.pid)
    assert (held["mode"], held["relation"]) == ("AccessShareLock", "public.par_scanned")
    assert graph.waiting[late.pid]["leader_pid"] is None


@pytest.mark.pg(">= 14")
def test_wait_duration_comes_from_waitstart(
    agent: Agent, sessions: Sessions, cluster: Cluster
) -> None:
    holder, waiter = sessions.open("since-holder"), sessions.open("since-waiter")
    holder.run("SELECT pg_advisory_lock(730002)")
    blocked(cluster, waiter, "SELECT pg_advisory_lock(730002)")
    with cluster.connect() as conn:
        (since,) = conn.execute(
            "SELECT extract(epoch FROM now() - waitstart)::float8 FROM pg_locks "
            "WHERE pid = %s AND NOT granted",
            [waiter.pid],
        ).fetchone() or (None,)
    assert since is not None
    with agent.session_client() as client:
        graph = lock_graph(client, {holder.pid, waiter.pid})
    assert graph.waiting[waiter.pid]["wait_duration"] >= round(since, 2)


@pytest.mark.pg("< 14")
def test_no_wait_duration_before_14(agent: Agent, sessions: Sessions, cluster: Cluster) -> None:
    holder, waiter = sessions.open("before-holder"), sessions.open("before-waiter")
    holder.run("SELECT pg_advisory_lock(730003)")
    blocked(cluster, waiter, "SELECT pg_advisory_lock(730003)")
    with agent.session_client() as client:
        graph = lock_graph(client, {holder.pid, waiter.pid})
    assert graph.edges == {(waiter.pid, holder.pid)}
    assert graph.waiting[waiter.pid]["wait_duration"] is None
