"""Faults the agent must survive: a lock pile-up on the catalogs it reads, every connection
slot taken, a backend that ends mid-snapshot, query text in another encoding than UTF-8.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from pgwarden import proc
from pgwarden.activity import RowQuery, View, render
from pgwarden.cluster import Cluster, create_cluster
from pgwarden.config import PostgresConfig
from pgwarden.db.database import Database
from pgwarden.sampler import Sampler
from tests.helpers import Agent, Sessions, poll_row, running_agent, wait_until

VIEWS = ("/activity", "/activity/waiting", "/activity/blocking")


# ---------------------------------------------------------------- lock pile-up


@pytest.mark.parametrize(
    ("timeouts", "reason"),
    [
        ({"LOCK_TIMEOUT": "0.5", "STATEMENT_TIMEOUT": "60"}, "lock timeout"),
        ({"LOCK_TIMEOUT": "60", "STATEMENT_TIMEOUT": "1"}, "statement timeout"),
    ],
)
def test_agent_queries_give_up_behind_a_lock_on_a_catalog_they_read(
    cluster: Cluster, sessions: Sessions, tmp_path: Path, timeouts: dict[str, str], reason: str
) -> None:
    """VACUUM FULL pg_database, say, takes ACCESS EXCLUSIVE on a catalog every snapshot and
    every kill reads: the agent's query must be cancelled by the server, not queue behind it.
    """
    env = {f"PGWARDEN_POSTGRESQL_{name}": value for name, value in timeouts.items()}
    # The history recorder samples every second on its own: its query would be caught
    # queueing (and then giving up) at the check below. Requests alone are checked here.
    env["PGWARDEN_HISTORY_ENABLED"] = "false"
    with running_agent(cluster, tmp_path, env=env) as agent, agent.session_client() as client:
        assert client.get("/activity").status_code == 200
        harmless_kill(client)
        holder = sessions.open("catalog-locker")
        holder.run("BEGIN")
        # A new connection reads pg_database too: from here on the agent has only its links.
        holder.run("LOCK TABLE pg_catalog.pg_database IN ACCESS EXCLUSIVE MODE")
        try:
            for path in VIEWS:
                response = client.get(path)
                assert response.status_code == 503, response.text
                assert reason in response.json()["error"]
            kill = client.post("/activity/kill", json={"pids": [holder.pid]})
            assert kill.status_code == 503, kill.text
            assert reason in kill.json()["error"]
            # Having answered, the agent waits for no lock: it has left the queue.
            # Its own backends, named in its log: another agent on the cluster (the shared
            # one, whose recorder samples every second) may be queued for a moment.
            own = [int(pid) for pid in re.findall(r"backend pid (\d+)", agent.log())]
            waiting = holder.run(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = ANY(%s)", [own]
            )
            assert waiting == [(0,)]
        finally:
            holder.run("ROLLBACK")
        for path in VIEWS:
            assert client.get(path).status_code == 200
    assert holder.run("SELECT 1") == [(1,)]  # the holder was never killed


# ---------------------------------------------------------------- max_connections

MAX_CONNECTIONS = 12
RESERVED = 3


@pytest.fixture(scope="module")
def small_cluster() -> Iterator[Cluster]:
    cluster = create_cluster(
        prefix="pgwarden-full-",
        settings={
            "max_connections": str(MAX_CONNECTIONS),
            "superuser_reserved_connections": str(RESERVED),
        },
    )
    with cluster.connect() as conn:
        conn.execute("CREATE ROLE app LOGIN")
        conn.execute("CREATE ROLE warden LOGIN IN ROLE pg_monitor, pg_signal_backend")
    yield cluster
    cluster.stop()
    cluster.remove()


def fill_slots(cluster: Cluster, user: str) -> list[psycopg.Connection]:
    """Connect as `user` until PostgreSQL refuses; the refusal must say why."""
    taken: list[psycopg.Connection] = []
    refusal = ""
    while not refusal and len(taken) <= MAX_CONNECTIONS:
        try:
            taken.append(psycopg.connect(cluster.conninfo(user=user), autocommit=True))
        except psycopg.OperationalError as exc:
            refusal = str(exc)
    if not refusal:
        close_all(taken)
        raise AssertionError(f"{user} opened {len(taken)} connections: max_connections ignored")
    assert "remaining connection slots are reserved" in refusal or "too many clients" in refusal
    return taken


def close_all(connections: list[psycopg.Connection]) -> None:
    for conn in connections:
        conn.close()


def harmless_kill(client: httpx.Client) -> httpx.Response:
    """pid 1 is never a backend: this opens the control link and signals nothing."""
    return client.post("/activity/kill", json={"pids": [1]})


def answer_in_time(client: httpx.Client, path: str = "/activity") -> httpx.Response:
    started = time.monotonic()
    response = client.get(path)
    assert time.monotonic() - started < 3 + 1  # connect_timeout is 3 in the test configuration
    return response


def terminate_agent_links(conn: psycopg.Connection) -> None:
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgwarden'"
    )


def agent_links(conn: psycopg.Connection) -> list[Any]:
    return conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgwarden'"
    ).fetchall()


def test_a_superuser_agent_keeps_answering_when_clients_take_every_slot(
    small_cluster: Cluster, tmp_path: Path
) -> None:
    with running_agent(small_cluster, tmp_path) as agent, agent.session_client() as client:
        harmless_kill(client)  # both links open
        clients = fill_slots(small_cluster, "app")
        try:
            listed = client.get("/activity")
            assert listed.status_code == 200  # it kept its own links
            app_pids = {c.info.backend_pid for c in clients}
            assert app_pids <= {r["pid"] for r in listed.json()["rows"]}
            # Links lost (killed by an operator, say): it reconnects into the slots
            # PostgreSQL keeps for superusers.
            with small_cluster.connect() as admin:
                terminate_agent_links(admin)
            assert answer_in_time(client).status_code == 200
            victim = clients.pop()
            kill = client.post("/activity/kill", json={"pids": [victim.info.backend_pid]})
            assert kill.json()["backends"][0]["killed"] is True, kill.text
            victim.close()
            # Every slot taken, the reserved ones too, and the agent's links lost: a clear 503
            # at once, never a hang.
            clients += fill_slots(small_cluster, "postgres")
            terminate_agent_links(clients[-1])
            wait_until(lambda: not agent_links(clients[-1]), what="the agent's links to end")
            clients += fill_slots(small_cluster, "postgres")  # the slots they had, too
            refused = answer_in_time(client)
            assert refused.status_code == 503, refused.text
            assert "too many clients" in refused.json()["error"]
            close_all(clients[-3:])
            del clients[-3:]
            assert answer_in_time(client).status_code == 200  # back without a restart
        finally:
            close_all(clients)


def test_the_first_request_after_a_restart_is_served(
    small_cluster: Cluster, tmp_path: Path
) -> None:
    with running_agent(small_cluster, tmp_path) as agent, agent.session_client() as client:
        assert harmless_kill(client).status_code == 200
        assert client.get("/activity").status_code == 200
        small_cluster.stop()
        small_cluster.start()
        # Both links died while idle: each is replaced on its first use, nobody sees a 503.
        assert client.get("/activity").status_code == 200
        assert harmless_kill(client).status_code == 200


def test_an_agent_without_reserved_slots_answers_503_when_they_are_all_taken(
    small_cluster: Cluster, tmp_path: Path
) -> None:
    """A least-privilege role gets no superuser slot (PostgreSQL 16 adds
    pg_use_reserved_connections for that): the agent must then say so, promptly.
    """
    clients = fill_slots(small_cluster, "app")
    try:
        env = {"PGWARDEN_POSTGRESQL_USER": "warden"}
        with (
            running_agent(small_cluster, tmp_path, env=env) as agent,
            agent.session_client() as client,
        ):
            refused = answer_in_time(client)
            assert refused.status_code == 503, refused.text
            assert "remaining connection slots are reserved" in refused.json()["error"]
            close_all(clients[:2])
            del clients[:2]
            assert answer_in_time(client).status_code == 200
    finally:
        close_all(clients)


# ---------------------------------------------------------------- backends that end mid-snapshot


def test_a_backend_that_ends_before_its_proc_read_keeps_its_row(
    cluster: Cluster, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race cannot be timed from outside a process, so it is staged inside one: the real
    sampler, the real query, the real /proc read, and a real backend that really ends between
    the two; only the order is forced.
    """
    victim = sessions.open("vanishing")
    victim.run("SELECT 1")
    bystander = sessions.open("bystander")
    bystander.run("SELECT 1")
    config = PostgresConfig(
        host=str(cluster.socket_dir), port=cluster.port, user=cluster.superuser, connect_timeout=3
    )
    queried = threading.Event()

    async def scenario() -> tuple[bytes, bytes]:
        db = Database(config)
        sampler = Sampler(db)
        try:
            await sampler.prime()
            real_fetch, real_read = db.fetch, sampler._reader.read

            async def fetch_then_end_the_victim(
                link: Any, name: str, row_factory: Any, params: Any = None
            ) -> Any:
                rows = await real_fetch(link, name, row_factory, params)
                if name == "activity" and not queried.is_set():
                    bystander.run("SELECT pg_terminate_backend(%s)", [victim.pid])
                    await asyncio.to_thread(
                        wait_until,
                        lambda: not Path(f"/proc/{victim.pid}").exists(),
                        what="the victim's process to be reaped",
                    )
                    queried.set()
                return rows

            def read_after_the_query(pids: Any) -> dict[int, proc.ProcReading]:
                queried.wait(timeout=30)  # the read beside the query now comes after it
                return real_read(pids)

            monkeypatch.setattr(db, "fetch", fetch_then_end_the_victim)
            monkeypatch.setattr(sampler._reader, "read", read_after_the_query)
            first = await sampler.snapshot()
            second = await sampler.snapshot()
            return (
                render(first, View.ACTIVITY, RowQuery()),
                render(second, View.ACTIVITY, RowQuery()),
            )
        finally:
            await sampler.close()
            await db.close()

    first, second = asyncio.run(scenario())
    assert queried.is_set()
    rows = {row["pid"]: row for row in orjson.loads(first)["rows"]}
    gone = rows[victim.pid]
    assert gone["application_name"] == "vanishing"
    assert gone["query"] == "SELECT 1"
    # Never null (clients call methods on them): "N/A", as temboard-agent 7.x shows.
    figures = ("cpu", "memory", "read_s", "write_s", "iow")
    assert [gone[key] for key in figures] == ["N/A"] * 5
    assert gone["cpu_pct"] is None and gone["read_bytes_s"] is None
    assert type(rows[bystander.pid]["memory"]) is float  # the others were read as usual
    assert victim.pid not in {row["pid"] for row in orjson.loads(second)["rows"]}


def test_backends_coming_and_going_never_break_a_poll(agent: Agent, cluster: Cluster) -> None:
    """The same race, left to chance in the real agent: short-lived connections while polling."""
    stop = threading.Event()
    opened = 0

    def churn() -> None:
        nonlocal opened
        while not stop.is_set() and opened < 2000:
            with psycopg.connect(cluster.conninfo(), application_name="churn") as conn:
                conn.execute("SELECT 1")
            opened += 1

    worker = threading.Thread(target=churn)
    worker.start()
    statuses = []
    try:
        with agent.session_client() as client:
            for _ in range(60):
                response = client.get("/activity")
                statuses.append(response.status_code)
                assert response.json()["total"] == len(response.json()["rows"])
    finally:
        stop.set()
        worker.join()
    assert opened > 0
    assert statuses == [200] * 60


# ---------------------------------------------------------------- encodings


def test_latin1_query_text_is_shown_and_audited_correctly(
    agent: Agent, cluster: Cluster, sessions: Sessions
) -> None:
    with cluster.connect() as conn:
        conn.execute("DROP DATABASE IF EXISTS latin1")
        conn.execute(
            "CREATE DATABASE latin1 TEMPLATE template0 ENCODING 'LATIN1' "
            "LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    query = "SELECT 'café crème, Müller, señor, naïve' AS accents, pg_sleep(60)"
    victim = sessions.open("latin1-sleeper", dbname="latin1")
    victim.submit(query)
    with agent.session_client() as client:
        row = poll_row(client, victim.pid, until=lambda r: r["state"] == "active")
        assert row["database"] == "latin1"
        assert row["query"] == query
        with cluster.connect() as conn:
            raw = conn.execute(
                "SELECT textsend(query) FROM pg_stat_activity WHERE pid = %s", [victim.pid]
            ).fetchone()
        assert raw is not None
        assert query.encode("latin-1") == raw[0]  # stored as LATIN1: the decoding was needed
        killed = client.post("/activity/kill", json={"pids": [victim.pid]})
        assert killed.json()["backends"] == [{"pid": victim.pid, "killed": True, "reason": None}]
        entries = client.get("/activity/audit", params={"limit": 20}).json()["entries"]
    results = [e for e in entries if e["event"] == "result" and e["pid"] == victim.pid]
    assert results[-1]["target"]["query"] == query
    assert "café crème" in (agent.workdir / "audit.jsonl").read_text(encoding="utf-8")
