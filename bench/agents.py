"""The measured parties: pgwarden, the peer (temboard-agent 9.0.1) and the floor process.

Each is started against the same cluster, polled the same way, and stopped by its pid.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import pwd
import shutil
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import quote_plus

import orjson

from bench import processes
from pgwarden.auth.users import Role, User, hash_password, write_users
from pgwarden.cluster import Cluster, free_port

PEER_VERSION = "9.0.1"
# The peer caps rows at 300 unless told: ask for all of them, as pgwarden gives.
PEER_PATH = "/activity?limit=100000"
PGWARDEN_PATH = "/activity"
BENCH_PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway viewer
# uvicorn closes idle connections after 5 s; a poll after a longer pause opens a new one.
KEEP_ALIVE = 4.0


@dataclass
class Poll:
    seconds: float
    rows: int


@dataclass
class Party:
    """A measured process: how to poll it once, what wrk should hit, whose CPU counts."""

    name: str
    process: subprocess.Popen[bytes]
    application_name: str
    wrk_url: str = ""
    wrk_headers: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> Poll:
        raise NotImplementedError

    def stop(self) -> None:
        processes.stop(self.process)


def _wait_for(probe: object, what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if callable(probe) and probe():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer within 60 s: {log.read_text()[-2000:]}")


# ---------------------------------------------------------------- pgwarden


class Pgwarden(Party):
    """`pgwarden serve` over plain HTTP; one keep-alive connection, as a browser keeps."""

    port: int
    token: str
    _conn: http.client.HTTPConnection | None = None
    _used = 0.0

    @classmethod
    def start(cls, cluster: Cluster, workdir: Path, extra_config: str = "") -> Pgwarden:
        workdir.mkdir(parents=True, exist_ok=True)
        write_users(
            workdir / "users", {"bench": User("bench", Role.VIEWER, hash_password(BENCH_PASSWORD))}
        )
        port = free_port()
        config = workdir / "pgwarden.toml"
        config.write_text(
            f'[server]\naddress = "127.0.0.1"\nport = {port}\n\n'
            f'[postgresql]\nhost = "{cluster.socket_dir}"\nport = {cluster.port}\n'
            f'user = "{cluster.superuser}"\ndbname = "postgres"\n\n'
            f'[auth]\nusers_file = "users"\n\n[audit]\nfile = "audit.jsonl"\n\n{extra_config}'
        )
        log = workdir / "agent.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "pgwarden", "serve", "-c", str(config)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        agent = cls("pgwarden", process, "pgwarden")
        agent.port = port

        def answers() -> bool:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/status")
                return conn.getresponse().status == 200
            finally:
                conn.close()

        try:
            _wait_for(answers, "pgwarden", process, log)
            agent.token = agent._login()
        except BaseException:
            agent.stop()
            raise
        agent.wrk_url = f"http://127.0.0.1:{port}{PGWARDEN_PATH}"
        agent.wrk_headers = {"X-Session": agent.token}
        return agent

    def _login(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            body = orjson.dumps({"username": "bench", "password": BENCH_PASSWORD})
            conn.request("POST", "/login", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            token: str = orjson.loads(response.read())["session"]
            return token
        finally:
            conn.close()

    def poll(self) -> Poll:
        if self._conn is None or time.monotonic() - self._used > KEEP_ALIVE:
            if self._conn is not None:
                self._conn.close()
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self._conn.connect()
        started = time.perf_counter()
        self._conn.request("GET", PGWARDEN_PATH, headers={"X-Session": self.token})
        response = self._conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        self._used = time.monotonic()
        if response.status != 200:
            raise RuntimeError(f"pgwarden answered {response.status}: {body[:200]!r}")
        return Poll(elapsed, len(orjson.loads(body)["rows"]))

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        super().stop()


# ---------------------------------------------------------------- the peer


def install_peer(root: Path) -> Path:
    """A venv with temboard-agent 9.0.1 (and psycopg2, which it needs but does not declare)."""
    venv = root / "peer-venv"
    agent = venv / "bin" / "temboard-agent"
    if not agent.exists():
        # The system Python: the peer runs as the cluster's OS user, who cannot reach ours.
        python = shutil.which("python3", path="/usr/bin:/bin") or "python3"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
             f"temboard-agent=={PEER_VERSION}", "psycopg2-binary"],
            check=True,
        )  # fmt: skip
    return agent


def _openssl(*argv: str) -> None:
    subprocess.run(["openssl", *argv], check=True, capture_output=True)


def _chown(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


class Peer(Party):
    """temboard-agent 9.0.1, HTTPS only, every request signed as the temBoard UI signs it.

    The signature covers the date and a request id, which the agent never checks for
    reuse: one set of signed headers serves every request of a run (dates stay valid 2 h).
    """

    port: int
    headers: dict[str, str]
    context: ssl.SSLContext

    @classmethod
    def start(cls, cluster: Cluster, workdir: Path, install_root: Path) -> Peer:
        executable = install_peer(install_root)
        os_user = cluster_os_user()
        home = workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        for path in (workdir, home):
            _chown(path, os_user)
        key, cert = workdir / "agent.key", workdir / "agent.pem"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                 "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1")  # fmt: skip
        signing = workdir / "ui-signing.pem"
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 "-out", str(signing))  # fmt: skip
        public = workdir / "signing-public.pem"
        _openssl("pkey", "-in", str(signing), "-pubout", "-out", str(public))
        port = free_port()
        config = workdir / "temboard-agent.conf"
        config.write_text(
            "[temboard]\nui_url = https://127.0.0.1:1\n"
            f"home = {home}\nhostname = peer.localdomain\naddress = 127.0.0.1\nport = {port}\n"
            f"ssl_cert_file = {cert}\nssl_key_file = {key}\nsigning_public_key = {public}\n"
            'plugins = ["activity"]\n\n'
            f"[postgresql]\nhost = {cluster.socket_dir}\nport = {cluster.port}\n"
            f"user = {cluster.superuser}\ndbname = postgres\n\n"
            "[logging]\nmethod = stderr\nlevel = WARNING\n"
        )
        for path in (key, cert, public, config):
            _chown(path, os_user)
        log = workdir / "agent.log"
        env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        process = subprocess.Popen(
            processes.as_user([str(executable), "-c", str(config), "serve"], os_user),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
        )
        agent = cls("temboard-agent", process, "temboard-agent")
        agent.port = port
        agent.context = ssl.create_default_context()
        agent.context.check_hostname = False
        agent.context.verify_mode = ssl.CERT_NONE
        agent.headers = signed_headers("GET", PEER_PATH, f"127.0.0.1:{port}", signing)

        def answers() -> bool:
            return agent._get("/status")[0] == 200

        try:
            _wait_for(answers, "temboard-agent", process, log)
        except BaseException:
            agent.stop()
            raise
        agent.wrk_url = f"https://127.0.0.1:{port}{PEER_PATH}"
        agent.wrk_headers = dict(agent.headers)
        return agent

    def _get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        # HTTP/1.0 server: one connection (and TLS handshake) per request, as its UI does.
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=60)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def poll(self) -> Poll:
        started = time.perf_counter()
        status, body = self._get(PEER_PATH, self.headers)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"temboard-agent answered {status}: {body[:200]!r}")
        return Poll(elapsed, len(orjson.loads(body)["rows"]))


def cluster_os_user() -> str:
    from pgwarden.cluster import SERVER_OS_USER

    return SERVER_OS_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def signed_headers(method: str, path: str, host: str, private_key: Path) -> dict[str, str]:
    """Headers signed like temBoard's UI: RSA-PSS (SHA-256, max salt) over the canonical request.

    The canonical request is "METHOD quoted-path", an empty line, the signed headers sorted
    as "name: value" lines, and a final newline (temboardagent/toolkit/signing.py).
    """
    headers = {
        "Host": host,
        "X-TemBoard-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "X-TemBoard-Request-Id": uuid.uuid4().hex,
        "X-TemBoard-User": "bench",
    }
    lines = [f"{method} {quote_plus(path, safe='/')}", ""]
    lines += sorted(f"{name.lower()}: {value}" for name, value in headers.items())
    canonical = ("\n".join(lines) + "\n").encode()
    signed = subprocess.run(
        ["openssl", "dgst", "-sha256", "-sign", str(private_key),
         "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:max"],
        input=canonical,
        capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    headers["X-TemBoard-Signature"] = "v1:" + base64.b64encode(signed).decode()
    return headers


# ---------------------------------------------------------------- the floor


class Floor(Party):
    """bench/floor.py in its own process, told to take one snapshot per poll."""

    backend_pid: int

    @classmethod
    def start(cls, cluster: Cluster) -> Floor:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", cluster.conninfo()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        floor = cls("floor", process, "bench-floor")
        floor.backend_pid = int(floor._line())
        return floor

    def _line(self) -> bytes:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the floor process exited {self.process.wait()}")
        return line

    def poll(self) -> Poll:
        stdin: IO[bytes] | None = self.process.stdin
        assert stdin is not None
        stdin.write(b"snap\n")
        stdin.flush()
        return Poll(int(self._line()) / 1e9, 0)

    def stop(self) -> None:
        if self.process.stdin is not None and self.process.poll() is None:
            self.process.stdin.write(b"quit\n")
            self.process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        super().stop()
