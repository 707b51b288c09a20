"""Test helpers: a real agent process, background PostgreSQL sessions, polling."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg

from pgwarden.auth.users import Role, User, hash_password, write_users
from pgwarden.cluster import Cluster, free_port

T = TypeVar("T")

ADMIN_PASSWORD = "admin-secret-password"
VIEWER_PASSWORD = "viewer-secret-password"


def wait_until(
    probe: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll until probe returns something truthy; fail the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}: last {last!r}")


class BackgroundSession:
    """A PostgreSQL session whose statements may block, run on a thread of its own."""

    def __init__(
        self, cluster: Cluster, application: str, dbname: str = "postgres", user: str | None = None
    ) -> None:
        self.conn = psycopg.connect(
            cluster.conninfo(dbname, user=user), autocommit=True, application_name=application
        )
        self.pid: int = self.conn.info.backend_pid
        self._pool = ThreadPoolExecutor(max_workers=1)

    def run(self, query: str, params: Any = None) -> list[Any]:
        cursor = self.conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []

    def submit(self, query: str, params: Any = None) -> Future[list[Any]]:
        return self._pool.submit(self.run, query, params)

    def close(self) -> None:
        # Let a running statement fail first: closing under it from here would crash libpq.
        self._pool.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(Exception):
            self.conn.close()


@dataclass
class Sessions:
    """Background sessions opened by one test, all ended when it ends."""

    cluster: Cluster
    opened: list[BackgroundSession] = field(default_factory=list)

    def open(
        self, application: str = "pgwarden-test", dbname: str = "postgres", user: str | None = None
    ) -> BackgroundSession:
        session = BackgroundSession(self.cluster, application, dbname, user)
        self.opened.append(session)
        return session

    def close_all(self) -> None:
        pids = [s.pid for s in self.opened]
        if pids:
            with self.cluster.connect() as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) pid", [pids])
        for session in self.opened:
            session.close()
        self.opened.clear()


def write_test_users(path: Path) -> None:
    write_users(
        path,
        {
            "admin": User("admin", Role.ADMIN, hash_password(ADMIN_PASSWORD)),
            "viewer": User("viewer", Role.VIEWER, hash_password(VIEWER_PASSWORD)),
        },
    )


@dataclass
class Agent:
    """A `pgwarden serve` process on a free loopback port."""

    process: subprocess.Popen[bytes]
    url: str
    workdir: Path
    log_path: Path
    verify: ssl.SSLContext | bool = True

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, verify=self.verify, **kwargs)

    def login(self, username: str = "admin", password: str | None = None) -> str:
        if password is None:
            password = ADMIN_PASSWORD if username == "admin" else VIEWER_PASSWORD
        with self.client() as client:
            response = client.post("/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        token: str = response.json()["session"]
        return token

    def session_client(self, username: str = "admin") -> httpx.Client:
        return self.client(headers={"X-Session": self.login(username)})

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then wait; SIGKILL only if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _toml(sections: dict[str, dict[str, Any]]) -> str:
    """Flat TOML sections of strings, numbers, booleans and lists of strings."""
    out = []
    for name, values in sections.items():
        out.append(f"[{name}]")
        out.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
        out.append("")
    return "\n".join(out)


def agent_config(
    cluster: Cluster, workdir: Path, port: int, extra: str = "", address: str = "127.0.0.1"
) -> Path:
    """The test configuration; `extra` (TOML) adds keys or overrides these."""
    sections: dict[str, dict[str, Any]] = {
        "server": {"address": address, "port": port},
        "postgresql": {
            "host": str(cluster.socket_dir),
            "port": cluster.port,
            "user": cluster.superuser,
            "dbname": "postgres",
            "connect_timeout": 3,
        },
        "auth": {"users_file": "users"},
        "audit": {"file": "audit.jsonl"},
    }
    for name, values in tomllib.loads(extra).items():
        sections.setdefault(name, {}).update(values)
    config = workdir / "pgwarden.toml"
    config.write_text(_toml(sections))
    return config


def start_agent(
    cluster: Cluster,
    workdir: Path,
    extra_config: str = "",
    env: dict[str, str] | None = None,
    config_path: Path | None = None,
    https_ca: Path | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
) -> Agent:
    """Start `pgwarden serve` and wait until it answers /status (over HTTPS given https_ca).

    A given config_path must name the host and port given here.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "users").exists():
        write_test_users(workdir / "users")
    port = port or free_port()
    config = config_path or agent_config(cluster, workdir, port, extra_config, host)
    log_path = workdir / "agent.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "pgwarden", "serve", "-c", str(config)],
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    scheme = "https" if https_ca else "http"
    verify = ssl.create_default_context(cafile=str(https_ca)) if https_ca else True
    agent = Agent(process, f"{scheme}://{host}:{port}", workdir, log_path, verify)

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"agent exited {process.returncode}: {agent.log()}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{agent.url}/status", timeout=1, verify=verify).status_code == 200
        return False

    try:
        wait_until(answers, timeout=20, what="the agent to answer /status")
    except BaseException:
        agent.stop()
        raise
    return agent


@contextlib.contextmanager
def running_agent(
    cluster: Cluster,
    workdir: Path,
    extra_config: str = "",
    env: dict[str, str] | None = None,
    https_ca: Path | None = None,
) -> Iterator[Agent]:
    agent = start_agent(cluster, workdir, extra_config, env, https_ca=https_ca)
    try:
        yield agent
    finally:
        agent.stop()


def rows(client: httpx.Client, path: str = "/activity", **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["rows"]
    return found


def row_of(client: httpx.Client, pid: int, path: str = "/activity") -> dict[str, Any] | None:
    return next((r for r in rows(client, path) if r["pid"] == pid), None)


def poll_row(
    client: httpx.Client,
    pid: int,
    path: str = "/activity",
    until: Callable[[dict[str, Any]], bool] = lambda row: True,
    what: str = "",
) -> dict[str, Any]:
    """Poll a view until the row of pid is there and satisfies `until`."""

    def probe() -> dict[str, Any] | None:
        row = row_of(client, pid, path)
        return row if row is not None and until(row) else None

    return wait_until(probe, what=what or f"pid {pid} in {path}")
