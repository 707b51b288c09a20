"""docs/security.md states the parameters the code uses, and the code warns where it says."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from pgwarden import server, tls
from pgwarden.auth.users import hash_password
from pgwarden.config import Config, ServerConfig

DOC = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")


def test_the_argon2_parameters_are_the_documented_ones() -> None:
    found = re.match(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", hash_password("x"))
    assert found is not None
    memory, time_cost, parallelism = found.groups()
    assert (
        f"time cost {time_cost}, memory cost {memory} KiB ({int(memory) // 1024} MiB), "
        f"parallelism {parallelism}" in DOC
    )
    assert f"$argon2id$v=19$m={memory},t={time_cost},p={parallelism}$" in DOC


def test_the_tls_suites_and_versions_are_the_documented_ones() -> None:
    documented = re.findall(r"`(ECDHE-[A-Z0-9-]+)`", DOC)
    assert documented == tls.TLS12_CIPHERS.split(":")
    assert tls.MINIMUM_VERSION.name == "TLSv1_2"
    assert "**TLS 1.3 and TLS 1.2 only.**" in DOC


def test_the_shutdown_figures_are_the_documented_ones() -> None:
    assert f"finish for up to {server.GRACEFUL_SHUTDOWN_SECONDS:g} s" in DOC


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - the case under test
        ("::", False),
        ("192.0.2.10", False),
        ("db.example.test", False),
    ],
)
def test_loopback_addresses_are_told_apart(address: str, loopback: bool) -> None:
    assert server.is_loopback(address) is loopback


@pytest.mark.parametrize(("address", "warned"), [("127.0.0.1", False), ("192.0.2.10", True)])
def test_plain_http_off_loopback_is_warned_about(
    caplog: pytest.LogCaptureFixture, address: str, warned: bool
) -> None:
    with caplog.at_level(logging.WARNING, logger="pgwarden.server"):
        server.uvicorn_config(Config(server=ServerConfig(address=address)))  # binds nothing
    assert ("plain HTTP on " + address in caplog.text) is warned
