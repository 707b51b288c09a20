"""The real temBoard UI 7.11 (from the package index), set up as its own scripts set it up.

Its repository is a database of a cluster the caller gives: the role and database that
temBoard's create_repository.sh makes, then its schema by `temboard-migratedb upgrade`
(admin / admin is the account the schema starts with). It serves HTTPS with a self-signed
certificate of its own, and checks the agent's against the one it is given.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from pgwarden import tls
from pgwarden.cluster import Cluster, free_port
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
ADMIN, ADMIN_PASSWORD = "admin", "admin"  # what temBoard's schema creates
REPOSITORY_PASSWORD = "temboard-repository"


class NoPython311(Exception):
    """temBoard 7.11 needs Python 3.11, and this machine has none."""


def venv() -> Path:
    """The cached venv scripts/temboard-venv makes (once), with temBoard 7.11 in it."""
    made = subprocess.run(
        [str(ROOT / "scripts" / "temboard-venv"), "ui"], capture_output=True, text=True
    )
    if made.returncode == 3:
        raise NoPython311(made.stderr.strip())
    assert made.returncode == 0, made.stderr
    return Path(made.stdout.strip().splitlines()[-1])


@dataclass
class TemboardUI:
    url: str
    certificate: Path
    log_path: Path

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, verify=ssl.create_default_context(cafile=str(self.certificate))
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _repository(cluster: Cluster) -> None:
    with cluster.connect() as conn:
        conn.execute(f"CREATE ROLE temboard LOGIN PASSWORD '{REPOSITORY_PASSWORD}'")
        conn.execute("CREATE DATABASE temboard OWNER temboard")


def _configuration(workdir: Path, cluster: Cluster, port: int, agent_ca: Path) -> tuple[Path, Path]:
    """The UI's configuration file, and the certificate it serves."""
    cert, key = tls.write_self_signed(workdir / "tls", common_name="temBoard UI")
    (workdir / "home").mkdir()
    conf = workdir / "temboard.conf"
    conf.write_text(
        f"[temboard]\nport = {port}\naddress = 127.0.0.1\n"
        f"ssl_cert_file = {cert}\nssl_key_file = {key}\n"
        f"ssl_ca_cert_file = {agent_ca}\n"  # the agent's certificate is checked against it
        f"cookie_secret = {secrets.token_hex(32)}\nhome = {workdir / 'home'}\n"
        'plugins = ["activity"]\n\n'
        f"[repository]\nhost = {cluster.socket_dir}\nport = {cluster.port}\n"
        f"user = temboard\npassword = {REPOSITORY_PASSWORD}\ndbname = temboard\n\n"
        "[logging]\nmethod = stderr\nlevel = INFO\n"
    )
    return conf, cert


@contextlib.contextmanager
def running_ui(venv: Path, cluster: Cluster, workdir: Path, agent_ca: Path) -> Iterator[TemboardUI]:
    workdir.mkdir(parents=True, exist_ok=True)
    _repository(cluster)
    port = free_port()
    conf, cert = _configuration(workdir, cluster, port, agent_ca)
    migrated = subprocess.run(
        [str(venv / "bin" / "temboard-migratedb"), "-c", str(conf), "upgrade"],
        capture_output=True,
        text=True,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    log_path = workdir / "temboard.log"
    process = subprocess.Popen(
        [str(venv / "bin" / "temboard"), "-c", str(conf)],
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    ui = TemboardUI(f"https://127.0.0.1:{port}", cert, log_path)

    def answers() -> bool:
        assert process.poll() is None, f"temBoard exited {process.returncode}: {ui.log()}"
        with contextlib.suppress(httpx.HTTPError), ui.client() as client:
            return client.get("/login").status_code == 200
        return False

    try:
        wait_until(answers, timeout=60, what="the temBoard UI to answer")
        yield ui
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
