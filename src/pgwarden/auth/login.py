"""Logging in: throttle, constant-time password check off the event loop, new session."""

from __future__ import annotations

import asyncio
import hmac

from pgwarden.auth.sessions import LoginThrottle, Session, SessionStore
from pgwarden.auth.users import UserStore, credential, verify_password
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
        user = self.users.get(username)
        # Checked and counted with no await in between: parallel guesses see each other.
        waits = [self._by_name.retry_after(username)]
        if address is not None:
            waits.append(self._by_address.retry_after(address))
        known = [w for w in waits if w is not None]
        if known:
            raise LoginThrottled(max(known))
        self._by_name.attempt(username)
        from_address = self._by_address.attempt(address) if address is not None else None
        async with self._checks:
            valid = await asyncio.to_thread(verify_password, user, password)
        if not valid or user is None:
            raise LoginRefused  # the attempts stay counted as failures
        self._by_name.succeeded(username)
        if address is not None and from_address is not None:
            self._by_address.forgive(address, from_address)
        return self.sessions.create(user.name, user.role, credential(user))

    def session(self, token: str) -> Session | None:
        session = self.sessions.lookup(token)
        if session is None:
            return None
        # A user deleted, given a new password or another role since login loses the session.
        user = self.users.get(session.username)
        if user is None or not hmac.compare_digest(session.credential, credential(user)):
            self.sessions.drop(token)
            return None
        return session
