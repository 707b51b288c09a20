"""The shared tick loop, over a stand-in for the sampler (the loop's logic needs no
PostgreSQL; tests/functional/test_stream.py runs it against a real one)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from pgwarden.db.database import DatabaseUnavailable
from pgwarden.models import Scope, Snapshot
from pgwarden.ticker import BACKLOG, Tick, Ticker

INTERVAL = 0.02


class CountingSource:
    """Hands out numbered empty snapshots; fails while `down` is set."""

    def __init__(self) -> None:
        self.taken = 0
        self.down = False
        self.scopes: list[Scope] = []  # what each snapshot was asked for

    async def snapshot(self, scope: Scope = Scope.EVERY_BACKEND) -> Snapshot:
        self.taken += 1
        self.scopes.append(scope)
        if self.down:
            raise DatabaseUnavailable("connection refused")
        return Snapshot(datetime.now(UTC), (), {}, scope=scope)


async def take(ticks: object, count: int) -> list[Tick]:
    assert hasattr(ticks, "next")
    return [await asyncio.wait_for(ticks.next(), 5) for _ in range(count)]


def test_listeners_share_one_snapshot_per_interval() -> None:
    async def scenario() -> tuple[list[Tick], list[Tick], int]:
        source = CountingSource()
        ticker = Ticker(source, INTERVAL)
        a, b = [], []
        async with ticker.subscribe() as first, ticker.subscribe() as second:
            for _ in range(5):
                a += await take(first, 1)
                b += await take(second, 1)
        return a, b, source.taken

    a, b, taken = asyncio.run(scenario())
    assert [t.snapshot for t in a] == [t.snapshot for t in b]
    assert all(x is y for x, y in zip(a, b, strict=True))  # the very same objects
    assert len({id(t.snapshot) for t in a}) == 5
    assert taken <= 6  # five ticks, perhaps one more begun before both had read


def test_the_loop_stops_with_the_last_listener_and_starts_again() -> None:
    async def scenario() -> tuple[int, int, int]:
        source = CountingSource()
        ticker = Ticker(source, INTERVAL)
        async with ticker.subscribe() as ticks:
            await take(ticks, 2)
        stopped_at = source.taken
        await asyncio.sleep(INTERVAL * 10)
        idle = source.taken
        async with ticker.subscribe() as ticks:
            await take(ticks, 2)
        return stopped_at, idle, ticker.listeners

    stopped_at, idle, listeners = asyncio.run(scenario())
    assert idle == stopped_at
    assert listeners == 0


def test_failures_reach_listeners_and_the_loop_goes_on() -> None:
    async def scenario() -> list[Tick]:
        source = CountingSource()
        ticker = Ticker(source, INTERVAL)
        async with ticker.subscribe() as ticks:
            seen = await take(ticks, 1)
            source.down = True
            seen += await take(ticks, 3)
            source.down = False
            seen += await take(ticks, 3)
        return seen

    seen = asyncio.run(scenario())
    kinds = ["ok" if t.snapshot is not None else t.error for t in seen]
    failed = "PostgreSQL is unavailable: connection refused"
    assert failed in kinds
    # Once back, snapshots again: the last tick has one.
    assert kinds[-1] == "ok"
    assert all(t.error is None for t in seen if t.snapshot is not None)


def test_a_listener_that_falls_behind_loses_its_oldest_ticks_only() -> None:
    async def scenario() -> tuple[int, int, list[Tick], list[Tick]]:
        source = CountingSource()
        ticker = Ticker(source, INTERVAL)
        async with ticker.subscribe() as slow, ticker.subscribe() as quick:
            got = await take(quick, BACKLOG + 4)
            kept = []
            while slow._ticks:
                kept.append(await slow.next())
            return slow.missed, quick.missed, got, kept

    slow_missed, quick_missed, got, kept = asyncio.run(scenario())
    assert quick_missed == 0
    assert slow_missed >= 3
    assert len(kept) == BACKLOG
    # The slow one keeps the newest ticks, in order.
    assert [t.at for t in kept] == sorted(t.at for t in kept)
    assert kept[-1].at >= got[-1].at


def test_a_new_listener_gets_the_latest_tick_at_once() -> None:
    async def scenario() -> tuple[Tick, Tick]:
        source = CountingSource()
        ticker = Ticker(source, 5.0)  # long: the next tick is far away
        async with ticker.subscribe() as first:
            (latest,) = await take(first, 1)
            async with ticker.subscribe() as second:
                (replayed,) = await take(second, 1)
        return latest, replayed

    latest, replayed = asyncio.run(scenario())
    assert replayed is latest


def test_a_closed_subscription_ends_its_iteration() -> None:
    async def scenario() -> list[Tick]:
        ticker = Ticker(CountingSource(), INTERVAL)
        subscription = ticker.subscribe()
        seen = []
        async for tick in subscription:
            seen.append(tick)
            if len(seen) == 2:
                subscription.close()
        return seen

    assert len(asyncio.run(scenario())) == 2


@pytest.mark.parametrize("listeners", [1, 20])
def test_close_ends_every_listener(listeners: int) -> None:
    async def scenario() -> int:
        ticker = Ticker(CountingSource(), INTERVAL)
        subs = [ticker.subscribe() for _ in range(listeners)]
        await take(subs[0], 1)
        await ticker.close()
        return sum(1 for s in subs if s.closed) + ticker.listeners

    assert asyncio.run(scenario()) == listeners


def test_a_tick_is_as_wide_as_its_widest_listener_needs() -> None:
    async def scenario() -> tuple[list[Scope], list[Scope], list[Scope], Scope | None]:
        source = CountingSource()
        ticker = Ticker(source, INTERVAL)
        async with ticker.subscribe(Scope.AT_WORK) as recorder:
            await take(recorder, 2)
            alone = list(source.scopes)
            async with ticker.subscribe() as viewer:
                (first_seen,) = await take(viewer, 1)
                await take(viewer, 2)
                with_viewer = source.scopes[len(alone) :]
                asked = len(source.scopes)
            await take(recorder, BACKLOG + 3)  # what it had waiting, then two ticks or more
            after = source.scopes[asked + 1 :]  # one may have been begun as the viewer left
        assert first_seen.snapshot is not None
        return alone, with_viewer, after, first_seen.snapshot.scope

    alone, with_viewer, after, viewer_first = asyncio.run(scenario())
    assert set(alone) == {Scope.AT_WORK}
    # The viewer is never handed the recorder's narrower latest tick: its first is its own.
    assert viewer_first is Scope.EVERY_BACKEND
    assert with_viewer[-2:] == [Scope.EVERY_BACKEND, Scope.EVERY_BACKEND]
    assert len(after) >= 2 and set(after) == {Scope.AT_WORK}


def test_a_narrow_listener_is_handed_a_wider_latest_tick() -> None:
    async def scenario() -> tuple[Tick, Tick]:
        ticker = Ticker(CountingSource(), 5.0)  # long: the next tick is far away
        async with ticker.subscribe() as viewer:
            (latest,) = await take(viewer, 1)
            async with ticker.subscribe(Scope.AT_WORK) as recorder:
                (replayed,) = await take(recorder, 1)
        return latest, replayed

    latest, replayed = asyncio.run(scenario())
    assert replayed is latest
