"""A throwaway PostgreSQL cluster for `pgwarden demo` and the tests.

initdb and postgres refuse to run as root: as root, the cluster belongs to the `postgres`
OS user and every server command runs through `runuser`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SERVER_OS_USER = "postgres"
# Debian's packages put server binaries outside PATH; newest major first.
_BINDIR_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin")


class ClusterError(Exception):
    """The throwaway cluster could not be set up."""


def find_bindir(preferred: str | None = None) -> Path:
    """The folder holding initdb and pg_ctl: $PGWARDEN_PGBIN, pg_config, or a known place."""
    candidates: list[Path] = []
    for hint in (preferred, os.environ.get("PGWARDEN_PGBIN")):
        if hint:
            candidates.append(Path(hint))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            candidates.append(Path(out))
    for pattern in _BINDIR_GLOBS:
        found = sorted(Path("/").glob(pattern.lstrip("/")), key=_major_of, reverse=True)
        candidates.extend(found)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    raise ClusterError(
        "PostgreSQL server binaries not found (initdb, pg_ctl): install the postgresql "
        "package or set PGWARDEN_PGBIN"
    )


def _major_of(path: Path) -> int:
    digits = "".join(ch for ch in path.parent.name if ch.isdigit())
    return int(digits) if digits else 0


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Cluster:
    """A cluster in its own folder, on loopback and a private socket folder."""

    bindir: Path
    root: Path
    port: int
    settings: dict[str, str] = field(default_factory=dict)
    superuser: str = "postgres"
    postmaster_pid: int | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    def conninfo(self, dbname: str = "postgres", user: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(
            host=str(self.socket_dir),
            port=self.port,
            dbname=dbname,
            user=user or self.superuser,
        )

    def connect(self, dbname: str = "postgres", **kwargs: object) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname), autocommit=True, **kwargs)  # type: ignore[arg-type]

    def _as_owner(self, *argv: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", SERVER_OS_USER, "--", *argv]
        return list(argv)

    def _run(self, *argv: str) -> None:
        result = subprocess.run(self._as_owner(*argv), capture_output=True, text=True)
        if result.returncode != 0:
            raise ClusterError(f"{Path(argv[0]).name} failed: {result.stderr.strip()[-2000:]}")

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SERVER_OS_USER)
            for path in (self.root, self.socket_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            self.superuser,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "max_connections": "200",
            "shared_buffers": "64MB",
            "max_prepared_transactions": "10",
            "logging_collector": "off",
            **self.settings,
        }
        with (self.datadir / "postgresql.conf").open("a") as conf:
            for name, value in settings.items():
                conf.write(f"{name} = {value}\n")

    def start(self) -> None:
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            "60",
            "start",
        )
        self.postmaster_pid = int((self.datadir / "postmaster.pid").read_text().split()[0])

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; fall back to signalling the postmaster pid we started."""
        if not (self.datadir / "postmaster.pid").exists():
            return
        with contextlib.suppress(ClusterError):
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                mode,
                "-w",
                "-t",
                "30",
                "stop",
            )
        if self.postmaster_pid and _alive(self.postmaster_pid):
            os.kill(self.postmaster_pid, 9)
            _wait_gone(self.postmaster_pid, 10)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def version(self) -> int:
        with self.connect() as conn:
            return conn.info.server_version


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def reachable_by_server_user(path: str | Path) -> bool:
    """Whether the server's OS user can search `path`, and so every folder above it."""
    argv = ["runuser", "-u", SERVER_OS_USER, "--", "test", "-x", str(path)]
    return subprocess.run(argv, capture_output=True).returncode == 0


def cluster_parent() -> str | None:
    """Where to make cluster folders: None (the temporary folder) unless, as root, the server's
    OS user cannot reach it (TMPDIR under root's private home, say)."""
    if os.geteuid() != 0:
        return None
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp"):  # noqa: S108
        if reachable_by_server_user(candidate):
            return candidate
    raise ClusterError(f"no temporary folder the {SERVER_OS_USER} OS user can reach; set TMPDIR")


def create_cluster(
    prefix: str = "pgwarden-",
    settings: dict[str, str] | None = None,
    bindir: Path | None = None,
) -> Cluster:
    """initdb and start a fresh cluster in a new temporary folder."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=cluster_parent()))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres OS user must reach its cluster
    cluster = Cluster(
        bindir=bindir or find_bindir(), root=root, port=free_port(), settings=settings or {}
    )
    try:
        cluster.init()
        cluster.start()
    except BaseException:
        cluster.stop()
        cluster.remove()
        raise
    return cluster
