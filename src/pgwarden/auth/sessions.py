"""Sessions and login throttling, in memory: a restart logs everyone out, as it should."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from pgwarden.auth.users import Role

TOKEN_BYTES = 32  # 256 bits, shown as 64 hex digits
MAX_SESSIONS_PER_USER = 100


@dataclass(slots=True)
class Session:
    username: str
    role: Role
    expires_at: float
    # The user's credential fingerprint at login: a changed password or role ends the session.
    credential: bytes


def _digest(token: str) -> bytes:
    # Sessions are found by a digest of the token: lookup timing says nothing of the token.
    return hashlib.sha256(token.encode()).digest()


class SessionStore:
    """Random tokens with sliding expiry; the store keeps only their digests."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._sessions: dict[bytes, Session] = {}

    def create(self, username: str, role: Role, credential: bytes) -> str:
        self._expire()
        mine = [k for k, s in self._sessions.items() if s.username == username]
        for stale in mine[: max(0, len(mine) - MAX_SESSIONS_PER_USER + 1)]:
            del self._sessions[stale]  # oldest first: dicts keep insertion order
        token = secrets.token_hex(TOKEN_BYTES)
        expires_at = time.monotonic() + self.ttl
        self._sessions[_digest(token)] = Session(username, role, expires_at, credential)
        return token

    def lookup(self, token: str) -> Session | None:
        """The live session for token, its expiry pushed back; None when unknown or expired."""
        key = _digest(token)
        session = self._sessions.get(key)
        now = time.monotonic()
        if session is None:
            return None
        if session.expires_at <= now:
            del self._sessions[key]
            return None
        session.expires_at = now + self.ttl
        return session

    def drop(self, token: str) -> None:
        self._sessions.pop(_digest(token), None)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]

    def __len__(self) -> int:
        return len(self._sessions)


class LoginThrottle:
    """Login attempts counted per username and per client address, in a bounded table.

    An attempt is counted when it starts (`attempt`), before any await: a burst of parallel
    guesses cannot all pass the check before the first one fails. After `max_failures`
    attempts within `lockout` seconds that name or address must wait until `lockout` seconds
    after the last one; an attempt that succeeds is taken back (`forgive`), and a success
    clears the username's count (`succeeded`).
    """

    MAX_KEYS = 10_000

    def __init__(self, max_failures: int, lockout: float) -> None:
        self.max_failures = max_failures
        self.lockout = lockout
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    def retry_after(self, key: str) -> float | None:
        """Seconds before this key may try again, or None."""
        now = time.monotonic()
        recent = self._recent(key, now)
        if len(recent) < self.max_failures:
            return None
        return recent[-1] + self.lockout - now

    def attempt(self, key: str) -> float:
        """Count an attempt that starts now (a failure until forgiven); its stamp."""
        now = time.monotonic()
        self._failures[key] = [*self._recent(key, now), now][-self.max_failures :]
        self._failures.move_to_end(key)
        while len(self._failures) > self.MAX_KEYS:
            self._failures.popitem(last=False)
        return now

    def forgive(self, key: str, stamp: float) -> None:
        """Take back one attempt that turned out to succeed."""
        stamps = self._failures.get(key)
        if stamps and stamp in stamps:
            stamps.remove(stamp)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> list[float]:
        return [t for t in self._failures.get(key, ()) if now - t < self.lockout]
