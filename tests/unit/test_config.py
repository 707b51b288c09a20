from __future__ import annotations

from pathlib import Path

import pytest

from pgwarden.config import SECTIONS, ConfigError, documented_keys, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pgwarden.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, environ={})
    assert config.server.address == "127.0.0.1"
    assert config.server.port == 2345
    assert config.postgresql.host == "/var/run/postgresql"
    assert config.postgresql.connect_timeout == 5
    assert config.auth.session_ttl == 3600
    assert config.auth.users_file == tmp_path / "users"
    assert config.server.tls_cert is None


def test_file_values_and_relative_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[server]\nport = 8080\n[auth]\nusers_file = "etc/users"\n'
        '[guards]\nprotected_roles = ["replicator"]\n',
    )
    config = load_config(path, environ={})
    assert config.server.port == 8080
    assert config.auth.users_file == tmp_path / "etc" / "users"
    assert config.guards.protected_roles == ("replicator",)
    assert config.audit.file == tmp_path / "audit.jsonl"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 8080\n[metrics]\nenabled = false\n")
    config = load_config(
        path,
        environ={
            "PGWARDEN_SERVER_PORT": "9090",
            "PGWARDEN_METRICS_ENABLED": "yes",
            "PGWARDEN_GUARDS_PROTECTED_DATABASES": "prod, billing",
            "PGPORT": "6000",
        },
    )
    assert config.server.port == 9090
    assert config.metrics.enabled is True
    assert config.guards.protected_databases == ("prod", "billing")
    assert config.postgresql.port == 6000


def test_libpq_variables_apply_only_where_the_file_is_silent(tmp_path: Path) -> None:
    path = write(tmp_path, '[postgresql]\nhost = "/run/pg"\npassword = ""\n')
    environ = {
        "PGHOST": "db.local",
        "PGUSER": "monitor",
        "PGPASSWORD": "s3cret",
        "PGCONNECT_TIMEOUT": "2",
    }
    config = load_config(path, environ=environ)
    assert config.postgresql.host == "/run/pg"
    assert config.postgresql.user == "monitor"
    assert config.postgresql.password == "s3cret"
    assert config.postgresql.connect_timeout == 2.0
    assert (
        load_config(path, environ={**environ, "PGWARDEN_POSTGRESQL_HOST": "x"}).postgresql.host
        == "x"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = true\n", "[server] port: must be an integer"),
        ("[server]\nport = 0\n", "[server] port: must be at least 1"),
        ("[server]\naccess_log = 'yes'\n", "[server] access_log: must be true or false"),
        ("[auth]\nsession_ttl = 10\n", "[auth] session_ttl: must be at least 60"),
        ("[guards]\nprotected_roles = 'x'\n", "[guards] protected_roles: must be a list"),
        ("[guards]\nprotected_roles = [1]\n", "[guards] protected_roles: must be a list"),
        ("[auth]\nusers_file = ''\n", "[auth] users_file: must be a non-empty path"),
        ("server = 1\n", "[server]: must be a table"),
        ("[server]\nnope = 1\n", "[server] nope: unknown key"),
        ("[extra]\n", "[extra]: unknown section"),
        ("= broken", "not valid TOML"),
        ("[postgresql]\nstatement_timeout = nan\n", "statement_timeout: must be a finite number"),
        ("[postgresql]\nlock_timeout = -inf\n", "[postgresql] lock_timeout: must be a finite"),
        ("[server]\nport = 8080.0\n", "[server] port: must be an integer"),
        ("[server]\nport = '8080'\n", "[server] port: must be an integer"),
        ("[server]\naddress = 127\n", "[server] address: must be a string"),
        ("[auth]\nsession_ttl = 1979-05-27\n", "[auth] session_ttl: must be an integer"),
        ("[guards]\nprotected_databases = ['a', 2]\n", "protected_databases: must be a list"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PGCONNECT_TIMEOUT": "nan"}, "PGCONNECT_TIMEOUT: must be a finite number"),
        ({"PGCONNECT_TIMEOUT": "1e9"}, "PGCONNECT_TIMEOUT: must be at most 60"),
        ({"PGWARDEN_SERVER_PORT": "inf"}, "PGWARDEN_SERVER_PORT: must be an integer"),
        ({"PGWARDEN_SERVER_PORT": "0"}, "PGWARDEN_SERVER_PORT: must be at least 1"),
        ({"PGWARDEN_AUTH_USERS_FILE": ""}, "PGWARDEN_AUTH_USERS_FILE: must be a non-empty path"),
        ({"PGWARDEN_SERVER_ACCESS_LOG": "2"}, "PGWARDEN_SERVER_ACCESS_LOG: must be true or false"),
    ],
)
def test_environment_errors_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ=environ)
    assert str(caught.value) == message


def test_tls_needs_both_files(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("x")
    with pytest.raises(ConfigError, match=r"\[server\] tls_key: must be set"):
        load_config(write(tmp_path, '[server]\ntls_cert = "cert.pem"\n'), environ={})
    with pytest.raises(ConfigError, match=r"\[server\] tls_key: file not found"):
        load_config(
            write(tmp_path, '[server]\ntls_cert = "cert.pem"\ntls_key = "key.pem"\n'), environ={}
        )


def test_every_key_is_documented() -> None:
    keys = documented_keys()
    assert {section for section, *_ in keys} == set(SECTIONS)
    assert all(doc.strip() for *_, doc in keys)
