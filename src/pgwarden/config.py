"""Configuration: TOML file, then `PGWARDEN_<SECTION>_<KEY>` overrides, then libpq's `PG*`.

Each section is a frozen pydantic model; every key is declared once with `key()` (default,
doc text, bounds, libpq variable), so validation, its messages and the configuration
reference share one source. To add a key, add one line to its section:

    retention_days: int = key(7, "Days of history kept.", ge=1, le=365)

Types: `int`, `float` (never NaN or infinite), `bool`, `str`, `tuple[str, ...]` (a TOML
list, or a comma-separated environment value), `NonEmptyPath`, `OptionalPath` (empty means
unset), `Literal["a", "b"]` for a choice. A new section is a `Section` subclass plus one
field of `Config`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)
from pydantic.fields import FieldInfo

ENV_PREFIX = "PGWARDEN_"


class ConfigError(Exception):
    """A configuration value that cannot be used; the message names the file and the key."""


def key(
    default: Any,
    doc: str,
    *,
    ge: float | None = None,
    le: float | None = None,
    libpq_env: str | None = None,
) -> Any:
    """Declare a configuration key: its default, its doc text, its bounds, its libpq variable."""
    extra: dict[str, Any] = {"allow_inf_nan": False} if isinstance(default, float) else {}
    return Field(
        tuple(default) if isinstance(default, list) else default,
        description=doc,
        ge=ge,
        le=le,
        json_schema_extra={"libpq_env": libpq_env} if libpq_env else None,
        **extra,
    )


def _refuse_empty(value: Any) -> Any:
    if value == "":
        raise ValueError("must be a non-empty path")
    return value


NonEmptyPath = Annotated[Path, BeforeValidator(_refuse_empty)]
# An empty string means "not set", as for libpq's own options.
OptionalPath = Annotated[Path | None, BeforeValidator(lambda v: None if v == "" else v)]


def _ip_or_network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or network: {value!r}") from None
    return value


# An address ("10.0.0.5") or a network ("10.0.0.0/24"), as [server] trusted_proxies lists them.
IpOrNetwork = Annotated[str, AfterValidator(_ip_or_network)]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerConfig(Section):
    address: str = key("127.0.0.1", "Address to listen on; the default serves loopback only.")
    port: int = key(2345, "TCP port to listen on.", ge=1, le=65535)
    tls_cert: OptionalPath = key(None, "PEM certificate file; HTTPS when set with tls_key.")
    tls_key: OptionalPath = key(None, "PEM private key file for tls_cert.")
    max_body_bytes: int = key(
        65536, "Largest request body accepted; larger gets 413.", ge=1024, le=16 << 20
    )
    access_log: bool = key(False, "Log one line per request (never headers or bodies).")
    trusted_proxies: tuple[IpOrNetwork, ...] = key(
        (),
        "Addresses or networks (CIDR) of reverse proxies and of the temBoard UI. Only from "
        "them is X-Forwarded-For believed: the client is its right-most address that is not "
        "itself trusted, for login throttling and the audit log. A trusted peer that sends "
        "none speaks for many users: its failed logins count against each user name only.",
    )


class PostgresConfig(Section):
    host: str = key("/var/run/postgresql", "Server host or unix socket folder.", libpq_env="PGHOST")
    port: int = key(5432, "Server port.", ge=1, le=65535, libpq_env="PGPORT")
    user: str = key("postgres", "Role the agent connects as.", libpq_env="PGUSER")
    password: str = key(
        "", "Password; empty means PGPASSWORD or ~/.pgpass.", libpq_env="PGPASSWORD"
    )
    dbname: str = key("postgres", "Database the agent connects to.", libpq_env="PGDATABASE")
    connect_timeout: float = key(
        5.0,
        "Seconds to wait for a connection before answering 503.",
        ge=1,
        le=60,
        libpq_env="PGCONNECT_TIMEOUT",
    )
    statement_timeout: float = key(
        5.0,
        "Seconds any agent query may run before PostgreSQL cancels it.",
        ge=0.1,
        le=300,
    )
    lock_timeout: float = key(
        1.0,
        "Seconds an agent query may wait for a lock, so it never joins a pile-up.",
        ge=0.01,
        le=60,
    )


class SamplerConfig(Section):
    interval: float = key(
        1.0,
        "Seconds between the snapshots pushed to stream viewers and the history recorder "
        "(taken only while one of them listens).",
        ge=0.1,
        le=60,
    )


class AuthConfig(Section):
    users_file: NonEmptyPath = key(Path("users"), "Users file written by `pgwarden user add`.")
    session_ttl: int = key(
        3600,
        "Seconds a session lives without use (sliding expiry).",
        ge=60,
        le=7 * 86400,
    )
    max_failures: int = key(5, "Failed logins for one user or address before 429.", ge=1, le=1000)
    lockout_seconds: int = key(60, "Seconds a throttled user or address must wait.", ge=1, le=86400)
    agent_key: str = key(
        "",
        "temBoard agent key: a request carrying it (X-TemBoard-Agent-Key header or ?key=) "
        "may read /activity, /activity/waiting and /activity/blocking without a session, "
        "as temboard-agent 7.x allows; kill and cancel always need one. Empty: off.",
    )


class AuditConfig(Section):
    file: NonEmptyPath = key(
        Path("audit.jsonl"), "Append-only JSON-lines log of every kill and cancel."
    )


class GuardsConfig(Section):
    protected_roles: tuple[str, ...] = key(
        (), "Roles whose backends are never killed or cancelled."
    )
    protected_databases: tuple[str, ...] = key(
        (), "Databases whose backends are never killed or cancelled."
    )


class MetricsConfig(Section):
    enabled: bool = key(False, "Serve GET /metrics in the Prometheus text format.")
    token: str = key("", "Bearer token /metrics requires; empty means no token.")


class HistoryConfig(Section):
    enabled: bool = key(
        True, "Record every backend that is not idle, and every blocker, for incident replay."
    )
    interval: float = key(
        1.0,
        "Seconds between two samples kept in the history; at least [sampler] interval, whose "
        "ticks it keeps.",
        ge=0.1,
        le=60,
    )
    path: NonEmptyPath = key(
        Path("history.sqlite3"), "SQLite file of the history (`pgwarden history` reads it too)."
    )
    keep: int = key(7 * 86400, "Seconds of raw samples kept (whole hours are dropped).", ge=3600)
    keep_rollups: int = key(
        90 * 86400, "Seconds of per-minute rollups kept (whole days are dropped).", ge=86400
    )
    max_bytes: int = key(
        1 << 30,
        "Hard size cap of the history file; the oldest hours of raw samples go first.",
        ge=1 << 20,
    )


class Config(Section):
    server: ServerConfig = ServerConfig()
    postgresql: PostgresConfig = PostgresConfig()
    sampler: SamplerConfig = SamplerConfig()
    auth: AuthConfig = AuthConfig()
    audit: AuditConfig = AuditConfig()
    guards: GuardsConfig = GuardsConfig()
    metrics: MetricsConfig = MetricsConfig()
    history: HistoryConfig = HistoryConfig()
    source: Path | None = Field(default=None, exclude=True)  # the file it was read from


# Every field of Config but source is a section.
SECTIONS: dict[str, type[Section]] = {
    name: info.annotation  # type: ignore[misc]
    for name, info in Config.model_fields.items()
    if name != "source"
}


def libpq_variable(info: FieldInfo) -> str | None:
    """The libpq environment variable a key falls back to, if any."""
    extra = info.json_schema_extra
    return extra.get("libpq_env") if isinstance(extra, dict) else None  # type: ignore[return-value]


def bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    """(at least, at most) of a key, None where unbounded."""
    low = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in info.metadata if hasattr(m, "le")), None)
    return low, high


def choices(info: FieldInfo) -> tuple[str, ...]:
    """The allowed values of a `Literal[...]` key; empty for any other key."""
    if str(get_origin(info.annotation)) == "typing.Literal":
        return tuple(str(c) for c in get_args(info.annotation))
    return ()


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
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{where}: [{unknown[0]}]: unknown section")
    origins = _apply_environment(data, environ)
    try:
        # JSON mode, strictly: a TOML string is a path but never a number or a boolean.
        config = Config.model_validate_json(json.dumps(data, default=_unsupported), strict=True)
    except ValidationError as exc:
        raise ConfigError(_message(exc.errors()[0], where, origins)) from None
    base = path.resolve().parent if path else Path.cwd()
    config = _relative_to(config, base).model_copy(update={"source": path})
    _check_tls(config, where)
    return config


def _apply_environment(
    data: dict[str, Any], environ: Mapping[str, str]
) -> dict[tuple[str, str], str]:
    """Put environment values into `data` (parsed by pydantic); say which key came from where."""
    origins: dict[tuple[str, str], str] = {}
    for section, cls in SECTIONS.items():
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            continue  # validation says it must be a table
        for name, info in cls.model_fields.items():
            env_name = f"{ENV_PREFIX}{section.upper()}_{name.upper()}"
            libpq_env = libpq_variable(info)
            if env_name in environ:
                raw = environ[env_name]
            elif libpq_env and environ.get(libpq_env) and table.get(name, "") == "":
                env_name, raw = libpq_env, environ[libpq_env]
            else:
                continue
            origins[(section, name)] = env_name
            table[name] = _from_environment(raw, info, env_name)
    return origins


def _from_environment(raw: str, info: FieldInfo, env_name: str) -> Any:
    """An environment string as the JSON value of the key (lists are comma-separated)."""
    if get_origin(info.annotation) is tuple:
        return [item.strip() for item in raw.split(",") if item.strip()]
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(Annotated[info.annotation, info])  # type: ignore[arg-type]
        value = adapter.validate_strings(raw.strip())
    except ValidationError as exc:
        raise ConfigError(_message(exc.errors()[0], env_name, {})) from None
    return adapter.dump_python(value, mode="json")


def _unsupported(value: Any) -> Any:
    """TOML dates and times fit no key: give validation something every type refuses."""
    return {"unsupported TOML value": str(value)}


# Pydantic's error types, said the way the rest of the agent's messages are.
_WORDING = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "tuple_type": "must be a list of strings",
    "model_type": "must be a table",
    "extra_forbidden": "unknown key",
}


def _message(error: Mapping[str, Any], where: str, origins: Mapping[tuple[str, str], str]) -> str:
    """One line: the file and key (or the environment variable), then what is wrong."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "greater_than_equal":
        what = f"must be at least {ctx['ge']:g}"
    elif kind == "less_than_equal":
        what = f"must be at most {ctx['le']:g}"
    elif kind == "value_error":
        what = str(ctx["error"])
    else:
        what = _WORDING.get(kind) or error["msg"][:1].lower() + error["msg"][1:]
    loc = [str(part) for part in error["loc"]]
    if not loc:  # one environment value, validated alone
        return f"{where}: {what}"
    if len(loc) == 1:
        return f"{where}: [{loc[0]}]: {what}"
    section, name = loc[0], loc[1]
    origin = origins.get((section, name)) or f"{where}: [{section}] {name}"
    if kind == "string_type" and len(loc) > 2:
        what = "must be a list of strings"
    return f"{origin}: {what}"


def _relative_to(config: Config, base: Path) -> Config:
    """Relative paths, given or default, are relative to the configuration file's folder."""
    updates = {}
    for section in SECTIONS:
        model = getattr(config, section)
        paths = {
            name: base / value
            for name, value in model
            if isinstance(value, Path) and not value.is_absolute()
        }
        if paths:
            updates[section] = model.model_copy(update=paths)
    return config.model_copy(update=updates)


def documented_keys() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, doc) for every key, for the configuration reference."""
    return [
        (section, name, info.default, info.description or "")
        for section, cls in SECTIONS.items()
        for name, info in cls.model_fields.items()
    ]


def _check_tls(config: Config, where: str) -> None:
    """tls_cert and tls_key go together and must exist."""
    server = config.server
    if bool(server.tls_cert) != bool(server.tls_key):
        missing = "tls_key" if server.tls_cert else "tls_cert"
        raise ConfigError(f"{where}: [server] {missing}: must be set with the other TLS key")
    for name, value in (("tls_cert", server.tls_cert), ("tls_key", server.tls_key)):
        if value is not None and not value.is_file():
            raise ConfigError(f"{where}: [server] {name}: file not found: {value}")
