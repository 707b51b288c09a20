"""RelationNames, and the sampler's naming of locks by it, against the real cluster: a link
per database, bounded, closed when idle, a database it cannot enter tried again only after a
while."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import psycopg
import pytest

from pgwarden.cluster import Cluster
from pgwarden.config import PostgresConfig
from pgwarden.db.relations import RelationNames
from pgwarden.locks import relation_text
from pgwarden.models import Backend
from pgwarden.sampler import name_other_relations
from tests.functional.test_locks_databases import create_database
from tests.helpers import wait_until
from tests.unit.factories import backend, lock

T = TypeVar("T")
DATABASES = ("pgwarden_names_a", "pgwarden_names_b")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture(scope="module")
def table_oids(cluster: Cluster) -> dict[str, int]:
    """The oid of table `named` in each of two fresh databases."""
    oids = {}
    for database in DATABASES:
        create_database(cluster, database)
        with psycopg.connect(cluster.conninfo(database), autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS named")
            conn.execute("CREATE TABLE named (id int)")
            (oids[database],) = conn.execute("SELECT 'named'::regclass::oid::int").fetchone() or (
                0,
            )
    return oids


def config(cluster: Cluster) -> PostgresConfig:
    return PostgresConfig(
        host=str(cluster.socket_dir), port=cluster.port, user=cluster.superuser, connect_timeout=3
    )


def waiter_on(database: str, oid: int) -> Backend:
    """A backend of `database` waiting for a lock on relation `oid`, as a snapshot has it."""
    wanted = lock(
        f"relation,{oid}",
        "AccessShareLock",
        False,
        relation=oid,
        name=None,
        local=False,
        database_name=database,
    )
    return backend(2, blocked_by=[1], locks=(wanted,))


def links_open(cluster: Cluster, database: str) -> int:
    with cluster.connect() as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgwarden' "
            "AND datname = %s",
            [database],
        ).fetchone() or (0,)
    return int(count)


def test_names_are_read_in_each_database_over_its_own_link(
    cluster: Cluster, table_oids: dict[str, int]
) -> None:
    backends = tuple(waiter_on(d, table_oids[d]) for d in DATABASES)

    async def scenario() -> tuple[tuple[Backend, ...], list[str], frozenset[int]]:
        names = RelationNames(config(cluster))
        try:
            named = await name_other_relations(names, backends, cluster.version())
            return named, names.open_databases, names.backend_pids
        finally:
            await names.close()

    named, open_databases, pids = run(scenario())
    assert [relation_text(b.locks[0]) for b in named] == ["public.named", "public.named"]
    assert sorted(open_databases) == sorted(DATABASES)
    assert len(pids) == 2
    wait_until(lambda: all(links_open(cluster, d) == 0 for d in DATABASES), what="the links closed")


def test_the_least_recently_used_link_makes_room_and_idle_links_close(
    cluster: Cluster, table_oids: dict[str, int]
) -> None:
    first, second = DATABASES
    clock = FakeClock()

    async def scenario() -> tuple[list[str], list[str], list[str]]:
        names = RelationNames(config(cluster), max_databases=1, idle_seconds=60, clock=clock)
        try:
            await name_other_relations(
                names, (waiter_on(first, table_oids[first]),), cluster.version()
            )
            after_first = names.open_databases
            await name_other_relations(
                names, (waiter_on(second, table_oids[second]),), cluster.version()
            )
            after_second = names.open_databases
            clock.now += 59
            await names.close_expired()
            assert names.open_databases == [second]  # not idle long enough yet
            clock.now += 1
            await names.close_expired()
            return after_first, after_second, names.open_databases
        finally:
            await names.close()

    assert run(scenario()) == ([first], [second], [])


def test_a_database_that_cannot_be_entered_is_retried_only_after_a_while(
    cluster: Cluster, table_oids: dict[str, int]
) -> None:
    missing = "pgwarden_names_late"
    with cluster.connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {missing}")
    clock = FakeClock()
    lock_there = waiter_on(missing, 16400)

    async def scenario() -> list[str]:
        names = RelationNames(config(cluster), retry_seconds=30, clock=clock)
        texts = []
        try:
            for step in ("absent", "created, within 30 s", "after 30 s"):
                if step == "created, within 30 s":
                    create_database(cluster, missing)
                if step == "after 30 s":
                    clock.now += 30
                named = await name_other_relations(names, (lock_there,), cluster.version())
                texts.append(relation_text(named[0].locks[0]))
            return texts
        finally:
            await names.close()

    absent, cached, retried = run(scenario())
    assert absent.startswith(f"relation 16400 in database {missing} (not resolvable: ")
    assert f'database "{missing}" does not exist' in absent
    assert cached == absent  # not tried again yet
    # Tried again: the database exists now, without relation 16400.
    assert retried == (
        f"relation 16400 in database {missing} "
        "(not in its catalog: created by a transaction still open, or dropped since)"
    )


def test_past_the_bound_the_other_databases_are_said_so(
    cluster: Cluster, table_oids: dict[str, int]
) -> None:
    backends = tuple(waiter_on(d, table_oids[d]) for d in DATABASES)

    async def scenario() -> list[str]:
        names = RelationNames(config(cluster), max_databases=1)
        try:
            named = await name_other_relations(names, backends, cluster.version())
            return [relation_text(b.locks[0]) for b in named]
        finally:
            await names.close()

    second_oid = table_oids[DATABASES[1]]
    assert run(scenario()) == [
        "public.named",
        f"relation {second_oid} in database {DATABASES[1]} "
        "(not resolvable: locks in more than 1 other databases at once)",
    ]
