"""Filters, sort, limit and total on the lock views, with real lock waits in two databases."""

from __future__ import annotations

from typing import Any

import httpx

from pgwarden.cluster import Cluster
from tests.helpers import Agent, BackgroundSession, Sessions, wait_until

DATABASES = ("filters_a", "filters_b")


def answer(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def pids(body: dict[str, Any]) -> list[int]:
    return [row["pid"] for row in body["rows"]]


def pile_up(sessions: Sessions, database: str, waiters: int) -> tuple[int, list[int]]:
    """One holder of an exclusive table lock in `database`, and `waiters` queued behind it."""
    holder = sessions.open(f"holder-{database}", dbname=database)
    holder.run("BEGIN")
    holder.run("LOCK TABLE piled IN ACCESS EXCLUSIVE MODE")
    queued: list[BackgroundSession] = []
    for number in range(waiters):
        waiter = sessions.open(f"waiter-{database}", dbname=database, user=f"filter_user_{number}")
        waiter.submit("SELECT count(*) FROM piled")
        queued.append(waiter)
    return holder.pid, [w.pid for w in queued]


def test_lock_views_filter_sort_and_cap(agent: Agent, sessions: Sessions, cluster: Cluster) -> None:
    with cluster.connect() as conn:
        for name in DATABASES:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        for number in range(2):
            conn.execute(f"DROP ROLE IF EXISTS filter_user_{number}")
            conn.execute(f"CREATE ROLE filter_user_{number} LOGIN")
    for name in DATABASES:
        with cluster.connect(dbname=name) as conn:
            conn.execute("CREATE TABLE piled (id int)")
            conn.execute("GRANT SELECT ON piled TO PUBLIC")
    holder_a, waiters_a = pile_up(sessions, "filters_a", waiters=2)
    holder_b, waiters_b = pile_up(sessions, "filters_b", waiters=1)

    with agent.session_client() as client:

        def all_waiting() -> bool:
            listed = set(pids(answer(client, "/activity/waiting")))
            return set(waiters_a + waiters_b) <= listed

        wait_until(all_waiting, what="three waiters")

        in_a = answer(client, "/activity/waiting", database="filters_a")
        assert sorted(pids(in_a)) == sorted(waiters_a)
        assert in_a["total"] == 2
        in_both = client.get(
            "/activity/waiting", params=[("database", "filters_a"), ("database", "filters_b")]
        ).json()
        assert sorted(pids(in_both)) == sorted(waiters_a + waiters_b)

        capped = answer(client, "/activity/waiting", database="filters_a", limit=1)
        assert len(capped["rows"]) == 1
        assert capped["total"] == 2

        by_user = answer(client, "/activity/waiting", user="filter_user_1")
        assert sorted(pids(by_user)) == sorted(waiters_a[1:])
        by_app = answer(client, "/activity/waiting", application="waiter-filters_b")
        assert pids(by_app) == waiters_b
        assert answer(client, "/activity/waiting", state="idle")["rows"] == []
        assert answer(client, "/activity/waiting", min_duration=86400)["total"] == 0

        ascending = pids(answer(client, "/activity/waiting", database="filters_a", sort="pid"))
        assert ascending == sorted(waiters_a)
        descending = pids(answer(client, "/activity/waiting", database="filters_a", sort="-pid"))
        assert descending == sorted(waiters_a, reverse=True)

        blockers = answer(
            client,
            "/activity/blocking",
            database=list(DATABASES),
            state="idle in transaction",
            sort="-blocked_count",
        )
        assert pids(blockers) == [holder_a, holder_b]
        assert [row["blocked_count"] for row in blockers["rows"]] == [2, 1]
        top = answer(
            client,
            "/activity/blocking",
            database=list(DATABASES),
            state="idle in transaction",
            sort="blocked_count",
            limit=1,
        )
        assert pids(top) == [holder_b]
        assert top["total"] == 2
        assert answer(client, "/activity/blocking", application="holder-filters_b")["total"] == 1
