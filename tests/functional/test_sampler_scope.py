"""The history recorder's narrow snapshot, on a real cluster: the sessions at work are exactly
those the recorder keeps of a full snapshot, and the resting ones never leave the server."""

from __future__ import annotations

import asyncio
import os
import time

from pgwarden.cluster import Cluster
from pgwarden.config import PostgresConfig
from pgwarden.db.database import Database
from pgwarden.history.records import kept
from pgwarden.models import Scope, Snapshot
from pgwarden.sampler import Sampler
from tests.helpers import Sessions, wait_until

LOCK_KEY = 7_170_512


def both_scopes(cluster: Cluster) -> tuple[Snapshot, Snapshot]:
    config = PostgresConfig(
        host=str(cluster.socket_dir), port=cluster.port, user=cluster.superuser, connect_timeout=3
    )

    async def scenario() -> tuple[Snapshot, Snapshot]:
        db = Database(config)
        sampler = Sampler(db)
        try:
            await sampler.prime()
            every = await sampler.snapshot()
            at_work = await sampler.snapshot(Scope.AT_WORK)
            return every, at_work
        finally:
            await sampler.close()
            await db.close()

    return asyncio.run(scenario())


def test_a_snapshot_at_work_holds_what_the_recorder_keeps(
    cluster: Cluster, sessions: Sessions
) -> None:
    name = f"scope-{os.getpid()}"
    idle = sessions.open(name)
    idle.run("SELECT 1")
    busy = sessions.open(name)
    busy.submit("SELECT pg_sleep(600)")
    in_transaction = sessions.open(name)
    in_transaction.run("BEGIN")
    in_transaction.run("SELECT 1")
    holder = sessions.open(name)  # idle, but holds an advisory lock someone waits for
    holder.run("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    waiter = sessions.open(name)
    waiter.submit("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    with cluster.connect() as conn:
        wait_until(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                    " AND (wait_event_type = 'Lock' OR query = 'SELECT pg_sleep(600)')",
                    [name],
                ).fetchone()
                == (2,)
            ),
            what="the waiter and the sleeper",
        )
    time.sleep(0.1)  # the holder's and the others' states are reported by now too

    every, at_work = both_scopes(cluster)
    ours = {s.pid for s in (idle, busy, in_transaction, holder, waiter)}

    def pids(backends: object) -> set[int]:
        assert isinstance(backends, (tuple, list))
        return {b.pid for b in backends if b.pid in ours}

    assert pids(every.backends) == ours
    assert pids(at_work.backends) == ours - {idle.pid}
    assert pids(kept(every.backends)) == pids(at_work.backends)
    assert {b.pid for b in kept(at_work.backends)} == {b.pid for b in at_work.backends}
    # Every backend the narrow snapshot holds has its process figures, and only those.
    assert set(at_work.figures) == {b.pid for b in at_work.backends if b.pid}
    assert at_work.scope is Scope.AT_WORK and every.scope is Scope.EVERY_BACKEND
    assert at_work.server is None and at_work.host is None
    assert every.server is not None and every.host is not None
    (held,) = [b for b in at_work.backends if b.pid == waiter.pid]
    assert held.blocked_by == (holder.pid,)
