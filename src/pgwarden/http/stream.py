"""GET /activity/stream: the shared ticks as Server-Sent Events.

Each tick's event is framed once and kept on its snapshot, so every viewer is sent the
same bytes. Events: `snapshot` (the body of GET /activity/snapshot), `unavailable` (no
snapshot this interval: `{"error": ...}`), and `end` just before the agent closes the
stream: `{"error": "Invalid session."}` when its session is over (reconnecting is no use),
`{"error": "The agent is shutting down."}` when it stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

import anyio
import orjson
from sse_starlette import EventSourceResponse

from pgwarden.activity import render_snapshot
from pgwarden.models import Snapshot
from pgwarden.ticker import Ticker

KEEPALIVE_SECONDS = 15
_EVENT = "snapshot-event"
SESSION_OVER = b'event: end\ndata: {"error":"Invalid session."}\n\n'
SHUTTING_DOWN = b'event: end\ndata: {"error":"The agent is shutting down."}\n\n'
# After SIGTERM, streams get this long to say goodbye before they are cut.
SHUTDOWN_GRACE_SECONDS = 1.0


def snapshot_event(snapshot: Snapshot) -> bytes:
    event = snapshot.rendered.get(_EVENT)
    if event is None:
        # orjson writes no raw newline: the body fits one data line.
        event = b"event: snapshot\ndata: " + render_snapshot(snapshot) + b"\n\n"
        snapshot.rendered[_EVENT] = event
    return event


def unavailable_event(error: str) -> bytes:
    return b"event: unavailable\ndata: " + orjson.dumps({"error": error}) + b"\n\n"


async def events(
    ticker: Ticker, session_alive: Callable[[], bool], shutdown: anyio.Event
) -> AsyncGenerator[bytes, None]:
    """One event per tick while the session lives (checked at every tick) and the agent runs."""
    async with ticker.subscribe() as ticks:

        async def close_on_shutdown() -> None:
            await shutdown.wait()
            ticks.close()

        watcher = asyncio.create_task(close_on_shutdown())
        try:
            async for tick in ticks:
                if not session_alive():
                    yield SESSION_OVER
                    return
                if tick.snapshot is not None:
                    yield snapshot_event(tick.snapshot)
                else:
                    yield unavailable_event(tick.error or "No snapshot.")
            yield SHUTTING_DOWN
        finally:
            watcher.cancel()


def stream_response(ticker: Ticker, session_alive: Callable[[], bool]) -> EventSourceResponse:
    shutdown = anyio.Event()
    return EventSourceResponse(
        events(ticker, session_alive, shutdown),
        ping=KEEPALIVE_SECONDS,
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
    )
