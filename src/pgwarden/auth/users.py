"""The users file: one `name:role:argon2-hash` line per user, private to the agent's OS user.

argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: time cost 3, 64 MiB,
parallelism 4): about 50 ms per check here, which also slows guessing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import argon2

# Matched whole (fullmatch): `$` alone would let "bob\n" through and break the file.
USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
USERNAME_RULE = "a user name is 1 to 64 of A-Z a-z 0-9 _ . @ -"
MAX_PASSWORD_LENGTH = 1024

_hasher = argon2.PasswordHasher()
# Checked when the user is unknown, so an unknown name costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("pgwarden: no such user")


class Role(StrEnum):
    ADMIN = "admin"
    VIEWER = "viewer"


class UsersFileError(Exception):
    """The users file cannot be used as it is; the message says what to do."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    password_hash: str


def credential(user: User) -> bytes:
    """A fingerprint of what a session was granted on: changes with the password or the role."""
    return hashlib.sha256(f"{user.role}:{user.password_hash}".encode()).digest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Constant-time check (argon2 compares digests with hmac.compare_digest)."""
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False
    return user is not None


def valid_username(name: str) -> bool:
    return USERNAME.fullmatch(name) is not None


def check_private(path: Path) -> None:
    """Refuse a users file that other OS users can read or write."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsersFileError(
            f"{path}: readable or writable by other users (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        )


def parse_users(text: str, origin: str) -> dict[str, User]:
    users: dict[str, User] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(":", 2)
        if len(parts) != 3 or not valid_username(parts[0]) or parts[1] not in set(Role):
            raise UsersFileError(f"{origin}:{number}: expected name:admin|viewer:hash")
        users[parts[0]] = User(parts[0], Role(parts[1]), parts[2].strip())
    return users


def read_users(path: Path) -> dict[str, User]:
    """All users; a missing file means none yet."""
    try:
        check_private(path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsersFileError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_users(text, str(path))


def write_users(path: Path, users: dict[str, User]) -> None:
    """Replace the file atomically, created private (0600) before any hash is written.

    The text is first read back with the agent's own parser: a file the agent would refuse
    is never written.
    """
    lines = "".join(f"{u.name}:{u.role}:{u.password_hash}\n" for u in users.values())
    try:
        unchanged = parse_users(lines, str(path)) == users
    except UsersFileError:
        unchanged = False
    if not unchanged:
        raise UsersFileError(f"{path}: not written: {USERNAME_RULE}, and a hash is one line")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("# pgwarden users: name:role:argon2 hash; edit with `pgwarden user`\n")
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class UserStore:
    """The users file, re-read when it changes, so `pgwarden user` needs no restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._users: dict[str, User] = {}
        self._signature: tuple[int, int, int] | None = None

    def get(self, name: str) -> User | None:
        self._refresh()
        return self._users.get(name)

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            signature = None
        if signature != self._signature:
            self._users = read_users(self.path)
            self._signature = signature
