"""`pgwarden demo`: a throwaway cluster, an admin with a random password, some activity to
watch, and the agent in front; Ctrl-C stops everything it started.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import psycopg

from pgwarden.auth.users import Role, User, hash_password, write_users
from pgwarden.cluster import Cluster, create_cluster, free_port
from pgwarden.config import Config, load_config
from pgwarden.server import serve
from pgwarden.tls import fingerprint, write_self_signed

DEMO_PORT = 2345


def _port() -> int:
    """The documented default port when free, else any free one."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", DEMO_PORT))
        except OSError:
            return free_port()
    return DEMO_PORT


class DemoActivity:
    """A long query and a lock queue (an idle-in-transaction holder, two waiters)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.connections: list[psycopg.Connection] = []

    def _open(self, application: str) -> psycopg.Connection:
        conn = psycopg.connect(
            self.cluster.conninfo(), autocommit=True, application_name=application
        )
        self.connections.append(conn)
        return conn

    def _in_background(self, conn: psycopg.Connection, query: str) -> None:
        def run() -> None:
            with contextlib.suppress(psycopg.Error):
                conn.execute(query)

        threading.Thread(target=run, daemon=True).start()

    def start(self) -> None:
        setup = self._open("demo-setup")
        setup.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance numeric)")
        setup.execute("INSERT INTO accounts SELECT i, 100 FROM generate_series(1, 1000) i")
        self._in_background(self._open("demo-report"), "SELECT pg_sleep(3600)")
        holder = self._open("demo-holder")
        holder.execute("BEGIN")
        holder.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
        for name in ("demo-transfer", "demo-audit"):
            self._in_background(
                self._open(name), "UPDATE accounts SET balance = balance + 10 WHERE id = 1"
            )
        self._open("demo-idle").execute("SELECT 1")

    def stop(self) -> None:
        for conn in self.connections:
            with contextlib.suppress(Exception):
                conn.close()


def run_demo(tls: bool = False) -> int:
    cluster = create_cluster(prefix="pgwarden-demo-")
    workdir = Path(tempfile.mkdtemp(prefix="pgwarden-demo-agent-"))
    activity = DemoActivity(cluster)
    try:
        password = secrets.token_urlsafe(12)
        write_users(
            workdir / "users", {"admin": User("admin", Role.ADMIN, hash_password(password))}
        )
        https = ""
        if tls:
            cert, key = write_self_signed(workdir)
            https = f'tls_cert = "{cert.name}"\ntls_key = "{key.name}"\n'
        (workdir / "pgwarden.toml").write_text(
            f'[server]\naddress = "127.0.0.1"\nport = {_port()}\n{https}\n'
            f'[postgresql]\nhost = "{cluster.socket_dir}"\nport = {cluster.port}\n'
            f'user = "{cluster.superuser}"\ndbname = "postgres"\n\n'
            f'[auth]\nusers_file = "users"\n\n[audit]\nfile = "audit.jsonl"\n'
        )
        config = load_config(workdir / "pgwarden.toml")  # PGWARDEN_SERVER_PORT may move it
        activity.start()
        print(_banner(config, password, cluster), flush=True)
        serve(config)
    finally:
        activity.stop()
        cluster.stop()
        cluster.remove()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _banner(config: Config, password: str, cluster: Cluster) -> str:
    cert = config.server.tls_cert
    url = f"{'https' if cert else 'http'}://127.0.0.1:{config.server.port}"
    curl = f"curl -s --cacert {cert}" if cert else "curl -s"  # the certificate is its own CA
    where = f"PostgreSQL on 127.0.0.1:{cluster.port} (socket folder {cluster.socket_dir})"
    certificate = (
        f"  TLS:       self-signed certificate {cert}\n             SHA-256 {fingerprint(cert)}\n"
        if cert
        else ""
    )
    return f"""
pgwarden demo is running.

  web page:  {url}/
  API docs:  {url}/docs
  login:     admin / {password}
{certificate}  cluster:   {where}
  config:    {config.source}

Try it:
  CURL="{curl}"
  TOKEN=$($CURL -X POST {url}/login -H 'Content-Type: application/json' \\
          -d '{{"username": "admin", "password": "{password}"}}' \\
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["session"])')
  $CURL {url}/activity -H "X-Session: $TOKEN"
  $CURL {url}/activity/waiting -H "X-Session: $TOKEN"
  $CURL {url}/activity/blocking -H "X-Session: $TOKEN"
  $CURL -X POST {url}/activity/kill -H "X-Session: $TOKEN" \\
          -H 'Content-Type: application/json' -d '{{"pids": [<a pid from above>]}}'

Ctrl-C stops the agent and the cluster.
"""
