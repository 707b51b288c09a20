"""The command line: configuration errors, user management, version."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pgwarden import __version__
from pgwarden.cluster import Cluster
from tests.helpers import Agent, running_agent

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("PGWARDEN_", "PG"))}


def pgwarden(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pgwarden", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**ENV, **(env or {})},
        timeout=timeout,
    )


def test_version_agrees_with_the_server_header(agent: Agent) -> None:
    result = pgwarden("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"pgwarden {__version__}"
    server = httpx.get(f"{agent.url}/status").headers["server"]
    assert server.split()[0] == f"pgwarden/{__version__}"


@pytest.mark.parametrize(
    ("content", "env", "expected"),
    [
        ("[server]\nport = 'high'\n", {}, "[server] port: must be an integer"),
        ("[server]\nport = 70000\n", {}, "[server] port: must be at most 65535"),
        ("[server]\nprot = 1\n", {}, "[server] prot: unknown key"),
        ("[sever]\nport = 1\n", {}, "[sever]: unknown section"),
        ("[server\n", {}, "not valid TOML"),
        ("[postgresql]\nconnect_timeout = -1\n", {}, "[postgresql] connect_timeout: must be"),
        ("[server]\ntls_cert = 'missing.pem'\n", {}, "[server] tls_key: must be set"),
        ("", {"PGWARDEN_SERVER_PORT": "x"}, "PGWARDEN_SERVER_PORT: must be an integer"),
        ("", {"PGPORT": "nope"}, "PGPORT: must be an integer"),
        # NaN and infinities are TOML numbers: bounds alone do not refuse them.
        ("[postgresql]\nstatement_timeout = nan\n", {}, "statement_timeout: must be a finite"),
        ("[postgresql]\nlock_timeout = inf\n", {}, "[postgresql] lock_timeout: must be a finite"),
        ("[postgresql]\nconnect_timeout = -inf\n", {}, "connect_timeout: must be a finite"),
        ("", {"PGCONNECT_TIMEOUT": "nan"}, "PGCONNECT_TIMEOUT: must be a finite number"),
        (
            "",
            {"PGWARDEN_POSTGRESQL_STATEMENT_TIMEOUT": "Infinity"},
            "PGWARDEN_POSTGRESQL_STATEMENT_TIMEOUT: must be a finite number",
        ),
        ("[server]\nport = 80.5\n", {}, "[server] port: must be an integer"),
        ("[server]\nmax_body_bytes = 1e9\n", {}, "[server] max_body_bytes: must be an integer"),
        ("[auth]\nmax_failures = 0\n", {}, "[auth] max_failures: must be at least 1"),
        ("[auth]\nlockout_seconds = 2026-12-01\n", {}, "lockout_seconds: must be an integer"),
        ("[metrics]\nenabled = 1\n", {}, "[metrics] enabled: must be true or false"),
        ("", {"PGWARDEN_METRICS_ENABLED": "maybe"}, "PGWARDEN_METRICS_ENABLED: must be true or"),
    ],
)
def test_a_bad_configuration_stops_serve_with_one_line(
    tmp_path: Path, content: str, env: dict[str, str], expected: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    result = pgwarden("serve", "-c", str(config), env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    if not env:
        assert str(config) in lines[0]


def test_a_user_name_with_a_newline_is_refused_and_the_file_stays_usable(
    tmp_path: Path,
) -> None:
    config = tmp_path / "pgwarden.toml"
    config.write_text('[auth]\nusers_file = "users"\n')
    assert pgwarden("user", "add", "alice", "-c", str(config), "--password-stdin", stdin="pw\n")
    before = (tmp_path / "users").read_text()
    for name in ("bob\n", "bob\nx", "\nbob", "bob:admin"):
        result = pgwarden("user", "add", name, "-c", str(config), "--password-stdin", stdin="pw\n")
        assert result.returncode == 2, name
        assert result.stderr.count("\n") == 1, result.stderr
        assert "a user name is 1 to 64 of" in result.stderr
    assert (tmp_path / "users").read_text() == before
    listed = pgwarden("user", "list", "-c", str(config))
    assert (listed.returncode, listed.stdout) == (0, "alice\tadmin\n")


def test_a_missing_configuration_file_is_named(tmp_path: Path) -> None:
    result = pgwarden("serve", "-c", str(tmp_path / "absent.toml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"pgwarden: {tmp_path / 'absent.toml'}: file not found"


def test_user_commands_manage_a_private_users_file(tmp_path: Path) -> None:
    config = tmp_path / "pgwarden.toml"
    config.write_text('[auth]\nusers_file = "users"\n')
    users = tmp_path / "users"
    added = pgwarden(
        "user", "add", "alice", "--password-stdin", "-c", str(config), stdin="first password\n"
    )
    assert added.returncode == 0, added.stderr
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    assert "first password" not in users.read_text()
    assert users.read_text().count("$argon2id$") == 1
    viewer = pgwarden(
        "user",
        "add",
        "bob",
        "--role",
        "viewer",
        "--password-stdin",
        "-c",
        str(config),
        stdin="bob password\n",
    )
    assert viewer.returncode == 0
    listed = pgwarden("user", "list", "-c", str(config))
    assert listed.stdout.splitlines() == ["alice\tadmin", "bob\tviewer"]
    again = pgwarden("user", "add", "alice", "--password-stdin", "-c", str(config), stdin="x\n")
    assert again.returncode == 2
    assert "exists" in again.stderr
    empty = pgwarden("user", "add", "carol", "--password-stdin", "-c", str(config), stdin="\n")
    assert empty.returncode == 2
    bad_name = pgwarden("user", "add", "a:b", "--password-stdin", "-c", str(config), stdin="x\n")
    assert bad_name.returncode == 2
    deleted = pgwarden("user", "delete", "bob", "-c", str(config))
    assert deleted.returncode == 0
    assert pgwarden("user", "list", "-c", str(config)).stdout.splitlines() == ["alice\tadmin"]
    missing = pgwarden("user", "delete", "bob", "-c", str(config))
    assert missing.returncode == 2


def test_users_are_picked_up_without_restart(cluster: Cluster, tmp_path: Path) -> None:
    with running_agent(cluster, tmp_path) as agent:
        config = tmp_path / "pgwarden.toml"
        with agent.client() as client:
            login = {"username": "dora", "password": "dora password"}
            assert client.post("/login", json=login).status_code == 401
            added = pgwarden(
                "user",
                "add",
                "dora",
                "--role",
                "viewer",
                "--password-stdin",
                "-c",
                str(config),
                stdin="dora password\n",
            )
            assert added.returncode == 0
            response = client.post("/login", json=login)
            assert response.status_code == 200
            token = response.json()["session"]
            profile = client.get("/profile", headers={"X-Session": token})
            assert profile.json() == {"username": "dora", "role": "viewer"}
            changed = pgwarden(
                "user",
                "passwd",
                "dora",
                "--password-stdin",
                "-c",
                str(config),
                stdin="new dora password\n",
            )
            assert changed.returncode == 0
            assert client.post("/login", json=login).status_code == 401
            login["password"] = "new dora password"
            assert client.post("/login", json=login).status_code == 200
            assert pgwarden("user", "delete", "dora", "-c", str(config)).returncode == 0
            assert client.get("/profile", headers={"X-Session": token}).status_code == 401


def test_a_new_password_or_role_ends_the_users_open_sessions(
    cluster: Cluster, tmp_path: Path
) -> None:
    config = tmp_path / "pgwarden.toml"

    def passwd(password: str, *role: str) -> None:
        args = ("user", "passwd", "viewer", *role, "--password-stdin", "-c", str(config))
        assert pgwarden(*args, stdin=f"{password}\n").returncode == 0

    def alive(client: httpx.Client, token: str) -> bool:
        status = client.get("/profile", headers={"X-Session": token}).status_code
        assert status in (200, 401)
        return status == 200

    with running_agent(cluster, tmp_path) as agent, agent.client() as client:
        first, second, admin = agent.login("viewer"), agent.login("viewer"), agent.login()
        passwd("new viewer password")
        assert not alive(client, first)
        assert not alive(client, second)
        assert alive(client, admin)  # other users keep theirs
        third = agent.login("viewer", "new viewer password")
        assert alive(client, third)
        passwd("new viewer password", "--role", "admin")  # same password, new role
        assert not alive(client, third)
        fourth = agent.login("viewer", "new viewer password")
        profile = client.get("/profile", headers={"X-Session": fourth}).json()
        assert profile == {"username": "viewer", "role": "admin"}
        assert alive(client, admin)


def test_serve_refuses_a_users_file_others_can_read(cluster: Cluster, tmp_path: Path) -> None:
    config = tmp_path / "pgwarden.toml"
    config.write_text('[auth]\nusers_file = "users"\n')
    assert (
        pgwarden(
            "user", "add", "eve", "--password-stdin", "-c", str(config), stdin="pw\n"
        ).returncode
        == 0
    )
    (tmp_path / "users").chmod(0o644)
    result = pgwarden("serve", "-c", str(config))
    assert result.returncode == 2
    assert "chmod 600" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
