"""Configuration: TOML file, then `PGWARDEN_<SECTION>_<KEY>` overrides, then libpq's `PG*`.

Each section is a frozen dataclass; a field's metadata documents the key and bounds it, so
the loader, the validation messages and the configuration reference share one source.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

ENV_PREFIX = "PGWARDEN_"


class ConfigError(Exception):
    """A configuration value that cannot be used; the message names the file and the key."""


def key(
    default: Any,
    doc: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | None = None,
    libpq_env: str | None = None,
) -> Any:
    """Declare a configuration key with its documentation and bounds."""
    meta = {
        "doc": doc,
        "minimum": minimum,
        "maximum": maximum,
        "choices": choices,
        "libpq_env": libpq_env,
    }
    if isinstance(default, list | tuple):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    address: str = key("127.0.0.1", "Address to listen on; the default serves loopback only.")
    port: int = key(2345, "TCP port to listen on.", minimum=1, maximum=65535)
    tls_cert: Path | None = key(None, "PEM certificate file; HTTPS when set with tls_key.")
    tls_key: Path | None = key(None, "PEM private key file for tls_cert.")
    max_body_bytes: int = key(
        65536, "Largest request body accepted; larger gets 413.", minimum=1024, maximum=16 << 20
    )
    access_log: bool = key(False, "Log one line per request (never headers or bodies).")
    trusted_proxies: tuple[str, ...] = key(
        (),
        "Addresses or networks (CIDR) of reverse proxies and of the temBoard UI. Only from "
        "them is X-Forwarded-For believed: the client is its right-most address that is not "
        "itself trusted, for login throttling and the audit log. A trusted peer that sends "
        "none speaks for many users: its failed logins count against each user name only.",
    )


@dataclass(frozen=True, slots=True)
class PostgresConfig:
    host: str = key("/var/run/postgresql", "Server host or unix socket folder.", libpq_env="PGHOST")
    port: int = key(5432, "Server port.", minimum=1, maximum=65535, libpq_env="PGPORT")
    user: str = key("postgres", "Role the agent connects as.", libpq_env="PGUSER")
    password: str = key(
        "", "Password; empty means PGPASSWORD or ~/.pgpass.", libpq_env="PGPASSWORD"
    )
    dbname: str = key("postgres", "Database the agent connects to.", libpq_env="PGDATABASE")
    connect_timeout: float = key(
        5.0,
        "Seconds to wait for a connection before answering 503.",
        minimum=1,
        maximum=60,
        libpq_env="PGCONNECT_TIMEOUT",
    )
    statement_timeout: float = key(
        5.0,
        "Seconds any agent query may run before PostgreSQL cancels it.",
        minimum=0.1,
        maximum=300,
    )
    lock_timeout: float = key(
        1.0,
        "Seconds an agent query may wait for a lock, so it never joins a pile-up.",
        minimum=0.01,
        maximum=60,
    )


@dataclass(frozen=True, slots=True)
class AuthConfig:
    users_file: Path = key(Path("users"), "Users file written by `pgwarden user add`.")
    session_ttl: int = key(
        3600,
        "Seconds a session lives without use (sliding expiry).",
        minimum=60,
        maximum=7 * 86400,
    )
    max_failures: int = key(
        5, "Failed logins for one user or address before 429.", minimum=1, maximum=1000
    )
    lockout_seconds: int = key(
        60, "Seconds a throttled user or address must wait.", minimum=1, maximum=86400
    )
    agent_key: str = key(
        "",
        "temBoard agent key: a request carrying it (X-TemBoard-Agent-Key header or ?key=) "
        "may read /activity, /activity/waiting and /activity/blocking without a session, "
        "as temboard-agent 7.x allows; kill and cancel always need one. Empty: off.",
    )


@dataclass(frozen=True, slots=True)
class AuditConfig:
    file: Path = key(Path("audit.jsonl"), "Append-only JSON-lines log of every kill and cancel.")


@dataclass(frozen=True, slots=True)
class GuardsConfig:
    protected_roles: tuple[str, ...] = key(
        (), "Roles whose backends are never killed or cancelled."
    )
    protected_databases: tuple[str, ...] = key(
        (), "Databases whose backends are never killed or cancelled."
    )


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    enabled: bool = key(False, "Serve GET /metrics in the Prometheus text format.")
    token: str = key("", "Bearer token /metrics requires; empty means no token.")


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    postgresql: PostgresConfig = field(default_factory=PostgresConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    guards: GuardsConfig = field(default_factory=GuardsConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    source: Path | None = None


SECTIONS: dict[str, type[Any]] = {
    name: hint for name, hint in get_type_hints(Config).items() if name != "source"
}


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the file (if any), apply environment overrides, validate every key."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    where = str(path) if path else "(no configuration file)"
    if path is not None:
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: file not found") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    base = path.resolve().parent if path else Path.cwd()
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{where}: [{unknown[0]}]: unknown section")
    sections = {
        name: _load_section(name, cls, data.get(name, {}), environ, where, base)
        for name, cls in SECTIONS.items()
    }
    config = Config(**sections, source=path)
    _check_tls(config, where)
    _check_proxies(config, where)
    return config


def _load_section(
    name: str,
    cls: type[Any],
    table: Any,
    environ: Mapping[str, str],
    where: str,
    base: Path,
) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{name}]: must be a table")
    unknown = sorted(set(table) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ConfigError(f"{where}: [{name}] {unknown[0]}: unknown key")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        env_name = f"{ENV_PREFIX}{name.upper()}_{f.name.upper()}"
        libpq_env = f.metadata.get("libpq_env")
        if env_name in environ:
            raw, origin, from_env = environ[env_name], env_name, True
        elif f.name in table and not (libpq_env and table[f.name] == "" and environ.get(libpq_env)):
            raw, origin, from_env = table[f.name], f"{where}: [{name}] {f.name}", False
        elif libpq_env and environ.get(libpq_env):
            raw, origin, from_env = environ[libpq_env], libpq_env, True
        else:
            default = f.default
            if isinstance(default, Path) and not default.is_absolute():
                values[f.name] = base / default  # relative to the file, as given ones
            continue
        value = _coerce(raw, hints[f.name], from_env, origin)
        _check_bounds(value, f.metadata, origin)
        if isinstance(value, Path) and not value.is_absolute():
            value = base / value
        values[f.name] = value
    return cls(**values)


def _coerce(raw: Any, hint: Any, from_env: bool, origin: str) -> Any:
    """Turn a TOML value (or an environment string) into the field's type."""
    target = hint
    nullable = False
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        nullable = len(args) < len(get_args(hint))
        target = args[0]
    if nullable and raw == "":
        return None
    try:
        if target is bool:
            if from_env and isinstance(raw, str):
                lowered = raw.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off", ""):
                    return False
            if isinstance(raw, bool):
                return raw
            raise TypeError
        if target is int:
            if from_env and isinstance(raw, str):
                return int(raw.strip())
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            raise TypeError
        if target is float:
            if from_env and isinstance(raw, str):
                return float(raw.strip())
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return float(raw)
            raise TypeError
        if target is str:
            if isinstance(raw, str):
                return raw
            raise TypeError
        if target is Path:
            if isinstance(raw, str) and raw:
                return Path(raw)
            raise TypeError
        if get_origin(target) is tuple:
            if from_env and isinstance(raw, str):
                return tuple(item.strip() for item in raw.split(",") if item.strip())
            if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
                return tuple(raw)
            raise TypeError
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"{origin}: must be {_describe(target)}")


def _describe(target: Any) -> str:
    if target is bool:
        return "true or false"
    if target is int:
        return "an integer"
    if target is float:
        return "a number"
    if target is Path:
        return "a non-empty path"
    if get_origin(target) is tuple:
        return "a list of strings"
    return "a string"


def _check_bounds(value: Any, meta: Mapping[str, Any], origin: str) -> None:
    minimum, maximum, choices = meta.get("minimum"), meta.get("maximum"), meta.get("choices")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if minimum is not None and value < minimum:
            raise ConfigError(f"{origin}: must be at least {minimum:g}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{origin}: must be at most {maximum:g}")
    if choices is not None and value not in choices:
        raise ConfigError(f"{origin}: must be one of {', '.join(choices)}")


def documented_keys() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, doc) for every key, for the configuration reference."""
    rows = []
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            default = f.default_factory() if callable(f.default_factory) else f.default
            rows.append((name, f.name, default, f.metadata["doc"]))
    return rows


def _check_tls(config: Config, where: str) -> None:
    """tls_cert and tls_key go together and must exist."""
    server = config.server
    if bool(server.tls_cert) != bool(server.tls_key):
        missing = "tls_key" if server.tls_cert else "tls_cert"
        raise ConfigError(f"{where}: [server] {missing}: must be set with the other TLS key")
    for name, value in (("tls_cert", server.tls_cert), ("tls_key", server.tls_key)):
        if value is not None and not value.is_file():
            raise ConfigError(f"{where}: [server] {name}: file not found: {value}")


def _check_proxies(config: Config, where: str) -> None:
    """Each trusted proxy is an IP address or a network."""
    for entry in config.server.trusted_proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                f"{where}: [server] trusted_proxies: not an IP address or network: {entry!r}"
            ) from None
