"""GET /overview and the overview in each snapshot, against the real cluster and host."""

from __future__ import annotations

import os

import psutil

from pgwarden.cluster import Cluster
from tests.helpers import Agent, Sessions, wait_until


def test_the_overview_tells_the_server_and_the_host(
    agent: Agent, cluster: Cluster, sessions: Sessions
) -> None:
    idle = sessions.open("overview-idle")
    idle.run("SELECT 1")
    holder = sessions.open("overview-xact")
    holder.run("BEGIN")
    holder.run("SELECT txid_current()")
    with cluster.connect() as conn:
        version, version_num, max_connections = conn.execute(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int,"
            " current_setting('max_connections')::int"
        ).fetchone() or (None, None, None)
    with agent.session_client("viewer") as client:
        response = client.get("/overview")
        snapshot = client.get("/activity/snapshot").json()
    assert response.status_code == 200
    body = response.json()
    assert list(body) == list(snapshot["overview"])
    server, connections = body["server"], body["connections"]
    assert (server["version"], server["version_num"]) == (version, version_num)
    assert server["uptime"] > 0
    assert connections["max_connections"] == max_connections
    assert (connections["reserved_connections"] is None) == (version_num < 160000)
    assert connections["by_state"].get("idle", 0) >= 1
    assert connections["by_state"].get("idle in transaction", 0) >= 1
    assert connections["total"] == sum(connections["by_state"].values())
    oldest = body["oldest_xact"]
    assert (oldest["id"], oldest["pid"], oldest["state"]) == (
        holder.pid,
        holder.pid,
        "idle in transaction",
    )
    assert 0 < body["cache_hit_ratio"] <= 1
    host = body["host"]
    assert host["memory_total"] == psutil.virtual_memory().total
    assert host["cpu_count"] == os.cpu_count()
    assert len(host["load_average"]) == 3
    assert 0 <= host["cpu_pct"] <= 100


def test_transactions_per_second_count_the_commits_between_snapshots(
    agent: Agent, sessions: Sessions
) -> None:
    worker = sessions.open("overview-commits")
    counted = 0.0

    def commits_counted() -> bool:
        nonlocal counted
        transactions = client.get("/overview").json()["transactions"]
        assert transactions["window"] > 0
        counted += transactions["commits_per_s"] * transactions["window"]
        return bool(counted >= 60)

    with agent.session_client() as client:
        client.get("/overview")  # the base the next window starts from
        for _ in range(60):
            worker.run("SELECT txid_current()")  # a commit each, in autocommit
        # Each snapshot's rate times its window is the commits since the one before, so
        # their sum grows to the 60 once the worker's statistics reach pg_stat_database
        # (a backend flushes them within seconds when idle).
        wait_until(commits_counted, timeout=20, interval=0.5, what="60 commits counted")
