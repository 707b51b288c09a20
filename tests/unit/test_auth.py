from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pgwarden.auth import sessions as sessions_module
from pgwarden.auth.login import Authenticator
from pgwarden.auth.sessions import LoginThrottle, SessionStore
from pgwarden.auth.users import (
    Role,
    User,
    UsersFileError,
    UserStore,
    credential,
    hash_password,
    parse_users,
    read_users,
    verify_password,
    write_users,
)
from pgwarden.config import AuthConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("pgwarden.auth.sessions.time.monotonic", fake)
    return fake


def test_password_hashing_round_trip() -> None:
    user = User("ann", Role.ADMIN, hash_password("correct horse"))
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user, "correct horse")
    assert not verify_password(user, "correct horsE")
    assert not verify_password(None, "correct horse")
    assert not verify_password(User("x", Role.ADMIN, "not-a-hash"), "x")


def test_users_file_is_written_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "users"
    users = {
        "ann": User("ann", Role.ADMIN, hash_password("a")),
        "bo": User("bo", Role.VIEWER, hash_password("b")),
    }
    write_users(path, users)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_users(path) == users
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left


def test_a_users_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users"
    write_users(path, {})
    path.chmod(0o640)
    with pytest.raises(UsersFileError, match="chmod 600"):
        read_users(path)


def test_a_missing_users_file_means_no_users(tmp_path: Path) -> None:
    assert read_users(tmp_path / "none") == {}


@pytest.mark.parametrize("line", ["ann:root:hash", "ann:admin", "a b:admin:hash", ":admin:h"])
def test_bad_lines_are_reported_with_their_number(line: str) -> None:
    with pytest.raises(UsersFileError, match=r"users:2: expected"):
        parse_users(f"# comment\n{line}\n", "users")


@pytest.mark.parametrize("name", ["bob\n", "bob\nx", "bo:b", "", "x" * 65, "bob "])
def test_a_name_the_agent_would_refuse_is_never_written(tmp_path: Path, name: str) -> None:
    path = tmp_path / "users"
    write_users(path, {"ann": User("ann", Role.ADMIN, hash_password("pw"))})
    before = path.read_text()
    with pytest.raises(UsersFileError, match="not written"):
        write_users(path, {name: User(name, Role.ADMIN, hash_password("pw"))})
    assert path.read_text() == before
    assert list(read_users(path)) == ["ann"]
    with pytest.raises(UsersFileError):
        parse_users(f"{name}:admin:$argon2id$x\n", "users")


def test_user_store_rereads_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "users"
    store = UserStore(path)
    assert store.get("ann") is None
    write_users(path, {"ann": User("ann", Role.VIEWER, "h")})
    found = store.get("ann")
    assert found is not None and found.role is Role.VIEWER


def test_a_session_ends_when_its_users_role_or_password_changes(tmp_path: Path) -> None:
    path = tmp_path / "users"
    ann = User("ann", Role.ADMIN, hash_password("pw"))
    bo = User("bo", Role.VIEWER, hash_password("pw"))
    write_users(path, {"ann": ann, "bo": bo})
    auth = Authenticator(AuthConfig(users_file=path))
    ann_token = auth.sessions.create("ann", ann.role, credential(ann))
    bo_token = auth.sessions.create("bo", bo.role, credential(bo))
    write_users(path, {"ann": User("ann", Role.VIEWER, ann.password_hash), "bo": bo})
    assert auth.session(ann_token) is None  # demoted: the same hash, another role
    assert auth.session(bo_token) is not None
    write_users(path, {"bo": User("bo", Role.VIEWER, hash_password("pw"))})
    assert auth.session(bo_token) is None  # a new hash, even of the same password


def test_sessions_are_random_and_slide(clock: Clock) -> None:
    store = SessionStore(ttl=60)
    token = store.create("ann", Role.ADMIN, b"fingerprint")
    assert len(token) == 64 and token != store.create("ann", Role.ADMIN, b"fingerprint")
    clock.now += 50
    assert store.lookup(token) is not None  # used: expiry pushed back
    clock.now += 50
    assert store.lookup(token) is not None
    clock.now += 61
    assert store.lookup(token) is None
    assert store.lookup("0" * 64) is None


def test_sessions_can_be_dropped(clock: Clock) -> None:
    store = SessionStore(ttl=60)
    first, second = (
        store.create("ann", Role.ADMIN, b"fingerprint"),
        store.create("bo", Role.VIEWER, b"fingerprint"),
    )
    store.drop(first)
    assert store.lookup(first) is None
    assert store.lookup(second) is not None  # only the dropped one ends


def test_sessions_per_user_are_bounded(clock: Clock) -> None:
    store = SessionStore(ttl=60)
    tokens = [
        store.create("ann", Role.ADMIN, b"fingerprint")
        for _ in range(sessions_module.MAX_SESSIONS_PER_USER + 5)
    ]
    assert len(store) == sessions_module.MAX_SESSIONS_PER_USER
    assert store.lookup(tokens[0]) is None
    assert store.lookup(tokens[-1]) is not None


def test_the_store_keeps_no_token(clock: Clock) -> None:
    store = SessionStore(ttl=60)
    token = store.create("ann", Role.ADMIN, b"fingerprint")
    assert token not in repr(store._sessions)
    assert token.encode() not in b"".join(store._sessions)


def test_throttle_locks_out_after_repeated_failures(clock: Clock) -> None:
    throttle = LoginThrottle(max_failures=3, lockout=60)
    for _ in range(2):
        throttle.attempt("ann")
        assert throttle.retry_after("ann") is None
    throttle.attempt("ann")
    assert throttle.retry_after("ann") == pytest.approx(60)
    clock.now += 30
    assert throttle.retry_after("ann") == pytest.approx(30)
    assert throttle.retry_after("bo") is None
    clock.now += 31
    assert throttle.retry_after("ann") is None


def test_throttle_forgets_after_success(clock: Clock) -> None:
    throttle = LoginThrottle(max_failures=2, lockout=60)
    throttle.attempt("ann")
    throttle.succeeded("ann")
    throttle.attempt("ann")
    assert throttle.retry_after("ann") is None


def test_a_forgiven_attempt_no_longer_counts(clock: Clock) -> None:
    throttle = LoginThrottle(max_failures=2, lockout=60)
    throttle.attempt("10.0.0.1")
    clock.now += 1
    stamp = throttle.attempt("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == pytest.approx(60)  # in flight: counted
    throttle.forgive("10.0.0.1", stamp)
    assert throttle.retry_after("10.0.0.1") is None
    throttle.forgive("10.0.0.1", stamp)  # twice is harmless
    throttle.attempt("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == pytest.approx(60)


def test_throttle_table_is_bounded(clock: Clock) -> None:
    throttle = LoginThrottle(max_failures=2, lockout=60)
    for n in range(LoginThrottle.MAX_KEYS + 10):
        throttle.attempt(f"addr{n}")
    assert len(throttle._failures) == LoginThrottle.MAX_KEYS
