"""Terminating and cancelling backends: guards first, PostgreSQL's own functions only, and an
audit entry for every request before anything is done and for every result after.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pgwarden.audit import AuditLog, AuditUnavailable
from pgwarden.config import GuardsConfig
from pgwarden.db.database import Database, PermissionDenied
from pgwarden.db.encodings import decode_query

log = logging.getLogger(__name__)

# pg_stat_activity.pid is a PostgreSQL integer: anything else cannot be a backend.
PID_RANGE = range(1, 2**31)


class Action(StrEnum):
    TERMINATE = "terminate"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: the logged-in user and the client address."""

    username: str
    address: str


@dataclass(frozen=True, slots=True)
class Target:
    pid: int
    backend_type: str | None
    user: str | None
    database: str | None
    application: str | None
    query: str | None

    def describe(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "database": self.database,
            "application": self.application,
            "query": self.query,
            "backend_type": self.backend_type,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    pid: int
    done: bool
    reason: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Actions:
    def __init__(self, db: Database, audit: AuditLog, guards: GuardsConfig) -> None:
        self._db = db
        self._audit = audit
        self._guards = guards

    def _refusal(self, pid: int, target: Target | None) -> str | None:
        """Why this pid may not be signalled, or None when it may."""
        if pid not in PID_RANGE or target is None:
            return "not a backend of this cluster"
        if pid in self._db.own_pids:
            return "the agent's own connection"
        if target.backend_type is None:
            return "hidden from the agent's role (it needs pg_monitor)"
        if target.backend_type != "client backend":
            return f"not a client backend ({target.backend_type})"
        if target.user in self._guards.protected_roles:
            return f"protected role {target.user}"
        if target.database in self._guards.protected_databases:
            return f"protected database {target.database}"
        return None

    async def _targets(self, pids: list[int]) -> dict[int, Target]:
        in_range = sorted({pid for pid in pids if pid in PID_RANGE})
        if not in_range:
            return {}
        rows = await self._db.query(self._db.control, "targets", {"pids": in_range})
        return {
            row[0]: Target(row[0], row[1], row[2], row[3], row[4], decode_query(row[5], row[6]))
            for row in rows
        }

    async def _signal(self, action: Action, pid: int) -> Outcome:
        try:
            rows = await self._db.query(self._db.control, action.value, {"pid": pid})
        except PermissionDenied as exc:
            return Outcome(pid, False, f"permission denied: {exc}")
        if not rows:
            return Outcome(pid, False, "ended before the signal")
        return Outcome(pid, bool(rows[0][0]), None if rows[0][0] else "signal not delivered")

    async def perform(self, action: Action, pids: list[int], actor: Actor) -> list[Outcome]:
        """Signal each permitted pid once; outcomes in request order, duplicates included."""
        try:
            await self._record(action, actor, {"event": "request", "pids": pids})
        except AuditUnavailable as exc:
            raise AuditUnavailable(f"{exc}; nothing was done") from exc
        targets = await self._targets(pids)
        outcomes: dict[int, Outcome] = {}
        for pid in dict.fromkeys(pids):
            reason = self._refusal(pid, targets.get(pid))
            outcomes[pid] = (
                Outcome(pid, False, reason) if reason else await self._signal(action, pid)
            )
        try:
            await self._record_results(action, actor, outcomes, targets)
        except AuditUnavailable as exc:
            done = [pid for pid, outcome in outcomes.items() if outcome.done]
            raise AuditUnavailable(
                f"{exc}; the request was recorded and carried out (signalled: {done or 'none'}) "
                "but its results were not"
            ) from exc
        return [outcomes[pid] for pid in pids]

    async def refuse(self, action: Action, pids: list[int], actor: Actor, reason: str) -> None:
        """Record a request refused as a whole (a viewer's, say); nothing is done either way."""
        outcomes = {pid: Outcome(pid, False, reason) for pid in dict.fromkeys(pids)}
        try:
            await self._record_results(action, actor, outcomes, {})
        except AuditUnavailable as exc:
            log.error("refused %s by %s not recorded: %s", action.value, actor.username, exc)

    async def _record_results(
        self,
        action: Action,
        actor: Actor,
        outcomes: dict[int, Outcome],
        targets: dict[int, Target],
    ) -> None:
        entries = []
        for pid, outcome in outcomes.items():
            target = targets.get(pid)
            entries.append(
                {
                    "event": "result",
                    "pid": pid,
                    "result": outcome.done,
                    "reason": outcome.reason,
                    "target": target.describe() if target else None,
                }
            )
        await self._record(action, actor, *entries)

    async def _record(self, action: Action, actor: Actor, *entries: dict[str, Any]) -> None:
        stamp = {
            "time": _now(),
            "username": actor.username,
            "client": actor.address,
            "action": action.value,
        }
        await asyncio.to_thread(self._audit.append, [{**stamp, **e} for e in entries])

    def latest(self, limit: int) -> list[dict[str, Any]]:
        return self._audit.tail(limit)
