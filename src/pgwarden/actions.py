"""Terminating and cancelling backends: guards first, PostgreSQL's own functions only, and an
audit entry for every request before anything is done and for every result after.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pgwarden.audit import AuditLog, AuditUnavailable
from pgwarden.config import GuardsConfig
from pgwarden.db.database import Database, DatabaseUnavailable, PermissionDenied
from pgwarden.db.link import describe
from pgwarden.models import Target
from pgwarden.rows import signal_row

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
class Item:
    """One backend to act on: its pid and, when the client gives it, when it started."""

    pid: int
    backend_start: datetime | None = None

    def as_given(self) -> int | dict[str, Any]:
        if self.backend_start is None:
            return self.pid
        return {"pid": self.pid, "backend_start": self.backend_start.isoformat()}


@dataclass(frozen=True, slots=True)
class Outcome:
    pid: int
    done: bool
    reason: str | None = None


NOT_A_BACKEND = "not a backend of this cluster"
# An action signal.sql calls no function for: the statement reads its target, nothing more.
DESCRIBE_ONLY = "describe"


def refusal(
    item: Item, target: Target, own_pids: frozenset[int], guards: GuardsConfig
) -> str | None:
    """Why the guards refused this target: the reason, said in the order the SQL checks."""
    if target.backend_type is None:
        return "hidden from the agent's role (it needs pg_monitor)"
    if target.backend_type != "client backend":
        return f"not a client backend ({target.backend_type})"
    if item.pid in own_pids:
        return "the agent's own connection"
    if target.user in guards.protected_roles:
        return f"protected role {target.user}"
    if target.database in guards.protected_databases:
        return f"protected database {target.database}"
    if item.backend_start is not None and target.backend_start != item.backend_start:
        started = target.backend_start.isoformat() if target.backend_start else "unknown"
        return (
            f"another backend has this pid now: it started at {started}, "
            f"not {item.backend_start.isoformat()}"
        )
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Actions:
    def __init__(self, db: Database, audit: AuditLog, guards: GuardsConfig) -> None:
        self._db = db
        self._audit = audit
        self._guards = guards

    async def _signal(self, action: Action, item: Item) -> tuple[Outcome, Target | None]:
        """One statement: the guards and the signal together, for one backend."""
        if item.pid not in PID_RANGE:
            return Outcome(item.pid, False, NOT_A_BACKEND), None
        own_pids = self._db.own_pids
        params = {
            "action": action.value,
            "pid": item.pid,
            "backend_start": item.backend_start,
            "own_pids": sorted(own_pids),
            "protected_roles": list(self._guards.protected_roles),
            "protected_databases": list(self._guards.protected_databases),
        }
        try:
            rows = await self._db.fetch(self._db.control, "signal", signal_row, params)
        except PermissionDenied as exc:
            # The error undid the statement's row: read the target again, for the audit log.
            reading = {**params, "action": DESCRIBE_ONLY}
            found = await self._db.fetch(self._db.control, "signal", signal_row, reading)
            described = found[0][0] if found else None
            return Outcome(item.pid, False, f"permission denied: {exc}"), described
        if not rows:
            return Outcome(item.pid, False, NOT_A_BACKEND), None
        ((target, signalled),) = rows
        if signalled is None:
            reason = refusal(item, target, own_pids, self._guards) or "refused by the guards"
            return Outcome(item.pid, False, reason), target
        return Outcome(
            item.pid, bool(signalled), None if signalled else "signal not delivered"
        ), target

    async def perform(self, action: Action, items: list[Item], actor: Actor) -> list[Outcome]:
        """Signal each permitted backend once; outcomes in request order, duplicates included.

        Every backend gets its result line, whatever fails on the way: when PostgreSQL fails
        at one, the ones before keep their results, that one and the rest say why.
        """
        request_id = uuid.uuid4().hex
        given = [item.as_given() for item in items]
        try:
            await self._record(action, actor, request_id, {"event": "request", "pids": given})
        except AuditUnavailable as exc:
            raise AuditUnavailable(f"{exc}; nothing was done") from exc
        unique = list(dict.fromkeys(items))
        outcomes: dict[Item, Outcome] = {}
        targets: dict[Item, Target] = {}
        failure: BaseException | None = None
        try:
            for item in unique:
                outcomes[item], target = await self._signal(action, item)
                if target is not None:
                    targets[item] = target
        except BaseException as exc:  # recorded below, then raised again
            failure = exc
            self._unfinished(unique, outcomes, exc)
        try:
            await self._record_results(action, actor, request_id, outcomes, targets)
        except AuditUnavailable as exc:
            done = [item.pid for item, outcome in outcomes.items() if outcome.done]
            raise AuditUnavailable(
                f"{exc}; the request was recorded and carried out (signalled: {done or 'none'}) "
                "but its results were not"
            ) from exc
        if failure is not None:
            if not isinstance(failure, DatabaseUnavailable):
                raise failure
            if not any(outcome.done for outcome in outcomes.values()):
                raise DatabaseUnavailable(
                    f"{failure}; no backend is known to have been signalled "
                    f"(audit request {request_id})"
                ) from failure
            # Some were signalled: the answer says which, per backend, as for any refusal.
        return [outcomes[item] for item in items]

    @staticmethod
    def _unfinished(unique: list[Item], outcomes: dict[Item, Outcome], exc: BaseException) -> None:
        """Outcomes for the backend being signalled when exc struck, and for those after it."""
        why = describe(exc) if isinstance(exc, Exception) else type(exc).__name__
        pending = [item for item in unique if item not in outcomes]
        for n, item in enumerate(pending):
            reason = (
                f"not known to be done: PostgreSQL failed while signalling it: {why}"
                if n == 0
                else f"not done: PostgreSQL failed at pid {pending[0].pid} before: {why}"
            )
            outcomes[item] = Outcome(item.pid, False, reason)

    async def refuse(self, action: Action, items: list[Item], actor: Actor, reason: str) -> None:
        """Record a request refused as a whole (a viewer's, say); nothing is done either way."""
        outcomes = {item: Outcome(item.pid, False, reason) for item in dict.fromkeys(items)}
        try:
            await self._record_results(action, actor, uuid.uuid4().hex, outcomes, {})
        except AuditUnavailable as exc:
            log.error("refused %s by %s not recorded: %s", action.value, actor.username, exc)

    async def _record_results(
        self,
        action: Action,
        actor: Actor,
        request_id: str,
        outcomes: dict[Item, Outcome],
        targets: dict[Item, Target],
    ) -> None:
        entries = []
        for item, outcome in outcomes.items():
            target = targets.get(item)
            entry: dict[str, Any] = {
                "event": "result",
                "pid": item.pid,
                "result": outcome.done,
                "reason": outcome.reason,
                "target": target.describe() if target else None,
            }
            if item.backend_start is not None:
                entry["expected_backend_start"] = item.backend_start.isoformat()
            entries.append(entry)
        await self._record(action, actor, request_id, *entries)

    async def _record(
        self, action: Action, actor: Actor, request_id: str, *entries: dict[str, Any]
    ) -> None:
        stamp = {
            "time": _now(),
            "request_id": request_id,
            "username": actor.username,
            "client": actor.address,
            "action": action.value,
        }
        await asyncio.to_thread(self._audit.append, [{**stamp, **e} for e in entries])

    def latest(self, limit: int) -> list[dict[str, Any]]:
        return self._audit.tail(limit)
