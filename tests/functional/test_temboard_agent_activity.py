"""temboard-agent 7.11's own activity tests (tests/func/test_activity.py), restated.

What they check, in this project's words: over HTTPS with a verified certificate, a session
from POST /login; POST bodies that are JSON but go out as Python's urllib sends them, with
`Content-Type: application/x-www-form-urlencoded`; the keys and types of the rows of
/activity, /activity/waiting and /activity/blocking; exactly one waiting row (a relation
lock, RowExclusiveLock) and one blocking row (ExclusiveLock) for an UPDATE queued behind
LOCK TABLE ... IN EXCLUSIVE MODE; and kill's answer, `pid` an int and `killed` a bool.
Where the originals sleep and hope, each request here is sent the moment its backend is seen.

By default they run against pgwarden over HTTPS on a cluster of their own. Pointed at
another agent with TEMBOARD_AGENT_URL, TEMBOARD_AGENT_CA, TEMBOARD_AGENT_USER,
TEMBOARD_AGENT_PASSWORD and TEMBOARD_AGENT_PG (the watched cluster's libpq conninfo), they
run against it: `scripts/temboard-agent-control` does so with temboard-agent 7.11.

One difference, kept on purpose: temboard-agent 7.11 answers /activity's `duration` as a
number, the seed (and pgwarden) as a string of seconds with 3 decimals ("1.900"). Both are
accepted for that key, and only for that one.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden import tls
from pgwarden.cluster import Cluster, create_cluster
from tests.helpers import ADMIN_PASSWORD, start_agent, wait_until

SEED_DURATION = re.compile(r"^\d+\.\d{3}$")
ACTIVITY_KEYS = (
    "pid", "database", "user", "client", "cpu", "memory", "read_s", "write_s", "iow", "wait",
    "duration", "state", "query",
)  # fmt: skip
LOCK_KEYS = (
    "pid", "database", "user", "cpu", "memory", "read_s", "write_s", "iow", "relation", "type",
    "mode", "duration", "state", "query",
)  # fmt: skip


@dataclass
class Target:
    """The agent under test, its credentials, and the cluster it watches."""

    url: str
    ca_file: Path
    username: str
    password: str
    conninfo: str

    def connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        conninfo = psycopg.conninfo.make_conninfo(self.conninfo, dbname=dbname or None)
        return psycopg.connect(conninfo, autocommit=True)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    given = os.environ.get("TEMBOARD_AGENT_URL")
    if given:
        yield Target(
            given.rstrip("/"),
            Path(os.environ["TEMBOARD_AGENT_CA"]),
            os.environ["TEMBOARD_AGENT_USER"],
            os.environ["TEMBOARD_AGENT_PASSWORD"],
            os.environ["TEMBOARD_AGENT_PG"],
        )
        return
    # A cluster of its own: "exactly one waiting row" must not see other tests' locks.
    cluster = create_cluster(prefix="pgwarden-temboard-")
    cert, key = tls.write_self_signed(tmp_path_factory.mktemp("tls"))
    env = {"PGWARDEN_SERVER_TLS_CERT": str(cert), "PGWARDEN_SERVER_TLS_KEY": str(key)}
    agent = start_agent(cluster, tmp_path_factory.mktemp("agent"), env=env, https_ca=cert)
    try:
        yield Target(agent.url, cert, "admin", ADMIN_PASSWORD, cluster.conninfo())
    finally:
        agent.stop()
        _drop(cluster)


def _drop(cluster: Cluster) -> None:
    cluster.stop()
    cluster.remove()


# ---------------------------------------------------------------- the client, as theirs is


@dataclass
class Answer:
    status: int
    body: Any
    content_type_sent: str | None


def request(
    target: Target,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    data: Any = None,
) -> Answer:
    """A request as temBoard's test client makes it: headers through the opener's
    `addheaders`, which urllib applies only after setting its own Content-Type for a body."""
    context = ssl.create_default_context(cafile=str(target.ca_file))
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
    opener.addheaders = list((headers or {}).items())
    body = json.dumps(data).encode() if data is not None else None
    assert target.url.startswith("https://"), target.url
    sent = urllib.request.Request(target.url + path, data=body, method=method)  # noqa: S310 - https only
    try:
        with opener.open(sent, timeout=30) as handle:
            status, raw = handle.status, handle.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return Answer(status, json.loads(raw), sent.get_header("Content-type"))


def login(target: Target) -> str:
    answer = request(
        target,
        "POST",
        "/login",
        headers={"Content-type": "application/json"},
        data={"username": target.username, "password": target.password},
    )
    assert answer.status == 200, answer.body
    session: str = answer.body["session"]
    return session


@pytest.fixture(scope="module")
def session(target: Target) -> str:
    return login(target)


def get(target: Target, session: str, path: str) -> Answer:
    return request(
        target, "GET", path, headers={"Content-type": "application/json", "X-Session": session}
    )


# ---------------------------------------------------------------- staged activity


class Background:
    """One statement on its own connection and thread; its errors are kept, not raised."""

    def __init__(self, target: Target, statements: list[str], dbname: str | None = None) -> None:
        self.conn = target.connect(dbname)
        self.pid: int = self.conn.info.backend_pid
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(statements,), daemon=True)
        self._thread.start()

    def _run(self, statements: list[str]) -> None:
        try:
            for statement in statements:
                self.conn.execute(statement)
        except psycopg.Error as exc:  # killed, or rolled back at the end: both expected
            self.error = exc

    def finish(self) -> None:
        self._thread.join(timeout=30)
        self.conn.close()


def seen(target: Target, condition: str, params: tuple[Any, ...]) -> Callable[[], bool]:
    def probe() -> bool:
        with target.connect() as conn:
            return conn.execute(
                f"SELECT count(*) > 0 FROM pg_stat_activity WHERE {condition}", params
            ).fetchone() == (True,)

    return probe


def make_table(target: Target, dbname: str, table: str) -> None:
    with target.connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname}")
        conn.execute(f"CREATE DATABASE {dbname}")
    with target.connect(dbname) as conn:
        conn.execute(f"CREATE TABLE {table} (id integer)")
        conn.execute(f"INSERT INTO {table} SELECT generate_series(1, 5)")


def stage_lock_queue(target: Target, dbname: str, table: str) -> tuple[Background, Background]:
    """LOCK TABLE ... IN EXCLUSIVE MODE held, and an UPDATE of that table queued behind it."""
    make_table(target, dbname, table)
    holder = Background(
        target,
        ["BEGIN", f"LOCK TABLE {table} IN EXCLUSIVE MODE", "SELECT pg_sleep(30)"],
        dbname,
    )
    wait_until(seen(target, "pid = %s AND wait_event = 'PgSleep'", (holder.pid,)), what="holder")
    updater = Background(target, [f"UPDATE {table} SET id = id + 1"], dbname)
    wait_until(
        seen(target, "pid = %s AND wait_event_type = 'Lock'", (updater.pid,)), what="the queue"
    )
    return holder, updater


def end(target: Target, *backgrounds: Background) -> None:
    with target.connect() as conn:
        for background in backgrounds:
            conn.execute("SELECT pg_terminate_backend(%s)", (background.pid,))
    for background in backgrounds:
        background.finish()


# ---------------------------------------------------------------- types, as they check them


def check_process_keys(row: dict[str, Any]) -> None:
    assert type(row["pid"]) is int
    assert type(row["database"]) is str
    assert type(row["user"]) is str
    assert type(row["cpu"]) in (float, str)  # a number, or "N/A"
    assert type(row["memory"]) is float
    assert type(row["read_s"]) is str
    assert type(row["write_s"]) is str
    assert type(row["iow"]) is str
    assert type(row["state"]) in (str, type(None))
    assert type(row["query"]) in (str, type(None))


def check_lock_row(row: dict[str, Any], mode: str) -> None:
    for key in LOCK_KEYS:
        assert key in row, key
    check_process_keys(row)
    assert type(row["relation"]) is str
    assert (row["type"], row["mode"]) == ("relation", mode)
    assert type(row["duration"]) in (float, int)


# ---------------------------------------------------------------- the five tests


def test_00_postgresql_is_up_and_a_session_opens(target: Target) -> None:
    with target.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert re.fullmatch(r"[0-9a-f]{64}", login(target))


def test_01_activity_rows_have_the_keys_and_types(target: Target, session: str) -> None:
    sleeper = Background(target, ["SELECT pg_sleep(1)"])
    try:
        wait_until(seen(target, "pid = %s AND state = 'active'", (sleeper.pid,)), what="sleeper")
        answer = get(target, session, "/activity")
    finally:
        sleeper.finish()
    assert answer.status == 200, answer.body
    rows = answer.body["rows"]
    assert type(rows) is list and rows
    first = rows[0]
    assert type(first) is dict
    for key in ACTIVITY_KEYS:
        assert key in first, key
    check_process_keys(first)
    assert type(first["wait"]) is str
    duration = first["duration"]
    assert type(duration) in (float, int) or SEED_DURATION.match(duration), duration


def test_02_kill_terminates_a_backend(target: Target, session: str) -> None:
    sleeper = Background(target, ["SELECT pg_sleep(3)"])
    try:
        wait_until(
            seen(target, r"query LIKE 'SELECT pg\_sleep%%' AND pid = %s", (sleeper.pid,)),
            what="the long query",
        )
        answer = request(
            target,
            "POST",
            "/activity/kill",
            headers={"Content-type": "application/json", "X-Session": session},
            data={"pids": [sleeper.pid]},
        )
    finally:
        sleeper.finish()
    assert answer.content_type_sent == "application/x-www-form-urlencoded"
    assert answer.status == 200, answer.body
    backends = answer.body["backends"]
    assert type(backends) is list and type(backends[0]) is dict
    assert type(backends[0]["pid"]) is int and type(backends[0]["killed"]) is bool
    assert backends[0]["pid"] == sleeper.pid
    assert backends[0]["killed"] is True
    assert sleeper.error is not None  # its query really was ended


def test_03_waiting_shows_the_queued_update(target: Target, session: str) -> None:
    holder, updater = stage_lock_queue(target, "testdbw", "testtablew")
    try:
        answer = get(target, session, "/activity/waiting")
    finally:
        end(target, holder, updater)
    assert answer.status == 200, answer.body
    rows = answer.body["rows"]
    assert type(rows) is list
    assert len(rows) == 1, rows
    check_lock_row(rows[0], "RowExclusiveLock")
    assert rows[0]["pid"] == updater.pid


def test_04_blocking_shows_the_lock_holder(target: Target, session: str) -> None:
    holder, updater = stage_lock_queue(target, "testdbb", "testtableb")
    try:
        answer = get(target, session, "/activity/blocking")
    finally:
        end(target, holder, updater)
    assert answer.status == 200, answer.body
    rows = answer.body["rows"]
    assert type(rows) is list
    assert len(rows) == 1, rows
    check_lock_row(rows[0], "ExclusiveLock")
    assert rows[0]["pid"] == holder.pid
