"""One shared tick loop: while anyone listens, one snapshot per sampling interval, for all.

Stream viewers and the history recorder subscribe; however many they are, each interval
costs one snapshot, and each listener gets the same Tick object (views rendered from it
are cached on its snapshot, so they are serialised once too). A listener says which
backends it needs (models.Scope); a tick is as wide as its widest listener needs, so while
only the recorder listens, the snapshot leaves the resting backends out. When PostgreSQL
cannot be read, the tick carries the reason instead, so a recorder can record a gap.

    async with ticker.subscribe() as ticks:
        async for tick in ticks:
            if tick.snapshot is None:
                ...  # tick.error says why there is none this interval
            else:
                ...  # tick.snapshot, taken at tick.at

A listener that falls behind loses its oldest ticks, never blocks the loop or the others:
`Subscription.missed` counts them. A new listener gets the latest tick at once when there
is one, then every tick from the next on. The loop stops when the last listener leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

from pgwarden.db.database import DatabaseUnavailable
from pgwarden.models import Scope, Snapshot

log = logging.getLogger(__name__)

# Ticks a listener may have waiting before its oldest is dropped.
BACKLOG = 4


@dataclass(frozen=True, slots=True)
class Tick:
    """One sampling interval: its snapshot, or why there is none (`error`, one sentence)."""

    at: datetime
    snapshot: Snapshot | None
    error: str | None = None


class Subscription:
    """The ticks for one listener, as an async iterator; close it (or leave its `async with`)
    to unsubscribe."""

    def __init__(self, ticker: Ticker, scope: Scope) -> None:
        self._ticker = ticker
        self.scope = scope
        self._ticks: deque[Tick] = deque(maxlen=BACKLOG)
        self._ready = asyncio.Event()
        self.missed = 0
        self.closed = False

    def _deliver(self, tick: Tick) -> None:
        if len(self._ticks) == self._ticks.maxlen:
            self.missed += 1
        self._ticks.append(tick)
        self._ready.set()

    async def next(self) -> Tick:
        """The oldest tick not yet taken, waiting for one if need be."""
        while not self._ticks:
            if self.closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._ticks.popleft()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Tick:
        return await self.next()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._ready.set()
            self._ticker._leave(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class SnapshotSource(Protocol):
    """What the loop needs of the sampler."""

    async def snapshot(self, scope: Scope = Scope.EVERY_BACKEND) -> Snapshot: ...


@dataclass(slots=True)
class TickerStats:
    """The loop's own figures, for /metrics and the bench."""

    ticks: int = 0
    failures: int = 0


class Ticker:
    def __init__(self, sampler: SnapshotSource, interval: float) -> None:
        self._sampler = sampler
        self.interval = interval
        self._subscriptions: list[Subscription] = []
        self._loop: asyncio.Task[None] | None = None
        self._latest: Tick | None = None
        self.stats = TickerStats()

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, scope: Scope = Scope.EVERY_BACKEND) -> Subscription:
        """Listen from now on to snapshots of `scope` or wider; the loop starts with the
        first listener."""
        subscription = Subscription(self, scope)
        self._subscriptions.append(subscription)
        latest = self._latest
        if (
            latest is not None
            and (datetime.now(UTC) - latest.at).total_seconds() < self.interval
            and (latest.snapshot is None or latest.snapshot.scope.covers(scope))
        ):
            subscription._deliver(latest)
        if self._loop is None or self._loop.done():
            self._loop = asyncio.create_task(self._run())
        return subscription

    def _leave(self, subscription: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)
        if not self._subscriptions and self._loop is not None:
            self._loop.cancel()
            self._loop = None

    async def _run(self) -> None:
        due = time.monotonic()
        while self._subscriptions:
            tick = await self._tick()
            self._latest = tick
            for subscription in list(self._subscriptions):
                subscription._deliver(tick)
            due += self.interval
            now = time.monotonic()
            if due < now:  # a snapshot took longer than an interval: skip, do not bunch up
                due = now
            await asyncio.sleep(due - now)

    async def _tick(self) -> Tick:
        self.stats.ticks += 1
        try:
            snapshot = await self._sampler.snapshot(
                Scope.widest(s.scope for s in self._subscriptions)
            )
        except DatabaseUnavailable as exc:
            self.stats.failures += 1
            return Tick(datetime.now(UTC), None, f"PostgreSQL is unavailable: {exc}")
        except Exception:
            # The loop serves every listener: one bad snapshot must not end it.
            self.stats.failures += 1
            log.exception("snapshot failed")
            return Tick(datetime.now(UTC), None, "The snapshot failed; see the agent's log.")
        return Tick(snapshot.taken_at, snapshot)

    async def close(self) -> None:
        loop, self._loop = self._loop, None
        for subscription in list(self._subscriptions):
            subscription.close()
        if loop is not None:
            loop.cancel()
            # Awaited: a snapshot cut short must cancel its query before the agent exits.
            with contextlib.suppress(asyncio.CancelledError):
                await loop
