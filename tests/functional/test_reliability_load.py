"""Load and shutdown: twenty clients polling for thirty seconds, SIGTERM with requests in flight."""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from pgwarden.cluster import Cluster
from tests.helpers import Agent, BackgroundSession, Sessions, running_agent, wait_until

CLIENTS = 20
LOAD_SECONDS = 30
WARM_UP_SECONDS = 5
POLL_PAUSE = 0.1  # each client polls again this long after an answer, as a busy dashboard would
PATHS = ("/activity", "/activity/waiting", "/activity/blocking", "/activity?state=active")
# Growth of the agent's resident memory over the load phase, after warm-up, that still counts
# as flat: allocator noise; a leak of 2 KiB per request would already exceed it.
MEMORY_SLACK = 8 << 20
SHUTDOWN_LIMIT = 5.0


def lock_waiters(conn: BackgroundSession, agent: Agent) -> int:
    """Locks waited for by this agent's own backends. Its log names them: another agent on
    the cluster (the shared one, whose history recorder samples every second) may be queued
    behind the same lock for a moment."""
    found = conn.run(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = ANY(%s)", [agent_pids(agent)]
    )
    return int(found[0][0])


def agent_pids(agent: Agent) -> list[int]:
    return [int(pid) for pid in re.findall(r"backend pid (\d+)", agent.log())]


@contextlib.contextmanager
def catalog_locked(sessions: Sessions) -> Iterator[BackgroundSession]:
    """ACCESS EXCLUSIVE on pg_database, so the agent's next snapshot waits."""
    holder = sessions.open("catalog-locker")
    holder.run("BEGIN")
    holder.run("LOCK TABLE pg_catalog.pg_database IN ACCESS EXCLUSIVE MODE")
    try:
        yield holder
    finally:
        holder.run("ROLLBACK")


def refuses_connections(agent: Agent) -> bool:
    try:
        httpx.get(f"{agent.url}/status", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


SLOW = {"PGWARDEN_POSTGRESQL_LOCK_TIMEOUT": "60", "PGWARDEN_POSTGRESQL_STATEMENT_TIMEOUT": "120"}


@contextlib.contextmanager
def request_stuck_behind_a_lock(
    agent: Agent, sessions: Sessions
) -> Iterator[tuple[Future[httpx.Response], BackgroundSession]]:
    """A GET /activity in flight, its snapshot queued behind a catalog lock (and the holder)."""
    token = agent.login()
    with agent.client(headers={"X-Session": token}) as client:
        assert client.get("/activity").status_code == 200  # the agent's links are open
    with (
        ThreadPoolExecutor(max_workers=1) as pool,
        catalog_locked(sessions) as holder,
        agent.client(headers={"X-Session": token}) as slow_client,
    ):
        in_flight = pool.submit(slow_client.get, "/activity")
        wait_until(lambda: lock_waiters(holder, agent), what="the snapshot to wait for the lock")
        yield in_flight, holder


def test_sigterm_lets_a_request_in_flight_finish_then_exits_cleanly(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    with (
        running_agent(cluster, tmp_path, env=SLOW) as agent,
        request_stuck_behind_a_lock(agent, sessions) as (in_flight, holder),
    ):
        agent.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        wait_until(lambda: refuses_connections(agent), what="the listener to close")
        assert not in_flight.done()
        holder.run("ROLLBACK")
        response = in_flight.result(timeout=SHUTDOWN_LIMIT)
        assert response.status_code == 200
        assert response.json()["total"] >= 1
        assert agent.process.wait(timeout=SHUTDOWN_LIMIT) == 0
        assert time.monotonic() - signalled < SHUTDOWN_LIMIT
        assert "Traceback" not in agent.log()


def test_sigterm_cuts_a_stuck_request_with_503_and_exits_within_five_seconds(
    cluster: Cluster, sessions: Sessions, tmp_path: Path
) -> None:
    with (
        running_agent(cluster, tmp_path, env=SLOW) as agent,
        request_stuck_behind_a_lock(agent, sessions) as (stuck, holder),
    ):
        agent.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = agent.process.wait(timeout=SHUTDOWN_LIMIT + 5)
        elapsed = time.monotonic() - signalled
        response = stuck.result(timeout=5)
        assert lock_waiters(holder, agent) == 0  # the agent left the lock queue as it went
        assert code == 0
        assert elapsed < SHUTDOWN_LIMIT
        assert response.status_code == 503
        assert response.json() == {"error": "The agent is shutting down."}
        assert "Traceback" not in agent.log()


@dataclass
class Tally:
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sent: int, errors: list[str]) -> None:
        with self.lock:
            self.sent += sent
            self.errors += errors


def poll_until(agent: Agent, token: str, deadline: float, tally: Tally) -> None:
    sent, errors = 0, []
    with agent.client(headers={"X-Session": token}) as client:
        for path in cycle(PATHS):
            if time.monotonic() >= deadline:
                break
            try:
                response = client.get(path)
                if response.status_code != 200 or "rows" not in response.json():
                    errors.append(f"{path}: {response.status_code} {response.text[:200]}")
            except (httpx.HTTPError, ValueError) as exc:
                errors.append(f"{path}: {exc!r}")
            sent += 1
            time.sleep(POLL_PAUSE)
    tally.add(sent, errors)


def run_clients(agent: Agent, tokens: list[str], seconds: float) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        for future in [pool.submit(poll_until, agent, t, deadline, tally) for t in tokens]:
            future.result()
    return tally


@pytest.mark.slow
def test_twenty_clients_polling_for_thirty_seconds_see_no_error_and_flat_memory(
    cluster: Cluster, sessions: Sessions, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions.open("load-sleeper").submit("SELECT pg_sleep(120)")
    holder = sessions.open("load-holder")
    holder.run("CREATE TABLE IF NOT EXISTS load_target (id int PRIMARY KEY)")
    holder.run("INSERT INTO load_target VALUES (1) ON CONFLICT DO NOTHING")
    holder.run("BEGIN")
    holder.run("UPDATE load_target SET id = 1 WHERE id = 1")
    for name in ("load-waiter-1", "load-waiter-2"):
        sessions.open(name).submit("UPDATE load_target SET id = 1 WHERE id = 1")
    stop_churn = threading.Event()
    churned = 0

    def churn() -> None:  # backends that end mid-snapshot, all along
        nonlocal churned
        while not stop_churn.is_set() and churned < 100_000:
            with psycopg.connect(cluster.conninfo(), application_name="load-churn") as conn:
                conn.execute("SELECT 1")
            churned += 1
            time.sleep(0.02)

    with running_agent(cluster, tmp_path) as agent:
        process = psutil.Process(agent.process.pid)
        tokens = [agent.login() for _ in range(CLIENTS)]
        churner = threading.Thread(target=churn)
        churner.start()
        try:
            warm_up = run_clients(agent, tokens, WARM_UP_SECONDS)
            before = process.memory_info().rss
            load = run_clients(agent, tokens, LOAD_SECONDS)
            after = process.memory_info().rss
        finally:
            stop_churn.set()
            churner.join()
        with agent.session_client() as client:
            waiting = client.get("/activity/waiting").json()["rows"]
        assert agent.stop() == 0
    holder.run("ROLLBACK")
    with capsys.disabled():
        print(
            f"\nload: {CLIENTS} clients for {LOAD_SECONDS} s: {load.sent} requests "
            f"({load.sent / LOAD_SECONDS:.0f}/s), {len(load.errors)} errors; "
            f"warm-up {warm_up.sent} requests, {len(warm_up.errors)} errors; "
            f"{churned} short-lived connections; agent RSS {before / 2**20:.1f} MiB before, "
            f"{after / 2**20:.1f} MiB after ({(after - before) / 2**20:+.1f} MiB)"
        )
    assert warm_up.errors == [], warm_up.errors[:5]
    assert load.errors == [], load.errors[:5]
    assert load.sent >= CLIENTS  # every client got through at least once
    assert len(waiting) == 2  # the lock queue was there to render all along
    assert after - before < MEMORY_SLACK
