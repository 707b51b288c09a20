"""Command line: argv → configuration → serve, user management or demo. Thin by design."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pgwarden import __version__
from pgwarden.auth.users import (
    MAX_PASSWORD_LENGTH,
    USERNAME_RULE,
    Role,
    User,
    UsersFileError,
    hash_password,
    read_users,
    valid_username,
    write_users,
)
from pgwarden.config import Config, ConfigError, load_config

EXIT_USAGE = 2


def _config(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("PGWARDEN_CONFIG")
    return load_config(Path(path) if path else None)


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from pgwarden.server import serve

    config = _config(args)
    read_users(config.auth.users_file)  # refuse a readable-by-others file before listening
    configure_logging()
    serve(config)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise UsersFileError("passwords do not match")
    if not password:
        raise UsersFileError("empty password refused")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UsersFileError(f"password longer than {MAX_PASSWORD_LENGTH} characters")
    return password


def cmd_user_add(args: argparse.Namespace) -> int:
    path = _config(args).auth.users_file
    if not valid_username(args.name):
        raise UsersFileError(USERNAME_RULE)
    users = read_users(path)
    if args.name in users:
        raise UsersFileError(f"user {args.name} exists; use `pgwarden user passwd` or `delete`")
    users[args.name] = User(args.name, Role(args.role), hash_password(_read_password(args)))
    write_users(path, users)
    print(f"user {args.name} ({args.role}) added to {path}")
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    path = _config(args).auth.users_file
    users = read_users(path)
    user = users.get(args.name)
    if user is None:
        raise UsersFileError(f"no user {args.name} in {path}")
    role = Role(args.role) if args.role else user.role
    users[args.name] = User(user.name, role, hash_password(_read_password(args)))
    write_users(path, users)
    print(
        f"password of {args.name} changed; a running agent ends its open sessions at their next use"
    )
    return 0


def cmd_user_delete(args: argparse.Namespace) -> int:
    path = _config(args).auth.users_file
    users = read_users(path)
    if users.pop(args.name, None) is None:
        raise UsersFileError(f"no user {args.name} in {path}")
    write_users(path, users)
    print(f"user {args.name} deleted; a running agent drops its sessions at their next use")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    for user in read_users(_config(args).auth.users_file).values():
        print(f"{user.name}\t{user.role}")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """The sessions and the blocking tree at a time, read from the store: no agent needed."""
    import time

    from pgwarden.history.reading import BadTime, History, NoSample, parse_time
    from pgwarden.history.report import report
    from pgwarden.history.store import SQLiteStore, StoreError
    from pgwarden.services import history_interval

    config = _config(args)
    try:
        at = parse_time(args.at)
    except BadTime:
        raise ConfigError(
            f"--at {args.at!r}: not a time (ISO 8601 with an offset or Z, or Unix seconds)"
        ) from None
    store = SQLiteStore(config.history.path, history_interval(config))
    try:
        tick = History(store, store.interval).tick_at(at, time.time())
    except (NoSample, StoreError) as exc:
        print(f"pgwarden: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print("\n".join(report(tick, at)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pgwarden.demo import run_demo

    configure_logging()
    return run_demo(tls=args.tls)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgwarden", description="Live activity of every PostgreSQL backend, over HTTP."
    )
    parser.add_argument("--version", action="version", version=f"pgwarden {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    config_help = "TOML configuration file (default: $PGWARDEN_CONFIG, else none)"

    serve = commands.add_parser("serve", help="run the agent")
    serve.add_argument("-c", "--config", help=config_help)
    serve.set_defaults(func=cmd_serve)

    history = commands.add_parser(
        "history", help="print the sessions and the blocking tree at a past time"
    )
    history.add_argument(
        "--at",
        required=True,
        help="ISO 8601 with an offset or Z (2026-12-01T03:12:07Z), or Unix seconds",
    )
    history.add_argument("-c", "--config", help=config_help)
    history.set_defaults(func=cmd_history)

    demo = commands.add_parser("demo", help="run the agent on a throwaway PostgreSQL cluster")
    demo.add_argument("--tls", action="store_true", help="serve HTTPS, self-signed")
    demo.set_defaults(func=cmd_demo)

    user = commands.add_parser("user", help="manage the users file")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    for name, func, text in (
        ("add", cmd_user_add, "add a user"),
        ("passwd", cmd_user_passwd, "change a user's password (and role)"),
        ("delete", cmd_user_delete, "delete a user"),
        ("list", cmd_user_list, "list users and roles"),
    ):
        sub = user_commands.add_parser(name, help=text)
        sub.add_argument("-c", "--config", help=config_help)
        sub.set_defaults(func=func)
        if name == "list":
            continue
        sub.add_argument("name")
        if name == "delete":
            continue
        sub.add_argument(
            "--role", choices=[r.value for r in Role], default="admin" if name == "add" else None
        )
        sub.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = int(args.func(args))
    except (ConfigError, UsersFileError) as exc:
        print(f"pgwarden: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return result
