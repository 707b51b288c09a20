"""Logging in: throttle, constant-time password check off the event loop, new session."""

from __future__ import annotations

import asyncio

from pgwarden.auth.sessions import LoginThrottle, Session, SessionStore
from pgwarden.auth.users import UserStore, verify_password
from pgwarden.config import AuthConfig

# Many clients share one address behind a proxy: allow an address more failures than a name.
ADDRESS_ALLOWANCE = 4
# argon2 checks are CPU-heavy: at most this many at once, so a login flood cannot starve the host.
CONCURRENT_CHECKS = 2


class LoginRefused(Exception):
    """Unknown user or wrong password: the caller cannot tell which."""


class LoginThrottled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("Too many failed logins.")
        self.retry_after = retry_after


class Authenticator:
    def __init__(self, config: AuthConfig) -> None:
        self.users = UserStore(config.users_file)
        self.sessions = SessionStore(config.session_ttl)
        self._by_name = LoginThrottle(config.max_failures, config.lockout_seconds)
        self._by_address = LoginThrottle(
            config.max_failures * ADDRESS_ALLOWANCE, config.lockout_seconds
        )
        self._checks = asyncio.Semaphore(CONCURRENT_CHECKS)

    async def login(self, username: str, password: str, address: str | None) -> str:
        """A new session token, or LoginRefused / LoginThrottled.

        `address` None: a trusted proxy that named no client; only the name is counted.
        """
        waits = [self._by_name.retry_after(username)]
        if address is not None:
            waits.append(self._by_address.retry_after(address))
        known = [w for w in waits if w is not None]
        if known:
            raise LoginThrottled(max(known))
        user = self.users.get(username)
        async with self._checks:
            valid = await asyncio.to_thread(verify_password, user, password)
        if not valid or user is None:
            self._by_name.failed(username)
            if address is not None:
                self._by_address.failed(address)
            raise LoginRefused
        self._by_name.succeeded(username)
        return self.sessions.create(user.name, user.role)

    def session(self, token: str) -> Session | None:
        session = self.sessions.lookup(token)
        if session is None:
            return None
        # A user deleted or demoted since login loses the session or the right at once.
        user = self.users.get(session.username)
        if user is None:
            self.sessions.drop(token)
            return None
        session.role = user.role
        return session
