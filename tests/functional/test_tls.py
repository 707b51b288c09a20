"""HTTPS with modern TLS only, `pgwarden demo --tls`, and certificates that do not load."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from pgwarden import tls
from pgwarden.cluster import Cluster, free_port
from tests.helpers import ADMIN_PASSWORD, Agent, start_agent, wait_until

TLS_1_0 = "TLSv1"  # the names ssl.TLSVersion members have; the old ones warn when touched
TLS_1_1 = "TLSv1_1"
# Lets this OpenSSL offer the old protocols and ciphers a client of a careless server could use.
LEGACY_CIPHERS = "ALL:@SECLEVEL=0"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tls.write_self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_agent(
    cluster: Cluster, certificate: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Agent]:
    cert, key = certificate
    env = {"PGWARDEN_SERVER_TLS_CERT": str(cert), "PGWARDEN_SERVER_TLS_KEY": str(key)}
    agent = start_agent(cluster, tmp_path_factory.mktemp("https-agent"), env=env, https_ca=cert)
    yield agent
    agent.stop()


def client_context(cert: Path, version: str, ciphers: str | None = None) -> ssl.SSLContext:
    """A verifying client that offers exactly one protocol version."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pinned = ssl.TLSVersion[version]
        context = ssl.create_default_context(cafile=str(cert))
        if ciphers:
            context.set_ciphers(ciphers)
        context.minimum_version = context.maximum_version = pinned
    return context


def handshake(port: int, context: ssl.SSLContext) -> tuple[str | None, str]:
    """(protocol, cipher) of a completed handshake with 127.0.0.1:port, or ssl.SSLError."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as secure,
    ):
        cipher = secure.cipher()
        assert cipher is not None
        return secure.version(), cipher[0]


@contextlib.contextmanager
def permissive_server(cert: Path, key: Path) -> Iterator[int]:
    """A TLS server that accepts anything for one handshake: the control for a refusal."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion[TLS_1_0]
    context.set_ciphers(LEGACY_CIPHERS)
    context.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def accept_one() -> None:
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                with conn, context.wrap_socket(conn, server_side=True):
                    pass

        thread = threading.Thread(target=accept_one, daemon=True)
        thread.start()
        yield listener.getsockname()[1]
        thread.join(timeout=10)


def port_of(agent: Agent) -> int:
    port = urlsplit(agent.url).port
    assert port is not None
    return port


@pytest.mark.parametrize(("version", "name"), [("TLSv1_2", "TLSv1.2"), ("TLSv1_3", "TLSv1.3")])
def test_tls_1_2_and_1_3_serve_the_api(
    https_agent: Agent, certificate: tuple[Path, Path], version: str, name: str
) -> None:
    context = client_context(certificate[0], version)
    negotiated, cipher = handshake(port_of(https_agent), context)
    assert negotiated == name
    if name == "TLSv1.2":
        assert cipher in tls.TLS12_CIPHERS.split(":")
    with httpx.Client(base_url=https_agent.url, verify=context, timeout=30) as client:
        login = client.post("/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200
        activity = client.get("/activity", headers={"X-Session": login.json()["session"]})
        assert activity.status_code == 200
        assert activity.json()["total"] >= 0


@pytest.mark.parametrize(
    ("version", "ciphers"),
    [
        (TLS_1_1, LEGACY_CIPHERS),
        (TLS_1_0, LEGACY_CIPHERS),
        ("TLSv1_2", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"),  # CBC, no AEAD
        ("TLSv1_2", "ECDHE-ECDSA-AES256-SHA384:@SECLEVEL=0"),
    ],
)
def test_old_protocols_and_weak_ciphers_are_refused(
    https_agent: Agent, certificate: tuple[Path, Path], version: str, ciphers: str
) -> None:
    context = client_context(certificate[0], version, ciphers)
    with permissive_server(*certificate) as control:
        assert handshake(control, context)  # this client can speak it: the refusal is the agent's
    with pytest.raises(ssl.SSLError):
        handshake(port_of(https_agent), context)
    with https_agent.client() as client:
        assert client.get("/status").status_code == 200


def test_plain_http_gets_no_answer_on_the_https_port(https_agent: Agent) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port_of(https_agent)}/status", timeout=10)


def test_a_certificate_that_does_not_load_stops_serve_with_one_line(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    _, other_key = tls.write_self_signed(tmp_path / "other")
    for cert, key in ((garbage, certificate[1]), (certificate[0], other_key)):
        config = tmp_path / "pgwarden.toml"
        config.write_text(f'[server]\ntls_cert = "{cert}"\ntls_key = "{key}"\n')
        result = subprocess.run(
            [sys.executable, "-m", "pgwarden", "serve", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "[server] tls_cert: cannot load the certificate and key" in lines[0]


def test_self_signed_certificate_is_valid_for_loopback_and_its_key_private(
    tmp_path: Path,
) -> None:
    cert, key = tls.write_self_signed(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    context = ssl.create_default_context(cafile=str(cert))
    with permissive_server(cert, key) as port:
        assert handshake(port, context)[0] == "TLSv1.3"  # verified, hostname 127.0.0.1
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", tls.fingerprint(cert))


def test_demo_tls_serves_https_with_its_own_certificate(tmp_path: Path) -> None:
    port = free_port()
    output = tmp_path / "demo.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PGWARDEN_", "PG"))}
    with output.open("wb") as sink:
        demo = subprocess.Popen(
            [sys.executable, "-m", "pgwarden", "demo", "--tls"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**env, "PGWARDEN_SERVER_PORT": str(port)},
        )
    try:
        wait_until(
            lambda: "Uvicorn running on" in output.read_text(),  # listening, not only started
            timeout=60,
            what="the demo to start",
        )
        text = output.read_text()
        assert f"https://127.0.0.1:{port}/" in text
        found = re.search(r"self-signed certificate (\S+)\n\s+SHA-256 (\S+)", text)
        password = re.search(r"login:\s+admin / (\S+)", text)
        assert found and password, text
        cert = Path(found[1])
        assert found[2] == tls.fingerprint(cert)
        assert stat.S_IMODE((cert.parent / "tls-key.pem").stat().st_mode) == 0o600
        with httpx.Client(
            base_url=f"https://127.0.0.1:{port}",
            verify=ssl.create_default_context(cafile=str(cert)),
            timeout=30,
        ) as client:
            login = client.post("/login", json={"username": "admin", "password": password[1]})
            assert login.status_code == 200
            activity = client.get("/activity", headers={"X-Session": login.json()["session"]})
            applications = {row["application_name"] for row in activity.json()["rows"]}
            assert {"demo-holder", "demo-report"} <= applications
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=30) == 0
        assert not cert.exists()  # the demo removes what it made
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGTERM)  # lets the demo stop its cluster too
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
