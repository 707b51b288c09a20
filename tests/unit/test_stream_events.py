"""The stream's events over the shared ticks: one framing per tick for every viewer, the
session checked at each tick, a last event when the agent stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio

from pgwarden.http.stream import SESSION_OVER, SHUTTING_DOWN, events
from pgwarden.ticker import Ticker
from tests.unit.test_ticker import INTERVAL, CountingSource


async def first(stream: AsyncIterator[bytes], count: int) -> list[bytes]:
    return [await asyncio.wait_for(anext(stream), 5) for _ in range(count)]


def test_every_viewer_is_sent_the_same_bytes_framed_once() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        ticker = Ticker(CountingSource(), INTERVAL)
        one = events(ticker, lambda: True, anyio.Event())
        two = events(ticker, lambda: True, anyio.Event())
        a, b = [], []
        for _ in range(3):
            a += await first(one, 1)
            b += await first(two, 1)
        await one.aclose()
        await two.aclose()
        return a, b

    a, b = asyncio.run(scenario())
    assert all(x is y for x, y in zip(a, b, strict=True))
    assert all(x.startswith(b"event: snapshot\ndata: {") and x.endswith(b"}\n\n") for x in a)
    assert len(set(a)) == 3


def test_a_session_over_ends_the_stream_at_the_next_tick() -> None:
    async def scenario() -> list[bytes]:
        alive = [True]
        stream = events(Ticker(CountingSource(), INTERVAL), lambda: alive[0], anyio.Event())
        sent = await first(stream, 1)
        alive[0] = False
        sent += [chunk async for chunk in stream]
        return sent

    sent = asyncio.run(scenario())
    assert sent[0].startswith(b"event: snapshot\n")
    assert sent[1:] == [SESSION_OVER]


def test_postgresql_down_and_shutdown_have_their_events() -> None:
    async def scenario() -> list[bytes]:
        source = CountingSource()
        source.down = True
        shutdown = anyio.Event()
        stream = events(Ticker(source, INTERVAL), lambda: True, shutdown)
        sent = await first(stream, 1)
        shutdown.set()
        sent += [chunk async for chunk in stream]
        return sent

    sent = asyncio.run(scenario())
    assert sent[0] == (
        b'event: unavailable\ndata: {"error":"PostgreSQL is unavailable: connection refused"}\n\n'
    )
    assert sent[-1] == SHUTTING_DOWN
